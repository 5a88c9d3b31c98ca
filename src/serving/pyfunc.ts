/**
 * Pyfunc models (sklearn and every other flavor) in a pool of Python worker
 * processes running `python/mloop_pyfunc_worker.py`, which scores with MLflow's
 * own scoring code. A worker that dies is restarted; the requests it held fail
 * at once with a retryable 503, never hang.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { processEnv } from "../config.js";
import { MlflowError, temporarilyUnavailable } from "../errors.js";
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
  onLog?: (line: string) => void;
}

interface Pending {
  resolve(p: Prediction): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** The worker script, shipped in the package's `python/` folder. */
export function workerScript(): string {
  for (let dir = import.meta.dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "python", "mloop_pyfunc_worker.py");
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) throw new MlflowError("INTERNAL_ERROR", "the pyfunc worker script python/mloop_pyfunc_worker.py is missing from the installation");
  }
}

const PREFIX = '{"predictions": ';

class Worker {
  private child: ChildProcess;
  private buf: Buffer = Buffer.alloc(0);
  private nextId = 1;
  readonly pending = new Map<number, Pending>();
  readonly ready: Promise<void>;
  dead = false;
  isReady = false;
  private stderrTail = "";

  constructor(
    meta: ModelMeta,
    private readonly opts: PyfuncOptions,
    private readonly onExit: (w: Worker) => void,
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
        const msg = JSON.parse(this.buf.subarray(4, 4 + n).toString("utf8")) as { ready?: boolean; id?: number; status?: number; body?: string };
        this.buf = this.buf.subarray(4 + n);
        if (msg.ready) {
          started = true;
          this.isReady = true;
          clearTimeout(startTimer);
          markReady();
          continue;
        }
        this.settle(msg.id!, msg.status ?? 500, msg.body ?? "");
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
      const why = `the Python worker exited (${signal ?? `code ${code}`})`;
      if (!started) failStart(new MlflowError("INVALID_STATE", `${why} while loading the model: ${this.stderrTail.trim().split("\n").slice(-3).join(" | ")}`));
      for (const [id, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(temporarilyUnavailable(`${why} while scoring this request; retry it`));
        this.pending.delete(id);
      }
      this.onExit(this);
    });
  }

  private settle(id: number, status: number, body: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (status === 200) {
      const json = body.startsWith(PREFIX) && body.endsWith("}") ? body.slice(PREFIX.length, -1) : JSON.stringify((JSON.parse(body) as { predictions: unknown }).predictions);
      p.resolve({ json });
      return;
    }
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
    p.reject(status >= 500 ? new MlflowError("INTERNAL_ERROR", message) : new MlflowError(known, message));
  }

  send(req: PredictRequest): Promise<Prediction> {
    if (this.dead) return Promise.reject(temporarilyUnavailable("the Python worker is restarting; retry"));
    const id = this.nextId++;
    const data = Buffer.from(JSON.stringify({ id, content_type: req.contentType, body: req.body }), "utf8");
    const header = Buffer.allocUnsafe(4);
    header.writeUInt32BE(data.length, 0);
    return new Promise<Prediction>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(temporarilyUnavailable(`the Python worker did not answer within ${this.opts.timeoutMs} ms; it is being restarted, retry`));
        this.kill();
      }, this.opts.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.child.stdin!.write(Buffer.concat([header, data]));
    });
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

export class PyfuncPool implements Predictor {
  readonly kind = "pyfunc";
  private workers: Worker[] = [];
  private closed = false;
  /** Worker restarts since the pool started. */
  restarts = 0;

  private constructor(
    private readonly meta: ModelMeta,
    private readonly opts: PyfuncOptions,
  ) {}

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
    return new Worker(this.meta, this.opts, (dead) => {
      if (this.closed) return;
      const i = this.workers.indexOf(dead);
      if (i < 0) return;
      this.restarts++;
      const fresh = this.spawn();
      this.workers[i] = fresh;
      fresh.ready.catch(() => {
        // a worker that cannot start again leaves its slot dead; requests go to the others
      });
    });
  }

  /** Process ids of the live workers (for `mloop serve status` and tests). */
  pids(): number[] {
    return this.workers.filter((w) => !w.dead).map((w) => w.pid!).filter(Boolean);
  }

  /** Sends the request to the ready worker with the fewest requests in hand; with none ready, a retryable 503 at once. */
  predict(req: PredictRequest): Promise<Prediction> {
    let best: Worker | undefined;
    for (const w of this.workers) {
      if (w.dead || !w.isReady) continue;
      if (!best || w.pending.size < best.pending.size) best = w;
    }
    if (!best) return Promise.reject(temporarilyUnavailable("every Python worker of this model is restarting; retry shortly"));
    return best.send(req);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.stop()));
  }
}
