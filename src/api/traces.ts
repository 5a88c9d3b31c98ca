import { gunzipSync, inflateSync } from "node:zlib";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { invalidParameter, MlflowError } from "../errors.js";
import {
  decodeExportRequest,
  EXPORT_RESPONSE,
  keyValueList,
  parseState,
  SPANS_LOCATION_TAG,
  TRACKING_STORE,
  ARTIFACT_LOCATION_TAG,
  traceDataJson,
  traceInfoFromWire,
  traceInfoToWire,
  traceInfoToWireV2,
  traceToWire,
  type TraceService,
  type TrackingServices,
} from "../tracking/index.js";
import type { WireAssessment, WireSearchTracesV2Response, WireSearchTracesV3Response } from "../wire/index.js";
import { resolveArtifactLocation } from "./artifacts.js";
import type { DomainDeps } from "./deps.js";
import { input, optBool, optInt, optString, optStringList, reqString, type Input } from "./params.js";
import { mlflowRoute, type Handler, type Method } from "./routing.js";

const V2 = ["/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"] as const;
const V3 = ["/api/3.0/mlflow/", "/ajax-api/3.0/mlflow/"] as const;
const BOTH = [...V2, ...V3] as const;

/** The header MLflow's OTLP receiver reads the destination experiment from. */
export const EXPERIMENT_ID_HEADER = "x-mlflow-experiment-id";
const RUN_ID_HEADER = "x-mlflow-run-id";
export const OTLP_TRACES_PATH = "/v1/traces";

function idParam(req: FastifyRequest, name: string): string {
  const v = (req.params as Record<string, string>)[name];
  if (!v) throw invalidParameter(`Missing value for required parameter '${name}'.`);
  return v;
}

function route(app: FastifyInstance, method: Method, path: string, prefixes: readonly string[], handler: Handler): void {
  mlflowRoute(app, method, path, handler, prefixes);
}

/** Request fields for DELETE: the JSON body MLflow's client sends, or the query string. */
function deleteInput(req: FastifyRequest): Input {
  const body = req.body && typeof req.body === "object" ? (req.body as Input) : {};
  return { ...(req.query as Input), ...body };
}

function experimentIdsOfLocations(inp: Input): string[] {
  const locations = inp.locations;
  if (locations === undefined || locations === null) {
    throw invalidParameter("Missing value for required parameter 'locations'. See the API docs for more information about request parameters.");
  }
  if (!Array.isArray(locations)) throw invalidParameter(`Invalid value ${JSON.stringify(locations).slice(0, 100)} for parameter 'locations' supplied.`);
  const ids: string[] = [];
  for (const l of locations) {
    const id = (l as { mlflow_experiment?: { experiment_id?: unknown } })?.mlflow_experiment?.experiment_id;
    if (typeof id === "string") ids.push(id);
  }
  return ids;
}

function assessmentOf(inp: Input, traceId: string): WireAssessment {
  const a = inp.assessment;
  if (!a || typeof a !== "object" || Array.isArray(a)) throw invalidParameter("Missing value for required parameter 'assessment'.");
  return { ...(a as WireAssessment), trace_id: traceId };
}

/**
 * MLflow 3's tracing API: trace info (v2 and v3), spans over OTLP/HTTP
 * (`POST /v1/traces`, protobuf or JSON), search, tags, deletion, links to
 * runs, assessments, metrics, and the UI's trace endpoints.
 */
export function registerTraces(app: FastifyInstance, _deps: DomainDeps, domains: { tracking: TrackingServices }): void {
  const traces = domains.tracking.traces;
  registerTraceInfoRoutes(app, traces);
  registerAssessmentRoutes(app, traces);
  registerOtlpReceiver(app, traces);
  registerUiRoutes(app, traces);
}

function registerTraceInfoRoutes(app: FastifyInstance, traces: TraceService): void {
  // v3 StartTraceV3 and v2 StartTrace share the path; the API version tells them apart.
  route(app, "POST", "traces", V3, async (req) => {
    const inp = input(req);
    const trace = inp.trace as { trace_info?: unknown } | undefined;
    if (!trace || typeof trace !== "object") {
      throw invalidParameter("Missing value for required parameter 'trace'. See the API docs for more information about request parameters.");
    }
    const rec = await traces.start(traceInfoFromWire(trace.trace_info));
    return { trace: { trace_info: traceInfoToWire(rec) } };
  });
  route(app, "POST", "traces", V2, async (req) => {
    const inp = input(req);
    const rec = await traces.startV2(
      reqString(inp, "experiment_id"),
      optInt(inp, "timestamp_ms") ?? Date.now(),
      keyValueList(inp.request_metadata, "request_metadata"),
      keyValueList(inp.tags, "tags"),
    );
    return { trace_info: traceInfoToWireV2(rec) };
  });
  route(app, "PATCH", "traces/:request_id", V2, async (req) => {
    const inp = input(req);
    const rec = await traces.endV2(
      idParam(req, "request_id"),
      optInt(inp, "timestamp_ms") ?? Date.now(),
      parseState(inp.status, "status"),
      keyValueList(inp.request_metadata, "request_metadata"),
      keyValueList(inp.tags, "tags"),
    );
    return { trace_info: traceInfoToWireV2(rec) };
  });
  route(app, "GET", "traces/:request_id/info", V2, async (req) => ({ trace_info: traceInfoToWireV2(await traces.getInfo(idParam(req, "request_id"))) }));
  route(app, "GET", "traces/:trace_id", BOTH, async (req) => ({ trace: { trace_info: traceInfoToWire(await traces.getInfo(idParam(req, "trace_id"))) } }));

  route(app, "GET", "traces/get", V3, async (req) => {
    const inp = input(req);
    optBool(inp, "allow_partial");
    const { info, spans } = await traces.get(reqString(inp, "trace_id"));
    return { trace: traceToWire(info, spans) };
  });
  const batchGet: Handler = async (req) => {
    const ids = optStringList(input(req), "trace_ids");
    if (!ids) throw invalidParameter("Missing value for required parameter 'trace_ids'. See the API docs for more information about request parameters.");
    const found = await traces.batchGet(ids);
    return { traces: found.map((t) => traceToWire(t.info, t.spans)) };
  };
  route(app, "GET", "traces/batchGet", V3, batchGet);
  route(app, "POST", "traces/batchGetInfos", V3, async (req) => {
    const ids = optStringList(input(req), "trace_ids");
    if (!ids) throw invalidParameter("Missing value for required parameter 'trace_ids'. See the API docs for more information about request parameters.");
    return { trace_infos: (await traces.store.records(ids)).map(traceInfoToWire) };
  });

  route(app, "POST", "traces/search", V3, async (req) => {
    const inp = input(req);
    const res = await traces.search({
      experimentIds: experimentIdsOfLocations(inp),
      filter: optString(inp, "filter"),
      maxResults: optInt(inp, "max_results"),
      orderBy: optStringList(inp, "order_by"),
      pageToken: optString(inp, "page_token"),
    });
    const out: WireSearchTracesV3Response = { traces: res.traces.map(traceInfoToWire) };
    if (res.nextPageToken) out.next_page_token = res.nextPageToken;
    return out;
  });
  route(app, "GET", "traces", V2, async (req) => {
    const inp = input(req);
    const res = await traces.search({
      experimentIds: optStringList(inp, "experiment_ids") ?? [],
      filter: optString(inp, "filter"),
      maxResults: optInt(inp, "max_results"),
      orderBy: optStringList(inp, "order_by"),
      pageToken: optString(inp, "page_token"),
    });
    const out: WireSearchTracesV2Response = { traces: res.traces.map(traceInfoToWireV2) };
    if (res.nextPageToken) out.next_page_token = res.nextPageToken;
    return out;
  });

  route(app, "POST", "traces/delete-traces", BOTH, async (req) => {
    const inp = input(req);
    const deleted = await traces.delete(reqString(inp, "experiment_id"), {
      maxTimestampMs: optInt(inp, "max_timestamp_millis"),
      maxTraces: optInt(inp, "max_traces"),
      traceIds: optStringList(inp, "request_ids") ?? optStringList(inp, "trace_ids"),
    });
    return { traces_deleted: deleted };
  });

  route(app, "PATCH", "traces/:trace_id/tags", BOTH, async (req) => {
    const inp = input(req);
    const value = inp.value;
    if (value !== undefined && value !== null && typeof value !== "string") {
      throw invalidParameter(`Invalid value ${JSON.stringify(value).slice(0, 100)} for parameter 'value' supplied.`);
    }
    await traces.setTag(idParam(req, "trace_id"), reqString(inp, "key"), (value as string | undefined) ?? "");
    return {};
  });
  route(app, "DELETE", "traces/:trace_id/tags", BOTH, async (req) => {
    await traces.deleteTag(idParam(req, "trace_id"), reqString(deleteInput(req), "key"));
    return {};
  });

  route(app, "POST", "traces/link-to-run", BOTH, async (req) => {
    const inp = input(req);
    await traces.linkToRun(optStringList(inp, "trace_ids") ?? [], reqString(inp, "run_id"));
    return {};
  });

  route(app, "POST", "traces/calculate-filter-correlation", V3, async (req) => {
    const inp = input(req);
    const ids = optStringList(inp, "experiment_ids");
    if (!ids) throw invalidParameter("Missing value for required parameter 'experiment_ids'. See the API docs for more information about request parameters.");
    const r = await traces.filterCorrelation(ids, reqString(inp, "filter_string1"), reqString(inp, "filter_string2"), optString(inp, "base_filter"));
    const out: Record<string, unknown> = { filter1_count: r.filter1_count, filter2_count: r.filter2_count, joint_count: r.joint_count, total_count: r.total_count };
    // protobuf JSON spells a NaN double as the string "NaN".
    out.npmi = Number.isNaN(r.npmi) ? "NaN" : r.npmi;
    out.npmi_smoothed = Number.isNaN(r.npmi_smoothed) ? "NaN" : r.npmi_smoothed;
    return out;
  });

  route(app, "POST", "traces/metrics", V3, async (req) => {
    const inp = input(req);
    const view = inp.view_type;
    if (view !== undefined && view !== "TRACES" && view !== 1) {
      throw invalidParameter(`Metrics of view type '${String(view)}' are not supported; use TRACES`);
    }
    const aggregations = Array.isArray(inp.aggregations) ? inp.aggregations : [];
    const points = await traces.traceMetrics({
      experimentIds: optStringList(inp, "experiment_ids") ?? [],
      metricName: reqString(inp, "metric_name"),
      aggregations: aggregations.map((a) => {
        const o = a as { aggregation_type?: unknown; percentile_value?: unknown };
        const names = ["", "COUNT", "SUM", "AVG", "PERCENTILE", "MIN", "MAX"];
        const type = typeof o.aggregation_type === "number" ? names[o.aggregation_type] : o.aggregation_type;
        return { type: String(type), percentile: typeof o.percentile_value === "number" ? o.percentile_value : undefined };
      }),
      dimensions: optStringList(inp, "dimensions") ?? [],
      filters: optStringList(inp, "filters") ?? [],
      timeIntervalSeconds: optInt(inp, "time_interval_seconds"),
      startTimeMs: optInt(inp, "start_time_ms"),
      endTimeMs: optInt(inp, "end_time_ms"),
    });
    return { data_points: points };
  });
}

function registerAssessmentRoutes(app: FastifyInstance, traces: TraceService): void {
  route(app, "POST", "traces/:trace_id/assessments", V3, async (req) => ({
    assessment: await traces.createAssessment(assessmentOf(input(req), idParam(req, "trace_id"))),
  }));
  route(app, "GET", "traces/:trace_id/assessments/:assessment_id", V3, async (req) => ({
    assessment: await traces.getAssessment(idParam(req, "trace_id"), idParam(req, "assessment_id")),
  }));
  route(app, "PATCH", "traces/:trace_id/assessments/:assessment_id", V3, async (req) => {
    const inp = input(req);
    const mask = inp.update_mask;
    const paths = typeof mask === "string" ? mask.split(",") : Array.isArray((mask as { paths?: unknown })?.paths) ? ((mask as { paths: string[] }).paths) : [];
    const traceId = idParam(req, "trace_id");
    // A FieldMask in JSON names fields in lowerCamelCase (`assessmentName`).
    const snake = paths.map((p) => p.trim().replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)).filter(Boolean);
    return { assessment: await traces.updateAssessment(traceId, idParam(req, "assessment_id"), assessmentOf(inp, traceId), snake) };
  });
  route(app, "DELETE", "traces/:trace_id/assessments/:assessment_id", V3, async (req) => {
    await traces.deleteAssessment(idParam(req, "trace_id"), idParam(req, "assessment_id"));
    return {};
  });
}

function decompress(body: Buffer, encoding: string | undefined): Buffer {
  const e = (encoding ?? "").toLowerCase().trim();
  if (e === "" || e === "identity") return body;
  try {
    if (e === "gzip") return gunzipSync(body);
    if (e === "deflate") return inflateSync(body);
  } catch {
    throw invalidParameter("Invalid OpenTelemetry format");
  }
  throw invalidParameter(`Unsupported Content-Encoding '${encoding}'`);
}

/** `POST /v1/traces`: the OTLP/HTTP receiver, in its own scope so it reads raw bodies. */
function registerOtlpReceiver(app: FastifyInstance, traces: TraceService): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
    scope.post(OTLP_TRACES_PATH, async (req: FastifyRequest, reply: FastifyReply) => {
      const type = String(req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
      if (type !== "application/x-protobuf" && type !== "application/json") {
        throw new MlflowError("BAD_REQUEST", `Invalid Content-Type: ${req.headers["content-type"] ?? "None"}. Expected: application/x-protobuf or application/json`);
      }
      const experimentId = req.headers[EXPERIMENT_ID_HEADER];
      if (typeof experimentId !== "string" || experimentId === "") {
        throw invalidParameter(`Missing required header '${EXPERIMENT_ID_HEADER}': the id of the experiment to store the spans in`);
      }
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const body = decompress(raw, req.headers["content-encoding"] as string | undefined);
      const request = decodeExportRequest(body, type === "application/json");
      const res = await traces.logSpans(experimentId, request);
      const runId = req.headers[RUN_ID_HEADER];
      if (typeof runId === "string" && runId !== "" && res.completedTraceIds.length > 0) {
        await traces.linkToRun(res.completedTraceIds, runId).catch((err: unknown) => req.log.warn({ err }, "could not link OTLP traces to the run"));
      }
      if (type === "application/json") return reply.type("application/json").send({});
      return reply.type("application/x-protobuf").send(EXPORT_RESPONSE);
    });
  });
}

function registerUiRoutes(app: FastifyInstance, traces: TraceService): void {
  // The UI loads a trace's spans as MLflow's trace data file: from the store, or from the
  // artifact repository for traces whose spans a client uploaded there.
  const traceArtifact: Handler = async (req, reply) => {
    const inp = input(req);
    const requestId = optString(inp, "request_id");
    if (!requestId) throw new MlflowError("BAD_REQUEST", 'Request must include the "request_id" query parameter.');
    if (optString(inp, "path")) throw new MlflowError("RESOURCE_DOES_NOT_EXIST", "Trace attachments are not stored on this server");
    const { info, spans } = await traces.get(requestId);
    let data: string | Buffer;
    if (info.tags[SPANS_LOCATION_TAG] === TRACKING_STORE || spans.length > 0) {
      data = traceDataJson(spans);
    } else {
      data = await readTraceDataArtifact(app, info.tags[ARTIFACT_LOCATION_TAG]);
    }
    return reply
      .type("application/octet-stream")
      .header("Content-Disposition", "attachment; filename=traces.json")
      .send(data);
  };
  app.get("/ajax-api/2.0/mlflow/get-trace-artifact", traceArtifact);
  app.get("/api/2.0/mlflow/get-trace-artifact", traceArtifact);
}

async function readTraceDataArtifact(app: FastifyInstance, location: string | undefined): Promise<Buffer> {
  if (!location) throw new MlflowError("RESOURCE_DOES_NOT_EXIST", "The trace has no spans and no artifact location");
  const loc = await resolveArtifactLocation(app, location);
  const path = loc.path ? `${loc.path}/traces.json` : "traces.json";
  if (!(await loc.repository.stat(path))) throw new MlflowError("RESOURCE_DOES_NOT_EXIST", "Trace data not found: the trace's spans were never uploaded");
  const chunks: Buffer[] = [];
  for await (const chunk of await loc.repository.openRead(path)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
