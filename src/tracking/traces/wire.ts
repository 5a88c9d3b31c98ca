import { invalidParameter } from "../../errors.js";
import type { TraceState, WireAssessment, WireTrace, WireTraceInfo, WireTraceInfoV2 } from "../../wire/index.js";
import type { TraceInfoInput } from "./service.js";
import { contentToWire } from "./spans.js";
import type { TraceRecord } from "./store.js";

/** Protobuf's Timestamp JSON: RFC 3339 in UTC with 0, 3, 6 or 9 fraction digits. */
export function timestampJson(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.endsWith(".000Z") ? `${iso.slice(0, -5)}Z` : iso;
}

/** Protobuf's Duration JSON: `"1.5s"`, `"0.668s"`, `"2s"`. */
export function durationJson(ms: number): string {
  const sec = Math.trunc(ms / 1000);
  const frac = Math.abs(ms % 1000);
  return frac === 0 ? `${sec}s` : `${ms < 0 && sec === 0 ? "-" : ""}${sec}.${String(frac).padStart(3, "0")}s`;
}

export function parseTimestampJson(v: unknown, field: string): number {
  if (typeof v === "number") return v;
  if (typeof v !== "string" || Number.isNaN(Date.parse(v))) {
    throw invalidParameter(`Invalid value ${JSON.stringify(v)} for parameter '${field}' supplied: expected an RFC 3339 timestamp`);
  }
  // Date.parse keeps milliseconds; finer digits are dropped, as MLflow stores milliseconds.
  return Date.parse(v);
}

export function parseDurationJson(v: unknown, field: string): number {
  if (typeof v === "number") return v;
  const m = typeof v === "string" ? /^(-?\d+)(?:\.(\d{1,9}))?s$/.exec(v) : null;
  if (!m) throw invalidParameter(`Invalid value ${JSON.stringify(v)} for parameter '${field}' supplied: expected a duration such as "1.5s"`);
  const frac = (m[2] ?? "").padEnd(9, "0");
  return Number(m[1]) * 1000 + Math.sign(Number(m[1]) || 1) * Math.floor(Number(frac) / 1_000_000);
}

const STATES: readonly TraceState[] = ["STATE_UNSPECIFIED", "OK", "ERROR", "IN_PROGRESS"];

export function parseState(v: unknown, field = "state"): TraceState {
  if (v === undefined || v === null) return "STATE_UNSPECIFIED";
  if (typeof v === "number" && STATES[v]) return STATES[v]!;
  if (v === "TRACE_STATUS_UNSPECIFIED") return "STATE_UNSPECIFIED";
  if (typeof v === "string" && (STATES as readonly string[]).includes(v)) return v as TraceState;
  throw invalidParameter(`Invalid value ${JSON.stringify(v)} for parameter '${field}' supplied`);
}

function stringMap(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw invalidParameter(`Invalid value for parameter '${field}' supplied: must be a map of strings`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== "string") throw invalidParameter(`Invalid value ${JSON.stringify(x)} for parameter '${field}.${k}' supplied: must be a string`);
    out[k] = x;
  }
  return out;
}

/** Reads `[{key, value}]` lists (v2 tags and request metadata). */
export function keyValueList(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!Array.isArray(v)) throw invalidParameter(`Invalid value for parameter '${field}' supplied: must be a list`);
  const out: Record<string, string> = {};
  for (const item of v) {
    const o = item as { key?: unknown; value?: unknown };
    if (!o || typeof o !== "object" || typeof o.key !== "string") throw invalidParameter(`Invalid value for parameter '${field}' supplied: each entry needs a string 'key'`);
    if (o.value !== undefined && o.value !== null && typeof o.value !== "string") {
      throw invalidParameter(`Invalid value ${JSON.stringify(o.value)} for parameter '${field}' supplied: values must be strings`);
    }
    out[o.key] = (o.value as string | undefined) ?? "";
  }
  return out;
}

function optionalString(v: unknown, field: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "string") throw invalidParameter(`Invalid value ${JSON.stringify(v)} for parameter '${field}' supplied: must be a string`);
  return v;
}

/** A `TraceInfoV3` from a `StartTraceV3` body. */
export function traceInfoFromWire(raw: unknown): TraceInfoInput {
  if (!raw || typeof raw !== "object") throw invalidParameter("Missing value for required parameter 'trace.trace_info'.");
  const t = raw as Record<string, unknown>;
  const loc = t.trace_location as { mlflow_experiment?: { experiment_id?: unknown } } | undefined;
  const experimentId = loc?.mlflow_experiment?.experiment_id;
  if (typeof experimentId !== "string" || experimentId === "") {
    throw invalidParameter("Missing value for required parameter 'trace.trace_info.trace_location.mlflow_experiment.experiment_id'.");
  }
  const traceId = optionalString(t.trace_id, "trace_id");
  if (!traceId) throw invalidParameter("Missing value for required parameter 'trace.trace_info.trace_id'.");
  const assessments = t.assessments === undefined ? [] : t.assessments;
  if (!Array.isArray(assessments)) throw invalidParameter("Invalid value for parameter 'assessments' supplied: must be a list");
  return {
    traceId,
    experimentId,
    requestTimeMs: t.request_time === undefined ? Date.now() : parseTimestampJson(t.request_time, "request_time"),
    executionMs: t.execution_duration === undefined ? null : parseDurationJson(t.execution_duration, "execution_duration"),
    state: parseState(t.state),
    clientRequestId: optionalString(t.client_request_id, "client_request_id"),
    requestPreview: optionalString(t.request_preview, "request_preview"),
    responsePreview: optionalString(t.response_preview, "response_preview"),
    tags: stringMap(t.tags, "tags"),
    metadata: stringMap(t.trace_metadata, "trace_metadata"),
    assessments: assessments as WireAssessment[],
  };
}

export function traceInfoToWire(r: TraceRecord): WireTraceInfo {
  const out: WireTraceInfo = {
    trace_id: r.traceId,
    trace_location: { type: "MLFLOW_EXPERIMENT", mlflow_experiment: { experiment_id: r.experimentId } },
    request_time: timestampJson(r.timestampMs),
    state: r.state,
    trace_metadata: r.metadata,
    tags: r.tags,
  };
  if (r.clientRequestId !== null) out.client_request_id = r.clientRequestId;
  if (r.executionMs !== null) out.execution_duration = durationJson(r.executionMs);
  if (r.requestPreview !== null) out.request_preview = r.requestPreview;
  if (r.responsePreview !== null) out.response_preview = r.responsePreview;
  if (r.assessments.length > 0) out.assessments = r.assessments;
  return out;
}

export function traceToWire(r: TraceRecord, spans: readonly string[]): WireTrace {
  return { trace_info: traceInfoToWire(r), spans: spans.map(contentToWire) };
}

export function traceInfoToWireV2(r: TraceRecord): WireTraceInfoV2 {
  const out: WireTraceInfoV2 = {
    request_id: r.traceId,
    experiment_id: r.experimentId,
    timestamp_ms: r.timestampMs,
    status: r.state === "STATE_UNSPECIFIED" ? "TRACE_STATUS_UNSPECIFIED" : r.state,
    request_metadata: Object.entries(r.metadata).map(([key, value]) => ({ key, value })),
    tags: Object.entries(r.tags).map(([key, value]) => ({ key, value })),
  };
  if (r.executionMs !== null) out.execution_time_ms = r.executionMs;
  return out;
}
