/**
 * Lineage: from a model version (or a run) back to the run that produced it,
 * its git commit, the md5 of every dependency, and — for a dependency another
 * stage wrote — that stage's run, recursively; forward to the aliases the
 * version is served under. Runs are linked through their datasets: a stage
 * run's outputs carry `mlflow.data.context = output` with the md5 digest,
 * found with `datasets.digest = '…'` searches.
 */
import type { MloopClient, RegistryClient, Run } from "../client/index.js";
import { invalidParameter } from "../errors.js";
import { CONTEXT_TAG, TAGS } from "./recording.js";

export interface DataRef {
  path: string;
  md5: string;
  size?: number;
  nfiles?: number;
  /** The stage run that wrote this content, when a pipeline stage made it. */
  producedBy?: string;
}

export interface RunNode {
  runId: string;
  runName?: string;
  experimentId: string;
  status: string;
  stage?: string;
  parentRunId?: string;
  commit?: string;
  dirty?: boolean;
  command?: string;
  params: Record<string, string>;
  metrics: Record<string, number>;
  inputs: DataRef[];
  outputs: DataRef[];
}

export interface Lineage {
  /** The prediction asked about (`request:<id>`), from the serving prediction log. */
  prediction?: { requestId: string; timestampMs?: number; role?: string; status?: number };
  model?: { name: string; version: string; source: string; aliases: string[]; runId?: string };
  /** The run the model version came from (or the run asked for), then its upstream stage runs. */
  runs: RunNode[];
  /** The commit of the producing run. */
  commit?: string;
  dirty?: boolean;
  /** Every data version that went in, over the whole chain: path → md5 (inputs no stage produced are the raw data). */
  data: DataRef[];
  /** Where the version is deployed: `models:/name@alias`. */
  servedAs: string[];
}

function tag(run: Run, key: string): string | undefined {
  return run.data.tags?.find((t) => t.key === key)?.value;
}

function refs(run: Run, context: "input" | "output"): DataRef[] {
  return (run.inputs?.dataset_inputs ?? [])
    .filter((d) => (d.tags ?? []).some((t) => t.key === CONTEXT_TAG && t.value === context))
    .map((d) => {
      let profile: { size?: number; nfiles?: number } = {};
      try {
        profile = d.dataset.profile ? (JSON.parse(d.dataset.profile) as typeof profile) : {};
      } catch {
        profile = {};
      }
      return { path: d.dataset.name, md5: d.dataset.digest, ...(profile.size !== undefined ? { size: profile.size } : {}), ...(profile.nfiles !== undefined ? { nfiles: profile.nfiles } : {}) };
    });
}

function node(run: Run): RunNode {
  const dirty = tag(run, TAGS.dirty);
  return {
    runId: run.info.run_id,
    runName: run.info.run_name,
    experimentId: run.info.experiment_id,
    status: run.info.status,
    stage: tag(run, TAGS.stage),
    parentRunId: tag(run, TAGS.parent),
    commit: tag(run, TAGS.commit),
    dirty: dirty === undefined ? undefined : dirty === "true",
    command: tag(run, TAGS.command),
    params: Object.fromEntries((run.data.params ?? []).map((p) => [p.key, p.value])),
    metrics: Object.fromEntries((run.data.metrics ?? []).map((m) => [m.key, m.value])),
    inputs: refs(run, "input"),
    outputs: refs(run, "output"),
  };
}

function quote(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** The latest finished stage run (started no later than `before`) whose outputs hold `ref`. */
async function producerOf(client: MloopClient, experimentId: string, ref: DataRef, before: number | undefined): Promise<Run | undefined> {
  if (!ref.md5) return undefined;
  const page = await client.searchRuns({ experimentIds: [experimentId], filter: `datasets.digest = ${quote(ref.md5)} AND attributes.status = 'FINISHED'`, orderBy: ["start_time DESC"], maxResults: 200 });
  for (const r of page.items) {
    if (before !== undefined && (r.info.start_time ?? 0) > before) continue;
    if (refs(r, "output").some((o) => o.md5 === ref.md5 && o.path === ref.path)) return r;
  }
  return undefined;
}

/** Parses `models:/name/3`, `models:/name@alias`, `runs:/<id>` (or a bare run id). */
export function parseLineageUri(uri: string): { kind: "model"; name: string; version?: string; alias?: string } | { kind: "run"; runId: string } {
  let m = uri.match(/^models:\/([^/@]+)\/(\d+)\/?$/);
  if (m) return { kind: "model", name: decodeURIComponent(m[1]!), version: m[2]! };
  m = uri.match(/^models:\/([^/@]+)@([^/]+)\/?$/);
  if (m) return { kind: "model", name: decodeURIComponent(m[1]!), alias: m[2]! };
  m = uri.match(/^runs:\/([0-9a-zA-Z_-]+)(\/.*)?$/);
  if (m) return { kind: "run", runId: m[1]! };
  if (/^[0-9a-f]{32}$/.test(uri)) return { kind: "run", runId: uri };
  throw invalidParameter(`'${uri}' is not a model or run URI: use models:/<name>/<version>, models:/<name>@<alias> or runs:/<run_id>`);
}

/**
 * Walks from a model version or run back to the commit and the data.
 *
 * @example
 * ```ts
 * const l = await traceLineage(client, registry, "models:/churn@champion");
 * console.log(l.commit, l.data.map((d) => `${d.path} ${d.md5}`));
 * ```
 */
export async function traceLineage(client: MloopClient, registry: RegistryClient, uri: string): Promise<Lineage> {
  const target = parseLineageUri(uri);
  let runId: string;
  let model: Lineage["model"];
  let servedAs: string[] = [];
  if (target.kind === "model") {
    const mv = target.alias ? await registry.getVersionByAlias(target.name, target.alias) : await registry.getModelVersion(target.name, target.version!);
    if (!mv.run_id) throw invalidParameter(`model version ${mv.name}/${mv.version} has no run: it was not registered from a run`);
    runId = mv.run_id;
    model = { name: mv.name, version: mv.version, source: mv.source, aliases: mv.aliases ?? [], runId: mv.run_id };
    servedAs = (mv.aliases ?? []).map((a) => `models:/${mv.name}@${a}`);
  } else {
    runId = target.runId;
  }
  const runs: RunNode[] = [];
  const seen = new Set<string>();
  const queue: Run[] = [await client.getRun(runId)];
  while (queue.length) {
    const run = queue.shift()!;
    if (seen.has(run.info.run_id)) continue;
    seen.add(run.info.run_id);
    const n = node(run);
    for (const input of n.inputs) {
      const producer = await producerOf(client, run.info.experiment_id, input, run.info.start_time);
      if (producer && producer.info.run_id !== run.info.run_id) {
        input.producedBy = producer.info.run_id;
        queue.push(producer);
      }
    }
    runs.push(n);
  }
  const data = new Map<string, DataRef>();
  for (const r of runs) for (const i of r.inputs) if (!data.has(`${i.path}\0${i.md5}`)) data.set(`${i.path}\0${i.md5}`, i);
  return { model, runs, commit: runs[0]?.commit, dirty: runs[0]?.dirty, data: [...data.values()], servedAs };
}

/** The chain as indented text, newest first. */
export function formatLineage(l: Lineage): string {
  const lines: string[] = [];
  if (l.prediction) lines.push(`prediction ${l.prediction.requestId}${l.prediction.timestampMs ? ` at ${new Date(l.prediction.timestampMs).toISOString()}` : ""}${l.prediction.role ? ` (${l.prediction.role})` : ""}`);
  if (l.model) lines.push(`model ${l.model.name} version ${l.model.version}${l.model.aliases.length ? ` (aliases: ${l.model.aliases.join(", ")})` : ""}  source ${l.model.source}`);
  const byId = new Map(l.runs.map((r) => [r.runId, r]));
  const printed = new Set<string>();
  const visit = (r: RunNode, depth: number) => {
    const pad = "  ".repeat(depth);
    if (printed.has(r.runId)) {
      lines.push(`${pad}↑ run ${r.runId} (${r.stage ?? r.runName ?? ""}, above)`);
      return;
    }
    printed.add(r.runId);
    lines.push(`${pad}run ${r.runId}  ${r.stage ? `stage ${r.stage}` : (r.runName ?? "")}  ${r.status}${r.commit ? `  commit ${r.commit}${r.dirty ? " (dirty)" : ""}` : ""}`);
    if (r.command) lines.push(`${pad}  command: ${r.command}`);
    const params = Object.entries(r.params);
    if (params.length) lines.push(`${pad}  params: ${params.map(([k, v]) => `${k}=${v}`).join(" ")}`);
    const metrics = Object.entries(r.metrics);
    if (metrics.length) lines.push(`${pad}  metrics: ${metrics.map(([k, v]) => `${k}=${v}`).join(" ")}`);
    for (const o of r.outputs) lines.push(`${pad}  out  ${o.path}  md5 ${o.md5}`);
    for (const i of r.inputs) {
      lines.push(`${pad}  in   ${i.path}  md5 ${i.md5}${i.producedBy ? `  ← stage ${byId.get(i.producedBy)?.stage ?? ""}` : "  (data)"}`);
      const up = i.producedBy ? byId.get(i.producedBy) : undefined;
      if (up) visit(up, depth + 2);
    }
  };
  if (l.runs[0]) visit(l.runs[0], l.model ? 1 : 0);
  if (l.servedAs.length) lines.push(`served as: ${l.servedAs.join(", ")}`);
  return `${lines.join("\n")}\n`;
}
