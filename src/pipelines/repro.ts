/**
 * `mloop repro` and `mloop status`: which stages are stale and why (DVC's
 * rules: command, dependencies, params, outputs, `always_changed`, `frozen`),
 * then running only those, in graph order, independent ones in parallel,
 * restoring outputs from DVC's run cache when the same inputs already ran,
 * and recording each stage in `dvc.lock` as DVC does.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { Writable } from "node:stream";
import { processEnv } from "../config.js";
import { invalidParameter } from "../errors.js";
import { DataRepo, findRepoRoot, buildTree } from "../data/index.js";
import { buildGraph, selectStages, type Graph } from "./dag.js";
import { loadRunCache, readLock, runCacheKey, saveRunCache, sortItems, sortParams, writeLock, type LockEntry, type LockFile, type LockOut } from "./lock.js";
import { getKey, readParamsFile, sameValue } from "./params.js";
import { loadPipeline, type OutSpec, type Pipeline, type Stage } from "./spec.js";

/** Why a stage is stale, in DVC's words: `changed deps` / `changed outs` / `changed command` / `always changed`. */
export interface StaleReason {
  kind: "deps" | "params" | "outs" | "cmd" | "always_changed" | "no_lock";
  path?: string;
  key?: string;
  state?: "modified" | "new" | "deleted" | "not in cache";
}

export interface StageStatus {
  name: string;
  frozen: boolean;
  reasons: StaleReason[];
}

export type StageAction = "ran" | "restored" | "unchanged" | "frozen" | "failed" | "would run" | "not run";

export interface StageResult {
  name: string;
  action: StageAction;
  reasons: StaleReason[];
  entry?: LockEntry;
  runId?: string;
  error?: string;
}

/** Hooks `mloop repro` uses to record each stage as a tracking run (see recording.ts). */
export interface StageRecorder {
  /** Before the command starts; answers the run and variables to give the command (MLFLOW_RUN_ID…). */
  stageStarted(stage: Stage, inputs: LockEntry): Promise<{ runId: string; env: Record<string, string> }>;
  stageEnded(stage: Stage, runId: string, status: "FINISHED" | "FAILED" | "KILLED", entry: LockEntry | undefined, outputLog: string): Promise<void>;
}

export interface ReproOptions {
  cwd?: string;
  targets?: string[];
  dry?: boolean;
  force?: boolean;
  singleItem?: boolean;
  downstream?: boolean;
  /** Stages run at once (default 1). */
  jobs?: number;
  /** Use and fill DVC's run cache (default true). */
  runCache?: boolean;
  stdout?: Writable;
  stderr?: Writable;
  env?: Record<string, string | undefined>;
  recorder?: StageRecorder;
  /** Aborting stops the running commands (their process groups get SIGTERM); their stages end KILLED. */
  signal?: AbortSignal;
  /** Called once, before the first stage command starts (the CLI opens the tracking server there). */
  beforeFirstRun?: () => Promise<StageRecorder | undefined>;
}

export interface ReproResult {
  root: string;
  stages: StageResult[];
  /** The first failure, if any. */
  failed?: StageResult;
}

interface Ctx {
  root: string;
  pipeline: Pipeline;
  graph: Graph;
  repo: DataRepo;
  lock: LockFile;
  /** Parsed params files by repository-relative path. */
  paramsCache: Map<string, Record<string, unknown> | undefined>;
}

export function openPipeline(cwd = process.cwd()): { root: string; pipeline: Pipeline; graph: Graph } {
  const root = findRepoRoot(cwd) ?? findDvcYamlRoot(cwd);
  if (!root) throw invalidParameter(`no dvc.yaml here: '${path.resolve(cwd)}' is not inside a DVC repository (run 'mloop data init')`);
  const pipeline = loadPipeline(root);
  return { root, pipeline, graph: buildGraph(pipeline) };
}

function findDvcYamlRoot(cwd: string): string | undefined {
  for (let d = path.resolve(cwd); ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, "dvc.yaml"))) return d;
    if (path.dirname(d) === d) return undefined;
  }
}

async function openCtx(cwd: string, { allowNoPipeline = false } = {}): Promise<Ctx> {
  const dataRoot = findRepoRoot(cwd);
  if (allowNoPipeline && dataRoot && !fs.existsSync(path.join(dataRoot, "dvc.yaml"))) {
    const pipeline: Pipeline = { root: dataRoot, file: path.join(dataRoot, "dvc.yaml"), stages: [], plots: [], metrics: [], params: [] };
    return { root: dataRoot, pipeline, graph: buildGraph(pipeline), repo: DataRepo.open(dataRoot), lock: readLock(dataRoot), paramsCache: new Map() };
  }
  const { root, pipeline, graph } = openPipeline(cwd);
  if (!fs.existsSync(path.join(root, ".dvc"))) throw invalidParameter(`'${root}' has a dvc.yaml but no .dvc/ (run 'mloop data init')`);
  const repo = DataRepo.open(root);
  return { root, pipeline, graph, repo, lock: readLock(root), paramsCache: new Map() };
}

// --- hashing the workspace ----------------------------------------------------------------------

interface Hashed {
  md5: string;
  size: number;
  nfiles?: number;
}

async function hashPath(ctx: Ctx, rel: string): Promise<Hashed | undefined> {
  const abs = path.join(ctx.root, rel);
  const st = fs.statSync(abs, { throwIfNoEntry: false });
  if (!st) return undefined;
  if (st.isDirectory()) {
    const { tree, size, files } = await ctx.repo.hashFolder(abs);
    return { md5: tree.md5, size, nfiles: files.length };
  }
  const md5 = await ctx.repo.hashFile(abs);
  return md5 === undefined ? undefined : { md5, size: st.size };
}

function lockItem(p: string, h: Hashed): LockOut {
  return { path: p, hash: "md5", md5: h.md5, size: h.size, ...(h.nfiles !== undefined ? { nfiles: h.nfiles } : {}) };
}

function paramsData(ctx: Ctx, rel: string): Record<string, unknown> | undefined {
  if (!ctx.paramsCache.has(rel)) {
    const abs = path.join(ctx.root, rel);
    ctx.paramsCache.set(rel, fs.existsSync(abs) ? readParamsFile(abs, rel) : undefined);
  }
  return ctx.paramsCache.get(rel);
}

/** The current values of a stage's params: file (as written) → key → value; missing keys are absent. */
function currentParams(ctx: Ctx, stage: Stage): { values: Record<string, Record<string, unknown>>; missing: { file: string; key?: string }[] } {
  const values: Record<string, Record<string, unknown>> = {};
  const missing: { file: string; key?: string }[] = [];
  for (const p of stage.params) {
    const data = paramsData(ctx, p.rel);
    if (!data) {
      missing.push({ file: p.file });
      continue;
    }
    const kv: Record<string, unknown> = {};
    if (p.keys.length === 0) Object.assign(kv, data);
    for (const k of p.keys) {
      const r = getKey(data, k);
      if (r.found) kv[k] = r.value;
      else missing.push({ file: p.file, key: k });
    }
    values[p.file] = kv;
  }
  return { values, missing };
}

// --- status ---------------------------------------------------------------------------------------

async function stageReasons(ctx: Ctx, stage: Stage): Promise<StaleReason[]> {
  const reasons: StaleReason[] = [];
  const entry = ctx.lock.stages.get(stage.name);
  if (stage.alwaysChanged) reasons.push({ kind: "always_changed" });
  if (!entry) reasons.push({ kind: "no_lock" });
  if (entry && !sameValue(normalizeCmd(entry.cmd), normalizeCmd(stage.cmd))) reasons.push({ kind: "cmd" });
  for (const d of stage.deps) {
    const h = await hashPath(ctx, d.rel);
    const locked = entry?.deps.find((x) => x.path === d.path);
    if (!h) reasons.push({ kind: "deps", path: d.path, state: "deleted" });
    else if (!locked?.md5) reasons.push({ kind: "deps", path: d.path, state: "new" });
    else if (locked.md5 !== h.md5) reasons.push({ kind: "deps", path: d.path, state: "modified" });
  }
  const { values, missing } = currentParams(ctx, stage);
  for (const m of missing) reasons.push({ kind: "params", path: m.file, key: m.key, state: "deleted" });
  for (const p of stage.params) {
    const now = values[p.file];
    if (!now) continue;
    const locked = entry?.params[p.file];
    if (!locked) {
      reasons.push({ kind: "params", path: p.file, state: "new" });
      continue;
    }
    const keys = p.keys.length ? p.keys : [...new Set([...Object.keys(now), ...Object.keys(locked)])];
    for (const k of keys) {
      if (!(k in now)) continue;
      if (!(k in locked)) reasons.push({ kind: "params", path: p.file, key: k, state: "new" });
      else if (!sameValue(locked[k], now[k])) reasons.push({ kind: "params", path: p.file, key: k, state: "modified" });
    }
  }
  for (const o of stage.outs) {
    const locked = entry?.outs.find((x) => x.path === o.path);
    const h = await hashPath(ctx, o.rel);
    if (!h) reasons.push({ kind: "outs", path: o.path, state: "deleted" });
    else if (!locked?.md5) reasons.push({ kind: "outs", path: o.path, state: "new" });
    else if (locked.md5 !== h.md5) reasons.push({ kind: "outs", path: o.path, state: "modified" });
    else if (o.cache && !ctx.repo.hasObjects(locked.md5)) reasons.push({ kind: "outs", path: o.path, state: "not in cache" });
  }
  return reasons;
}

function normalizeCmd(cmd: string | string[]): string[] {
  return Array.isArray(cmd) ? cmd : [cmd];
}

/**
 * `mloop status`: the stale stages of the selection and why (frozen stages are never stale),
 * then, without targets, the `.dvc` files whose data changed, named by the `.dvc` file as
 * `dvc status` names them.
 */
export async function pipelineStatus(opts: { cwd?: string; targets?: string[]; singleItem?: boolean; downstream?: boolean } = {}): Promise<StageStatus[]> {
  const ctx = await openCtx(opts.cwd ?? process.cwd(), { allowNoPipeline: true });
  try {
    const out: StageStatus[] = [];
    if (!opts.targets?.length) {
      const byFile = new Map<string, StaleReason[]>();
      for (const e of await ctx.repo.status()) {
        const state = e.state === "not committed" ? "new" : e.state === "missing" ? "deleted" : e.state;
        const list = byFile.get(e.dvcFile) ?? [];
        list.push({ kind: "outs", path: e.path, state: state as StaleReason["state"] });
        byFile.set(e.dvcFile, list);
      }
      for (const [dvcFile, reasons] of byFile) out.push({ name: dvcFile, frozen: false, reasons });
    }
    for (const name of selectStages(ctx.graph, opts)) {
      const stage = ctx.graph.byName.get(name)!;
      if (stage.frozen) continue;
      const reasons = await stageReasons(ctx, stage);
      if (reasons.length) out.push({ name, frozen: false, reasons });
    }
    // stages first, then .dvc files, as dvc status lists them
    return [...out.filter((s) => !s.name.endsWith(".dvc")), ...out.filter((s) => s.name.endsWith(".dvc"))];
  } finally {
    await ctx.repo.close();
  }
}

/** DVC's `dvc status` text for stale stages; "Data and pipelines are up to date." when none. */
export function formatStatus(stages: StageStatus[]): string {
  if (stages.length === 0) return "Data and pipelines are up to date.\n";
  const lines: string[] = [];
  for (const s of stages) {
    lines.push(`${s.name}:`);
    const deps = s.reasons.filter((r) => r.kind === "deps" || r.kind === "params");
    const outs = s.reasons.filter((r) => r.kind === "outs");
    if (deps.length) {
      lines.push("\tchanged deps:");
      for (const r of deps) lines.push(`\t\t${`${r.state}:`.padEnd(20)}${r.kind === "params" && r.key ? `${r.path}: ${r.key}` : r.path}`);
    }
    if (outs.length) {
      lines.push("\tchanged outs:");
      for (const r of outs) lines.push(`\t\t${`${r.state}:`.padEnd(20)}${r.path}`);
    }
    if (s.reasons.some((r) => r.kind === "cmd")) lines.push("\tchanged command");
    if (s.reasons.some((r) => r.kind === "always_changed")) lines.push("\talways changed");
    if (s.reasons.some((r) => r.kind === "no_lock") && !deps.length && !outs.length) lines.push("\tnot in dvc.lock");
  }
  return `${lines.join("\n")}\n`;
}

// --- running ----------------------------------------------------------------------------------------

function canUseRunCache(stage: Stage): boolean {
  return !stage.alwaysChanged && stage.deps.length > 0 && stage.outs.length > 0 && stage.outs.every((o) => !o.persist);
}

/** The lock entry of a stage's inputs (deps and params as they are now); outs filled in after the run. */
async function inputsEntry(ctx: Ctx, stage: Stage): Promise<LockEntry> {
  const deps: LockOut[] = [];
  for (const d of stage.deps) {
    const h = await hashPath(ctx, d.rel);
    if (!h) throw invalidParameter(`stage '${stage.name}': dependency '${d.path}' does not exist`);
    deps.push(lockItem(d.path, h));
  }
  const { values, missing } = currentParams(ctx, stage);
  if (missing.length) {
    const m = missing[0]!;
    throw invalidParameter(m.key ? `stage '${stage.name}': parameter '${m.key}' is missing from '${m.file}'` : `stage '${stage.name}': params file '${m.file}' does not exist`);
  }
  return { cmd: stage.cmd, deps: sortItems(deps), params: sortParams(values), outs: [] };
}

/** Copies an uncached output into the cache (as DVC does for the run cache), leaving the workspace alone. */
async function storeCopy(ctx: Ctx, abs: string): Promise<Hashed> {
  const st = fs.statSync(abs);
  if (st.isFile()) {
    const md5 = (await ctx.repo.hashFile(abs))!;
    if (!ctx.repo.cache.exists(md5)) await ctx.repo.cache.addFile(abs, md5);
    return { md5, size: st.size };
  }
  const { files, size } = await ctx.repo.hashFolder(abs);
  for (const f of files) if (!ctx.repo.cache.exists(f.md5)) await ctx.repo.cache.addFile(f.abs, f.md5);
  const tree = buildTree(files.map((f) => ({ relpath: f.relpath, md5: f.md5 })));
  if (!ctx.repo.cache.exists(tree.md5)) ctx.repo.cache.addBytes(tree.md5, tree.bytes);
  return { md5: tree.md5, size, nfiles: files.length };
}

async function commitOuts(ctx: Ctx, stage: Stage, useRunCache: boolean): Promise<LockOut[]> {
  const outs: LockOut[] = [];
  for (const o of stage.outs) {
    const abs = path.join(ctx.root, o.rel);
    if (!fs.existsSync(abs)) throw invalidParameter(`stage '${stage.name}': output '${o.path}' does not exist after the command ran`);
    let h: Hashed;
    if (o.cache) {
      h = await ctx.repo.saveOutput(abs);
      ctx.repo.gitignore(abs);
    } else if (useRunCache) {
      h = await storeCopy(ctx, abs);
    } else {
      const x = await hashPath(ctx, o.rel);
      h = x!;
    }
    outs.push(lockItem(o.path, h));
  }
  return sortItems(outs);
}

/** Removes outputs before the command runs; `persist` ones stay, made plain files again if they are links into the cache (DVC's unprotect). */
function removeOuts(ctx: Ctx, outs: OutSpec[]): void {
  for (const o of outs) {
    const abs = path.join(ctx.root, o.rel);
    if (!o.persist) {
      fs.rmSync(abs, { recursive: true, force: true });
      continue;
    }
    const st = fs.lstatSync(abs, { throwIfNoEntry: false });
    if (!st) continue;
    const files = st.isDirectory() ? (fs.readdirSync(abs, { recursive: true, encoding: "utf8" }) as string[]).map((r) => path.join(abs, r)) : [abs];
    for (const f of files) {
      const fst = fs.lstatSync(f, { throwIfNoEntry: false });
      if (!fst || fst.isDirectory() || (!fst.isSymbolicLink() && fst.nlink <= 1)) continue;
      const tmp = `${f}.mloop-unprotect`;
      fs.copyFileSync(fs.realpathSync(f), tmp);
      fs.chmodSync(tmp, 0o644);
      fs.renameSync(tmp, f);
    }
  }
}

/** Runs the stage's commands one after the other (a string cmd line by line, as DVC does) in its wdir, each in its own process group. */
function runCommands(stage: Stage, cwd: string, env: Record<string, string | undefined>, stdout: Writable, stderr: Writable, log: string[], signal?: AbortSignal): Promise<number> {
  const cmds = Array.isArray(stage.cmd) ? stage.cmd : stage.cmd.split("\n").filter((l) => l.trim() !== "");
  const shell = env.SHELL || "/bin/sh";
  const base = path.basename(shell).toLowerCase();
  const shellArgs = base === "bash" ? ["--noprofile", "--norc"] : base === "zsh" ? ["--no-rcs"] : [];
  return (async () => {
    for (const c of cmds) {
      if (signal?.aborted) return 130;
      stdout.write(`> ${c}\n`);
      const code = await new Promise<number>((resolve) => {
        const child = spawn(shell, [...shellArgs, "-c", c], { cwd, env: env as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"], detached: true });
        const kill = () => {
          try {
            if (child.pid) process.kill(-child.pid, "SIGTERM");
          } catch {
            // already gone
          }
        };
        signal?.addEventListener("abort", kill, { once: true });
        child.stdout.on("data", (b: Buffer) => {
          stdout.write(b);
          log.push(b.toString());
        });
        child.stderr.on("data", (b: Buffer) => {
          stderr.write(b);
          log.push(b.toString());
        });
        child.once("error", (err) => {
          stderr.write(`mloop: could not start ${shell}: ${err.message}\n`);
          resolve(127);
        });
        child.once("close", (code, sig) => {
          signal?.removeEventListener("abort", kill);
          resolve(code ?? (sig ? 128 + (sig === "SIGINT" ? 2 : sig === "SIGKILL" ? 9 : 15) : 1));
        });
      });
      if (code !== 0) return signal?.aborted ? 130 : code;
    }
    return 0;
  })();
}

/**
 * Reproduces the pipeline: stale stages of the selection run (or come back
 * from the run cache), the others are skipped; `dvc.lock` is updated after
 * each stage that succeeds. A failing stage stops the rest; its lock entry is
 * left as it was.
 *
 * @example
 * ```ts
 * const { stages, failed } = await reproduce({ cwd: "/repo", targets: ["train"], jobs: 2 });
 * ```
 */
export async function reproduce(opts: ReproOptions = {}): Promise<ReproResult> {
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const ctx = await openCtx(opts.cwd ?? process.cwd());
  const env = opts.env ?? processEnv();
  const jobs = Math.max(1, opts.jobs ?? 1);
  const useCache = opts.runCache !== false && !opts.force;
  let recorder = opts.recorder;
  let opened = false;
  const ensureRecorder = async () => {
    if (!opened) {
      opened = true;
      if (opts.beforeFirstRun) recorder = (await opts.beforeFirstRun()) ?? recorder;
    }
    return recorder;
  };
  try {
    const names = selectStages(ctx.graph, opts);
    const selected = new Set(names);
    const results = new Map<string, StageResult>();
    const wouldRun = new Set<string>();
    let failed: StageResult | undefined;
    let lockDirty = false;

    const runOne = async (name: string): Promise<StageResult> => {
      const stage = ctx.graph.byName.get(name)!;
      if (stage.frozen) {
        stdout.write(`Stage '${name}' is frozen, skipping\n`);
        return { name, action: "frozen", reasons: [] };
      }
      const reasons = await stageReasons(ctx, stage);
      const upstreamRuns = [...ctx.graph.upstream.get(name)!].some((u) => wouldRun.has(u));
      if (!opts.force && reasons.length === 0 && !(opts.dry && upstreamRuns)) {
        stdout.write(`Stage '${name}' didn't change, skipping\n`);
        return { name, action: "unchanged", reasons };
      }
      if (opts.dry) {
        wouldRun.add(name);
        stdout.write(`Running stage '${name}':\n${normalizeCmd(stage.cmd).map((c) => `> ${c}\n`).join("")}\n`);
        return { name, action: "would run", reasons };
      }
      const inputs = await inputsEntry(ctx, stage);
      const cacheable = canUseRunCache(stage);
      // as DVC: no run cache entry is written when a plain output (not a metric or plot) is not cached
      const savesRunCache = cacheable && stage.outs.every((o) => o.cache || o.kind !== "outs");
      if (useCache && cacheable) {
        const cached = loadRunCache(ctx.repo.cache.root, runCacheKey({ ...inputs, outs: sortItems(stage.outs.map((o) => ({ path: o.path }))) }));
        if (cached && cached.outs.length === stage.outs.length && cached.outs.every((o) => o.md5 && ctx.repo.hasObjects(o.md5))) {
          stdout.write(`Stage '${name}' is cached - skipping run, checking out outputs\n`);
          for (const o of cached.outs) {
            const spec = stage.outs.find((s) => s.path === o.path);
            if (!spec) continue;
            await ctx.repo.restoreOutput(path.join(ctx.root, spec.rel), o.md5!);
            if (spec.cache) ctx.repo.gitignore(path.join(ctx.root, spec.rel));
          }
          ctx.paramsCache.clear();
          const entry: LockEntry = { ...inputs, outs: sortItems(cached.outs) };
          ctx.lock.stages.set(name, entry);
          writeLock(ctx.lock);
          lockDirty = true;
          return { name, action: "restored", reasons, entry };
        }
      }
      stdout.write(`Running stage '${name}':\n`);
      const rec = await ensureRecorder();
      const started = rec ? await rec.stageStarted(stage, inputs) : undefined;
      removeOuts(ctx, stage.outs);
      const cwd = path.join(ctx.root, stage.wdir);
      const log: string[] = [];
      const code = await runCommands(stage, cwd, { ...env, DVC_ROOT: ctx.root, DVC_STAGE: `dvc.yaml:${name}`, ...(started?.env ?? {}) }, stdout, stderr, log, opts.signal);
      if (code !== 0) {
        const killed = opts.signal?.aborted === true;
        if (rec && started) await rec.stageEnded(stage, started.runId, killed ? "KILLED" : "FAILED", undefined, log.join(""));
        return { name, action: "failed", reasons, runId: started?.runId, error: killed ? `interrupted while reproducing '${name}'; dvc.lock keeps its previous entry` : `failed to reproduce '${name}': the command exited with code ${code}` };
      }
      ctx.paramsCache.clear(); // a stage may write a params file a later stage reads
      let entry: LockEntry;
      try {
        entry = { ...inputs, outs: await commitOuts(ctx, stage, savesRunCache) };
      } catch (err) {
        if (rec && started) await rec.stageEnded(stage, started.runId, "FAILED", undefined, log.join(""));
        return { name, action: "failed", reasons, runId: started?.runId, error: `failed to reproduce '${name}': ${(err as Error).message}` };
      }
      ctx.lock.stages.set(name, entry);
      writeLock(ctx.lock);
      lockDirty = true;
      stdout.write(`Updating lock file 'dvc.lock'\n\n`);
      if (savesRunCache) saveRunCache(ctx.repo.cache.root, entry);
      if (rec && started) await rec.stageEnded(stage, started.runId, "FINISHED", entry, log.join(""));
      return { name, action: "ran", reasons, entry, runId: started?.runId };
    };

    // Schedule: a stage starts when its selected upstream stages are done; at most `jobs` at once.
    const pending = new Set(names);
    const running = new Map<string, Promise<void>>();
    const doneOk = (n: string) => {
      const r = results.get(n);
      return r !== undefined && r.action !== "failed" && r.action !== "not run";
    };
    while (pending.size > 0 || running.size > 0) {
      if (!failed && !opts.signal?.aborted) {
        for (const n of [...pending]) {
          if (running.size >= jobs) break;
          const ups = [...ctx.graph.upstream.get(n)!].filter((u) => selected.has(u));
          if (!ups.every(doneOk)) continue;
          pending.delete(n);
          running.set(
            n,
            runOne(n)
              .catch((err: unknown): StageResult => ({ name: n, action: "failed", reasons: [], error: `failed to reproduce '${n}': ${(err as Error).message}` }))
              .then((r) => {
                results.set(n, r);
                if (r.action === "failed" && !failed) failed = r;
                running.delete(n);
              }),
          );
        }
      }
      if (running.size === 0) break;
      await Promise.race(running.values());
    }
    for (const n of pending) results.set(n, { name: n, action: "not run", reasons: [] });
    if (lockDirty) await ctx.repo.flushState();
    if (!failed && !opts.dry) {
      const ran = [...results.values()].filter((r) => r.action === "ran" || r.action === "restored");
      if (ran.length === 0) stdout.write("Data and pipelines are up to date.\n");
    }
    return { root: ctx.root, stages: names.map((n) => results.get(n)!).filter(Boolean), failed };
  } finally {
    await ctx.repo.close();
  }
}
