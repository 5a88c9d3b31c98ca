/**
 * The Traces tab's calls: MLflow 3's trace search and trace info (`/ajax-api/3.0/mlflow/traces…`)
 * and the trace data file the spans are drawn from (`get-trace-artifact`), as MLflow's own UI uses them.
 */
import type { TraceData, TraceDataSpan, WireSearchTracesV3Response, WireTraceInfo } from "../../src/wire/index.js";

export type { TraceData, TraceDataSpan, WireTraceInfo };

async function json<T>(res: Response): Promise<T> {
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const msg = (body as { message?: string } | undefined)?.message ?? `${res.status} ${res.statusText}`;
    throw new Error(msg);
  }
  return body as T;
}

export async function searchTraces(experimentId: string, filter: string, pageToken?: string): Promise<WireSearchTracesV3Response> {
  const res = await fetch("/ajax-api/3.0/mlflow/traces/search", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      locations: [{ type: "MLFLOW_EXPERIMENT", mlflow_experiment: { experiment_id: experimentId } }],
      filter: filter || undefined,
      max_results: 100,
      page_token: pageToken,
    }),
  });
  return json(res);
}

export async function getTraceInfo(traceId: string): Promise<WireTraceInfo> {
  const res = await fetch(`/ajax-api/3.0/mlflow/traces/${encodeURIComponent(traceId)}`);
  return (await json<{ trace: { trace_info: WireTraceInfo } }>(res)).trace.trace_info;
}

export async function getTraceData(traceId: string): Promise<TraceData> {
  const res = await fetch(`/ajax-api/2.0/mlflow/get-trace-artifact?request_id=${encodeURIComponent(traceId)}`);
  return json(res);
}

/** A span attribute's value: attributes are stored as JSON text. */
export function attributeValue(span: TraceDataSpan, key: string): unknown {
  const raw = span.attributes[key];
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** Milliseconds of a protobuf Duration (`"1.5s"`). */
export function durationMs(d: string | undefined): number | undefined {
  if (!d) return undefined;
  const n = Number(d.replace(/s$/, ""));
  return Number.isFinite(n) ? Math.round(n * 1000) : undefined;
}
