/**
 * Wire types of MLflow's tracing API (`service.proto`'s TraceInfoV3, Trace,
 * TraceInfo (v2), Assessment; OpenTelemetry's Span in protobuf JSON), as the
 * server answers them and the web UI reads them. Field names are protobuf's
 * (snake_case); 64-bit integers travel as decimal strings, which protobuf's
 * JSON parser accepts for int64 and fixed64 fields.
 */

export type TraceState = "STATE_UNSPECIFIED" | "OK" | "ERROR" | "IN_PROGRESS";

export interface WireTraceLocation {
  type: "MLFLOW_EXPERIMENT";
  mlflow_experiment: { experiment_id: string };
}

export interface WireAssessmentSource {
  source_type: "SOURCE_TYPE_UNSPECIFIED" | "HUMAN" | "LLM_JUDGE" | "CODE";
  source_id: string;
}

export interface WireAssessmentError {
  error_code?: string;
  error_message?: string;
  stack_trace?: string;
}

export interface WireAssessment {
  assessment_id: string;
  assessment_name: string;
  trace_id: string;
  span_id?: string;
  source?: WireAssessmentSource;
  create_time?: string;
  last_update_time?: string;
  feedback?: { value?: unknown; error?: WireAssessmentError };
  expectation?: { value?: unknown; serialized_value?: { serialization_format?: string; value?: string } };
  rationale?: string;
  metadata?: Record<string, string>;
  overrides?: string;
  valid?: boolean;
}

export interface WireTraceInfo {
  trace_id: string;
  client_request_id?: string;
  trace_location: WireTraceLocation;
  request_preview?: string;
  response_preview?: string;
  /** RFC 3339 (protobuf Timestamp). */
  request_time: string;
  /** Seconds with an `s` suffix (protobuf Duration), e.g. `"0.668s"`. */
  execution_duration?: string;
  state: TraceState;
  trace_metadata: Record<string, string>;
  assessments?: WireAssessment[];
  tags: Record<string, string>;
}

/** OpenTelemetry AnyValue in protobuf JSON; an empty object is Python's `None`. */
export type WireAnyValue =
  | Record<string, never>
  | { string_value: string }
  | { bool_value: boolean }
  | { int_value: string }
  | { double_value: number | string }
  | { array_value: { values: WireAnyValue[] } }
  | { kvlist_value: { values: { key: string; value: WireAnyValue }[] } };

export interface WireKeyValue {
  key: string;
  value: WireAnyValue;
}

/** `opentelemetry.proto.trace.v1.Span` in protobuf JSON; ids are base64. */
export interface WireSpan {
  trace_id: string;
  span_id: string;
  parent_span_id?: string;
  name: string;
  start_time_unix_nano: string;
  end_time_unix_nano?: string;
  attributes: WireKeyValue[];
  events?: { time_unix_nano: string; name: string; attributes: WireKeyValue[] }[];
  status: { code: string; message?: string };
}

export interface WireTrace {
  trace_info: WireTraceInfo;
  spans?: WireSpan[];
}

/** v2 `TraceInfo` (`/api/2.0/mlflow/traces`). */
export interface WireTraceInfoV2 {
  request_id: string;
  experiment_id: string;
  timestamp_ms: number;
  execution_time_ms?: number;
  status: "TRACE_STATUS_UNSPECIFIED" | "OK" | "ERROR" | "IN_PROGRESS";
  request_metadata: { key: string; value: string }[];
  tags: { key: string; value: string }[];
}

export interface WireSearchTracesV3Response {
  traces: WireTraceInfo[];
  next_page_token?: string;
}

/** v2 `SearchTraces` (`GET /api/2.0/mlflow/traces`). */
export interface WireSearchTracesV2Response {
  traces: WireTraceInfoV2[];
  next_page_token?: string;
}

/** A span as MLflow's trace data file holds it (`Span.to_dict()`): attribute values are JSON text. */
export interface TraceDataSpan {
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  name: string;
  start_time_unix_nano: number | string;
  end_time_unix_nano: number | string | null;
  events: { name: string; time_unix_nano: number | string; attributes: Record<string, unknown> }[];
  status: { code: string; message: string };
  attributes: Record<string, string>;
}

export interface TraceData {
  spans: TraceDataSpan[];
}
