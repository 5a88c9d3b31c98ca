import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { resolveTrackingUri } from "../config.js";
import { ActiveRun, type ActiveRunOptions } from "./active-run.js";
import {
  cleanArtifactPath,
  deletePath,
  downloadTree,
  joinArtifactPath,
  listFolder,
  proxyRoot,
  uploadFiles,
  walkFiles,
  type TransferOptions,
} from "./artifacts.js";
import { decodeMetric, encodeMetric, splitBatch, toKeyValues, toMetric, type MetricInput } from "./batch.js";
import { ApiError, HttpTransport } from "./http.js";
import type {
  DatasetInput,
  Experiment,
  FileInfo,
  KeyValues,
  Metric,
  MetricWithRunId,
  ModelInput,
  Page,
  Run,
  RunInfo,
  RunStatus,
  ViewType,
} from "./types.js";
import type * as wire from "../wire/index.js";

/** Where `mloop server` listens unless told otherwise. */
export const DEFAULT_TRACKING_URI = "http://127.0.0.1:5000";

export interface ClientOptions {
  /** Server URL; defaults to `MLFLOW_TRACKING_URI`, then `MLOOP_TRACKING_URI`, then `http://127.0.0.1:5000`. */
  trackingUri?: string;
  /** Extra headers on every request (e.g. `Authorization`). */
  headers?: Record<string, string>;
  /** Attempts for retryable failures (default 5). */
  maxRetries?: number;
  /** Per-request timeout in ms for API calls (default 120 s; artifact transfers have none). */
  timeoutMs?: number;
}

export interface SearchExperimentsOptions {
  /** MLflow search syntax, e.g. `name LIKE 'fraud-%' AND tags.team = 'risk'`. */
  filter?: string;
  /** e.g. `["last_update_time DESC", "name"]`. */
  orderBy?: string[];
  /** Page size. */
  maxResults?: number;
  viewType?: ViewType;
  pageToken?: string;
}

export interface SearchRunsOptions {
  experimentIds: string[];
  /** MLflow search syntax, e.g. `metrics.rmse < 0.8 AND params.model = 'xgb'`. */
  filter?: string;
  /** e.g. `["metrics.rmse ASC", "start_time DESC"]`. */
  orderBy?: string[];
  /** Page size (MLflow's default 1000). */
  maxResults?: number;
  viewType?: ViewType;
  pageToken?: string;
}

export interface CreateRunOptions {
  experimentId: string;
  runName?: string;
  /** Milliseconds since the epoch; defaults to now. */
  startTime?: number;
  tags?: KeyValues;
  userId?: string;
}

export interface StartRunOptions extends ActiveRunOptions {
  /** Experiment to log to, created if missing. */
  experimentName?: string;
  /** Experiment id to log to; without it or a name, the Default experiment ("0"). */
  experimentId?: string;
  runName?: string;
  tags?: Record<string, string>;
}

export interface LogBatchInput {
  metrics?: MetricInput[];
  params?: KeyValues;
  tags?: KeyValues;
}

/**
 * The typed client of an mloop (or MLflow) tracking server: experiments,
 * runs, metrics, params, tags, inputs and artifacts, with MLflow's REST
 * shapes and errors as {@link ApiError}.
 *
 * @example
 * ```ts
 * const client = new MloopClient({ trackingUri: "http://127.0.0.1:5000" });
 * const experimentId = await client.createExperiment("fraud");
 * const run = await client.createRun({ experimentId, runName: "baseline" });
 * await client.logMetric(run.info.run_id, "auc", 0.91, { step: 1 });
 * await client.updateRun(run.info.run_id, { status: "FINISHED", endTime: Date.now() });
 * ```
 */
export class MloopClient {
  readonly trackingUri: string;
  /** The transport, for endpoints this client does not wrap. */
  readonly http: HttpTransport;
  private readonly artifactRoots = new Map<string, string>();

  /**
   * @example
   * ```ts
   * const client = new MloopClient(); // MLFLOW_TRACKING_URI or http://127.0.0.1:5000
   * ```
   */
  constructor(opts: ClientOptions = {}) {
    this.trackingUri = opts.trackingUri ?? resolveTrackingUri(undefined) ?? DEFAULT_TRACKING_URI;
    this.http = new HttpTransport({ trackingUri: this.trackingUri, headers: opts.headers, maxRetries: opts.maxRetries, timeoutMs: opts.timeoutMs });
  }

  // ---- experiments ------------------------------------------------------

  /**
   * Creates an experiment and returns its id.
   *
   * @example
   * ```ts
   * const id = await client.createExperiment("fraud", { tags: { team: "risk" } });
   * ```
   */
  async createExperiment(name: string, opts: { artifactLocation?: string; tags?: KeyValues } = {}): Promise<string> {
    const body: Record<string, unknown> = { name, tags: toKeyValues(opts.tags) };
    if (opts.artifactLocation !== undefined) body.artifact_location = opts.artifactLocation;
    const res = await this.http.post<wire.CreateExperimentResponse>("experiments/create", body);
    return String(res.experiment_id);
  }

  /**
   * Fetches an experiment by id; throws {@link ApiError} `RESOURCE_DOES_NOT_EXIST` if there is none.
   *
   * @example
   * ```ts
   * const exp = await client.getExperiment("1");
   * console.log(exp.name, exp.artifact_location);
   * ```
   */
  async getExperiment(experimentId: string): Promise<Experiment> {
    const res = await this.http.get<wire.GetExperimentResponse>("experiments/get", { experiment_id: experimentId });
    return res.experiment;
  }

  /**
   * Fetches an experiment by name, `undefined` if there is none (deleted ones are returned too).
   *
   * @example
   * ```ts
   * const exp = await client.getExperimentByName("fraud");
   * if (!exp) await client.createExperiment("fraud");
   * ```
   */
  async getExperimentByName(name: string): Promise<Experiment | undefined> {
    try {
      const res = await this.http.get<wire.GetExperimentResponse>("experiments/get-by-name", { experiment_name: name });
      return res.experiment;
    } catch (err) {
      if (err instanceof ApiError && err.errorCode === "RESOURCE_DOES_NOT_EXIST") return undefined;
      throw err;
    }
  }

  /**
   * One page of experiments; pass `nextPageToken` back as `pageToken` for the next, or use {@link iterExperiments}.
   *
   * @example
   * ```ts
   * const page = await client.searchExperiments({ filter: "name LIKE 'fraud%'", maxResults: 50 });
   * ```
   */
  async searchExperiments(opts: SearchExperimentsOptions = {}): Promise<Page<Experiment>> {
    const body: Record<string, unknown> = { view_type: opts.viewType ?? "ACTIVE_ONLY" };
    if (opts.filter) body.filter = opts.filter;
    if (opts.orderBy?.length) body.order_by = opts.orderBy;
    if (opts.maxResults !== undefined) body.max_results = opts.maxResults;
    if (opts.pageToken) body.page_token = opts.pageToken;
    const res = await this.http.post<wire.SearchExperimentsResponse>("experiments/search", body);
    return page(res.experiments ?? [], res.next_page_token);
  }

  /**
   * Every experiment matching the search, fetching pages as the loop goes.
   *
   * @example
   * ```ts
   * for await (const exp of client.iterExperiments({ viewType: "ALL" })) console.log(exp.name);
   * ```
   */
  async *iterExperiments(opts: Omit<SearchExperimentsOptions, "pageToken"> = {}): AsyncGenerator<Experiment> {
    let pageToken: string | undefined;
    do {
      const p = await this.searchExperiments({ ...opts, pageToken });
      yield* p.items;
      pageToken = p.nextPageToken;
    } while (pageToken);
  }

  /**
   * Updates an experiment; today that is its name.
   *
   * @example
   * ```ts
   * await client.updateExperiment("1", { newName: "fraud-v2" });
   * ```
   */
  async updateExperiment(experimentId: string, changes: { newName?: string }): Promise<void> {
    await this.http.post("experiments/update", { experiment_id: experimentId, new_name: changes.newName });
  }

  /**
   * Renames an experiment.
   *
   * @example
   * ```ts
   * await client.renameExperiment("1", "fraud-v2");
   * ```
   */
  async renameExperiment(experimentId: string, newName: string): Promise<void> {
    await this.updateExperiment(experimentId, { newName });
  }

  /**
   * Marks an experiment (and its runs) deleted; {@link restoreExperiment} brings it back.
   *
   * @example
   * ```ts
   * await client.deleteExperiment("1");
   * ```
   */
  async deleteExperiment(experimentId: string): Promise<void> {
    await this.http.post("experiments/delete", { experiment_id: experimentId });
  }

  /**
   * Restores a deleted experiment.
   *
   * @example
   * ```ts
   * await client.restoreExperiment("1");
   * ```
   */
  async restoreExperiment(experimentId: string): Promise<void> {
    await this.http.post("experiments/restore", { experiment_id: experimentId });
  }

  /**
   * Sets (or overwrites) a tag on an experiment.
   *
   * @example
   * ```ts
   * await client.setExperimentTag("1", "team", "risk");
   * ```
   */
  async setExperimentTag(experimentId: string, key: string, value: string): Promise<void> {
    await this.http.post("experiments/set-experiment-tag", { experiment_id: experimentId, key, value });
  }

  /**
   * Removes a tag from an experiment.
   *
   * @example
   * ```ts
   * await client.deleteExperimentTag("1", "team");
   * ```
   */
  async deleteExperimentTag(experimentId: string, key: string): Promise<void> {
    await this.http.post("experiments/delete-experiment-tag", { experiment_id: experimentId, key });
  }

  // ---- runs -------------------------------------------------------------

  /**
   * Creates a run in status RUNNING.
   *
   * @example
   * ```ts
   * const run = await client.createRun({ experimentId: "1", runName: "baseline", tags: { git_sha: "abc123" } });
   * console.log(run.info.run_id, run.info.artifact_uri);
   * ```
   */
  async createRun(opts: CreateRunOptions): Promise<Run> {
    const body: Record<string, unknown> = {
      experiment_id: opts.experimentId,
      start_time: opts.startTime ?? Date.now(),
      tags: toKeyValues(opts.tags),
    };
    if (opts.runName !== undefined) body.run_name = opts.runName;
    if (opts.userId !== undefined) body.user_id = opts.userId;
    const res = await this.http.post<wire.CreateRunResponse>("runs/create", body);
    return normalizeRun(res.run);
  }

  /**
   * Fetches a run with its latest metrics, params, tags and inputs.
   *
   * @example
   * ```ts
   * const run = await client.getRun(runId);
   * const auc = run.data.metrics?.find((m) => m.key === "auc")?.value;
   * ```
   */
  async getRun(runId: string): Promise<Run> {
    const res = await this.http.get<wire.GetRunResponse>("runs/get", { run_id: runId });
    return normalizeRun(res.run);
  }

  /**
   * Updates a run's status, end time or name; returns the updated run info.
   *
   * @example
   * ```ts
   * await client.updateRun(runId, { status: "FINISHED", endTime: Date.now() });
   * ```
   */
  async updateRun(runId: string, changes: { status?: RunStatus; endTime?: number; runName?: string }): Promise<RunInfo> {
    const body: Record<string, unknown> = { run_id: runId, run_uuid: runId };
    if (changes.status !== undefined) body.status = changes.status;
    if (changes.endTime !== undefined) body.end_time = changes.endTime;
    if (changes.runName !== undefined) body.run_name = changes.runName;
    const res = await this.http.post<wire.UpdateRunResponse>("runs/update", body);
    return res.run_info;
  }

  /**
   * Marks a run deleted; {@link restoreRun} brings it back.
   *
   * @example
   * ```ts
   * await client.deleteRun(runId);
   * ```
   */
  async deleteRun(runId: string): Promise<void> {
    await this.http.post("runs/delete", { run_id: runId });
  }

  /**
   * Restores a deleted run.
   *
   * @example
   * ```ts
   * await client.restoreRun(runId);
   * ```
   */
  async restoreRun(runId: string): Promise<void> {
    await this.http.post("runs/restore", { run_id: runId });
  }

  /**
   * Sets (or overwrites) a tag on a run.
   *
   * @example
   * ```ts
   * await client.setTag(runId, "stage", "tuning");
   * ```
   */
  async setTag(runId: string, key: string, value: string): Promise<void> {
    await this.http.post("runs/set-tag", { run_id: runId, run_uuid: runId, key, value: String(value) });
  }

  /**
   * Sets many tags in as few requests as MLflow's batch limits allow.
   *
   * @example
   * ```ts
   * await client.setTags(runId, { stage: "tuning", owner: "ana" });
   * ```
   */
  async setTags(runId: string, tags: KeyValues): Promise<void> {
    await this.logBatch(runId, { tags });
  }

  /**
   * Removes a tag from a run.
   *
   * @example
   * ```ts
   * await client.deleteTag(runId, "stage");
   * ```
   */
  async deleteTag(runId: string, key: string): Promise<void> {
    await this.http.post("runs/delete-tag", { run_id: runId, key });
  }

  /**
   * Logs one metric value; `step` defaults to 0 and `timestamp` to now. NaN and ±Infinity are allowed.
   *
   * @example
   * ```ts
   * await client.logMetric(runId, "loss", 0.31, { step: 10 });
   * ```
   */
  async logMetric(runId: string, key: string, value: number, opts: { step?: number; timestamp?: number } = {}): Promise<void> {
    const m = encodeMetric(toMetric({ key, value, ...opts }));
    await this.http.post("runs/log-metric", { run_id: runId, run_uuid: runId, ...m });
  }

  /**
   * Logs one parameter. Parameters are immutable: logging a different value again is an error.
   *
   * @example
   * ```ts
   * await client.logParam(runId, "learning_rate", "0.01");
   * ```
   */
  async logParam(runId: string, key: string, value: string | number | boolean): Promise<void> {
    await this.http.post("runs/log-parameter", { run_id: runId, run_uuid: runId, key, value: String(value) });
  }

  /**
   * Logs many parameters in as few requests as MLflow's batch limits allow.
   *
   * @example
   * ```ts
   * await client.logParams(runId, { learning_rate: "0.01", depth: "6" });
   * ```
   */
  async logParams(runId: string, params: KeyValues | Record<string, string | number | boolean>): Promise<void> {
    await this.logBatch(runId, { params: toKeyValues(params) });
  }

  /**
   * Logs metrics, params and tags together, split into requests within MLflow's
   * limits (1000 metrics, 100 params, 100 tags, 1000 entities each), sent in order.
   *
   * @example
   * ```ts
   * await client.logBatch(runId, {
   *   metrics: [{ key: "loss", value: 0.3, step: 1 }, { key: "loss", value: 0.2, step: 2 }],
   *   params: { epochs: "2" },
   *   tags: { stage: "dev" },
   * });
   * ```
   */
  async logBatch(runId: string, batch: LogBatchInput): Promise<void> {
    const now = Date.now();
    const metrics = (batch.metrics ?? []).map((m) => toMetric(m, now));
    for (const b of splitBatch(metrics, toKeyValues(batch.params), toKeyValues(batch.tags))) {
      await this.http.post("runs/log-batch", { run_id: runId, metrics: b.metrics.map(encodeMetric), params: b.params, tags: b.tags });
    }
  }

  /**
   * Records datasets (and, on MLflow 3 servers, models) a run used.
   *
   * @example
   * ```ts
   * await client.logInputs(runId, [{
   *   dataset: { name: "train", digest: "9f8e7d", source_type: "local", source: "data/train.csv" },
   *   tags: [{ key: "mlflow.data.context", value: "training" }],
   * }]);
   * ```
   */
  async logInputs(runId: string, datasets: DatasetInput[], models?: ModelInput[]): Promise<void> {
    const body: Record<string, unknown> = { run_id: runId, datasets };
    if (models?.length) body.models = models;
    await this.http.post("runs/log-inputs", body);
  }

  /**
   * One page of runs; use {@link iterRuns} to walk all of them.
   *
   * @example
   * ```ts
   * const { items } = await client.searchRuns({
   *   experimentIds: ["1"], filter: "metrics.auc > 0.9", orderBy: ["metrics.auc DESC"], maxResults: 10,
   * });
   * ```
   */
  async searchRuns(opts: SearchRunsOptions): Promise<Page<Run>> {
    const body: Record<string, unknown> = { experiment_ids: opts.experimentIds, run_view_type: opts.viewType ?? "ACTIVE_ONLY" };
    if (opts.filter) body.filter = opts.filter;
    if (opts.orderBy?.length) body.order_by = opts.orderBy;
    if (opts.maxResults !== undefined) body.max_results = opts.maxResults;
    if (opts.pageToken) body.page_token = opts.pageToken;
    const res = await this.http.post<wire.SearchRunsResponse>("runs/search", body);
    return page((res.runs ?? []).map(normalizeRun), res.next_page_token);
  }

  /**
   * Every run matching the search, fetching pages as the loop goes.
   *
   * @example
   * ```ts
   * for await (const run of client.iterRuns({ experimentIds: ["1"], filter: "attributes.status = 'FAILED'" })) {
   *   await client.deleteRun(run.info.run_id);
   * }
   * ```
   */
  async *iterRuns(opts: Omit<SearchRunsOptions, "pageToken">): AsyncGenerator<Run> {
    let pageToken: string | undefined;
    do {
      const p = await this.searchRuns({ ...opts, pageToken });
      yield* p.items;
      pageToken = p.nextPageToken;
    } while (pageToken);
  }

  /**
   * The full history of one metric of a run, every page fetched.
   *
   * @example
   * ```ts
   * const losses = await client.getMetricHistory(runId, "loss");
   * const last = losses.at(-1)?.value;
   * ```
   */
  async getMetricHistory(runId: string, key: string, opts: { pageSize?: number } = {}): Promise<Metric[]> {
    const out: Metric[] = [];
    let pageToken: string | undefined;
    do {
      const res = await this.http.get<wire.GetMetricHistoryResponse>("metrics/get-history", {
        run_id: runId,
        run_uuid: runId,
        metric_key: key,
        max_results: opts.pageSize,
        page_token: pageToken,
      });
      for (const m of res.metrics ?? []) out.push(decodeMetric(m));
      pageToken = res.next_page_token || undefined;
    } while (pageToken);
    return out;
  }

  /**
   * A metric's history for up to 100 runs, sampled down to `maxResults` points
   * per run over `[startStep, endStep]` (what charts draw).
   *
   * @example
   * ```ts
   * const points = await client.getMetricHistoryBulkInterval({ runIds: [a, b], metricKey: "loss", maxResults: 320 });
   * ```
   */
  async getMetricHistoryBulkInterval(opts: {
    runIds: string[];
    metricKey: string;
    startStep?: number;
    endStep?: number;
    maxResults?: number;
  }): Promise<MetricWithRunId[]> {
    const res = await this.http.get<wire.GetMetricHistoryBulkResponse>("metrics/get-history-bulk-interval", {
      run_ids: opts.runIds,
      metric_key: opts.metricKey,
      start_step: opts.startStep,
      end_step: opts.endStep,
      max_results: opts.maxResults,
    });
    return (res.metrics ?? []).map(decodeMetric);
  }

  // ---- artifacts --------------------------------------------------------

  /** The proxy path of a run's artifact root (cached: a run's artifact URI never changes). */
  private async artifactRoot(runId: string): Promise<string> {
    let root = this.artifactRoots.get(runId);
    if (root === undefined) {
      const run = await this.getRun(runId);
      root = proxyRoot(run.info.artifact_uri ?? "");
      this.artifactRoots.set(runId, root);
    }
    return root;
  }

  /**
   * Uploads a local file to the run's artifacts, under `artifactPath` if given;
   * the file is streamed, never held in memory whole.
   *
   * @example
   * ```ts
   * await client.logArtifact(runId, "out/model.onnx", "model");   // → model/model.onnx
   * ```
   */
  async logArtifact(runId: string, localPath: string, artifactPath?: string, opts: TransferOptions = {}): Promise<void> {
    const st = await fsp.stat(localPath);
    if (!st.isFile()) throw new ApiError(0, "INVALID_PARAMETER_VALUE", `'${localPath}' is not a file; use logArtifacts for a folder`);
    const root = await this.artifactRoot(runId);
    const dest = joinArtifactPath(cleanArtifactPath(artifactPath), path.basename(localPath));
    await uploadFiles(this.http, root, [{ localPath, artifactPath: dest, size: st.size }], opts);
  }

  /**
   * Uploads every file under a local folder, keeping its layout, several files at a time.
   *
   * @example
   * ```ts
   * await client.logArtifacts(runId, "out/plots", "plots", { concurrency: 8 });
   * ```
   */
  async logArtifacts(runId: string, localDir: string, artifactPath?: string, opts: TransferOptions = {}): Promise<void> {
    const st = await fsp.stat(localDir);
    if (!st.isDirectory()) throw new ApiError(0, "INVALID_PARAMETER_VALUE", `'${localDir}' is not a folder; use logArtifact for a file`);
    const root = await this.artifactRoot(runId);
    const base = cleanArtifactPath(artifactPath);
    const files = await walkFiles(localDir);
    await uploadFiles(
      this.http,
      root,
      files.map((f) => ({ localPath: f.localPath, artifactPath: joinArtifactPath(base, f.rel), size: f.size })),
      opts,
    );
  }

  /**
   * Saves a string as a UTF-8 artifact file.
   *
   * @example
   * ```ts
   * await client.logText(runId, "precision 0.93\n", "reports/summary.txt");
   * ```
   */
  async logText(runId: string, text: string, artifactFile: string): Promise<void> {
    const dest = cleanArtifactPath(artifactFile);
    if (!dest) throw new ApiError(0, "INVALID_PARAMETER_VALUE", "artifactFile must name a file");
    const root = await this.artifactRoot(runId);
    const body = Buffer.from(text, "utf8");
    await this.http.transfer("PUT", `/api/2.0/mlflow-artifacts/artifacts/${joinArtifactPath(root, dest).split("/").map(encodeURIComponent).join("/")}`, () => body, {
      "content-type": "application/octet-stream",
    });
  }

  /**
   * Saves a value as a JSON artifact file.
   *
   * @example
   * ```ts
   * await client.logDict(runId, { threshold: 0.42 }, "config/serving.json");
   * ```
   */
  async logDict(runId: string, value: unknown, artifactFile: string): Promise<void> {
    await this.logText(runId, `${JSON.stringify(value, null, 2)}\n`, artifactFile);
  }

  /**
   * Lists one folder of a run's artifacts (the root by default); paths are relative to the artifact root.
   *
   * @example
   * ```ts
   * for (const f of await client.listArtifacts(runId, "plots")) console.log(f.path, f.is_dir, f.file_size);
   * ```
   */
  async listArtifacts(runId: string, artifactPath?: string): Promise<FileInfo[]> {
    const root = await this.artifactRoot(runId);
    return listFolder(this.http, root, cleanArtifactPath(artifactPath));
  }

  /**
   * Downloads an artifact file or folder (`""` for all) into `dstDir`, keeping
   * its relative path; streams to disk and returns the local path.
   *
   * @example
   * ```ts
   * const local = await client.downloadArtifacts(runId, "model", "/tmp/dl"); // "/tmp/dl/model"
   * ```
   */
  async downloadArtifacts(runId: string, artifactPath: string, dstDir: string, opts: TransferOptions = {}): Promise<string> {
    const root = await this.artifactRoot(runId);
    await fsp.mkdir(dstDir, { recursive: true });
    return downloadTree(this.http, root, cleanArtifactPath(artifactPath), dstDir, opts);
  }

  /**
   * Deletes an artifact file or folder of a run.
   *
   * @example
   * ```ts
   * await client.deleteArtifact(runId, "tmp");
   * ```
   */
  async deleteArtifact(runId: string, artifactPath: string): Promise<void> {
    const rel = cleanArtifactPath(artifactPath);
    if (!rel) throw new ApiError(0, "INVALID_PARAMETER_VALUE", "artifactPath must name a file or folder");
    await deletePath(this.http, await this.artifactRoot(runId), rel);
  }

  // ---- fluent runs ------------------------------------------------------

  /**
   * Starts a run for training code: the experiment is created if missing,
   * and metrics, params and tags logged on the returned {@link ActiveRun} are
   * buffered and sent in the background as batches.
   *
   * @example
   * ```ts
   * const run = await client.startRun({ experimentName: "fraud", runName: "xgb-depth-6" });
   * run.logParam("depth", 6);
   * for (let epoch = 0; epoch < 10; epoch++) run.logMetric("loss", 1 / (epoch + 1), { step: epoch });
   * await run.end(); // flushes, then marks the run FINISHED
   * ```
   */
  async startRun(opts: StartRunOptions = {}): Promise<ActiveRun> {
    const experimentId = opts.experimentId ?? (opts.experimentName !== undefined ? await this.ensureExperiment(opts.experimentName) : "0");
    const tags: Record<string, string> = { ...defaultRunTags(), ...opts.tags };
    const run = await this.createRun({ experimentId, runName: opts.runName, tags, userId: tags["mlflow.user"] });
    return new ActiveRun(this, run, opts);
  }

  /**
   * Runs `fn` inside a run that ends FINISHED when it resolves and FAILED when it throws.
   *
   * @example
   * ```ts
   * const auc = await client.withRun({ experimentName: "fraud" }, async (run) => {
   *   run.logParam("depth", 6);
   *   const auc = await train();
   *   run.logMetric("auc", auc);
   *   return auc;
   * });
   * ```
   */
  async withRun<T>(opts: StartRunOptions, fn: (run: ActiveRun) => Promise<T>): Promise<T> {
    const run = await this.startRun(opts);
    let result: T;
    try {
      result = await fn(run);
    } catch (err) {
      await run.end("FAILED").catch(() => undefined);
      throw err;
    }
    await run.end("FINISHED");
    return result;
  }

  /** The id of the named experiment, created if missing (another writer creating it first is fine). */
  private async ensureExperiment(name: string): Promise<string> {
    const existing = await this.getExperimentByName(name);
    if (existing) {
      if (existing.lifecycle_stage === "deleted") {
        throw new ApiError(400, "INVALID_STATE", `experiment '${name}' is deleted; restore it or use another name`);
      }
      return existing.experiment_id;
    }
    try {
      return await this.createExperiment(name);
    } catch (err) {
      if (err instanceof ApiError && err.errorCode === "RESOURCE_ALREADY_EXISTS") {
        const again = await this.getExperimentByName(name);
        if (again) return again.experiment_id;
      }
      throw err;
    }
  }
}

function page<T>(items: T[], token: string | undefined): Page<T> {
  return token ? { items, nextPageToken: token } : { items };
}

function normalizeRun(run: wire.Run): Run {
  return { ...run, data: { ...run.data, metrics: (run.data?.metrics ?? []).map(decodeMetric) } };
}

function defaultRunTags(): Record<string, string> {
  const tags: Record<string, string> = { "mlflow.source.type": "LOCAL" };
  const script = process.argv[1];
  if (script) tags["mlflow.source.name"] = script;
  try {
    tags["mlflow.user"] = os.userInfo().username;
  } catch {
    // no passwd entry (some containers): leave the user unset
  }
  return tags;
}
