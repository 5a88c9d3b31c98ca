/**
 * The deployment controller: the closed loop's state machine, driven from
 * the stored state so a restarted controller resumes where the last one
 * stopped. serving → drift_detected → retraining → evaluating → canary →
 * promoted | refused | rolled_back → serving. Every step is a
 * compare-and-set transition with an event and its reason; from
 * drift_detected to the end of the canary the controller holds the
 * deployment's `retraining` lease, so two replicas never both retrain.
 */
import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ApiError, MloopClient, RegistryClient, type Run } from "../client/index.js";
import { hashFileSync, readDvcFile } from "../data/index.js";
import { decideGate, gateTags } from "./gate.js";
import { exportLabelledRows, liveStats } from "./live.js";
import { isMovedOn, type DeploymentLog } from "./log.js";
import type { DeploymentSpec } from "./spec.js";
import type { DeploymentRecord } from "./store.js";

/** A finished monitoring window, as the monitor reports it. */
export interface WindowSignal {
  index: number;
  driftShare: number | null;
  accuracy: number | null;
  /** When the window closed (Unix ms): the trigger latency is measured from here. */
  closedAtMs: number;
  monitorRunId?: string | undefined;
}

export interface ControllerOptions {
  spec: DeploymentSpec;
  log: DeploymentLog;
  /** The tracking server (http://…). */
  trackingUri: string;
  /** Who holds the lease; a restarted controller with the same id resumes at once, another waits for the lease to expire. */
  holder?: string;
  leaseTtlMs?: number;
  /** Fresh-data exports and training logs go here. */
  stateDir: string;
  /** Python with mlflow and scikit-learn, for the evaluation gate. */
  python?: string;
  /** The command starting mloop (default: this package's bin). */
  mloopCommand?: string[];
  /** Serving's challenger share (the spec's rollout mode decides canary or shadow; 0 ends it): an in-process server, or an attached one through its API. */
  setCanaryShare?: (share: number) => Promise<void>;
  /** Re-read aliases now (an in-process server, or an attached one's registry webhook), instead of waiting for its poll. */
  refreshServing?: () => Promise<void>;
  /** The prediction log to read (an attached server's); default the spec's `serving.log_dir`. */
  logDir?: string;
  onEvent?: (message: string) => void;
  env?: Record<string, string | undefined>;
}

const LEASE = "retraining";

function defaultMloop(): string[] {
  return [process.execPath, fileURLToPath(new URL("../../bin/mloop.js", import.meta.url))];
}

function evaluateScript(): string {
  for (let dir = import.meta.dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "python", "mloop_evaluate.py");
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) throw new Error("python/mloop_evaluate.py is missing from the installation");
  }
}

/** A data version (`data.version`): the `.dvc` file, the workspace file it tracks, and that file's md5. */
export interface DataVersion {
  dvcFile: string;
  file: string;
  md5: string;
}

/**
 * Resolves a `.dvc` file to the file it tracks in the workspace, checked
 * against the md5 the `.dvc` file records. Throws (a one-line message) when
 * the `.dvc` file is unreadable, tracks a folder or no committed file, or when
 * the workspace file is missing or differs from the version.
 */
export function resolveDataVersion(dvcFile: string, baseDir = path.dirname(dvcFile)): DataVersion {
  const dvc = readDvcFile(dvcFile);
  if (dvc.outs.length !== 1) throw new Error(`${dvcFile} tracks ${dvc.outs.length} outputs; a data version must track exactly one file`);
  const out = dvc.outs[0]!;
  if (!out.md5) throw new Error(`${dvcFile} has no md5 for ${out.path} (not committed: run mloop data commit)`);
  if (out.md5.endsWith(".dir")) throw new Error(`${dvcFile} tracks a folder (${out.path}); a data version must be one file`);
  if (out.hash !== undefined && out.hash !== "md5") throw new Error(`${dvcFile}: hash '${out.hash}' is not supported (re-add the data with mloop data add)`);
  const file = path.resolve(path.dirname(dvcFile), out.path);
  const shown = path.relative(baseDir, file) || file;
  if (!fs.existsSync(file)) throw new Error(`${shown} is missing from the workspace (run mloop data checkout ${path.basename(dvcFile)}, or mloop data pull)`);
  if (!fs.statSync(file).isFile()) throw new Error(`${shown} is not a file`);
  const actual = hashFileSync(file).md5;
  if (actual !== out.md5) throw new Error(`${shown} has md5 ${actual}, not the version's ${out.md5} (changed since mloop data add: run mloop data checkout to restore it, or mloop data add to make a new version)`);
  return { dvcFile, file, md5: out.md5 };
}

function md5File(file: string): string {
  return crypto.createHash("md5").update(fs.readFileSync(file)).digest("hex");
}

function resolvePath(base: string, p: string): string {
  return path.isAbsolute(p) ? p : path.resolve(base, p);
}

export class Controller {
  readonly spec: DeploymentSpec;
  readonly holder: string;
  private readonly client: MloopClient;
  private readonly registry: RegistryClient;
  private readonly leaseTtlMs: number;
  private busy?: Promise<void>;
  private timer?: NodeJS.Timeout;

  constructor(private readonly opts: ControllerOptions) {
    this.spec = opts.spec;
    this.holder = opts.holder ?? `${os.hostname()}/${opts.spec.name}`;
    this.leaseTtlMs = opts.leaseTtlMs ?? 30_000;
    this.client = new MloopClient({ trackingUri: opts.trackingUri });
    this.registry = new RegistryClient(this.client.http);
    fs.mkdirSync(opts.stateDir, { recursive: true });
  }

  private note(message: string): void {
    this.opts.onEvent?.(message);
  }

  /** Stores the spec (creating the deployment in `serving`) and returns the stored state. */
  async apply(): Promise<DeploymentRecord> {
    return this.opts.log.apply(this.spec.name, JSON.parse(JSON.stringify(this.spec)));
  }

  /** Steps every `intervalMs` until {@link stop}. */
  start(intervalMs = 1000): void {
    const loop = () => {
      this.timer = setTimeout(() => {
        void this.tick()
          .catch((err) => this.note(`controller: ${(err as Error).message}`))
          .finally(() => this.timer !== undefined && loop());
      }, intervalMs);
    };
    loop();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.busy;
  }

  /** A finished monitoring window: moves a serving deployment to drift_detected when a trigger fires, and starts retraining at once. */
  async onWindow(w: WindowSignal): Promise<boolean> {
    const d = await this.opts.log.get(this.spec.name);
    if (d.state !== "serving") return false;
    const { monitor, triggers } = this.spec;
    let reason: string | undefined;
    let kind = "";
    if (triggers.drift && w.driftShare !== null && w.driftShare >= monitor.driftShare) {
      kind = "drift";
      reason = `window ${w.index}: drift_share ${w.driftShare.toFixed(3)} >= ${monitor.driftShare}`;
    } else if (triggers.accuracy && monitor.accuracyFloor !== undefined && w.accuracy !== null && w.accuracy < monitor.accuracyFloor) {
      kind = "accuracy";
      reason = `window ${w.index}: accuracy ${w.accuracy.toFixed(3)} < ${monitor.accuracyFloor}`;
    }
    if (!reason) return false;
    // After a decision, drift that lasts does not retrigger at once: a refused candidate would be retrained every window.
    const returnedAt = d.context.returned_at;
    if (typeof returnedAt === "number" && Date.now() - returnedAt < monitor.cooldownSeconds * 1000) {
      this.note(`${this.spec.name}: ${reason}, but within the ${monitor.cooldownSeconds} s cooldown after ${String(d.context.after ?? "the last decision")}`);
      return false;
    }
    const trigger = { kind, window: w.index, drift_share: w.driftShare, accuracy: w.accuracy, closed_at_ms: w.closedAtMs, monitor_run_id: w.monitorRunId ?? null };
    try {
      await this.opts.log.transition(this.spec.name, d.revision, "drift_detected", reason, { context: { trigger }, data: trigger });
    } catch (err) {
      if (isMovedOn(err)) return false;
      throw err;
    }
    this.note(`${this.spec.name}: ${reason}`);
    await this.tick();
    return true;
  }

  /** One step of the state machine from the stored state; concurrent calls share one step. */
  tick(): Promise<void> {
    this.busy ??= this.step().finally(() => (this.busy = undefined));
    return this.busy;
  }

  private async step(): Promise<void> {
    for (let guard = 0; guard < 10; guard++) {
      const d = await this.opts.log.get(this.spec.name);
      let next: DeploymentRecord | undefined;
      try {
        next = await this.advance(d);
      } catch (err) {
        if (isMovedOn(err)) continue;
        throw err;
      }
      if (!next || next.revision === d.revision) return;
    }
  }

  /** Does the work of `d.state`; returns the new record when the state moved (or its context changed). */
  private async advance(d: DeploymentRecord): Promise<DeploymentRecord | undefined> {
    const log = this.opts.log;
    const name = this.spec.name;
    if (d.state === "promoted" || d.state === "refused" || d.state === "rolled_back") {
      await log.releaseLease(name, LEASE, this.holder);
      return log.transition(name, d.revision, "serving", `back to serving after ${d.state.replace("_", " ")}`, { context: { returned_at: Date.now(), after: d.state } });
    }
    if (d.state === "serving") {
      const every = this.spec.triggers.scheduleMinutes;
      if (every !== undefined && Date.now() - d.updatedAt >= every * 60_000) {
        return log.transition(name, d.revision, "drift_detected", `schedule: every ${every} min`, { context: { trigger: { kind: "schedule", closed_at_ms: Date.now() } } });
      }
      return undefined;
    }
    if (!(await log.acquireLease(name, LEASE, this.holder, this.leaseTtlMs))) return undefined;
    switch (d.state) {
      case "drift_detected":
        return this.startRetraining(d);
      case "retraining":
        return this.watchRetraining(d);
      case "evaluating":
        return this.evaluate(d);
      case "canary":
        return this.watchCanary(d);
      default:
        return undefined;
    }
  }

  /** The fresh training data: `data.path` (or the file of the data version `data.version`), plus the labelled rows of the prediction log with `data.from_log`. */
  private freshData(runTag: string, version?: DataVersion): { file: string; rows?: number } {
    const { data, baseDir } = this.spec;
    const base = version?.file ?? (data.path === undefined ? undefined : resolvePath(baseDir, data.path));
    if (!data.fromLog) return { file: base! };
    const file = path.join(this.opts.stateDir, `fresh-${runTag}.csv`);
    let header: string[] | undefined;
    let baseText = "";
    if (base && fs.statSync(base).isFile()) {
      baseText = fs.readFileSync(base, "utf8").replace(/\s+$/, "");
      header = baseText.split(/\r?\n/, 1)[0]!.split(",");
    }
    const rows = exportLabelledRows(this.logDir(), data.fromLog.labelColumn, file, header ? { header } : {});
    if (baseText) {
      const fromLog = fs.readFileSync(file, "utf8").split("\n").slice(1).join("\n");
      fs.writeFileSync(file, `${baseText}\n${fromLog}`);
    }
    return { file, rows };
  }

  private async startRetraining(d: DeploymentRecord): Promise<DeploymentRecord> {
    const { retraining, model } = this.spec;
    let version: DataVersion | undefined;
    if (this.spec.data.version !== undefined) {
      const dvcFile = resolvePath(this.spec.baseDir, this.spec.data.version);
      try {
        version = resolveDataVersion(dvcFile, this.spec.baseDir);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        return this.opts.log.transition(this.spec.name, d.revision, "refused", `data version ${this.spec.data.version}: ${message}`, { data: { data_version: dvcFile, error: message } });
      }
    }
    const experimentId = (await this.client.getExperimentByName(retraining.experiment))?.experiment_id ?? (await this.client.createExperiment(retraining.experiment));
    const run = await this.client.createRun({
      experimentId,
      runName: `retrain-${this.spec.name}-${d.revision}`,
      tags: { "mloop.deployment": this.spec.name, "mloop.deployment.trigger": JSON.stringify(d.context.trigger ?? null), "mloop.deployment.model": model.name },
    });
    const runId = run.info.run_id;
    const fresh = this.freshData(runId, version);
    await this.client.setTags(runId, {
      "mloop.deployment.data": fresh.file,
      "mloop.deployment.data_md5": md5File(fresh.file),
      ...(version ? { "mloop.deployment.data_version": version.dvcFile, "mloop.deployment.data_version_md5": version.md5 } : {}),
    });
    await this.client.logInputs(runId, [
      {
        dataset: { name: path.basename(fresh.file), digest: md5File(fresh.file).slice(0, 8), source_type: "local", source: JSON.stringify({ uri: fresh.file }) },
        tags: [{ key: "mlflow.data.context", value: "training" }],
      },
    ]);
    const trigger = d.context.trigger as { closed_at_ms?: number } | undefined;
    const latencyMs = trigger?.closed_at_ms !== undefined ? run.info.start_time - trigger.closed_at_ms : null;
    const context = { ...d.context, run_id: runId, data: fresh.file, data_rows: fresh.rows ?? null, trigger_latency_ms: latencyMs, ...(version ? { data_version: version.dvcFile, data_version_md5: version.md5 } : {}) };
    const next = await this.opts.log.transition(this.spec.name, d.revision, "retraining", `retraining run ${runId} started on ${fresh.file}${latencyMs !== null ? ` (${latencyMs} ms after the window closed)` : ""}`, {
      context,
      data: { run_id: runId, data: fresh.file, trigger_latency_ms: latencyMs, ...(version ? { data_version: version.dvcFile, data_version_md5: version.md5 } : {}) },
    });
    return this.spawnTraining(next);
  }

  /** Starts `mloop run` for the context's run, detached: it outlives a controller that dies, and a restarted one waits for it. */
  private async spawnTraining(d: DeploymentRecord): Promise<DeploymentRecord> {
    const { retraining, baseDir } = this.spec;
    const runId = d.context.run_id as string;
    const dataFile = d.context.data as string;
    const marked = await this.opts.log.updateContext(this.spec.name, d.revision, { ...d.context, spawned_at: Date.now() });
    const [cmd, ...pre] = this.opts.mloopCommand ?? defaultMloop();
    const args = [...pre, "run", resolvePath(baseDir, retraining.project), "-e", retraining.entryPoint, "--run-id", runId, "--backend", retraining.backend, "--env-manager", "local", "--tracking-uri", this.opts.trackingUri];
    for (const [k, v] of Object.entries(retraining.parameters)) args.push("-P", `${k}=${v.replaceAll("${data}", dataFile).replaceAll("${run_id}", runId)}`);
    const out = fs.openSync(path.join(this.opts.stateDir, `train-${runId}.log`), "a");
    const child = spawn(cmd!, args, { detached: true, stdio: ["ignore", out, out], env: { ...(this.opts.env ?? process.env), MLFLOW_TRACKING_URI: this.opts.trackingUri } });
    child.unref();
    fs.closeSync(out);
    this.note(`${this.spec.name}: retraining run ${runId} (pid ${child.pid})`);
    return marked;
  }

  private async watchRetraining(d: DeploymentRecord): Promise<DeploymentRecord | undefined> {
    const runId = d.context.run_id as string;
    let run: Run;
    try {
      run = await this.client.getRun(runId);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return this.opts.log.transition(this.spec.name, d.revision, "refused", `retraining run ${runId} is gone`, { data: { run_id: runId } });
      throw err;
    }
    const status = run.info.status;
    if (status === "RUNNING" || status === "SCHEDULED") {
      const started = (run.data.tags ?? []).some((t) => t.key === "mlflow.project.entryPoint" || t.key === "mlflow.source.type");
      const spawnedAt = d.context.spawned_at as number | undefined;
      // Killed between recording the run and starting it (or the start never took): start it once more, same run.
      if (!started && (spawnedAt === undefined || Date.now() - spawnedAt > 60_000)) return this.spawnTraining(d);
      return undefined;
    }
    if (status !== "FINISHED") return this.opts.log.transition(this.spec.name, d.revision, "refused", `retraining run ${runId} ended ${status}`, { data: { run_id: runId, status } });
    const versions = (await this.registry.searchModelVersions({ filter: `name = '${this.spec.model.name.replace(/'/g, "\\'")}'`, maxResults: 1000 })).items;
    const candidate = versions.filter((v) => v.run_id === runId).sort((a, b) => Number(b.version) - Number(a.version))[0];
    if (!candidate) return this.opts.log.transition(this.spec.name, d.revision, "refused", `retraining run ${runId} registered no version of ${this.spec.model.name}`, { data: { run_id: runId } });
    const champion = await this.registry.getVersionByAlias(this.spec.model.name, this.spec.model.alias);
    await this.registry.setModelVersionTag(this.spec.model.name, candidate.version, "mloop.deployment", this.spec.name);
    return this.opts.log.transition(this.spec.name, d.revision, "evaluating", `run ${runId} registered version ${candidate.version}; evaluating against champion version ${champion.version}`, {
      context: { ...d.context, candidate_version: candidate.version, champion_version: champion.version },
      data: { run_id: runId, candidate_version: candidate.version, champion_version: champion.version },
    });
  }

  private async evaluate(d: DeploymentRecord): Promise<DeploymentRecord> {
    const { model, evaluation, retraining } = this.spec;
    const candidate = d.context.candidate_version as string;
    const champion = d.context.champion_version as string;
    const data = resolvePath(this.spec.baseDir, evaluation.data);
    let evalRunId = d.context.evaluation_run_id as string | undefined;
    if (!evalRunId) {
      const experimentId = (await this.client.getExperimentByName(retraining.experiment))!.experiment_id;
      const run = await this.client.createRun({
        experimentId,
        runName: `evaluate-v${candidate}-vs-v${champion}`,
        tags: {
          "mloop.deployment": this.spec.name,
          "mloop.evaluation.candidate": `models:/${model.name}/${candidate}`,
          "mloop.evaluation.champion": `models:/${model.name}/${champion}`,
          "mloop.evaluation.data": data,
          "mloop.evaluation.data_md5": md5File(data),
          "mloop.deployment.training_run_id": d.context.run_id as string,
        },
      });
      evalRunId = run.info.run_id;
      d = await this.opts.log.updateContext(this.spec.name, d.revision, { ...d.context, evaluation_run_id: evalRunId });
    }
    const python = this.opts.python ?? "python3";
    const res = spawnSync(python, [evaluateScript(), evalRunId, `models:/${model.name}/${candidate}`, `models:/${model.name}/${champion}`, data, evaluation.labelColumn], {
      env: { ...(this.opts.env ?? process.env), MLFLOW_TRACKING_URI: this.opts.trackingUri },
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    if (res.status !== 0) {
      const why = (res.stderr || res.error?.message || "").trim().split("\n").slice(-1)[0] ?? "";
      await this.client.updateRun(evalRunId, { status: "FAILED", endTime: Date.now() });
      return this.opts.log.transition(this.spec.name, d.revision, "refused", `evaluation failed: ${why}`, { data: { evaluation_run_id: evalRunId } });
    }
    const lines = res.stdout.trim().split("\n");
    const scores = JSON.parse(lines[lines.length - 1]!) as { candidate: Record<string, number>; champion: Record<string, number>; rows: number };
    const verdict = decideGate(evaluation.gate, scores.candidate, scores.champion);
    const tags = gateTags(evaluation.gate, verdict, { evaluationRunId: evalRunId, champion, candidate, data });
    await this.client.setTags(evalRunId, tags);
    await this.client.logParams(evalRunId, { "gate.primary_metric": evaluation.gate.primaryMetric, "gate.margin": String(evaluation.gate.margin), "gate.guards": JSON.stringify(evaluation.gate.guards), "evaluation.rows": String(scores.rows) });
    await this.client.logMetric(evalRunId, "gate_passed", verdict.passed ? 1 : 0);
    for (const [k, v] of Object.entries(tags)) await this.registry.setModelVersionTag(model.name, candidate, k, v);
    await this.client.updateRun(evalRunId, { status: "FINISHED", endTime: Date.now() });
    const data_ = { evaluation_run_id: evalRunId, candidate_version: candidate, champion_version: champion, candidate: scores.candidate, champion: scores.champion, checks: verdict.checks };
    if (!verdict.passed) return this.opts.log.transition(this.spec.name, d.revision, "refused", verdict.reason, { data: data_ });
    return this.startCanary(d, verdict.reason, data_);
  }

  private async startCanary(d: DeploymentRecord, reason: string, data: Record<string, unknown>): Promise<DeploymentRecord> {
    const { model, rollout } = this.spec;
    const candidate = d.context.candidate_version as string;
    await this.registry.setAlias(model.name, rollout.challengerAlias, candidate);
    await this.opts.refreshServing?.();
    await this.opts.setCanaryShare?.(rollout.share);
    const startedAt = Date.now();
    const how =
      rollout.mode === "shadow"
        ? `version ${candidate} scores a shadow copy of every request as @${rollout.challengerAlias} for ${rollout.durationSeconds} s (the champion answers all)`
        : `version ${candidate} serves ${rollout.share * 100}% as @${rollout.challengerAlias} for ${rollout.durationSeconds} s`;
    return this.opts.log.transition(this.spec.name, d.revision, "canary", `${reason}; ${how}`, {
      context: { ...d.context, canary_started_at: startedAt },
      data: { ...data, mode: rollout.mode, alias: rollout.challengerAlias, share: rollout.mode === "shadow" ? 0 : rollout.share, duration_s: rollout.durationSeconds },
    });
  }

  /** The prediction log's folder: the attached server's, or the spec's `serving.log_dir`. */
  private logDir(): string {
    return this.opts.logDir ?? resolvePath(this.spec.baseDir, this.spec.serving.logDir);
  }

  /**
   * The canary (or the shadow): the challenger's live record against the
   * champion's since it began. In shadow mode the challenger's record is its
   * shadow copies (logged, never answered); the same tolerances decide.
   */
  private async watchCanary(d: DeploymentRecord): Promise<DeploymentRecord | undefined> {
    const { model, rollout } = this.spec;
    const candidate = d.context.candidate_version as string;
    const champion = d.context.champion_version as string;
    const since = d.context.canary_started_at as number;
    const shadow = rollout.mode === "shadow";
    const stats = liveStats(this.logDir(), since, { shadow });
    const c = stats.get(candidate);
    const b = stats.get(champion);
    const elapsed = (Date.now() - since) / 1000;
    const live = { mode: rollout.mode, candidate: c ?? null, champion: b ?? null, elapsed_s: Math.round(elapsed * 10) / 10 };
    const enough = (c?.requests ?? 0) >= rollout.minRequests;
    const side = shadow ? "shadow" : "canary";
    if (c && b && enough) {
      const errWorse = c.errorRate - b.errorRate;
      if (errWorse > rollout.maxErrorRateIncrease) {
        return this.rollbackCanary(d, `${side} error rate ${c.errorRate.toFixed(3)} vs champion ${b.errorRate.toFixed(3)}: worse by more than ${rollout.maxErrorRateIncrease}`, live);
      }
      if (c.accuracy !== null && b.accuracy !== null && c.labelled >= 5 && b.labelled >= 5 && b.accuracy - c.accuracy > rollout.maxAccuracyDrop) {
        return this.rollbackCanary(d, `${side} accuracy ${c.accuracy.toFixed(3)} vs champion ${b.accuracy.toFixed(3)}: worse by more than ${rollout.maxAccuracyDrop}`, live);
      }
      const maxLatency = rollout.maxP95LatencyIncreaseMs;
      if (maxLatency !== undefined && c.latencyP95Ms !== null && b.latencyP95Ms !== null && c.latencyP95Ms - b.latencyP95Ms > maxLatency) {
        return this.rollbackCanary(d, `${side} p95 latency ${c.latencyP95Ms.toFixed(1)} ms vs champion ${b.latencyP95Ms.toFixed(1)} ms: slower by more than ${maxLatency} ms`, live);
      }
    }
    if (elapsed < rollout.durationSeconds || !enough) return undefined;
    await this.registry.setAlias(model.name, rollout.previousAlias, champion);
    await this.registry.setAlias(model.name, model.alias, candidate);
    await this.opts.setCanaryShare?.(0);
    await this.opts.refreshServing?.();
    return this.opts.log.transition(
      this.spec.name,
      d.revision,
      "promoted",
      `${side} held for ${Math.round(elapsed)} s over ${c?.requests ?? 0} ${shadow ? "shadowed " : ""}requests (error rate ${(c?.errorRate ?? 0).toFixed(3)}${c?.accuracy != null ? `, accuracy ${c.accuracy.toFixed(3)}` : ""}); @${model.alias} moved from version ${champion} to ${candidate}, @${rollout.previousAlias} = ${champion}`,
      { data: { ...live, alias: model.alias, from_version: champion, to_version: candidate, previous_alias: rollout.previousAlias } },
    );
  }

  private async rollbackCanary(d: DeploymentRecord, reason: string, live: Record<string, unknown>): Promise<DeploymentRecord> {
    const { model, rollout } = this.spec;
    await this.opts.setCanaryShare?.(0);
    await this.registry.setAlias(model.name, rollout.challengerAlias, d.context.champion_version as string);
    await this.opts.refreshServing?.();
    await this.registry.setModelVersionTag(model.name, d.context.candidate_version as string, "mloop.rollout.verdict", `rolled back: ${reason}`);
    return this.opts.log.transition(this.spec.name, d.revision, "rolled_back", reason, { data: { ...live, candidate_version: d.context.candidate_version, champion_version: d.context.champion_version } });
  }
}

/**
 * `mloop deploy rollback`: the alias goes back to the `previous` version (and
 * `previous` to the version it left), recorded as serving → rolled_back → serving.
 */
export async function rollbackDeployment(log: DeploymentLog, registry: RegistryClient, spec: Pick<DeploymentSpec, "name" | "model" | "rollout">, reason = "manual rollback"): Promise<{ from: string; to: string }> {
  const d = await log.get(spec.name);
  if (d.state !== "serving") throw new Error(`deployment ${spec.name} is ${d.state}; roll back once it is serving`);
  const current = await registry.getVersionByAlias(spec.model.name, spec.model.alias);
  let previous: string;
  try {
    previous = (await registry.getVersionByAlias(spec.model.name, spec.rollout.previousAlias)).version;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) throw new Error(`${spec.model.name} has no @${spec.rollout.previousAlias} version to roll back to`);
    throw err;
  }
  const moved = await log.transition(spec.name, d.revision, "rolled_back", `${reason}: @${spec.model.alias} from version ${current.version} back to ${previous}`, {
    data: { alias: spec.model.alias, from_version: current.version, to_version: previous },
  });
  await registry.setAlias(spec.model.name, spec.model.alias, previous);
  await registry.setAlias(spec.model.name, spec.rollout.previousAlias, current.version);
  try {
    await log.transition(spec.name, moved.revision, "serving", "back to serving after rolled back", { context: {} });
  } catch (err) {
    // A running controller may have returned it to serving first; that is the same end.
    if (!isMovedOn(err)) throw err;
  }
  return { from: current.version, to: previous };
}

/** `mloop deploy retrain`: a manual trigger, recorded with its reason; the controller starts the run. */
export async function requestRetraining(log: DeploymentLog, name: string, reason = "manual"): Promise<DeploymentRecord> {
  const d = await log.get(name);
  if (d.state !== "serving") throw new Error(`deployment ${name} is ${d.state}; a retraining can start only from serving`);
  return log.transition(name, d.revision, "drift_detected", `manual: ${reason}`, { context: { trigger: { kind: "manual", closed_at_ms: Date.now() } }, data: { kind: "manual" } });
}
