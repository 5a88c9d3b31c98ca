import type { WireAnyValue, WireSpan } from "../../wire/index.js";
import type { OtlpAnyValue, OtlpKeyValue, OtlpSpan } from "./otlp.js";
import { dumps, loads, PyDict, PyFloat, PyInt, type PyValue } from "./py-json.js";

/**
 * Spans as MLflow keeps them. A span is stored as MLflow's span dict
 * (`Span.to_dict()`: base64 ids, nanosecond times, every attribute value as
 * `json.dumps` text) in one `content` column, which is what the UI's trace
 * artifact returns and what `span.attributes.*` filters match; the OTLP wire
 * form that `GetTrace` answers is rebuilt from it.
 */

export const REQUEST_ID_ATTRIBUTE = "mlflow.traceRequestId";
export const SPAN_TYPE_ATTRIBUTE = "mlflow.spanType";
export const SPAN_INPUTS_ATTRIBUTE = "mlflow.spanInputs";
export const SPAN_OUTPUTS_ATTRIBUTE = "mlflow.spanOutputs";
export const TRACE_TAG_ATTRIBUTE_PREFIX = "mlflow.traceTag.";

const STATUS_NAMES = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"] as const;
/** MLflow's SpanStatusCode values, as stored in the `status` column and matched by `span.status`. */
const STATUS_VALUES = ["UNSET", "OK", "ERROR"] as const;

/** One span row, ready for the store. */
export interface SpanRow {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  type: string | null;
  status: string;
  startNs: string;
  endNs: string | null;
  content: string;
}

/** A decoded span with what trace-level bookkeeping needs beside its row. */
export interface IngestedSpan {
  row: SpanRow;
  /** Attribute key → its `json.dumps` text. */
  attributes: Map<string, string>;
  resource: OtlpKeyValue[];
}

export function anyToPy(v: OtlpAnyValue | undefined): PyValue {
  if (!v) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return new PyInt(String(v.intValue));
  if (v.doubleValue !== undefined) return new PyFloat(Number(v.doubleValue));
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(anyToPy);
  if (v.kvlistValue !== undefined) return new PyDict((v.kvlistValue.values ?? []).map((kv) => [kv.key, anyToPy(kv.value)]));
  // Python's encoder has no bytes; MLflow falls back to str(). Base64 keeps the value readable.
  if (v.bytesValue !== undefined) return String(v.bytesValue);
  return null;
}

export function pyToAny(v: PyValue): WireAnyValue {
  if (v === null) return {};
  if (typeof v === "string") return { string_value: v };
  if (typeof v === "boolean") return { bool_value: v };
  if (v instanceof PyInt) return { int_value: v.digits };
  if (v instanceof PyFloat) return { double_value: Number.isFinite(v.value) ? v.value : String(v.value) };
  if (Array.isArray(v)) return { array_value: { values: v.map(pyToAny) } };
  return { kvlist_value: { values: v.entries.map(([key, x]) => ({ key, value: pyToAny(x) })) } };
}

function b64ToHex(b64: string): string {
  return Buffer.from(b64, "base64").toString("hex");
}

/** MLflow's trace id for an OpenTelemetry trace id. */
export function mlflowTraceId(otelTraceIdB64: string): string {
  return `tr-${b64ToHex(otelTraceIdB64)}`;
}

function parseAttribute(text: string): PyValue {
  try {
    return loads(text);
  } catch {
    return text;
  }
}

/** Converts a received OTLP span to MLflow's stored form, as MLflow's `Span.from_otel_proto` does. */
export function ingestSpan(span: OtlpSpan, resource: OtlpKeyValue[]): IngestedSpan {
  if (!span.traceId || !span.spanId) throw new Error("trace_id and span_id are required");
  const traceId = mlflowTraceId(span.traceId);
  const attributes = new Map<string, string>();
  for (const kv of span.attributes ?? []) attributes.set(kv.key, undoubleDump(dumps(anyToPy(kv.value))));
  attributes.set(REQUEST_ID_ATTRIBUTE, dumps(traceId));
  const code = span.status?.code ?? 0;
  const statusName = STATUS_NAMES[code] ?? "STATUS_CODE_UNSET";
  const parent = span.parentSpanId ? span.parentSpanId : null;
  const start = span.startTimeUnixNano ?? "0";
  const end = span.endTimeUnixNano && span.endTimeUnixNano !== "0" ? span.endTimeUnixNano : null;
  const dict = new PyDict([
    ["trace_id", span.traceId],
    ["span_id", span.spanId],
    ["parent_span_id", parent],
    ["name", span.name ?? ""],
    ["start_time_unix_nano", new PyInt(start)],
    ["end_time_unix_nano", end === null ? null : new PyInt(end)],
    [
      "events",
      (span.events ?? []).map(
        (e) =>
          new PyDict([
            ["name", e.name ?? ""],
            ["time_unix_nano", new PyInt(e.timeUnixNano ?? "0")],
            ["attributes", new PyDict((e.attributes ?? []).map((kv) => [kv.key, anyToPy(kv.value)]))],
          ]),
      ),
    ],
    ["status", new PyDict([["code", statusName], ["message", span.status?.message ?? ""]])],
    ["attributes", new PyDict([...attributes].map(([k, v]) => [k, v]))],
    ["links", []],
  ]);
  const type = attributes.get(SPAN_TYPE_ATTRIBUTE);
  const typeValue = type === undefined ? null : parseAttribute(type);
  return {
    row: {
      traceId,
      spanId: b64ToHex(span.spanId),
      parentSpanId: parent === null ? null : b64ToHex(parent),
      name: span.name ?? "",
      type: typeof typeValue === "string" ? typeValue : null,
      status: STATUS_VALUES[code] ?? "UNSET",
      startNs: start,
      endNs: end,
      content: dumps(dict),
    },
    attributes,
    resource,
  };
}

/**
 * An exporter that sets an attribute to JSON text (`'{"q": "hi"}'`) gets it dumped once more on
 * the way in; MLflow strips that layer when the inner text is a JSON string, object or list.
 */
function undoubleDump(text: string): string {
  let outer: PyValue;
  try {
    outer = loads(text);
  } catch {
    return text;
  }
  if (typeof outer !== "string") return text;
  try {
    const inner = loads(outer);
    if (typeof inner === "string" || Array.isArray(inner) || inner instanceof PyDict) return outer;
  } catch {
    // only dumped once
  }
  return text;
}

function str(v: PyValue | undefined): string {
  return typeof v === "string" ? v : "";
}

function nanos(v: PyValue | undefined): string | undefined {
  if (v instanceof PyInt) return v.digits;
  if (v instanceof PyFloat) return String(Math.trunc(v.value));
  if (typeof v === "string" && /^\d+$/.test(v)) return v;
  return undefined;
}

/** The OTLP span (protobuf JSON, snake_case) of a stored span, as `GetTrace` answers it. */
export function contentToWire(content: string): WireSpan {
  const d = loads(content);
  if (!(d instanceof PyDict)) throw new Error("span content is not an object");
  const status = d.get("status");
  const code = status instanceof PyDict ? str(status.get("code")) : "";
  const message = status instanceof PyDict ? str(status.get("message")) : "";
  const attrs = d.get("attributes");
  const events = d.get("events");
  const out: WireSpan = {
    trace_id: str(d.get("trace_id")),
    span_id: str(d.get("span_id")),
    name: str(d.get("name")),
    start_time_unix_nano: nanos(d.get("start_time_unix_nano")) ?? "0",
    attributes:
      attrs instanceof PyDict
        ? attrs.entries.map(([key, v]) => ({ key, value: pyToAny(typeof v === "string" ? parseAttribute(v) : v) }))
        : [],
    status: message ? { code: code || "STATUS_CODE_UNSET", message } : { code: code || "STATUS_CODE_UNSET" },
  };
  const parent = d.get("parent_span_id");
  if (typeof parent === "string" && parent) out.parent_span_id = parent;
  const end = nanos(d.get("end_time_unix_nano"));
  if (end !== undefined) out.end_time_unix_nano = end;
  if (Array.isArray(events) && events.length > 0) {
    out.events = events
      .filter((e): e is PyDict => e instanceof PyDict)
      .map((e) => {
        const a = e.get("attributes");
        return {
          time_unix_nano: nanos(e.get("time_unix_nano")) ?? "0",
          name: str(e.get("name")),
          attributes: a instanceof PyDict ? a.entries.map(([key, v]) => ({ key, value: pyToAny(v) })) : [],
        };
      });
  }
  return out;
}

/** The trace data file (`traces.json`) of stored spans, byte-for-byte as MLflow's `TraceData.to_json_bytes`. */
export function traceDataJson(contents: readonly string[]): string {
  return `{"spans":[${contents.join(",")}]}`;
}

const PREVIEW_MAX = 1000;

/** The last message of a chat payload with the given role, as MLflow's preview picks it. */
function lastMessageText(v: PyValue, role: string): string | undefined {
  const messages = v instanceof PyDict ? v.get("messages") : Array.isArray(v) ? v : undefined;
  if (!Array.isArray(messages) || messages.length === 0) return undefined;
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m instanceof PyDict && m.get("role") === role) {
      const c = m.get("content");
      if (typeof c === "string") return c;
    }
  }
  return undefined;
}

/** MLflow's request/response preview: the text (or the chat message), cut to 1000 characters. */
export function preview(text: string | undefined, role: "user" | "assistant"): string | null {
  if (text === undefined) return null;
  let content = text;
  try {
    content = lastMessageText(loads(text), role) ?? text;
  } catch {
    // not JSON: the text itself
  }
  const chars = Array.from(content);
  return chars.length <= PREVIEW_MAX ? content : `${chars.slice(0, PREVIEW_MAX - 3).join("")}...`;
}

/** A stored attribute's value as plain text for tags (strings as they are, the rest as JSON). */
export function attributeText(jsonText: string): string {
  const v = parseAttribute(jsonText);
  return typeof v === "string" ? v : jsonText;
}

/** Resource attributes as trace tags: strings as they are, anything else as JSON. */
export function resourceValueText(v: OtlpAnyValue | undefined): string {
  const py = anyToPy(v);
  return typeof py === "string" ? py : dumps(py);
}
