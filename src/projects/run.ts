/**
 * Executes a project the way `mlflow run` does: fetch the code, check the
 * parameters, create the run with git provenance, start the entry point in
 * its own process group with MLFLOW_RUN_ID/MLFLOW_TRACKING_URI set, stream
 * and save its output, and end the run FINISHED, FAILED or KILLED.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { processEnv } from "../config.js";
import { MloopClient } from "../client/index.js";
import type { RunStatus } from "../client/index.js";
import { ensureVirtualenv } from "./env.js";
import { fetchProject, gitDiff, gitInfo, isGitUrl, parseSubdirectory, stripCredentials, type FetchedProject } from "./git.js";
import { buildCommand, getEntryPoint, isUri, loadProject, ProjectError, resolveParameters, type EntryPoint, type Project, type ResolvedParameters } from "./spec.js";

export type EnvManager = "local" | "virtualenv" | "conda" | "uv";

export interface RunProjectOptions {
  /** Local folder, `folder#subdir`, or git URL (`https://…`, `git@host:…`, `ssh://…`, `file://…`). */
  uri: string;
  /** Entry point name or a `.py`/`.sh` file; default `main`. */
  entryPoint?: string;
  /** `-P key=value` pairs, in the order given. */
  params?: [string, string][];
  experimentName?: string;
  experimentId?: string;
  runName?: string;
  /** Git branch, tag or commit. */
  version?: string;
  /** Default: `virtualenv` for projects with python_env.yaml, otherwise `local`. */
  envManager?: EnvManager;
  /** Continue this run instead of creating one. */
  runId?: string;
  /** Where remote `path` parameters are downloaded (a new folder inside it per run). */
  storageDir?: string;
  backend?: string;
  /** Tracking server URL; `sqlite:///…`/`postgresql://…` run an embedded server on that store; unset: the embedded default store in `cwd`. */
  trackingUri?: string;
  /** Cache of git checkouts and virtualenvs; default `~/.mloop`. */
  cacheDir?: string;
  /** Folder of the embedded default store; default the current directory. */
  cwd?: string;
  /** Starts the in-process server used when the tracking URI is a store rather than a URL (the CLI passes the one in `api/`). */
  embeddedServer?: EmbeddedServerStarter;
  /** Environment the child starts from; default this process's. */
  env?: Record<string, string | undefined>;
  /** Where the child's output and mloop's own lines go; default this process's streams. */
  stdout?: Writable;
  stderr?: Writable;
  /** Aborting kills the run (status KILLED), like SIGTERM. */
  signal?: AbortSignal;
  /** Forward SIGINT/SIGTERM received by this process to the run (the CLI does). */
  forwardSignals?: boolean;
  /** How long a signalled run may take to exit before its process group is killed (default 10 s). */
  killGraceMs?: number;
}

export interface RunProjectResult {
  runId: string;
  experimentId: string;
  status: Extract<RunStatus, "FINISHED" | "FAILED" | "KILLED">;
  /** The entry point's exit code; 128+signal when it was killed. */
  exitCode: number;
}

const TAG = {
  user: "mlflow.user",
  sourceName: "mlflow.source.name",
  sourceType: "mlflow.source.type",
  entryPoint: "mlflow.project.entryPoint",
  commit: "mlflow.source.git.commit",
  repoUrl: "mlflow.source.git.repoURL",
  branch: "mlflow.source.git.branch",
  dirty: "mlflow.source.git.dirty",
  env: "mlflow.project.env",
  backend: "mlflow.project.backend",
  diffArtifact: "mloop.source.git.diff",
} as const;

export const OUTPUT_ARTIFACT = "mloop/output.log";
export const DIFF_ARTIFACT = "mloop/git-diff.patch";

/** Everything checked before a run exists: a bad option or parameter fails here. */
export interface PreparedProject {
  fetched: FetchedProject;
  project: Project;
  entryPoint: EntryPoint;
  resolved: ResolvedParameters;
  envManager: "local" | "virtualenv";
}

function defaultCacheDir(): string {
  return path.join(os.homedir(), ".mloop");
}

/** Fetches the project and validates entry point, parameters and environment manager. */
export async function prepareProject(opts: RunProjectOptions, log: (line: string) => void): Promise<PreparedProject> {
  if (opts.backend !== undefined && opts.backend !== "local") {
    throw new ProjectError(`backend '${opts.backend}' is not available here; use --backend local`);
  }
  if (opts.experimentName !== undefined && opts.experimentId !== undefined) {
    throw new ProjectError("Specify only one of --experiment-name and --experiment-id");
  }
  if (opts.envManager === "conda") {
    throw new ProjectError("--env-manager conda needs conda, which mloop run does not support; use --env-manager virtualenv or local");
  }
  if (opts.envManager === "uv") {
    throw new ProjectError("--env-manager uv is not supported; use --env-manager virtualenv or local");
  }
  const fetched = await fetchProject(opts.uri, opts.version, opts.cacheDir ?? defaultCacheDir(), log);
  const project = loadProject(fetched.workDir);
  for (const w of project.warnings) log(`warning: ${w}`);
  const entryPoint = getEntryPoint(project, opts.entryPoint ?? "main", (opts.env ?? processEnv()).SHELL || "bash");
  const resolved = resolveParameters(entryPoint, opts.params ?? []);
  // Local `path` parameters must exist before anything starts.
  const declared = new Map(entryPoint.parameters.map((p) => [p.name, p]));
  for (const [k, v] of resolved.params) {
    if (declared.get(k)?.type === "path" && !isUri(v) && !fs.existsSync(path.resolve(fetched.workDir, v))) {
      throw new ProjectError(`Got value '${v}' for parameter '${k}', but no such file or directory was found`);
    }
  }
  let envManager: "local" | "virtualenv";
  if (project.envType === "docker_env") {
    if (opts.envManager !== "local") {
      throw new ProjectError(`this project runs in docker_env image '${project.dockerImage}', which needs Docker and is not supported; use --env-manager local to run it in the current environment`);
    }
    envManager = "local";
  } else if (project.envType === "conda_env") {
    if (opts.envManager === undefined) {
      throw new ProjectError("this project declares a conda environment, which needs conda and is not supported; use --env-manager local (or virtualenv)");
    }
    if (opts.envManager === "virtualenv") {
      throw new ProjectError("this project declares a conda environment; --env-manager virtualenv needs a python_env.yaml, use --env-manager local");
    }
    envManager = opts.envManager;
  } else {
    envManager = (opts.envManager as "local" | "virtualenv" | undefined) ?? (project.envType === "python_env" ? "virtualenv" : "local");
  }
  return { fetched, project, entryPoint, resolved, envManager };
}

/** Starts a tracking server on a store (`backendStoreUri`, or the default store in `cwd`) and answers its URL. */
export type EmbeddedServerStarter = (opts: {
  backendStoreUri?: string;
  cwd: string;
  env: Record<string, string | undefined>;
}) => Promise<{ uri: string; close(): Promise<void> }>;

interface Tracking {
  client: MloopClient;
  uri: string;
  close(): Promise<void>;
}

/** A client for the tracking URI, or an in-process server on a store (the default store in `cwd` when none is given). */
async function openTracking(opts: RunProjectOptions): Promise<Tracking> {
  const uri = opts.trackingUri;
  if (uri && /^https?:\/\//i.test(uri)) {
    return { client: new MloopClient({ trackingUri: uri, maxRetries: 5 }), uri, close: async () => undefined };
  }
  const cwd = opts.cwd ?? process.cwd();
  let backendStoreUri: string | undefined;
  if (uri && /^(sqlite|postgres(ql)?)(\+[a-z0-9]+)?:\/\//i.test(uri)) backendStoreUri = uri;
  else if (uri) throw new ProjectError(`unsupported tracking URI '${uri}': use http(s)://host:port, sqlite:///path.db or postgresql://…`);
  if (!opts.embeddedServer) throw new ProjectError("no tracking server: set MLFLOW_TRACKING_URI to http(s)://host:port");
  const server = await opts.embeddedServer({ backendStoreUri, cwd, env: opts.env ?? processEnv() });
  return { client: new MloopClient({ trackingUri: server.uri, maxRetries: 5 }), uri: server.uri, close: () => server.close() };
}

async function resolveExperimentId(client: MloopClient, opts: RunProjectOptions, env: Record<string, string | undefined>): Promise<string> {
  const name = opts.experimentName ?? (opts.experimentId === undefined ? env.MLFLOW_EXPERIMENT_NAME : undefined);
  const id = opts.experimentId ?? (name === undefined ? env.MLFLOW_EXPERIMENT_ID : undefined);
  if (name !== undefined && name !== "") {
    const exp = await client.getExperimentByName(name);
    if (exp) return exp.experiment_id;
    return client.createExperiment(name);
  }
  if (id !== undefined && id !== "") {
    await client.getExperiment(id);
    return id;
  }
  return "0";
}

function userName(env: Record<string, string | undefined>): string {
  try {
    return os.userInfo().username;
  } catch {
    return env.USER ?? env.LOGNAME ?? "unknown";
  }
}

interface Provenance {
  tags: Record<string, string>;
  /** Diff of a dirty working tree, saved as an artifact. */
  diff?: string;
}

async function provenance(opts: RunProjectOptions, prep: PreparedProject, env: Record<string, string | undefined>): Promise<Provenance> {
  const { fetched } = prep;
  const tags: Record<string, string> = {
    [TAG.user]: userName(env),
    [TAG.sourceType]: "PROJECT",
    [TAG.entryPoint]: prep.entryPoint.name,
    [TAG.env]: prep.envManager,
    [TAG.backend]: "local",
  };
  const { base, subdir } = parseSubdirectory(opts.uri);
  let diff: string | undefined;
  if (isGitUrl(base)) {
    tags[TAG.sourceName] = stripCredentials(opts.uri);
  } else {
    const local = path.resolve(base);
    const info = await gitInfo(local);
    if (info) {
      const rel = path.relative(info.root, path.resolve(local, subdir));
      tags[TAG.sourceName] = `file://${info.root}${rel ? `#${rel}` : ""}`;
    } else {
      tags[TAG.sourceName] = path.resolve(local, subdir).replace(/\/$/, "");
    }
    if (!fetched.cloned && info) {
      if (info.commit) tags[TAG.commit] = info.commit;
      if (info.remoteUrl) fetched.repoUrl = info.remoteUrl;
      if (info.commit) {
        tags[TAG.dirty] = String(info.dirty);
        if (info.dirty) {
          diff = await gitDiff(info.root);
          tags[TAG.diffArtifact] = DIFF_ARTIFACT;
        }
      }
    }
  }
  if (fetched.cloned && fetched.commit) {
    tags[TAG.commit] = fetched.commit;
    tags[TAG.dirty] = "false";
  }
  if (fetched.repoUrl) {
    tags[TAG.repoUrl] = fetched.repoUrl;
  }
  if (fetched.versionIsBranch && opts.version) {
    tags[TAG.branch] = opts.version;
  }
  return { tags, diff };
}

/** Downloads remote `path` parameters into the storage folder; local ones become absolute paths. */
async function materializePaths(prep: PreparedProject, client: MloopClient, storageDir: string | undefined): Promise<ResolvedParameters> {
  const types = new Map(prep.entryPoint.parameters.map((p) => [p.name, p.type]));
  const needs = prep.resolved.params.some(([k, v]) => types.get(k) === "path" && isUri(v) && !v.startsWith("file:"));
  let runStorage: string | undefined;
  if (needs) {
    const baseDir = storageDir ?? os.tmpdir();
    await fsp.mkdir(baseDir, { recursive: true });
    runStorage = await fsp.mkdtemp(path.join(baseDir, "mloop-run-"));
  }
  const params: [string, string][] = [];
  for (const [i, [k, v]] of prep.resolved.params.entries()) {
    if (types.get(k) !== "path") {
      params.push([k, v]);
      continue;
    }
    if (v.startsWith("file:")) {
      params.push([k, new URL(v).pathname]);
    } else if (!isUri(v)) {
      params.push([k, path.resolve(prep.fetched.workDir, v)]);
    } else {
      const dir = path.join(runStorage!, `param_${i}`);
      await fsp.mkdir(dir, { recursive: true });
      params.push([k, await downloadUri(v, dir, client)]);
    }
  }
  return { params, extra: prep.resolved.extra };
}

async function downloadUri(uri: string, dir: string, client: MloopClient): Promise<string> {
  if (/^https?:\/\//i.test(uri)) {
    const res = await fetch(uri);
    if (!res.ok || !res.body) throw new ProjectError(`could not download '${uri}': HTTP ${res.status}`);
    const name = decodeURIComponent(new URL(uri).pathname.split("/").filter(Boolean).pop() ?? "download") || "download";
    const dest = path.join(dir, path.basename(name));
    await pipeline(res.body as unknown as NodeJS.ReadableStream, fs.createWriteStream(dest));
    return dest;
  }
  const m = uri.match(/^runs:\/([0-9a-zA-Z_-]+)\/?(.*)$/);
  if (m) return client.downloadArtifacts(m[1]!, m[2] ?? "", dir);
  throw new ProjectError(`cannot download '${uri}' for a path parameter: use a local path, http(s):// or runs:/<run_id>/<path>`);
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGKILL: 9, SIGHUP: 1, SIGQUIT: 3 };

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is already gone
  }
}

/**
 * Runs a project to completion and returns how it ended. Problems found before
 * the run starts (bad URI, entry point, parameter, environment) throw
 * {@link ProjectError} and create no run.
 *
 * @example
 * ```ts
 * const { runId, status, exitCode } = await runProject({
 *   uri: "examples/sklearn-classifier", params: [["max_iter", "200"]],
 *   experimentName: "iris", trackingUri: "http://127.0.0.1:5000",
 * });
 * ```
 */
export async function runProject(opts: RunProjectOptions): Promise<RunProjectResult> {
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const log = (line: string) => void stderr.write(`${line}\n`);
  const env = opts.env ?? processEnv();
  const prep = await prepareProject(opts, log);

  let pyEnv: { bin: string; dir: string } | undefined;
  if (prep.envManager === "virtualenv") {
    pyEnv = await ensureVirtualenv(prep.project.envFile, prep.fetched.workDir, path.join(opts.cacheDir ?? defaultCacheDir(), "envs"), log);
  }

  const tracking = await openTracking(opts);
  try {
    const { client } = tracking;
    const commandParams = await materializePaths(prep, client, opts.storageDir);
    const command = buildCommand(prep.entryPoint, commandParams);
    const prov = await provenance(opts, prep, env);
    const loggedParams = Object.fromEntries([...prep.resolved.params, ...prep.resolved.extra]);

    let runId: string;
    let experimentId: string;
    if (opts.runId) {
      const existing = await client.getRun(opts.runId);
      runId = existing.info.run_id;
      experimentId = existing.info.experiment_id;
      await client.updateRun(runId, { status: "RUNNING", ...(opts.runName ? { runName: opts.runName } : {}) });
      await client.setTags(runId, prov.tags);
    } else {
      experimentId = await resolveExperimentId(client, opts, env);
      const run = await client.createRun({ experimentId, runName: opts.runName, tags: prov.tags });
      runId = run.info.run_id;
    }
    if (Object.keys(loggedParams).length) await client.logBatch(runId, { params: loggedParams });
    if (prov.diff !== undefined) {
      await client.logText(runId, prov.diff, DIFF_ARTIFACT).catch((err) => log(`warning: could not save the git diff: ${(err as Error).message}`));
    }

    const childEnv: Record<string, string | undefined> = {
      ...env,
      MLFLOW_RUN_ID: runId,
      MLFLOW_TRACKING_URI: tracking.uri,
      MLFLOW_EXPERIMENT_ID: experimentId,
      PYTHONUNBUFFERED: "1",
    };
    // The run is already chosen; a name or id left in the environment must not redirect the client.
    delete childEnv.MLFLOW_EXPERIMENT_NAME;
    if (pyEnv) {
      childEnv.VIRTUAL_ENV = pyEnv.dir;
      childEnv.PATH = `${pyEnv.bin}${path.delimiter}${env.PATH ?? ""}`;
      delete childEnv.PYTHONHOME;
    }
    log(`=== Running command '${command}' in run with ID '${runId}' ===`);
    const outcome = await execute(command, prep.fetched.workDir, childEnv, stdout, stderr, opts);

    const status: RunProjectResult["status"] = outcome.killedBy ? "KILLED" : outcome.exitCode === 0 ? "FINISHED" : "FAILED";
    try {
      await client.logArtifact(runId, outcome.logFile, path.posix.dirname(OUTPUT_ARTIFACT));
    } catch (err) {
      log(`warning: could not save the run's output: ${(err as Error).message}`);
    } finally {
      await fsp.rm(path.dirname(outcome.logFile), { recursive: true, force: true });
    }
    await client.updateRun(runId, { status, endTime: Date.now() });
    log(status === "FINISHED" ? `=== Run (ID='${runId}') succeeded ===` : `=== Run (ID='${runId}') failed ===`);
    return { runId, experimentId, status, exitCode: outcome.exitCode };
  } finally {
    await tracking.close();
  }
}

interface Outcome {
  exitCode: number;
  killedBy?: NodeJS.Signals;
  logFile: string;
}

/** Starts the command as the leader of a new process group, tees its output, forwards signals to the group. */
async function execute(
  command: string,
  cwd: string,
  env: Record<string, string | undefined>,
  stdout: Writable,
  stderr: Writable,
  opts: RunProjectOptions,
): Promise<Outcome> {
  const logDir = await fsp.mkdtemp(path.join(os.tmpdir(), "mloop-run-log-"));
  const logFile = path.join(logDir, path.posix.basename(OUTPUT_ARTIFACT));
  const logStream = fs.createWriteStream(logFile);
  const child = spawn("bash", ["-c", command], { cwd, env: env as NodeJS.ProcessEnv, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const pgid = child.pid;
  let killedBy: NodeJS.Signals | undefined;
  let forceTimer: NodeJS.Timeout | undefined;
  const grace = opts.killGraceMs ?? 10_000;

  const stop = (signal: NodeJS.Signals) => {
    if (pgid === undefined) return;
    killedBy ??= signal;
    killGroup(pgid, signal);
    forceTimer ??= setTimeout(() => killGroup(pgid, "SIGKILL"), grace);
  };
  const onSigint = () => stop("SIGINT");
  const onSigterm = () => stop("SIGTERM");
  const onAbort = () => stop("SIGTERM");
  if (opts.forwardSignals) {
    process.on("SIGINT", onSigint);
    process.on("SIGTERM", onSigterm);
  }
  if (opts.signal) {
    if (opts.signal.aborted) onAbort();
    else opts.signal.addEventListener("abort", onAbort, { once: true });
  }

  child.stdout.on("data", (b: Buffer) => {
    stdout.write(b);
    logStream.write(b);
  });
  child.stderr.on("data", (b: Buffer) => {
    stderr.write(b);
    logStream.write(b);
  });

  const result = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>((resolve) => {
    child.once("error", (err) => resolve({ code: 127, signal: null, spawnError: err }));
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
  if (result.spawnError) stderr.write(`mloop: could not start bash: ${result.spawnError.message}\n`);

  if (killedBy && pgid !== undefined) {
    // Whatever the entry point started must go with it: wait for the group, then kill what is left.
    const deadline = Date.now() + Math.min(grace, 5000);
    while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    killGroup(pgid, "SIGKILL");
  }
  if (forceTimer) clearTimeout(forceTimer);
  if (opts.forwardSignals) {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigterm);
  }
  opts.signal?.removeEventListener("abort", onAbort);
  await new Promise<void>((resolve) => logStream.end(resolve));

  let exitCode: number;
  if (killedBy) exitCode = 128 + (SIGNAL_NUMBERS[killedBy] ?? 15);
  else if (result.signal) exitCode = 128 + (SIGNAL_NUMBERS[result.signal] ?? 9);
  else exitCode = result.code ?? 1;
  return { exitCode, killedBy, logFile };
}
