/**
 * The prediction log on S3-compatible storage, for servers that scale out:
 * `s3://bucket/prefix/predictions/*.parquet` and `…/feedback/*.parquet`.
 *
 * Every record first goes to a local spool, the same segment files the local
 * sink writes (so the same back-pressure, sampling and drop counting apply,
 * and an answered prediction is durable locally before its response is
 * sent). The spool's segment is closed every `flushIntervalMs` (or when it
 * is full); each closed segment becomes one Parquet object, uploaded off the
 * request path, and is deleted from the spool once the upload succeeded. A
 * segment whose upload failed, or that a crash left behind, stays in the
 * spool and is uploaded on the next try or the next start.
 *
 * {@link S3LogMirror} reads the objects back into local segment files, which
 * is what the monitor reads.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import type { S3Settings } from "../config.js";
import { parseS3Uri, S3ArtifactRepository } from "../artifacts/index.js";
import { SegmentLog, type SegmentLogOptions, type SegmentLogStats } from "./segment-log.js";
import { FEEDBACK_PREFIX, FeedbackStore, PREDICTIONS_PREFIX, predictionLine, type PredictionRecord, type PredictionSink } from "./sink.js";

/** The Parquet columns of each log, in order; JSON values (inputs, predictions, label) are JSON text. */
const COLUMNS = {
  [PREDICTIONS_PREFIX]: [
    ["request_id", "STRING"],
    ["timestamp_ms", "INT64"],
    ["model", "STRING"],
    ["version", "STRING"],
    ["role", "STRING"],
    ["status", "INT32"],
    ["latency_ms", "DOUBLE"],
    ["inputs", "JSON"],
    ["predictions", "JSON"],
    ["error", "STRING"],
  ],
  [FEEDBACK_PREFIX]: [
    ["request_id", "STRING"],
    ["label", "JSON"],
    ["timestamp_ms", "INT64"],
  ],
} as const;

type LogKind = keyof typeof COLUMNS;

/** One spool segment's lines as a Parquet file (hyparquet-writer, snappy). Torn lines are skipped. */
export async function segmentToParquet(kind: LogKind, text: string): Promise<Uint8Array> {
  const records: Record<string, unknown>[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    try {
      records.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line cut short by a machine crash
    }
  }
  const columnData = COLUMNS[kind].map(([name, type]) => ({
    name,
    type,
    data: records.map((r) => {
      const v = r[name];
      // JSON columns take the value: the writer writes its JSON text
      if (v === undefined || v === null) return null;
      if (type === "INT64") return BigInt(Math.trunc(Number(v)));
      return v;
    }),
  }));
  const { parquetWriteBuffer } = await import("hyparquet-writer");
  return new Uint8Array(parquetWriteBuffer({ columnData, createdBy: "mloop serve" }));
}

/** A Parquet object's rows back as the log's JSON lines (the local segment format). */
export async function parquetToLines(kind: LogKind, file: ArrayBuffer): Promise<string[]> {
  const { parquetReadObjects } = await import("hyparquet");
  const rows = (await parquetReadObjects({ file })) as Record<string, unknown>[];
  // hyparquet hands JSON columns back parsed
  const json = (v: unknown) => JSON.stringify(v ?? null);
  return rows.map((r) => {
    if (kind === FEEDBACK_PREFIX) return `{"request_id":${JSON.stringify(r.request_id)},"label":${json(r.label)},"timestamp_ms":${Number(r.timestamp_ms)}}`;
    return predictionLine({
      requestId: String(r.request_id),
      timestampMs: Number(r.timestamp_ms),
      model: String(r.model),
      version: String(r.version),
      role: String(r.role),
      status: Number(r.status),
      latencyMs: Number(r.latency_ms),
      inputs: json(r.inputs),
      predictions: r.predictions === null || r.predictions === undefined ? undefined : json(r.predictions),
      error: r.error === null || r.error === undefined ? undefined : String(r.error),
    });
  });
}

export interface S3LogOptions {
  /** `s3://bucket/prefix`. */
  uri: string;
  s3: S3Settings;
  /** The local spool folder. */
  spoolDir: string;
  /** How often the spool's segment is closed and uploaded. Default 5000 ms. */
  flushIntervalMs?: number;
  /** The local sink's settings (back-pressure, fsync). */
  log?: Omit<SegmentLogOptions, "dir" | "prefix" | "onSegmentClosed">;
  onEvent?: (message: string) => void;
}

/** Upload counters of one log. */
export interface UploadStats {
  uploadedObjects: number;
  uploadedRecords: number;
  uploadFailures: number;
  /** Closed segments still waiting in the spool. */
  spooledSegments: number;
}

/** Ships one log's closed spool segments to S3, one Parquet object each, oldest first. */
class SegmentUploader {
  private pending: string[] = [];
  private busy?: Promise<void>;
  private readonly instance = crypto.randomBytes(4).toString("hex");
  readonly stats: UploadStats = { uploadedObjects: 0, uploadedRecords: 0, uploadFailures: 0, spooledSegments: 0 };

  constructor(
    private readonly kind: LogKind,
    private readonly repo: S3ArtifactRepository,
    spoolDir: string,
    private readonly onEvent: (message: string) => void,
  ) {
    // what a crash (or a failed upload) left in the spool goes first
    this.pending = SegmentLog.segments(spoolDir, kind);
    this.stats.spooledSegments = this.pending.length;
  }

  add(file: string): void {
    this.pending.push(file);
    this.stats.spooledSegments = this.pending.length;
    void this.drain();
  }

  /** Uploads what waits; a failure leaves the segment (and the ones after it) for the next call. */
  drain(): Promise<void> {
    this.busy ??= this.uploadAll().finally(() => (this.busy = undefined));
    return this.busy;
  }

  private async uploadAll(): Promise<void> {
    while (this.pending.length) {
      const file = this.pending[0]!;
      try {
        const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
        if (text.trim()) {
          const body = await segmentToParquet(this.kind, text);
          const key = `${this.kind}/${path.basename(file, ".jsonl")}-${this.instance}.parquet`;
          await this.repo.write(key, Readable.from([Buffer.from(body.buffer, body.byteOffset, body.byteLength)]), { contentLength: body.byteLength });
          this.stats.uploadedObjects++;
          this.stats.uploadedRecords += text.split("\n").filter(Boolean).length;
        }
        fs.rmSync(file, { force: true });
        this.pending.shift();
        this.stats.spooledSegments = this.pending.length;
      } catch (err) {
        this.stats.uploadFailures++;
        this.onEvent(`prediction log: uploading ${path.basename(file)} to ${this.repo.uri} failed (kept in the spool, retried): ${(err as Error).message}`);
        return;
      }
    }
  }
}

/** Closes the spool's segment on a timer and hands it to the uploader. */
function shipper(log: { rotate(): void }, uploader: SegmentUploader, intervalMs: number): NodeJS.Timeout {
  const timer = setInterval(() => {
    log.rotate();
    void uploader.drain();
  }, intervalMs);
  timer.unref();
  return timer;
}

/**
 * The prediction log and feedback on S3, through a local spool.
 *
 * @example
 * ```ts
 * const log = new S3PredictionLog({ uri: "s3://ml-logs/iris", s3: loadS3Settings(), spoolDir: "./mloop-predictions" });
 * await log.sink.write(record);
 * ```
 */
export class S3PredictionLog {
  readonly sink: PredictionSink;
  readonly feedback: FeedbackStore;
  private readonly uploaders: SegmentUploader[];
  private readonly timers: NodeJS.Timeout[];
  private readonly repo: S3ArtifactRepository;

  constructor(opts: S3LogOptions) {
    const repo = new S3ArtifactRepository(opts.uri, opts.s3);
    this.repo = repo;
    const event = opts.onEvent ?? (() => {});
    fs.mkdirSync(opts.spoolDir, { recursive: true });
    const predictions = new SegmentUploader(PREDICTIONS_PREFIX, repo, opts.spoolDir, event);
    const feedback = new SegmentUploader(FEEDBACK_PREFIX, repo, opts.spoolDir, event);
    this.uploaders = [predictions, feedback];
    const log = new SegmentLog({ ...opts.log, dir: opts.spoolDir, prefix: PREDICTIONS_PREFIX, onSegmentClosed: (f) => predictions.add(f) });
    this.feedback = new FeedbackStore(opts.spoolDir, (f) => feedback.add(f));
    const interval = opts.flushIntervalMs ?? 5000;
    this.timers = [shipper(log, predictions, interval), shipper(this.feedback, feedback, interval)];
    const uploadStats = () => this.uploadStats();
    this.sink = {
      write: (r: PredictionRecord) => log.append(predictionLine(r)),
      stats: (): SegmentLogStats => ({ ...log.snapshot(), ...uploadStats() }),
      close: async () => {
        for (const t of this.timers) clearInterval(t);
        await log.close();
        await predictions.drain();
      },
    };
    for (const u of this.uploaders) void u.drain();
  }

  uploadStats(): UploadStats {
    const [p] = this.uploaders;
    return { ...p!.stats };
  }

  /** Closes both logs and uploads what they hold; what cannot be uploaded now stays in the spool for the next start. */
  async close(): Promise<void> {
    await this.sink.close();
    await this.feedback.close();
    await this.uploaders[1]!.drain();
    this.repo.close();
  }
}

/**
 * Copies an S3 prediction log's Parquet objects into a local folder as the
 * log's segment files, so the monitor (and `readPredictionLog`) read it as a
 * local log. Objects already copied are skipped; the names keep their order.
 */
export class S3LogMirror {
  private readonly repo: S3ArtifactRepository;

  constructor(
    readonly uri: string,
    s3: S3Settings,
    readonly dir: string,
  ) {
    parseS3Uri(uri);
    this.repo = new S3ArtifactRepository(uri, s3);
    fs.mkdirSync(dir, { recursive: true });
  }

  /** Fetches the objects not yet mirrored; returns how many it fetched. */
  async sync(): Promise<number> {
    let fetched = 0;
    for (const kind of [FEEDBACK_PREFIX, PREDICTIONS_PREFIX] as const) {
      const objects = (await this.repo.list(kind)).filter((o) => !o.isDir && o.path.endsWith(".parquet")).map((o) => o.path);
      for (const key of objects.sort()) {
        const local = path.join(this.dir, `${path.posix.basename(key, ".parquet")}.jsonl`);
        if (fs.existsSync(local)) continue;
        const chunks: Buffer[] = [];
        for await (const chunk of await this.repo.openRead(key)) chunks.push(chunk as Buffer);
        const buf = Buffer.concat(chunks);
        const lines = await parquetToLines(kind, buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
        const tmp = `${local}.part`;
        fs.writeFileSync(tmp, lines.map((l) => `${l}\n`).join(""));
        fs.renameSync(tmp, local);
        fetched++;
      }
    }
    return fetched;
  }

  close(): void {
    this.repo.close();
  }
}
