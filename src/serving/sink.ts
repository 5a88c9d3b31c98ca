/**
 * Where predictions and feedback go. The prediction log is a
 * {@link PredictionSink}; the default writes JSON-lines segment files in a
 * local folder (format in docs/serving.md, read by monitoring).
 */
import { readSegmentLog, SegmentLog, type SegmentLogOptions, type SegmentLogStats } from "./segment-log.js";

/** One answered (or refused) request. `inputs` and `predictions` are JSON text, embedded as is. */
export interface PredictionRecord {
  requestId: string;
  timestampMs: number;
  model: string;
  version: string;
  /** `champion`, `challenger` (canary) or `shadow`. */
  role: string;
  status: number;
  latencyMs: number;
  /** The input as a table `{"columns": [...], "data": [[...]]}` or `{"tensor": ...}`; JSON. */
  inputs: string;
  /** The `predictions` value; JSON, or undefined when the request failed. */
  predictions?: string;
  error?: string;
}

export interface PredictionSink {
  /** Resolves `true` when the record is durable against a crash of the server process, `false` if it was dropped (counted). */
  write(record: PredictionRecord): Promise<boolean>;
  stats(): SegmentLogStats;
  close(): Promise<void>;
}

/** The JSON line of a record; field names are the log format's (snake_case, as MLflow writes). */
export function predictionLine(r: PredictionRecord): string {
  let line = `{"request_id":${JSON.stringify(r.requestId)},"timestamp_ms":${r.timestampMs},"model":${JSON.stringify(r.model)},"version":${JSON.stringify(r.version)},"role":"${r.role}","status":${r.status},"latency_ms":${Math.round(r.latencyMs * 1000) / 1000},"inputs":${r.inputs}`;
  if (r.predictions !== undefined) line += `,"predictions":${r.predictions}`;
  if (r.error !== undefined) line += `,"error":${JSON.stringify(r.error)}`;
  return line + "}";
}

export const PREDICTIONS_PREFIX = "predictions";
export const FEEDBACK_PREFIX = "feedback";

/** The embedded default: segment files under `<dir>/predictions-*.jsonl`. */
export class LocalPredictionSink implements PredictionSink {
  private readonly log: SegmentLog;

  constructor(dir: string, opts: Omit<SegmentLogOptions, "dir" | "prefix"> = {}) {
    this.log = new SegmentLog({ ...opts, dir, prefix: PREDICTIONS_PREFIX });
  }

  write(record: PredictionRecord): Promise<boolean> {
    return this.log.append(predictionLine(record));
  }

  stats(): SegmentLogStats {
    return this.log.snapshot();
  }

  close(): Promise<void> {
    return this.log.close();
  }
}

/** One ground-truth label for an earlier request. */
export interface FeedbackRecord {
  request_id: string;
  /** Any JSON value: a class, a number, a list. */
  label: unknown;
  timestamp_ms: number;
}

/** Feedback lines under `<dir>/feedback-*.jsonl`; each `add` is fsync'd before it resolves. */
export class FeedbackStore {
  private readonly log: SegmentLog;

  /** `onSegmentClosed` receives each closed segment (a spool that ships them elsewhere). */
  constructor(dir: string, onSegmentClosed?: (file: string) => void) {
    this.log = new SegmentLog({ dir, prefix: FEEDBACK_PREFIX, fsyncIntervalMs: 0, overflow: "wait", maxWaitMs: 5000, onSegmentClosed });
  }

  /** Closes the current segment (if it holds labels) and starts a new one. */
  rotate(): void {
    this.log.rotate();
  }

  /** Appends the records durably; `false` if the log could not take them. */
  async add(records: FeedbackRecord[]): Promise<boolean> {
    const results = await Promise.all(records.map((r) => this.log.append(JSON.stringify(r))));
    return results.every(Boolean);
  }

  stats(): SegmentLogStats {
    return this.log.snapshot();
  }

  close(): Promise<void> {
    return this.log.close();
  }
}

/**
 * Reads a prediction log folder back: predictions and feedback, oldest first.
 *
 * @example
 * ```ts
 * const { predictions, feedback } = readPredictionLog("./mloop-predictions");
 * ```
 */
export function readPredictionLog(dir: string): { predictions: Record<string, unknown>[]; feedback: FeedbackRecord[] } {
  return { predictions: [...readSegmentLog(dir, PREDICTIONS_PREFIX)], feedback: [...readSegmentLog<FeedbackRecord>(dir, FEEDBACK_PREFIX)] };
}
