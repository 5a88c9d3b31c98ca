/**
 * The scoring protocol of `mlflow models serve` (`POST /invocations`) and
 * mloop serve's own replies (`/feedback`, `/status`).
 */

/** A JSON scoring body: exactly one of the four input formats, optionally with `params`. */
export type ScoringRequest = (
  | { dataframe_split: { columns?: string[]; data: unknown[][]; index?: unknown[] } }
  | { dataframe_records: Record<string, unknown>[] }
  | { instances: unknown }
  | { inputs: unknown }
) & { params?: Record<string, unknown> };

/** The reply of `POST /invocations`. */
export interface PredictionsResponse<T = unknown> {
  predictions: T;
}

/** One label of `POST /feedback`, joined to a prediction by its request id. */
export interface FeedbackEntry {
  request_id: string;
  label: unknown;
}

/** `POST /feedback`'s body is one entry, a list, or `{"feedback": [...]}`; the reply counts what was kept. */
export interface FeedbackResponse {
  accepted: number;
}

/** `POST /traffic` of `mloop serve`: the new split between champion and challenger (a deployment controller drives it). */
export interface TrafficRequest {
  mode: "canary" | "shadow";
  /** canary: the challenger's share of requests, 0..1; shadow: ignored (the champion answers all, the challenger gets a copy). */
  share?: number;
}

/** The policy in force after `POST /traffic`. */
export interface TrafficResponse {
  policy: { mode: string; challenger_share: number; sticky_header: string | null };
}

/** `GET /status` of `mloop serve` (the server builds it with this type). */
export interface ServingStatusReply {
  uptime_s: number;
  policy: { mode: string; challenger_share: number; sticky_header: string | null };
  models: {
    role: string;
    uri: string;
    name: string;
    version: string;
    runtime: string;
    share: number;
    follows_alias: boolean;
    swaps: number;
    requests: number;
    errors: number;
    error_rate: number;
    latency_ms: { p50: number | null; p99: number | null };
    in_flight: number;
  }[];
  prediction_log: {
    dir: string;
    /** `s3://…` when the log goes to S3-compatible storage (then `dir` is its local spool). */
    uri?: string;
    uploadedObjects?: number;
    uploadedRecords?: number;
    uploadFailures?: number;
    spooledSegments?: number;
    written: number; dropped: number; pendingLines: number; pendingBytes: number; lagSeconds: number; segments: number };
  feedback: { written: number };
  worker_restarts: number;
}
