import { gzipSync } from "node:zlib";
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTestApp, type TestApp } from "../../test/helpers/app.js";
import { createExperiment, createRun } from "../../test/helpers/factories.js";
import { encodeExportRequest, type OtlpExportRequest, type OtlpSpan } from "../tracking/index.js";

const V3 = "/api/3.0/mlflow/";
const HEX_TRACE = "0af7651916cd43dd8448eb211c80319c";
const TRACE_ID = `tr-${HEX_TRACE}`;
const b64 = (hex: string) => Buffer.from(hex, "hex").toString("base64");
const str = (s: string) => ({ stringValue: s });

/** A two-span trace as an OpenTelemetry exporter sends it: the root with inputs/outputs, a failing child. */
function otlpRequest(traceHex = HEX_TRACE, startMs = 1_700_000_000_000): OtlpExportRequest {
  const ns = (ms: number) => `${BigInt(ms) * 1_000_000n + 123n}`;
  const root: OtlpSpan = {
    traceId: b64(traceHex),
    spanId: b64("00f067aa0ba902b7"),
    name: "agent",
    startTimeUnixNano: ns(startMs),
    endTimeUnixNano: ns(startMs + 250),
    attributes: [
      { key: "mlflow.spanType", value: str('"CHAIN"') },
      { key: "mlflow.spanInputs", value: str('{"question": "refund policy?"}') },
      { key: "mlflow.spanOutputs", value: str('"30 days"') },
      { key: "retries", value: { intValue: "2" } },
      { key: "mlflow.traceTag.env", value: str("prod") },
    ],
    status: { code: 1 },
  };
  const child: OtlpSpan = {
    traceId: b64(traceHex),
    spanId: b64("b7ad6b7169203331"),
    parentSpanId: b64("00f067aa0ba902b7"),
    name: "llm",
    startTimeUnixNano: ns(startMs + 10),
    endTimeUnixNano: ns(startMs + 200),
    attributes: [
      { key: "mlflow.spanType", value: str('"LLM"') },
      { key: "temperature", value: { doubleValue: 1 } },
      { key: "model", value: str("gpt-x") },
      { key: "stops", value: { arrayValue: { values: [str("a"), { boolValue: true }, {}] } } },
    ],
    events: [{ name: "retry", timeUnixNano: ns(startMs + 50), attributes: [{ key: "attempt", value: { intValue: "1" } }] }],
    status: { code: 2, message: "rate limited" },
  };
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: "service.name", value: str("support-bot") }, { key: "telemetry.sdk.language", value: str("python") }] },
        scopeSpans: [{ spans: [child, root] }],
      },
    ],
  };
}

async function postOtlp(t: TestApp, body: Buffer | string, headers: Record<string, string>) {
  const res = await t.app.inject({ method: "POST", url: "/v1/traces", payload: body, headers });
  return { status: res.statusCode, body: res.body, type: res.headers["content-type"] };
}

function spanAttr(span: { attributes: { key: string; value: unknown }[] }, key: string): unknown {
  return span.attributes.find((a) => a.key === key)?.value;
}

describe("traces API", () => {
  let t: TestApp;
  let exp: string;
  beforeEach(async () => {
    t = await makeTestApp();
    exp = await createExperiment(t, { name: "agents" });
  });
  afterEach(async () => t.close());

  async function ingest(req = otlpRequest()) {
    const res = await postOtlp(t, encodeExportRequest(req), { "content-type": "application/x-protobuf", "x-mlflow-experiment-id": exp });
    expect(res.status).toBe(200);
    expect(res.type).toContain("application/x-protobuf");
  }

  it("stores OTLP protobuf spans and answers them as MLflow's GetTrace does", async () => {
    await ingest();
    const info = await t.call("GET", `${V3}traces/${TRACE_ID}`);
    expect(info.status).toBe(200);
    expect(info.body.trace.trace_info).toMatchObject({
      trace_id: TRACE_ID,
      trace_location: { type: "MLFLOW_EXPERIMENT", mlflow_experiment: { experiment_id: exp } },
      request_time: "2023-11-14T22:13:20Z",
      execution_duration: "0.250s",
      state: "OK",
      request_preview: '{"question": "refund policy?"}',
      response_preview: '"30 days"',
      tags: {
        "mlflow.trace.spansLocation": "TRACKING_STORE",
        "mlflow.artifactLocation": `mlflow-artifacts:/${exp}/traces/${TRACE_ID}/artifacts`,
        env: "prod",
        "service.name": "support-bot",
      },
    });
    expect(info.body.trace.trace_info.tags["telemetry.sdk.language"]).toBeUndefined();

    const full = await t.call("GET", `${V3}traces/get?trace_id=${TRACE_ID}`);
    expect(full.status).toBe(200);
    const [root, child] = full.body.trace.spans;
    expect(root).toMatchObject({ trace_id: b64(HEX_TRACE), span_id: b64("00f067aa0ba902b7"), name: "agent", start_time_unix_nano: "1700000000000000123", status: { code: "STATUS_CODE_OK" } });
    expect(root.parent_span_id).toBeUndefined();
    // Attributes keep their types: JSON text set by an exporter stays one JSON layer deep.
    expect(spanAttr(root, "mlflow.spanInputs")).toEqual({ kvlist_value: { values: [{ key: "question", value: { string_value: "refund policy?" } }] } });
    expect(spanAttr(root, "retries")).toEqual({ int_value: "2" });
    expect(spanAttr(root, "mlflow.traceRequestId")).toEqual({ string_value: TRACE_ID });
    expect(child).toMatchObject({ parent_span_id: b64("00f067aa0ba902b7"), status: { code: "STATUS_CODE_ERROR", message: "rate limited" } });
    expect(spanAttr(child, "temperature")).toEqual({ double_value: 1 });
    expect(spanAttr(child, "stops")).toEqual({ array_value: { values: [{ string_value: "a" }, { bool_value: true }, {}] } });
    expect(child.events).toEqual([{ time_unix_nano: "1700000000050000123", name: "retry", attributes: [{ key: "attempt", value: { int_value: "1" } }] }]);

    // The UI's trace data file: MLflow's span dicts, attribute values as JSON text.
    const art = await t.app.inject({ method: "GET", url: `/ajax-api/2.0/mlflow/get-trace-artifact?request_id=${TRACE_ID}` });
    expect(art.statusCode).toBe(200);
    const data = JSON.parse(art.body);
    expect(data.spans.map((s: { name: string }) => s.name)).toEqual(["agent", "llm"]);
    expect(data.spans[1].attributes).toMatchObject({ temperature: "1.0", model: '"gpt-x"', stops: '["a", true, null]' });
    expect(art.body).toContain('"start_time_unix_nano": 1700000000000000123');
  });

  it("merges StartTraceV3 with spans that came first, and the other way round", async () => {
    await ingest();
    const info = {
      trace_id: TRACE_ID,
      trace_location: { type: "MLFLOW_EXPERIMENT", mlflow_experiment: { experiment_id: exp } },
      request_time: "2023-11-14T22:13:20.000Z",
      execution_duration: "0.300s",
      state: "OK",
      request_preview: "custom preview",
      trace_metadata: { "mlflow.user": "ann", "mlflow.trace_schema.version": "3" },
      tags: { "mlflow.traceName": "agent" },
    };
    const start = await t.call("POST", `${V3}traces`, { trace: { trace_info: info } });
    expect(start.status).toBe(200);
    expect(start.body.trace.trace_info).toMatchObject({
      execution_duration: "0.300s",
      request_preview: "custom preview",
      response_preview: '"30 days"',
      trace_metadata: { "mlflow.user": "ann", "mlflow.trace.infoFinalized": "true" },
      tags: { "mlflow.traceName": "agent", "mlflow.trace.spansLocation": "TRACKING_STORE", env: "prod" },
    });

    // Trace info first: the spans then keep the finalized times.
    const other = "1bf7651916cd43dd8448eb211c80319c";
    await t.call("POST", `${V3}traces`, { trace: { trace_info: { ...info, trace_id: `tr-${other}`, execution_duration: "5s" } } });
    await ingest(otlpRequest(other));
    const got = await t.call("GET", `${V3}traces/tr-${other}`);
    expect(got.body.trace.trace_info).toMatchObject({ execution_duration: "5s", tags: { "mlflow.trace.spansLocation": "TRACKING_STORE" } });
    expect((await t.call("GET", `${V3}traces/get?trace_id=tr-${other}`)).body.trace.spans).toHaveLength(2);
  });

  it("takes OTLP/JSON (hex ids, named status codes) and gzip bodies", async () => {
    const json = {
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [{ traceId: HEX_TRACE, spanId: "00f067aa0ba902b7", name: "root", startTimeUnixNano: "1700000000000000000", endTimeUnixNano: "1700000001000000000", attributes: [{ key: "n", value: { intValue: 7 } }], status: { code: "STATUS_CODE_ERROR" } }],
            },
          ],
        },
      ],
    };
    const res = await postOtlp(t, gzipSync(JSON.stringify(json)), { "content-type": "application/json", "content-encoding": "gzip", "x-mlflow-experiment-id": exp });
    expect(res.status).toBe(200);
    const got = await t.call("GET", `${V3}traces/get?trace_id=${TRACE_ID}`);
    expect(got.body.trace.trace_info).toMatchObject({ state: "ERROR", execution_duration: "1s" });
    expect(spanAttr(got.body.trace.spans[0], "n")).toEqual({ int_value: "7" });
  });

  it("answers bad OTLP and trace requests with MLflow's error JSON", async () => {
    const good = encodeExportRequest(otlpRequest());
    const cases: [Buffer | string, Record<string, string>, number][] = [
      [good, { "content-type": "text/plain", "x-mlflow-experiment-id": exp }, 400],
      [good, { "content-type": "application/x-protobuf" }, 400],
      [Buffer.from([0xff, 0xff, 0xff, 0x0f]), { "content-type": "application/x-protobuf", "x-mlflow-experiment-id": exp }, 400],
      ["{not json", { "content-type": "application/json", "x-mlflow-experiment-id": exp }, 400],
      ["{}", { "content-type": "application/json", "x-mlflow-experiment-id": exp }, 400],
      [good, { "content-type": "application/x-protobuf", "content-encoding": "gzip", "x-mlflow-experiment-id": exp }, 400],
      [good, { "content-type": "application/x-protobuf", "x-mlflow-experiment-id": "424242" }, 404],
    ];
    for (const [body, headers, status] of cases) {
      const res = await postOtlp(t, body, headers);
      expect(res.status, JSON.stringify(headers)).toBe(status);
      expect(JSON.parse(res.body)).toHaveProperty("error_code");
    }
    expect((await t.call("POST", `${V3}traces`, {})).status).toBe(400);
    expect((await t.call("POST", `${V3}traces`, { trace: { trace_info: { trace_id: "tr-1" } } })).status).toBe(400);
    const missing = await t.call("GET", `${V3}traces/get?trace_id=tr-nope`);
    expect(missing).toMatchObject({ status: 404, body: { error_code: "RESOURCE_DOES_NOT_EXIST" } });
    expect((await t.call("GET", `${V3}traces/get`)).status).toBe(400);
    expect((await t.call("POST", `${V3}traces/search`, { locations: [{ mlflow_experiment: { experiment_id: exp } }], filter: "trace.bogus = 1" })).status).toBe(400);
    expect((await t.call("POST", `${V3}traces/search`, { locations: [{ mlflow_experiment: { experiment_id: exp } }], max_results: 501 })).status).toBe(400);
    expect((await t.call("POST", `${V3}traces/search`, {})).status).toBe(400);
    expect((await t.call("PATCH", `${V3}traces/tr-nope/tags`, { key: "a", value: "b" })).status).toBe(404);
  });

  it("searches with the trace filter grammar, orders and pages", async () => {
    const hexes = ["1", "2", "3"].map((d) => d.repeat(32));
    for (const [i, h] of hexes.entries()) await ingest(otlpRequest(h, 1_700_000_000_000 + i * 1000));
    await t.call("PATCH", `traces/tr-${hexes[1]}/tags`, { key: "env", value: "dev" });
    const search = async (filter?: string, order_by?: string[], max_results?: number, page_token?: string) => {
      const res = await t.call("POST", `${V3}traces/search`, { locations: [{ type: "MLFLOW_EXPERIMENT", mlflow_experiment: { experiment_id: exp } }], filter, order_by, max_results, page_token });
      expect(res.status, `${filter} ${res.body.message ?? ""}`).toBe(200);
      return res.body as { traces: { trace_id: string }[]; next_page_token?: string };
    };
    const ids = async (filter?: string, order?: string[]) => (await search(filter, order)).traces.map((x) => x.trace_id.slice(3, 4));
    expect(await ids()).toEqual(["3", "2", "1"]);
    expect(await ids(undefined, ["timestamp_ms ASC"])).toEqual(["1", "2", "3"]);
    expect(await ids("tags.env = 'prod'")).toEqual(["3", "1"]);
    expect(await ids("tags.env != 'prod'")).toEqual(["2"]);
    expect(await ids(`trace.timestamp_ms > ${1_700_000_000_500}`)).toEqual(["3", "2"]);
    expect(await ids("trace.status = 'OK' AND trace.execution_time_ms >= 250")).toEqual(["3", "2", "1"]);
    expect(await ids("trace.status IN ('ERROR', 'IN_PROGRESS')")).toEqual([]);
    expect(await ids("span.name = 'llm' AND span.type = 'LLM'")).toHaveLength(3);
    expect(await ids("span.status = 'ERROR'")).toHaveLength(3);
    expect(await ids("span.attributes.model LIKE '%gpt%'")).toHaveLength(3);
    expect(await ids("trace.text ILIKE '%REFUND%'")).toHaveLength(3);
    expect(await ids("trace.text LIKE '%REFUND%'")).toHaveLength(0);
    expect(await ids("metadata.`mlflow.trace.user` IS NULL")).toHaveLength(3);
    expect(await ids("tags.env IS NOT NULL", ["tags.env ASC"])).toEqual(["2", "3", "1"]);
    const p1 = await search(undefined, undefined, 2);
    expect(p1.traces).toHaveLength(2);
    const p2 = await search(undefined, undefined, 2, p1.next_page_token);
    expect(p2.traces.map((x) => x.trace_id.slice(3, 4))).toEqual(["1"]);
    expect(p2.next_page_token).toBeUndefined();

    // The v2 search (GET) answers v2 TraceInfo.
    const v2 = await t.call("GET", `traces?experiment_ids=${exp}&filter=${encodeURIComponent("tags.env = 'dev'")}`);
    expect(v2.body.traces).toEqual([expect.objectContaining({ request_id: `tr-${hexes[1]}`, experiment_id: exp, timestamp_ms: 1_700_000_001_000, execution_time_ms: 250, status: "OK" })]);
  });

  it("sets and deletes tags, links traces to runs, deletes traces", async () => {
    await ingest();
    expect((await t.call("PATCH", `traces/${TRACE_ID}/tags`, { key: "reviewed", value: "yes" })).status).toBe(200);
    expect((await t.call("GET", `${V3}traces/${TRACE_ID}`)).body.trace.trace_info.tags.reviewed).toBe("yes");
    expect((await t.call("DELETE", `${V3}traces/${TRACE_ID}/tags`, { key: "reviewed" })).status).toBe(200);
    expect((await t.call("GET", `${V3}traces/${TRACE_ID}`)).body.trace.trace_info.tags.reviewed).toBeUndefined();
    expect((await t.call("DELETE", `${V3}traces/${TRACE_ID}/tags`, { key: "reviewed" })).status).toBe(404);

    const run = await createRun(t, { experimentId: exp });
    expect((await t.call("POST", "traces/link-to-run", { trace_ids: [TRACE_ID], run_id: run })).status).toBe(200);
    // A trace may be linked before its spans arrive (clients export in the background); the run must exist.
    expect((await t.call("POST", "traces/link-to-run", { trace_ids: ["tr-not-yet"], run_id: run })).status).toBe(200);
    expect((await t.call("POST", "traces/link-to-run", { trace_ids: [TRACE_ID], run_id: "f".repeat(32) })).status).toBe(404);
    const byRun = await t.call("POST", `${V3}traces/search`, { locations: [{ mlflow_experiment: { experiment_id: exp } }], filter: `trace.run_id = '${run}'` });
    expect(byRun.body.traces.map((x: { trace_id: string }) => x.trace_id)).toEqual([TRACE_ID]);

    expect((await t.call("POST", `${V3}traces/delete-traces`, { experiment_id: exp })).status).toBe(400);
    const del = await t.call("POST", `${V3}traces/delete-traces`, { experiment_id: exp, request_ids: [TRACE_ID] });
    expect(del.body).toEqual({ traces_deleted: 1 });
    expect((await t.call("GET", `${V3}traces/${TRACE_ID}`)).status).toBe(404);
    await ingest();
    expect((await t.call("POST", `traces/delete-traces`, { experiment_id: exp, max_timestamp_millis: Date.now(), max_traces: 10 })).body).toEqual({ traces_deleted: 1 });
  });

  it("runs the v2 start/end/get-info flow", async () => {
    const start = await t.call("POST", "traces", { experiment_id: exp, timestamp_ms: 1000, request_metadata: [{ key: "m", value: "1" }], tags: [{ key: "k", value: "v" }] });
    expect(start.status).toBe(200);
    const id = start.body.trace_info.request_id;
    expect(start.body.trace_info).toMatchObject({ experiment_id: exp, timestamp_ms: 1000, status: "IN_PROGRESS" });
    const end = await t.call("PATCH", `traces/${id}`, { timestamp_ms: 1500, status: "OK", tags: [{ key: "k2", value: "v2" }] });
    expect(end.body.trace_info).toMatchObject({ execution_time_ms: 500, status: "OK" });
    const info = await t.call("GET", `traces/${id}/info`);
    expect(info.body.trace_info.tags).toEqual(expect.arrayContaining([{ key: "k", value: "v" }, { key: "k2", value: "v2" }]));
    expect(info.body.trace_info.request_metadata).toEqual(expect.arrayContaining([{ key: "m", value: "1" }]));
    expect((await t.call("POST", "traces", { experiment_id: "999" })).status).toBe(404);
  });

  it("creates, reads, updates, overrides and deletes assessments, and filters by feedback", async () => {
    await ingest();
    const create = await t.call("POST", `${V3}traces/${TRACE_ID}/assessments`, {
      assessment: { assessment_name: "quality", trace_id: TRACE_ID, source: { source_type: "HUMAN", source_id: "ann" }, feedback: { value: 0.8 }, rationale: "ok" },
    });
    expect(create.status).toBe(200);
    const a = create.body.assessment;
    expect(a).toMatchObject({ assessment_name: "quality", trace_id: TRACE_ID, feedback: { value: 0.8 }, valid: true });
    expect(a.assessment_id).toMatch(/^a-[0-9a-f]{32}$/);
    expect((await t.call("GET", `${V3}traces/${TRACE_ID}/assessments/${a.assessment_id}`)).body.assessment).toEqual(a);
    const search = async (filter: string) =>
      (await t.call("POST", `${V3}traces/search`, { locations: [{ mlflow_experiment: { experiment_id: exp } }], filter })).body.traces.length;
    expect(await search("feedback.quality > 0.5")).toBe(1);
    expect(await search("feedback.quality > 0.9")).toBe(0);

    const upd = await t.call("PATCH", `${V3}traces/${TRACE_ID}/assessments/${a.assessment_id}`, { assessment: { feedback: { value: 0.95 }, assessment_name: "quality" }, update_mask: "assessmentName,feedback" });
    expect(upd.body.assessment.feedback).toEqual({ value: 0.95 });
    expect(await search("feedback.quality > 0.9")).toBe(1);

    const over = await t.call("POST", `${V3}traces/${TRACE_ID}/assessments`, {
      assessment: { assessment_name: "quality", trace_id: TRACE_ID, source: { source_type: "HUMAN", source_id: "bob" }, feedback: { value: 0.1 }, overrides: a.assessment_id },
    });
    expect(over.status).toBe(200);
    const info = await t.call("GET", `${V3}traces/${TRACE_ID}`);
    expect(info.body.trace.trace_info.assessments.map((x: { valid: boolean }) => x.valid)).toEqual([false, true]);
    expect(await search("feedback.quality > 0.9")).toBe(0);

    await t.call("DELETE", `${V3}traces/${TRACE_ID}/assessments/${over.body.assessment.assessment_id}`);
    expect((await t.call("GET", `${V3}traces/${TRACE_ID}/assessments/${over.body.assessment.assessment_id}`)).status).toBe(404);
    // Deleting the override makes the overridden assessment count again.
    expect((await t.call("GET", `${V3}traces/${TRACE_ID}/assessments/${a.assessment_id}`)).body.assessment.valid).toBe(true);
    expect((await t.call("POST", `${V3}traces/${TRACE_ID}/assessments`, { assessment: { trace_id: TRACE_ID } })).status).toBe(400);
  });

  it("serves a client-uploaded trace data file from the artifact store", async () => {
    const id = "tr-" + "4".repeat(32);
    const start = await t.call("POST", `${V3}traces`, {
      trace: { trace_info: { trace_id: id, trace_location: { mlflow_experiment: { experiment_id: exp } }, request_time: "2024-01-01T00:00:00Z", execution_duration: "1s", state: "OK" } },
    });
    expect(start.body.trace.trace_info.tags["mlflow.trace.spansLocation"]).toBeUndefined();
    const dir = path.join(t.config.artifactsDestination, exp, "traces", id, "artifacts");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "traces.json"), '{"spans": []}');
    const art = await t.app.inject({ method: "GET", url: `/ajax-api/2.0/mlflow/get-trace-artifact?request_id=${id}` });
    expect(art.statusCode).toBe(200);
    expect(art.body).toBe('{"spans": []}');
    expect((await t.app.inject({ method: "GET", url: "/ajax-api/2.0/mlflow/get-trace-artifact" })).statusCode).toBe(400);
  });

  it("computes filter correlation and trace metrics", async () => {
    for (const [i, h] of ["5", "6", "7", "8"].entries()) await ingest(otlpRequest(h.repeat(32), 1_700_000_000_000 + i * 60_000));
    await t.call("PATCH", `traces/tr-${"5".repeat(32)}/tags`, { key: "env", value: "dev" });
    const corr = await t.call("POST", `${V3}traces/calculate-filter-correlation`, { experiment_ids: [exp], filter_string1: "tags.env = 'prod'", filter_string2: "span.name = 'llm'" });
    expect(corr.status).toBe(200);
    expect(corr.body).toMatchObject({ filter1_count: 3, filter2_count: 4, joint_count: 3, total_count: 4 });
    const m = await t.call("POST", `${V3}traces/metrics`, {
      experiment_ids: [exp],
      view_type: "TRACES",
      metric_name: "latency",
      aggregations: [{ aggregation_type: "AVG" }, { aggregation_type: "PERCENTILE", percentile_value: 50 }, { aggregation_type: "COUNT" }],
    });
    expect(m.status).toBe(200);
    expect(m.body.data_points).toEqual([{ metric_name: "latency", dimensions: {}, values: { AVG: 250, P50: 250, COUNT: 4 } }]);
    expect((await t.call("POST", `${V3}traces/metrics`, { experiment_ids: [exp], metric_name: "nope", aggregations: [] })).status).toBe(400);
  });
});
