/**
 * Every stage `mloop repro` runs becomes a tracking run: its params, the
 * metrics of its metrics files, the command, the git commit and dirty flag,
 * and its dependencies and outputs as datasets with their md5 digests
 * (context `input` / `output`), as a child of one parent run per repro.
 * The command sees MLFLOW_RUN_ID, so a stage's own mlflow code logs into
 * (and registers models from) the stage's run.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { MloopClient, type DatasetInput } from "../client/index.js";
import { invalidParameter } from "../errors.js";
import { gitInfo, type EmbeddedServerStarter } from "../projects/index.js";
import type { LockEntry, LockOut } from "./lock.js";
import { flatten, parseParamsText } from "./params.js";
import type { StageRecorder } from "./repro.js";
import type { Stage } from "./spec.js";

export const TAGS = {
  parent: "mlflow.parentRunId",
  user: "mlflow.user",
  sourceName: "mlflow.source.name",
  sourceType: "mlflow.source.type",
  commit: "mlflow.source.git.commit",
  branch: "mlflow.source.git.branch",
  repoUrl: "mlflow.source.git.repoURL",
  dirty: "mlflow.source.git.dirty",
  stage: "mloop.pipeline.stage",
  command: "mloop.pipeline.command",
  pipeline: "mloop.pipeline.root",
  wdir: "mloop.pipeline.wdir",
} as const;

/** `mlflow.data.context` of a stage's dependencies and of its outputs. */
export const CONTEXT_TAG = "mlflow.data.context";

export interface Tracking {
  client: MloopClient;
  uri: string;
  close(): Promise<void>;
}

/** A client for the tracking URI; a store URI or none starts the embedded server (the default store in `cwd`). */
export async function openTracking(trackingUri: string | undefined, cwd: string, embedded: EmbeddedServerStarter | undefined, env: Record<string, string | undefined>): Promise<Tracking> {
  if (trackingUri && /^https?:\/\//i.test(trackingUri)) {
    return { client: new MloopClient({ trackingUri, maxRetries: 5 }), uri: trackingUri, close: async () => undefined };
  }
  let backendStoreUri: string | undefined;
  if (trackingUri && /^(sqlite|postgres(ql)?)(\+[a-z0-9]+)?:\/\//i.test(trackingUri)) backendStoreUri = trackingUri;
  else if (trackingUri) throw invalidParameter(`unsupported tracking URI '${trackingUri}': use http(s)://host:port, sqlite:///path.db or postgresql://…`);
  if (!embedded) throw invalidParameter("no tracking server: set MLFLOW_TRACKING_URI to http(s)://host:port");
  const server = await embedded({ backendStoreUri, cwd, env });
  return { client: new MloopClient({ trackingUri: server.uri, maxRetries: 5 }), uri: server.uri, close: () => server.close() };
}

function stringValue(v: unknown): string {
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

function commandText(cmd: string | string[]): string {
  return Array.isArray(cmd) ? cmd.join(" && ") : cmd;
}

function dataset(root: string, wdir: string, o: LockOut, context: "input" | "output"): DatasetInput {
  const rel = path.posix.join(wdir || ".", o.path).replace(/^\.\//, "");
  return {
    tags: [{ key: CONTEXT_TAG, value: context }],
    dataset: {
      name: rel,
      digest: o.md5 ?? "",
      source_type: "local",
      source: JSON.stringify({ uri: `file://${path.join(root, rel)}`, path: rel }),
      profile: JSON.stringify({ md5: o.md5, size: o.size, ...(o.nfiles !== undefined ? { nfiles: o.nfiles } : {}) }),
    },
  };
}

/** Numeric values of a stage's metrics files, flattened to `a.b` keys. */
export function stageMetrics(root: string, stage: Stage): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of stage.outs.filter((x) => x.kind === "metrics")) {
    let text: string;
    try {
      text = fs.readFileSync(path.join(root, o.rel), "utf8");
    } catch {
      continue;
    }
    let data: Record<string, unknown>;
    try {
      data = parseParamsText(text, o.rel);
    } catch {
      continue;
    }
    for (const [k, v] of Object.entries(flatten(data))) {
      if (typeof v === "number" && Number.isFinite(v)) out[k] = v;
      else if (typeof v === "boolean") out[k] = v ? 1 : 0;
    }
  }
  return out;
}

export interface RecorderOptions {
  root: string;
  tracking: Tracking;
  experimentName?: string;
  experimentId?: string;
  /** Name of the parent run; default `repro <short commit>`. */
  runName?: string;
  log?: (line: string) => void;
}

/** A recorder for one `mloop repro`: the parent run is created with the first stage that runs. */
export class RunRecorder implements StageRecorder {
  private parentId: string | undefined;
  private experimentId: string | undefined;
  private provenance: Record<string, string> | undefined;
  readonly stageRuns: { stage: string; runId: string; status: string }[] = [];

  constructor(private readonly opts: RecorderOptions) {}

  get parentRunId(): string | undefined {
    return this.parentId;
  }

  private async ensureParent(): Promise<void> {
    if (this.parentId) return;
    const { client } = this.opts.tracking;
    if (this.opts.experimentId) this.experimentId = this.opts.experimentId;
    else if (this.opts.experimentName) {
      const exp = await client.getExperimentByName(this.opts.experimentName);
      this.experimentId = exp ? exp.experiment_id : await client.createExperiment(this.opts.experimentName);
    } else this.experimentId = "0";
    const info = await gitInfo(this.opts.root);
    const tags: Record<string, string> = {
      [TAGS.user]: (() => {
        try {
          return os.userInfo().username;
        } catch {
          return "unknown";
        }
      })(),
      [TAGS.sourceType]: "PROJECT",
      [TAGS.sourceName]: `file://${this.opts.root}`,
      [TAGS.pipeline]: this.opts.root,
    };
    if (info?.commit) {
      tags[TAGS.commit] = info.commit;
      tags[TAGS.dirty] = String(info.dirty);
    }
    if (info?.branch) tags[TAGS.branch] = info.branch;
    if (info?.remoteUrl) tags[TAGS.repoUrl] = info.remoteUrl;
    this.provenance = tags;
    const run = await client.createRun({ experimentId: this.experimentId, runName: this.opts.runName ?? `repro ${info?.commit?.slice(0, 7) ?? ""}`.trim(), tags });
    this.parentId = run.info.run_id;
  }

  async stageStarted(stage: Stage, inputs: LockEntry): Promise<{ runId: string; env: Record<string, string> }> {
    await this.ensureParent();
    const { client, uri } = this.opts.tracking;
    const run = await client.createRun({
      experimentId: this.experimentId!,
      runName: stage.name,
      tags: {
        ...this.provenance!,
        [TAGS.parent]: this.parentId!,
        [TAGS.stage]: stage.name,
        [TAGS.command]: commandText(stage.cmd).slice(0, 8000),
        ...(stage.wdir ? { [TAGS.wdir]: stage.wdir } : {}),
      },
    });
    const runId = run.info.run_id;
    const params: Record<string, string> = {};
    for (const kv of Object.values(inputs.params)) {
      for (const [k, v] of Object.entries(kv)) {
        const flat = typeof v === "object" && v !== null && !Array.isArray(v) ? flatten(v, k) : { [k]: v };
        for (const [fk, fv] of Object.entries(flat)) params[fk] = stringValue(fv).slice(0, 6000);
      }
    }
    if (Object.keys(params).length) await client.logBatch(runId, { params });
    if (inputs.deps.length) await client.logInputs(runId, inputs.deps.map((d) => dataset(this.opts.root, stage.wdir, d, "input")));
    this.stageRuns.push({ stage: stage.name, runId, status: "RUNNING" });
    return { runId, env: { MLFLOW_RUN_ID: runId, MLFLOW_TRACKING_URI: uri, MLFLOW_EXPERIMENT_ID: this.experimentId! } };
  }

  async stageEnded(stage: Stage, runId: string, status: "FINISHED" | "FAILED" | "KILLED", entry: LockEntry | undefined, outputLog: string): Promise<void> {
    const { client } = this.opts.tracking;
    if (entry) {
      const metrics = stageMetrics(this.opts.root, stage);
      const ts = Date.now();
      if (Object.keys(metrics).length) await client.logBatch(runId, { metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, timestamp: ts, step: 0 })) });
      if (entry.outs.length) await client.logInputs(runId, entry.outs.map((o) => dataset(this.opts.root, stage.wdir, o, "output")));
    }
    await client.logText(runId, outputLog, "mloop/output.log").catch((err) => this.opts.log?.(`warning: could not save the stage's output: ${(err as Error).message}`));
    await client.updateRun(runId, { status, endTime: Date.now() });
    const r = this.stageRuns.find((x) => x.runId === runId);
    if (r) r.status = status;
  }

  /** Ends the parent run: FAILED when a stage failed, KILLED when interrupted. */
  async finish(failed: boolean, killed = false): Promise<void> {
    if (!this.parentId) return;
    await this.opts.tracking.client.updateRun(this.parentId, { status: killed ? "KILLED" : failed ? "FAILED" : "FINISHED", endTime: Date.now() });
  }
}
