/**
 * The serving service: the champion (and optional challenger) model slots,
 * each following its alias; request routing by the traffic policy; the
 * prediction log and feedback; counters for status and metrics.
 */
import crypto from "node:crypto";
import { MlflowError, temporarilyUnavailable } from "../errors.js";
import { parseScoringRequest, type ScoringInput } from "./input.js";
import { readModelMeta, type ModelMeta } from "./mlmodel.js";
import { ServingMetrics } from "./metrics.js";
import { OnnxPredictor } from "./onnx.js";
import type { Predictor } from "./predictor.js";
import { PyfuncPool, type PyfuncStats } from "./pyfunc.js";
import { ModelResolver, parseModelUri, type ModelRef, type ResolvedModel } from "./resolve.js";
import type { S3Settings } from "../config.js";
import { S3PredictionLog } from "./s3-log.js";
import { FeedbackStore, LocalPredictionSink, type FeedbackRecord, type PredictionSink } from "./sink.js";
import { routesToChallenger, type TrafficPolicy } from "./traffic.js";
import type { ServingStatusReply as ServingStatus } from "../wire/index.js";

export interface ServeOptions {
  modelUri: string;
  challengerUri?: string;
  policy: TrafficPolicy;
  trackingUri?: string;
  /** Downloaded model versions. */
  cacheDir: string;
  /** Prediction log and feedback folder. */
  logDir: string;
  /** Share of requests recorded in the prediction log (1 = all). */
  logSampleRate: number;
  logOverflow: "wait" | "drop";
  logMaxPendingBytes: number;
  logFsyncIntervalMs: number;
  /** How often aliases are re-read; 0 turns polling off (webhooks still work). */
  pollIntervalMs: number;
  python: string;
  workers: number;
  /** Most rows one batched predict call of a Python worker takes; 0 = each request alone through MLflow's code. Default 4096. */
  batchMaxRows?: number;
  requestTimeoutMs: number;
  /** `node` runs ONNX models in-process; `python` sends them to the worker like any pyfunc model. */
  onnxRuntime: "node" | "python";
  /** A custom sink replaces the local prediction log. */
  sink?: PredictionSink;
  /** `s3://bucket/prefix`: the prediction log and feedback go there as Parquet objects, through a spool in `logDir`. */
  predictionLogUri?: string;
  s3?: S3Settings;
  /** How often the S3 log's spool segment is closed and uploaded (default 5000 ms). */
  logFlushIntervalMs?: number;
  onEvent?: (message: string) => void;
}

export interface ScoringRequest {
  body: string;
  contentType: string | undefined;
  requestId?: string;
  /** Value of the policy's sticky header, if any. */
  stickyValue?: string;
}

export interface ScoringResponse {
  status: number;
  body: string;
  requestId: string;
  model: string;
  version: string;
  role: string;
}

const LATENCY_WINDOW = 2048;

/** One loaded model version: its predictor, in-flight count and counters. */
class LoadedVersion {
  inflight = 0;
  retired = false;
  requests = 0;
  errors = 0;
  private latencies = new Float64Array(LATENCY_WINDOW);
  private latencyCount = 0;
  private closing?: Promise<void>;

  constructor(
    readonly model: ResolvedModel,
    readonly meta: ModelMeta,
    readonly predictor: Predictor,
    readonly loadedAt = Date.now(),
  ) {}

  record(latencyMs: number, ok: boolean): void {
    this.requests++;
    if (!ok) this.errors++;
    this.latencies[this.latencyCount++ % LATENCY_WINDOW] = latencyMs;
  }

  percentile(p: number): number | null {
    const n = Math.min(this.latencyCount, LATENCY_WINDOW);
    if (n === 0) return null;
    const sorted = Array.from(this.latencies.subarray(0, n)).sort((a, b) => a - b);
    return Math.round(sorted[Math.min(n - 1, Math.floor(p * n))]! * 1000) / 1000;
  }

  release(): void {
    this.inflight--;
    if (this.retired && this.inflight === 0) void this.close();
  }

  close(): Promise<void> {
    this.closing ??= this.predictor.close();
    return this.closing;
  }
}

/** A champion or challenger: the version serving now, replaced atomically when its alias moves. */
class ModelSlot {
  current!: LoadedVersion;
  private refreshing?: Promise<void>;
  swaps = 0;

  constructor(
    readonly role: "champion" | "challenger",
    readonly uri: string,
    readonly ref: ModelRef,
    private readonly service: ServingService,
  ) {}

  get follows(): boolean {
    return this.ref.kind === "alias";
  }

  async load(): Promise<void> {
    const model = await this.service.resolver.current(this.ref, this.uri);
    this.current = await this.service.loadVersion(this.ref, model);
  }

  /** Re-reads the alias; a new version is loaded beside the old one, warmed, then swapped in. */
  refresh(): Promise<void> {
    if (!this.follows) return Promise.resolve();
    this.refreshing ??= this.doRefresh().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    let model: ResolvedModel;
    try {
      model = await this.service.resolver.current(this.ref, this.uri);
    } catch (err) {
      this.service.event(`cannot re-read ${this.uri}: ${(err as Error).message}`);
      return;
    }
    if (model.version === this.current.model.version) return;
    let next: LoadedVersion;
    try {
      next = await this.service.loadVersion(this.ref, model);
    } catch (err) {
      this.service.event(`${this.uri} moved to version ${model.version}, which failed to load; still serving version ${this.current.model.version}: ${(err as Error).message}`);
      return;
    }
    const old = this.current;
    this.current = next;
    this.swaps++;
    this.service.event(`${this.uri}: now serving version ${next.model.version} (was ${old.model.version})`);
    old.retired = true;
    if (old.inflight === 0) await old.close();
  }

  acquire(): LoadedVersion {
    const v = this.current;
    v.inflight++;
    return v;
  }
}

function inputsJson(input: ScoringInput): string {
  if (input.kind === "tensor") return `{"tensor":${JSON.stringify(input.value)}}`;
  const rows = new Array(input.rows);
  for (let r = 0; r < input.rows; r++) {
    const row = new Array(input.columns.length);
    for (let c = 0; c < input.columns.length; c++) row[c] = input.data[c]![r] ?? null;
    rows[r] = row;
  }
  return `{"columns":${JSON.stringify(input.columns)},"data":${JSON.stringify(rows)}}`;
}

const REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

export class ServingService {
  readonly resolver: ModelResolver;
  readonly champion: ModelSlot;
  readonly challenger?: ModelSlot;
  readonly sink: PredictionSink;
  readonly feedback: FeedbackStore;
  readonly metrics: ServingMetrics;
  private pollTimer?: NodeJS.Timeout;
  private pools = new Set<PyfuncPool>();
  private readonly startedAt = Date.now();
  private shadowInflight = 0;
  private s3Log?: S3PredictionLog;

  private constructor(readonly opts: ServeOptions) {
    this.resolver = new ModelResolver({ trackingUri: opts.trackingUri, cacheDir: opts.cacheDir });
    this.champion = new ModelSlot("champion", opts.modelUri, parseModelUri(opts.modelUri), this);
    if (opts.challengerUri) this.challenger = new ModelSlot("challenger", opts.challengerUri, parseModelUri(opts.challengerUri), this);
    const logOpts = { overflow: opts.logOverflow, maxPendingBytes: opts.logMaxPendingBytes, fsyncIntervalMs: opts.logFsyncIntervalMs };
    if (opts.predictionLogUri && !opts.sink) {
      this.s3Log = new S3PredictionLog({
        uri: opts.predictionLogUri,
        s3: opts.s3 ?? { region: "us-east-1", ignoreTls: false },
        spoolDir: opts.logDir,
        flushIntervalMs: opts.logFlushIntervalMs,
        log: logOpts,
        onEvent: (m) => this.event(m),
      });
      this.sink = this.s3Log.sink;
      this.feedback = this.s3Log.feedback;
    } else {
      this.sink = opts.sink ?? new LocalPredictionSink(opts.logDir, logOpts);
      this.feedback = new FeedbackStore(opts.logDir);
    }
    this.metrics = new ServingMetrics({
      predictionLog: () => this.sink.stats(),
      feedbackLog: () => this.feedback.stats(),
      workerRestarts: () => this.workerRestarts(),
      pyfunc: () => this.pyfuncStats(),
    });
  }

  /**
   * Resolves, downloads, loads and warms the models, then starts following their aliases.
   *
   * @example
   * ```ts
   * const service = await ServingService.start({ modelUri: "models:/fraud@champion", ...options });
   * const res = await service.score({ body: '{"inputs": [[1, 2]]}', contentType: "application/json" });
   * ```
   */
  static async start(opts: ServeOptions): Promise<ServingService> {
    const service = new ServingService(opts);
    try {
      await service.champion.load();
      await service.challenger?.load();
    } catch (err) {
      await service.close();
      throw err;
    }
    if (opts.pollIntervalMs > 0 && (service.champion.follows || service.challenger?.follows)) {
      service.pollTimer = setInterval(() => void service.refresh(), opts.pollIntervalMs);
      service.pollTimer.unref();
    }
    return service;
  }

  event(message: string): void {
    this.opts.onEvent?.(message);
  }

  /** Loads one version beside whatever serves now and warms it with the model's input example. */
  async loadVersion(ref: ModelRef, model: ResolvedModel): Promise<LoadedVersion> {
    const dir = await this.resolver.materialise(ref, model);
    const meta = readModelMeta(dir);
    let predictor: Predictor;
    if (meta.flavors.onnx && this.opts.onnxRuntime === "node") {
      predictor = await OnnxPredictor.open(meta);
    } else if (meta.flavors.python_function) {
      const pool = await PyfuncPool.start(meta, {
        python: this.opts.python,
        workers: this.opts.workers,
        timeoutMs: this.opts.requestTimeoutMs,
        maxBatchRows: this.opts.batchMaxRows,
        onLog: (text) => this.event(`[worker ${model.name}/${model.version}] ${text.trimEnd()}`),
      });
      this.pools.add(pool);
      predictor = pool;
    } else {
      throw new MlflowError("INVALID_PARAMETER_VALUE", `${model.uri}: the model has no onnx or python_function flavor (flavors: ${Object.keys(meta.flavors).join(", ")})`);
    }
    const loaded = new LoadedVersion(model, meta, predictor);
    if (meta.servingInputExample) {
      try {
        const parsed = parseScoringRequest(meta.servingInputExample, "application/json", meta.inputs);
        await predictor.predict({ input: parsed.input, body: meta.servingInputExample, contentType: "application/json", params: parsed.params });
      } catch (err) {
        await predictor.close();
        throw new MlflowError("INVALID_STATE", `version ${model.version} failed on its own input example: ${(err as Error).message}`);
      }
    }
    return loaded;
  }

  /** Changes the traffic split between champion and challenger (the deployment controller's canary); the next request uses it. */
  setPolicy(policy: TrafficPolicy): void {
    if (policy.mode !== "single" && !this.challenger) throw new MlflowError("INVALID_STATE", `traffic mode '${policy.mode}' needs a challenger model`);
    this.opts.policy = policy;
  }

  /** Re-reads every followed alias now (polling and the registry webhook call this). */
  async refresh(): Promise<void> {
    await Promise.all([this.champion.refresh(), this.challenger?.refresh()]);
  }

  private pyfuncStats(): PyfuncStats {
    const total: PyfuncStats = { fast: 0, mlflow: 0, batches: 0, batchedRequests: 0, largestBatch: 0 };
    for (const p of this.pools) {
      total.fast += p.stats.fast;
      total.mlflow += p.stats.mlflow;
      total.batches += p.stats.batches;
      total.batchedRequests += p.stats.batchedRequests;
      total.largestBatch = Math.max(total.largestBatch, p.stats.largestBatch);
    }
    return total;
  }

  private workerRestarts(): number {
    let n = 0;
    for (const p of this.pools) n += p.restarts;
    return n;
  }

  /** Scores one request; never throws: failures are MLflow's error JSON with their status. */
  async score(req: ScoringRequest): Promise<ScoringResponse> {
    const requestId = req.requestId && REQUEST_ID.test(req.requestId) ? req.requestId : crypto.randomUUID();
    const slot = this.challenger && routesToChallenger(this.opts.policy, req.stickyValue) ? this.challenger : this.champion;
    const version = slot.acquire();
    const started = performance.now();
    const timestampMs = Date.now();
    let status = 200;
    let body: string;
    let predictions: string | undefined;
    let inputs = "null";
    let error: string | undefined;
    let input: ScoringInput | undefined;
    try {
      const parsed = parseScoringRequest(req.body, req.contentType, version.meta.inputs);
      input = parsed.input;
      inputs = inputsJson(parsed.input);
      const out = await version.predictor.predict({ input: parsed.input, body: req.body, contentType: req.contentType ?? "application/json", params: parsed.params });
      predictions = out.json;
      body = `{"predictions": ${out.json}}`;
    } catch (err) {
      const e = err instanceof MlflowError ? err : new MlflowError("INTERNAL_ERROR", "Internal error while scoring; see the server log");
      if (!(err instanceof MlflowError)) this.event(`scoring failed: ${(err as Error).stack ?? String(err)}`);
      status = e.status;
      error = e.message;
      body = JSON.stringify(e.toJSON());
    } finally {
      version.release();
    }
    const latencyMs = performance.now() - started;
    const role = slot.role;
    const { name, version: v } = version.model;
    version.record(latencyMs, status === 200);
    this.metrics.requests.inc({ model: name, version: v, role, status: String(status) });
    this.metrics.latency.observe({ model: name, version: v, role }, latencyMs / 1000);
    if (this.opts.logSampleRate >= 1 || Math.random() < this.opts.logSampleRate) {
      await this.sink.write({ requestId, timestampMs, model: name, version: v, role, status, latencyMs, inputs, predictions, error });
    }
    if (this.opts.policy.mode === "shadow" && this.challenger && input) this.shadow(req, requestId);
    return { status, body, requestId, model: name, version: v, role };
  }

  /** The challenger scores a copy after the champion answered; its output is logged, never returned. */
  private shadow(req: ScoringRequest, requestId: string): void {
    if (this.shadowInflight >= 256) return;
    this.shadowInflight++;
    const slot = this.challenger!;
    const version = slot.acquire();
    const started = performance.now();
    const timestampMs = Date.now();
    void (async () => {
      let status = 200;
      let predictions: string | undefined;
      let error: string | undefined;
      let inputs = "null";
      try {
        const parsed = parseScoringRequest(req.body, req.contentType, version.meta.inputs);
        inputs = inputsJson(parsed.input);
        predictions = (await version.predictor.predict({ input: parsed.input, body: req.body, contentType: req.contentType ?? "application/json", params: parsed.params })).json;
      } catch (err) {
        status = err instanceof MlflowError ? err.status : 500;
        error = (err as Error).message;
      } finally {
        version.release();
        this.shadowInflight--;
      }
      const latencyMs = performance.now() - started;
      const { name, version: v } = version.model;
      version.record(latencyMs, status === 200);
      this.metrics.requests.inc({ model: name, version: v, role: "shadow", status: String(status) });
      this.metrics.latency.observe({ model: name, version: v, role: "shadow" }, latencyMs / 1000);
      await this.sink.write({ requestId, timestampMs, model: name, version: v, role: "shadow", status, latencyMs, inputs, predictions, error });
    })();
  }

  /** Stores ground-truth labels for earlier request ids, durably (fsync'd) before resolving. */
  async addFeedback(records: { request_id: string; label: unknown }[]): Promise<number> {
    const now = Date.now();
    const rows: FeedbackRecord[] = records.map((r) => ({ request_id: r.request_id, label: r.label, timestamp_ms: now }));
    if (!(await this.feedback.add(rows))) throw temporarilyUnavailable("the feedback log could not take the labels; retry");
    return rows.length;
  }

  /** Versions, shares, request counts, latency and error rates (`GET /status`, `mloop serve status`). */
  status(): ServingStatus {
    const slots = [this.champion, ...(this.challenger ? [this.challenger] : [])];
    const policy = this.opts.policy;
    return {
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      policy: { mode: policy.mode, challenger_share: policy.mode === "canary" ? policy.share : 0, sticky_header: policy.stickyHeader ?? null },
      models: slots.map((s) => {
        const v = s.current;
        const share = s.role === "champion" ? (policy.mode === "canary" && this.challenger ? 1 - policy.share : 1) : policy.mode === "canary" ? policy.share : 0;
        return {
          role: s.role,
          uri: s.uri,
          name: v.model.name,
          version: v.model.version,
          runtime: v.predictor.kind,
          share,
          follows_alias: s.follows,
          swaps: s.swaps,
          requests: v.requests,
          errors: v.errors,
          error_rate: v.requests ? Math.round((v.errors / v.requests) * 10000) / 10000 : 0,
          latency_ms: { p50: v.percentile(0.5), p99: v.percentile(0.99) },
          in_flight: v.inflight,
        };
      }),
      prediction_log: { dir: this.opts.logDir, ...(this.opts.predictionLogUri ? { uri: this.opts.predictionLogUri } : {}), ...this.sink.stats() },
      feedback: { written: this.feedback.stats().written },
      worker_restarts: this.workerRestarts(),
    };
  }

  /** The champion's current version (the `/version` of a model, `X-Mloop-Model-Version`). */
  get championVersion(): string {
    return this.champion.current.model.version;
  }

  async close(): Promise<void> {
    if (this.pollTimer) clearInterval(this.pollTimer);
    const versions = [this.champion.current, this.challenger?.current].filter((v): v is LoadedVersion => v !== undefined);
    await Promise.allSettled(versions.map((v) => v.close()));
    await Promise.allSettled([...this.pools].map((p) => p.close()));
    if (this.s3Log) await this.s3Log.close();
    else {
      await this.sink.close();
      await this.feedback.close();
    }
  }
}
