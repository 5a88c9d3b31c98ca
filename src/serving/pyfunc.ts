/**
 * Pyfunc models (sklearn and every other flavor) in a pool of Python worker
 * processes running `python/mloop_pyfunc_worker.py`. Requests wait in one
 * queue and a worker takes work when it holds none. A request the worker's
 * fast path can take ({@link fastRows}) travels as float64 rows, batched with
 * the other such requests waiting at that moment into one predict call; any
 * other request goes raw through MLflow's own scoring code, and so does one
 * the fast path gives back. A worker that dies is restarted; the requests it
 * held fail at once with a retryable 503, never hang.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { processEnv } from "../config.js";
import { MlflowError, temporarilyUnavailable } from "../errors.js";
import type { ScoringInput } from "./input.js";
import type { ModelMeta } from "./mlmodel.js";
import type { Prediction, Predictor, PredictRequest } from "./predictor.js";

export interface PyfuncOptions {
  /** The Python that has mlflow and the model's libraries. */
  python: string;
  workers: number;
  /** A request the worker holds longer than this fails with 503 and the worker is restarted. */
  timeoutMs: number;
  /** How long loading the model may take. */
  startTimeoutMs?: number;
  /** Most rows one fast-path predict call takes; 0 sends each request alone. Default 4096. */
  maxBatchRows?: number;
  onLog?: (line: string) => void;
}

/** How the pool's requests were scored (for `/metrics` and tests). */
export interface PyfuncStats {
  /** Requests answered by the fast path. */
  fast: number;
  /** Requests scored by MLflow's invocations (not eligible, or given back by the fast path). */
  mlflow: number;
  /** Fast-path predict calls, and the requests they held. */
  batches: number;
  batchedRequests: number;
  /** Most requests one predict call held. */
  largestBatch: number;
}

interface Job {
  req: PredictRequest;
  /** The values as float64, column by column in the worker's column order, when the fast path may take them. */
  rows?: Float64Array;
  rowCount: number;
  resolve(p: Prediction): void;
  reject(e: Error): void;
}

/** The worker script, shipped in the package's `python/` folder. */
export function workerScript(): string {
  for (let dir = import.meta.dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "python", "mloop_pyfunc_worker.py");
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) throw new MlflowError("INTERNAL_ERROR", "the pyfunc worker script python/mloop_pyfunc_worker.py is missing from the installation");
  }
}

const MAX_EXACT = 2 ** 53;

/**
 * The request's rows as float64 for the worker's fast path, or undefined when
 * the fast path could not prove it builds the frame MLflow would: JSON only
 * (CSV cells are parsed by pandas' own rules), no params, a frame with
 * exactly the signature's columns, every value a number (integers within
 * 2^53, no -0) or missing (NaN, as pandas makes it).
 */
export function fastRows(req: PredictRequest, columns: readonly string[]): Float64Array | undefined {
  if (req.params !== undefined || !/^application\/json\b/i.test(req.contentType)) return undefined;
  const input: ScoringInput = req.input;
  if (input.kind !== "frame" || input.columns.length !== columns.length) return undefined;
  const width = columns.length;
  const out = new Float64Array(input.rows * width);
  for (let c = 0; c < width; c++) {
    const from = input.columns.indexOf(columns[c]!);
    if (from < 0) return undefined;
    const col = input.data[from]!;
    for (let r = 0; r < input.rows; r++) {
      const v = col[r];
      if (v === null || v === undefined) out[c * input.rows + r] = NaN;
      else if (typeof v !== "number" || Object.is(v, -0) || (Number.isInteger(v) && Math.abs(v) > MAX_EXACT)) return undefined;
      else out[c * input.rows + r] = v;
    }
  }
  return out;
}

const PREFIX = '{"predictions": ';

/** A reply item of a fast batch. */
interface BatchItem {
  id: number;
  predictions?: string;
  fallback?: boolean;
}

class Worker {
  private child: ChildProcess;
  private buf: Buffer = Buffer.alloc(0);
  private nextId = 1;
  /** The jobs of the frame in flight, by id; empty when the worker is idle. */
  readonly held = new Map<number, Job>();
  private timer?: NodeJS.Timeout;
  readonly ready: Promise<void>;
  dead = false;
  isReady = false;
  /** The signature's columns, when the worker has a fast path for this model. */
  fastColumns?: string[];
  private stderrTail = "";

  constructor(
    meta: ModelMeta,
    private readonly opts: PyfuncOptions,
    private readonly pool: { settled(job: Job, item: BatchItem | { status: number; body: string }): void; idle(): void; exited(w: Worker): void },
  ) {
    this.child = spawn(opts.python, [workerScript(), meta.dir], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...processEnv(), PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" },
    });
    let markReady: () => void;
    let failStart: (e: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failStart = reject;
    });
    const startTimer = setTimeout(() => {
      failStart(new MlflowError("INVALID_STATE", `the Python worker did not load the model within ${opts.startTimeoutMs ?? 120_000} ms: ${this.stderrTail.trim().split("\n").pop() ?? ""}`));
      this.kill();
    }, opts.startTimeoutMs ?? 120_000);
    let started = false;
    this.child.stdout!.on("data", (chunk: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
      while (this.buf.length >= 4) {
        const n = this.buf.readUInt32BE(0);
        if (this.buf.length < 4 + n) break;
        const msg = JSON.parse(this.buf.subarray(4, 4 + n).toString("utf8")) as {
          ready?: boolean;
          fast?: { columns: string[] } | null;
          id?: number;
          status?: number;
          body?: string;
          batch?: BatchItem[];
        };
        this.buf = this.buf.subarray(4 + n);
        if (msg.ready) {
          started = true;
          this.isReady = true;
          if (msg.fast && os.endianness() === "LE") this.fastColumns = msg.fast.columns;
          clearTimeout(startTimer);
          markReady();
          this.pool.idle();
          continue;
        }
        if (msg.batch) for (const item of msg.batch) this.settle(item.id, item);
        else this.settle(msg.id!, { status: msg.status ?? 500, body: msg.body ?? "" });
        if (this.held.size === 0) {
          clearTimeout(this.timer);
          this.pool.idle();
        }
      }
    });
    this.child.stderr!.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      this.stderrTail = (this.stderrTail + text).slice(-4000);
      opts.onLog?.(text);
    });
    this.child.stdin!.on("error", () => {
      // the worker died; 'exit' handles it
    });
    this.child.once("exit", (code, signal) => {
      this.dead = true;
      clearTimeout(startTimer);
      clearTimeout(this.timer);
      const why = `the Python worker exited (${signal ?? `code ${code}`})`;
      if (!started) failStart(new MlflowError("INVALID_STATE", `${why} while loading the model: ${this.stderrTail.trim().split("\n").slice(-3).join(" | ")}`));
      this.failHeld(temporarilyUnavailable(`${why} while scoring this request; retry it`));
      this.pool.exited(this);
    });
  }

  private settle(id: number, item: BatchItem | { status: number; body: string }): void {
    const job = this.held.get(id);
    if (!job) return;
    this.held.delete(id);
    this.pool.settled(job, item);
  }

  private failHeld(err: Error): void {
    for (const job of this.held.values()) job.reject(err);
    this.held.clear();
  }

  get idle(): boolean {
    return this.isReady && !this.dead && this.held.size === 0;
  }

  private write(payload: Buffer[]): void {
    const header = Buffer.allocUnsafe(4);
    header.writeUInt32BE(payload.reduce((n, b) => n + b.length, 0), 0);
    this.timer = setTimeout(() => {
      this.isReady = false;
      this.failHeld(temporarilyUnavailable(`the Python worker did not answer within ${this.opts.timeoutMs} ms; it is being restarted, retry`));
      this.kill();
    }, this.opts.timeoutMs);
    this.child.stdin!.write(Buffer.concat([header, ...payload]));
  }

  /** Sends one request raw, to MLflow's invocations. */
  sendRaw(job: Job): void {
    const id = this.nextId++;
    this.held.set(id, job);
    this.write([Buffer.from(JSON.stringify({ id, content_type: job.req.contentType, body: job.req.body }), "utf8")]);
  }

  /** Sends fast-path requests as one batch: "F", header length, header JSON, then the values column by column, each column holding every job's rows in turn. */
  sendBatch(jobs: Job[], width: number): void {
    const ids: number[] = [];
    for (const job of jobs) {
      const id = this.nextId++;
      ids.push(id);
      this.held.set(id, job);
    }
    const header = Buffer.from(JSON.stringify({ ids, rows: jobs.map((j) => j.rowCount) }), "utf8");
    const lead = Buffer.allocUnsafe(5);
    lead.write("F", 0, "latin1");
    lead.writeUInt32BE(header.length, 1);
    let values: Float64Array;
    if (jobs.length === 1) values = jobs[0]!.rows!;
    else {
      const total = jobs.reduce((n, j) => n + j.rowCount, 0);
      values = new Float64Array(total * width);
      for (let c = 0, at = 0; c < width; c++) {
        for (const j of jobs) {
          values.set(j.rows!.subarray(c * j.rowCount, (c + 1) * j.rowCount), at);
          at += j.rowCount;
        }
      }
    }
    this.write([lead, header, Buffer.from(values.buffer, values.byteOffset, values.byteLength)]);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }

  async stop(): Promise<void> {
    if (this.dead) return;
    const exited = new Promise<void>((r) => this.child.once("exit", () => r()));
    this.child.stdin!.end();
    const t = setTimeout(() => this.kill(), 2000);
    await exited;
    clearTimeout(t);
  }
}

/** The value of `predictions` in an MLflow response body, as JSON text. */
function predictionsOf(body: string): string {
  return body.startsWith(PREFIX) && body.endsWith("}") ? body.slice(PREFIX.length, -1) : JSON.stringify((JSON.parse(body) as { predictions: unknown }).predictions);
}

/** MLflow's error response as the error mloop answers with (same code and message, 4xx). */
function mlflowError(status: number, body: string): MlflowError {
  let message = body;
  let code = "BAD_REQUEST";
  try {
    const parsed = JSON.parse(body) as { error_code?: string; message?: string };
    message = parsed.message ?? body;
    code = parsed.error_code ?? code;
  } catch {
    // plain text
  }
  const known = code === "INVALID_PARAMETER_VALUE" || code === "BAD_REQUEST" ? code : "BAD_REQUEST";
  return status >= 500 ? new MlflowError("INTERNAL_ERROR", message) : new MlflowError(known, message);
}

export class PyfuncPool implements Predictor {
  readonly kind = "pyfunc";
  private workers: Worker[] = [];
  private queue: Job[] = [];
  private closed = false;
  private readonly maxBatchRows: number;
  /** Worker restarts since the pool started. */
  restarts = 0;
  readonly stats: PyfuncStats = { fast: 0, mlflow: 0, batches: 0, batchedRequests: 0, largestBatch: 0 };

  private constructor(
    private readonly meta: ModelMeta,
    private readonly opts: PyfuncOptions,
  ) {
    this.maxBatchRows = opts.maxBatchRows ?? 4096;
  }

  /** Starts the workers and waits until each has loaded the model. */
  static async start(meta: ModelMeta, opts: PyfuncOptions): Promise<PyfuncPool> {
    const pool = new PyfuncPool(meta, opts);
    for (let i = 0; i < Math.max(1, opts.workers); i++) pool.workers.push(pool.spawn());
    try {
      await Promise.all(pool.workers.map((w) => w.ready));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  private spawn(): Worker {
    return new Worker(this.meta, this.opts, {
      settled: (job, item) => this.settled(job, item),
      idle: () => this.dispatch(),
      exited: (dead) => this.exited(dead),
    });
  }

  private exited(dead: Worker): void {
    if (this.closed) return;
    const i = this.workers.indexOf(dead);
    if (i < 0) return;
    this.restarts++;
    const fresh = this.spawn();
    this.workers[i] = fresh;
    fresh.ready.catch(() => {
      // a worker that cannot start again leaves its slot dead; requests go to the others
    });
    if (!this.workers.some((w) => w.isReady && !w.dead)) {
      const err = temporarilyUnavailable("every Python worker of this model is restarting; retry shortly");
      for (const job of this.queue.splice(0)) job.reject(err);
    }
  }

  private settled(job: Job, item: BatchItem | { status: number; body: string }): void {
    if ("status" in item) {
      this.stats.mlflow++;
      if (item.status === 200) job.resolve({ json: predictionsOf(item.body) });
      else job.reject(mlflowError(item.status, item.body));
      return;
    }
    if (item.predictions !== undefined) {
      this.stats.fast++;
      job.resolve({ json: item.predictions });
      return;
    }
    // given back: MLflow scores it, so that its answer (or its error) is MLflow's own
    job.rows = undefined;
    this.queue.unshift(job);
  }

  /** Process ids of the live workers (for `mloop serve status` and tests). */
  pids(): number[] {
    return this.workers.filter((w) => !w.dead).map((w) => w.pid!).filter(Boolean);
  }

  /** Queues the request for the next idle worker; with no worker ready, a retryable 503 at once. */
  predict(req: PredictRequest): Promise<Prediction> {
    const ready = this.workers.find((w) => w.isReady && !w.dead);
    if (!ready) return Promise.reject(temporarilyUnavailable("every Python worker of this model is restarting; retry shortly"));
    const rows = ready.fastColumns && this.maxBatchRows > 0 ? fastRows(req, ready.fastColumns) : undefined;
    return new Promise<Prediction>((resolve, reject) => {
      this.queue.push({ req, rows, rowCount: req.input.kind === "frame" ? req.input.rows : 0, resolve, reject });
      this.dispatch();
    });
  }

  /** Hands queued work to idle workers: a raw request alone, or every queued fast request up to the batch limit. */
  private dispatch(): void {
    while (this.queue.length) {
      const w = this.workers.find((x) => x.idle);
      if (!w) return;
      const head = this.queue[0]!;
      if (!head.rows || !w.fastColumns) {
        this.queue.shift();
        w.sendRaw(head);
        continue;
      }
      const batch: Job[] = [];
      const rest: Job[] = [];
      let rows = 0;
      for (const job of this.queue) {
        if (job.rows && (batch.length === 0 || rows + job.rowCount <= this.maxBatchRows)) {
          batch.push(job);
          rows += job.rowCount;
        } else rest.push(job);
      }
      this.queue = rest;
      this.stats.batches++;
      this.stats.batchedRequests += batch.length;
      this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
      w.sendBatch(batch, w.fastColumns.length);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const err = temporarilyUnavailable("the model is being unloaded; retry");
    for (const job of this.queue.splice(0)) job.reject(err);
    await Promise.all(this.workers.map((w) => w.stop()));
  }
}
