import { BATCH_LIMITS, toMetric } from "./batch.js";
import type { TransferOptions } from "./artifacts.js";
import type { MloopClient } from "./client.js";
import type { Metric, Run, RunStatus } from "./types.js";

export interface ActiveRunOptions {
  /** How long logged values may wait before they are sent (default 1000 ms). */
  flushIntervalMs?: number;
}

/**
 * A run being logged to by training code. `logMetric`, `logParam` and
 * `setTag` return at once; values are buffered and sent as log-batch requests
 * when a batch is full or after `flushIntervalMs`, one request at a time and
 * in order. A failed background send is thrown by the next call on the run,
 * by {@link ActiveRun.flush} or by {@link ActiveRun.end}.
 *
 * @example
 * ```ts
 * const run = await client.startRun({ experimentName: "mnist", runName: "cnn" });
 * try {
 *   run.logParams({ lr: 0.001, epochs: 5 });
 *   for (let step = 0; step < 1000; step++) run.logMetric("loss", Math.exp(-step / 100), { step });
 *   await run.logArtifact("model.onnx");
 *   await run.end("FINISHED");
 * } catch (err) {
 *   await run.end("FAILED");
 *   throw err;
 * }
 * ```
 */
export class ActiveRun {
  readonly runId: string;
  readonly experimentId: string;
  /** The run as created (its info does not follow later changes; use `client.getRun`). */
  readonly run: Run;
  private readonly flushIntervalMs: number;
  private metrics: Metric[] = [];
  private params = new Map<string, string>();
  private tags = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();
  private failure: unknown;
  /** No more logging: end() was called. */
  private ended = false;
  /** The server has the run's final status. */
  private finished = false;

  /**
   * Made by {@link MloopClient.startRun}; construct one directly to log to an existing run.
   *
   * @example
   * ```ts
   * const run = new ActiveRun(client, await client.getRun(runId));
   * ```
   */
  constructor(
    readonly client: MloopClient,
    run: Run,
    opts: ActiveRunOptions = {},
  ) {
    this.run = run;
    this.runId = run.info.run_id;
    this.experimentId = run.info.experiment_id;
    this.flushIntervalMs = opts.flushIntervalMs ?? 1000;
  }

  /**
   * Buffers one metric value (`step` defaults to 0, `timestamp` to now).
   *
   * @example
   * ```ts
   * run.logMetric("accuracy", 0.97, { step: epoch });
   * ```
   */
  logMetric(key: string, value: number, opts: { step?: number; timestamp?: number } = {}): this {
    this.check();
    this.metrics.push(toMetric({ key, value, ...opts }));
    this.schedule();
    return this;
  }

  /**
   * Buffers several metrics sharing a step and timestamp.
   *
   * @example
   * ```ts
   * run.logMetrics({ loss: 0.2, accuracy: 0.93 }, { step: 3 });
   * ```
   */
  logMetrics(values: Record<string, number>, opts: { step?: number; timestamp?: number } = {}): this {
    this.check();
    const now = Date.now();
    for (const [key, value] of Object.entries(values)) this.metrics.push(toMetric({ key, value, ...opts }, now));
    this.schedule();
    return this;
  }

  /**
   * Buffers one parameter (stored as a string). Logging a different value for
   * a key still in the buffer throws at once, as the server would.
   *
   * @example
   * ```ts
   * run.logParam("batch_size", 64);
   * ```
   */
  logParam(key: string, value: string | number | boolean): this {
    this.check();
    this.putParam(key, String(value));
    this.schedule();
    return this;
  }

  /**
   * Buffers several parameters.
   *
   * @example
   * ```ts
   * run.logParams({ optimizer: "adam", lr: 0.001 });
   * ```
   */
  logParams(params: Record<string, string | number | boolean>): this {
    this.check();
    for (const [key, value] of Object.entries(params)) this.putParam(key, String(value));
    this.schedule();
    return this;
  }

  /**
   * Buffers a tag; setting it again before the flush keeps the last value.
   *
   * @example
   * ```ts
   * run.setTag("stage", "tuning");
   * ```
   */
  setTag(key: string, value: string): this {
    this.check();
    this.tags.delete(key);
    this.tags.set(key, String(value));
    this.schedule();
    return this;
  }

  /**
   * Buffers several tags.
   *
   * @example
   * ```ts
   * run.setTags({ stage: "tuning", owner: "ana" });
   * ```
   */
  setTags(tags: Record<string, string>): this {
    for (const [key, value] of Object.entries(tags)) this.setTag(key, value);
    return this;
  }

  /**
   * Sends everything buffered and waits for it; throws a failure of this or an earlier background send.
   *
   * @example
   * ```ts
   * run.logMetric("loss", 0.1);
   * await run.flush(); // the value is on the server now
   * ```
   */
  async flush(): Promise<void> {
    this.startSend();
    await this.sending;
    this.rethrow();
  }

  /**
   * Flushes, then marks the run ended with `status` (default FINISHED). The
   * run is ended even when the flush failed; that failure is thrown afterwards.
   * Calling it again after it succeeded does nothing.
   *
   * @example
   * ```ts
   * await run.end("KILLED");
   * ```
   */
  async end(status: Exclude<RunStatus, "RUNNING" | "SCHEDULED"> = "FINISHED"): Promise<void> {
    if (this.finished) return;
    this.startSend();
    this.ended = true;
    await this.sending;
    // If this fails (server unreachable), calling end() again retries it.
    await this.client.updateRun(this.runId, { status, endTime: Date.now() });
    this.finished = true;
    this.rethrow();
  }

  /**
   * Uploads a local file to this run's artifacts.
   *
   * @example
   * ```ts
   * await run.logArtifact("confusion.png", "plots");
   * ```
   */
  async logArtifact(localPath: string, artifactPath?: string, opts?: TransferOptions): Promise<void> {
    this.rethrow();
    await this.client.logArtifact(this.runId, localPath, artifactPath, opts);
  }

  /**
   * Uploads a local folder to this run's artifacts.
   *
   * @example
   * ```ts
   * await run.logArtifacts("out/model", "model");
   * ```
   */
  async logArtifacts(localDir: string, artifactPath?: string, opts?: TransferOptions): Promise<void> {
    this.rethrow();
    await this.client.logArtifacts(this.runId, localDir, artifactPath, opts);
  }

  /**
   * Saves a string as an artifact file of this run.
   *
   * @example
   * ```ts
   * await run.logText(report, "report.md");
   * ```
   */
  async logText(text: string, artifactFile: string): Promise<void> {
    this.rethrow();
    await this.client.logText(this.runId, text, artifactFile);
  }

  private putParam(key: string, value: string): void {
    const prev = this.params.get(key);
    if (prev !== undefined && prev !== value) {
      throw new Error(`param '${key}' was already logged with value '${prev}'; params cannot change (tried '${value}')`);
    }
    this.params.set(key, value);
  }

  private check(): void {
    if (this.ended) throw new Error(`run ${this.runId} has ended; start a new run to log more`);
    this.rethrow();
  }

  private rethrow(): void {
    if (this.failure !== undefined) {
      const err = this.failure;
      this.failure = undefined;
      throw err;
    }
  }

  private schedule(): void {
    const full =
      this.metrics.length >= BATCH_LIMITS.metrics || this.params.size >= BATCH_LIMITS.params || this.tags.size >= BATCH_LIMITS.tags;
    if (full) this.startSend();
    else this.timer ??= setTimeout(() => this.startSend(), this.flushIntervalMs);
  }

  /** Moves the buffer into the send queue. */
  private startSend(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (!this.metrics.length && !this.params.size && !this.tags.size) return;
    const batch = {
      metrics: this.metrics,
      params: [...this.params].map(([key, value]) => ({ key, value })),
      tags: [...this.tags].map(([key, value]) => ({ key, value })),
    };
    this.metrics = [];
    this.params = new Map();
    this.tags = new Map();
    this.sending = this.sending.then(async () => {
      try {
        await this.client.logBatch(this.runId, batch);
      } catch (err) {
        this.failure ??= err;
      }
    });
  }
}
