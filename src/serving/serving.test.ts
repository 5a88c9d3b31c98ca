import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { buildServingApp } from "../api/index.js";
import { loadServeConfig } from "../config.js";
import { MlflowError } from "../errors.js";
import { fastRows, makePolicy, parseModelUri, parseScoringRequest, readPredictionLog, routesToChallenger, SegmentLog, ServingService, stickyPoint, readSegmentLog, type Schema } from "./index.js";

const MODEL = path.join(import.meta.dirname, "testdata", "iris-onnx");
const COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"];
const schema: Schema = { kind: "columns", columns: COLUMNS.map((name) => ({ name, type: "double", required: true })) };

function errorOf(fn: () => unknown): MlflowError {
  try {
    fn();
  } catch (err) {
    if (err instanceof MlflowError) return err;
    throw err;
  }
  throw new Error("no error");
}

describe("scoring request formats", () => {
  const row = [5.1, 3.5, 1.4, 0.2];
  const record = Object.fromEntries(COLUMNS.map((c, i) => [c, row[i]]));
  it.each([
    ["dataframe_split", JSON.stringify({ dataframe_split: { columns: COLUMNS, data: [row] } }), "application/json"],
    ["dataframe_records", JSON.stringify({ dataframe_records: [record] }), "application/json"],
    ["instances", JSON.stringify({ instances: [record] }), "application/json"],
    ["inputs", JSON.stringify({ inputs: Object.fromEntries(COLUMNS.map((c, i) => [c, [row[i]]])) }), "application/json; charset=utf-8"],
    ["csv", `${COLUMNS.join(",")}\r\n${row.join(",")}\r\n`, "text/csv"],
  ])("%s becomes the same table", (_name, body, type) => {
    const { input } = parseScoringRequest(body, type, schema);
    expect(input).toEqual({ kind: "frame", columns: COLUMNS, data: row.map((v) => [v]), rows: 1 });
  });

  it("CSV quotes hold commas, quotes and newlines", () => {
    const { input } = parseScoringRequest('a,b\n"x, ""y""","line\nbreak"\n', "text/csv");
    expect(input).toEqual({ kind: "frame", columns: ["a", "b"], data: [['x, "y"'], ["line\nbreak"]], rows: 1 });
  });

  it("nested lists without a column signature are a tensor; params are kept", () => {
    const parsed = parseScoringRequest(JSON.stringify({ inputs: [[1, 2], [3, 4]], params: { k: 1 } }), "application/json");
    expect(parsed.input).toEqual({ kind: "tensor", value: [[1, 2], [3, 4]] });
    expect(parsed.params).toEqual({ k: 1 });
    expect(errorOf(() => parseScoringRequest(JSON.stringify({ inputs: [[1, 2], [3]] }), "application/json")).message).toMatch(/ragged/);
  });

  it.each([
    ["unknown column", { dataframe_records: [{ ...record, colour: 1 }] }, /'colour'/],
    ["missing column", { dataframe_split: { columns: COLUMNS.slice(1), data: [row.slice(1)] } }, /sepal_length/],
    ["wrong type", { dataframe_records: [{ ...record, petal_width: "thin" }] }, /column 'petal_width' expects double/],
    ["empty", { dataframe_split: { columns: COLUMNS, data: [] } }, /empty/],
    ["two formats", { dataframe_records: [record], inputs: [record] }, /exactly one/],
    ["extra field", { dataframe_records: [record], rows: 1 }, /Unknown field 'rows'/],
    ["short row", { dataframe_split: { columns: COLUMNS, data: [[1]] } }, /row 0 has 1 values/],
    ["duplicate column", { dataframe_split: { columns: ["a", "a"], data: [[1, 2]] } }, /twice/],
  ])("%s is a BAD_REQUEST naming it", (_name, doc, message) => {
    const err = errorOf(() => parseScoringRequest(JSON.stringify(doc), "application/json", schema));
    expect(err.errorCode).toBe("BAD_REQUEST");
    expect(err.message).toMatch(message);
  });

  it("refuses other content types and charsets", () => {
    expect(errorOf(() => parseScoringRequest("x", "text/plain")).message).toMatch(/content types/);
    expect(errorOf(() => parseScoringRequest("x", "application/json; charset=latin-1")).message).toMatch(/UTF-8/);
    expect(errorOf(() => parseScoringRequest("x", undefined)).status).toBe(400);
  });
});

describe("model URIs", () => {
  it("parses every form mlflow models serve accepts", () => {
    expect(parseModelUri("models:/fraud@champion")).toEqual({ kind: "alias", name: "fraud", alias: "champion" });
    expect(parseModelUri("models:/fraud/3")).toEqual({ kind: "version", name: "fraud", version: "3" });
    expect(parseModelUri("models:/m-0123abcd")).toEqual({ kind: "logged", modelId: "m-0123abcd" });
    expect(parseModelUri("runs:/abc123/model")).toEqual({ kind: "run", runId: "abc123", path: "model" });
    expect(parseModelUri("./model", "/srv")).toEqual({ kind: "local", dir: "/srv/model" });
    expect(errorOf(() => parseModelUri("models:/fraud/Production")).message).toMatch(/alias/);
    expect(errorOf(() => parseModelUri("s3://bucket/model")).message).toMatch(/unsupported/);
  });
});

describe("the pyfunc fast path's rows", () => {
  const request = (body: string, contentType = "application/json") => {
    const parsed = parseScoringRequest(body, contentType, schema);
    return { input: parsed.input, body, contentType, params: parsed.params };
  };
  const split = (columns: string[], data: unknown[][]) => JSON.stringify({ dataframe_split: { columns, data } });

  it("are float64 column by column in the worker's order, a missing value NaN", () => {
    const reordered = [COLUMNS[3]!, COLUMNS[0]!, COLUMNS[1]!, COLUMNS[2]!];
    const rows = fastRows(request(split(reordered, [[0.2, 5.1, 3.5, 1.4], [null, 6, 3, 4.5]])), COLUMNS);
    expect(Array.from(rows!)).toEqual([5.1, 6, 3.5, 3, 1.4, 4.5, 0.2, NaN]);
  });

  it("are refused (MLflow's own code scores the request) whenever the frame might differ from pandas'", () => {
    const row = [5.1, 3.5, 1.4, 0.2];
    expect(fastRows(request(`${COLUMNS.join(",")}\n${row.join(",")}\n`, "text/csv"), COLUMNS)).toBeUndefined();
    expect(fastRows(request(JSON.stringify({ dataframe_split: { columns: COLUMNS, data: [row] }, params: { k: 1 } })), COLUMNS)).toBeUndefined();
    expect(fastRows(request(split(COLUMNS, [[5.1, 3.5, 1.4, 2 ** 60]])), COLUMNS)).toBeUndefined();
    expect(fastRows(request(split(COLUMNS, [[5.1, 3.5, 1.4, 0.2]]).replace("1.4", "-0")), COLUMNS)).toBeUndefined();
    const loose = (body: string) => ({ input: parseScoringRequest(body, "application/json").input, body, contentType: "application/json" });
    expect(fastRows(loose(split(COLUMNS.slice(0, 3), [[5.1, 3.5, 1.4]])), COLUMNS)).toBeUndefined();
    expect(fastRows(loose(split(COLUMNS.slice(0, 3).concat("other"), [[5.1, 3.5, 1.4, 0.2]])), COLUMNS)).toBeUndefined();
    expect(fastRows(loose(split(COLUMNS, [[5.1, "3.5", 1.4, 0.2]])), COLUMNS)).toBeUndefined();
    expect(fastRows(request(split(COLUMNS, [row])), COLUMNS)).toBeDefined();
  });
});

describe("traffic policy", () => {
  it("a sticky key always lands on the same side; keys spread by the share", () => {
    const policy = makePolicy("canary", 0.3, "X-User", true);
    expect(policy.stickyHeader).toBe("x-user");
    let challenger = 0;
    for (let i = 0; i < 10_000; i++) {
      const key = `user-${i}`;
      const side = routesToChallenger(policy, key);
      expect(routesToChallenger(policy, key)).toBe(side);
      if (side) challenger++;
    }
    expect(Math.abs(challenger / 10_000 - 0.3)).toBeLessThan(0.03);
    expect(stickyPoint("a")).toBe(stickyPoint("a"));
  });

  it("shadow never routes answers to the challenger; bad policies stop with a message", () => {
    expect(routesToChallenger(makePolicy("shadow", undefined, undefined, true), undefined, () => 0)).toBe(false);
    expect(() => makePolicy("canary", 1.5, undefined, true)).toThrow(/between 0 and 1/);
    expect(() => makePolicy("shadow", undefined, undefined, false)).toThrow(/challenger/);
    expect(() => makePolicy("blue-green", undefined, undefined, true)).toThrow(/canary or shadow/);
  });
});

describe("segment log", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-seglog-"));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("every acknowledged line is in the files, in order, across segments", async () => {
    const log = new SegmentLog({ dir: path.join(dir, "a"), prefix: "p", maxSegmentBytes: 2000 });
    const acks: boolean[] = [];
    for (let i = 0; i < 250; i++) acks.push(await log.append(JSON.stringify({ i })));
    acks.push(...(await Promise.all(Array.from({ length: 250 }, (_, i) => log.append(JSON.stringify({ i: 250 + i }))))));
    expect(acks.every(Boolean)).toBe(true);
    await log.close();
    expect(log.snapshot().segments).toBeGreaterThan(2);
    expect([...readSegmentLog<{ i: number }>(path.join(dir, "a"), "p")].map((r) => r.i)).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  it("past its memory bound the drop policy drops and counts, never blocks", async () => {
    const log = new SegmentLog({ dir: path.join(dir, "b"), prefix: "p", maxPendingBytes: 64, overflow: "drop" });
    const acks = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(JSON.stringify({ i, pad: "x".repeat(30) }))));
    await log.close();
    const dropped = acks.filter((a) => !a).length;
    expect(dropped).toBeGreaterThan(0);
    expect(log.snapshot().dropped).toBe(dropped);
    expect([...readSegmentLog(path.join(dir, "b"), "p")]).toHaveLength(50 - dropped);
  });

  it("the wait policy holds callers until there is room", async () => {
    const log = new SegmentLog({ dir: path.join(dir, "c"), prefix: "p", maxPendingBytes: 64, overflow: "wait", maxWaitMs: 5000 });
    const acks = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(JSON.stringify({ i, pad: "x".repeat(20) }))));
    await log.close();
    expect(acks.every(Boolean)).toBe(true);
    expect([...readSegmentLog(path.join(dir, "c"), "p")]).toHaveLength(50);
  });
});

describe("the scoring app (inject)", () => {
  let app: FastifyInstance;
  let logDir: string;
  const body = JSON.stringify({ dataframe_split: { columns: COLUMNS, data: [[5.1, 3.5, 1.4, 0.2]] } });

  beforeAll(async () => {
    logDir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-serve-app-"));
    const config = loadServeConfig({ modelUri: MODEL, logDir, webhookSecret: "s3cret", bodyLimitMb: 0.01 }, {});
    const service = await ServingService.start({
      modelUri: MODEL,
      policy: makePolicy(undefined, undefined, undefined, false),
      cacheDir: path.join(logDir, "cache"),
      logDir,
      logSampleRate: 1,
      logOverflow: "wait",
      logMaxPendingBytes: 1 << 20,
      logFsyncIntervalMs: 50,
      pollIntervalMs: 0,
      python: "python3",
      workers: 1,
      requestTimeoutMs: 10_000,
      onnxRuntime: "node",
    });
    app = await buildServingApp(config, { service });
  });
  afterAll(async () => {
    await app.close();
    fs.rmSync(logDir, { recursive: true, force: true });
  });

  it("answers with predictions, the version, and the request id it logged", async () => {
    const res = await app.inject({ method: "POST", url: "/invocations", payload: body, headers: { "content-type": "application/json", "x-request-id": "req-1" } });
    expect(res.statusCode).toBe(200);
    expect(res.headers["x-mloop-model-version"]).toBe("local");
    expect(res.headers["x-request-id"]).toBe("req-1");
    const [pred] = res.json().predictions;
    expect(pred.output_label).toBe(0);
    expect(pred.i0 + pred.i1 + pred.i2).toBeCloseTo(1, 5);
    const { predictions } = readPredictionLog(logDir);
    const rec = predictions.find((p) => p.request_id === "req-1")!;
    expect(rec).toMatchObject({ model: "iris-onnx", version: "local", role: "champion", status: 200, inputs: { columns: COLUMNS, data: [[5.1, 3.5, 1.4, 0.2]] } });
    expect(rec.predictions).toEqual(res.json().predictions);
  });

  it("bad requests are 4xx with MLflow's error JSON, and carry the version too", async () => {
    const cases: [string, string, number][] = [
      ["{nope", "application/json", 400],
      [JSON.stringify({ dataframe_split: { columns: ["x"], data: [[1]] } }), "application/json", 400],
      ["x".repeat(20_000), "application/json", 413],
      ["a,b\n1,2\n", "text/csv", 400],
      ["", "application/json", 400],
    ];
    for (const [payload, type, status] of cases) {
      const res = await app.inject({ method: "POST", url: "/invocations", payload, headers: { "content-type": type } });
      expect(res.statusCode, payload.slice(0, 40)).toBe(status);
      expect(Object.keys(res.json()).sort()).toEqual(["error_code", "message"]);
      expect(res.headers["x-mloop-model-version"]).toBe("local");
    }
    const notFound = await app.inject({ method: "GET", url: "/nope" });
    expect(notFound.statusCode).toBe(404);
    expect(notFound.json().error_code).toBe("ENDPOINT_NOT_FOUND");
  });

  it("feedback: one or many labels, durable; malformed feedback is a 400", async () => {
    const one = await app.inject({ method: "POST", url: "/feedback", payload: { request_id: "req-1", label: 0 } });
    expect(one.json()).toEqual({ accepted: 1 });
    const many = await app.inject({ method: "POST", url: "/feedback", payload: { feedback: [{ request_id: "a", label: [1, 2] }, { request_id: "b", label: "cat" }] } });
    expect(many.json()).toEqual({ accepted: 2 });
    for (const payload of ['{"label": 1}', '{"request_id": "x"}', "[]", "{bad", '{"feedback": [1]}']) {
      const res = await app.inject({ method: "POST", url: "/feedback", payload, headers: { "content-type": "application/json" } });
      expect(res.statusCode, payload).toBe(400);
      expect(res.json().error_code).toMatch(/INVALID_PARAMETER_VALUE|MALFORMED_REQUEST/);
    }
    expect(readPredictionLog(logDir).feedback.map((f) => [f.request_id, f.label])).toEqual([
      ["req-1", 0],
      ["a", [1, 2]],
      ["b", "cat"],
    ]);
  });

  it("status, metrics, ping; the registry webhook needs a valid signature when a secret is set", async () => {
    const st = (await app.inject({ method: "GET", url: "/status" })).json();
    expect(st.models[0]).toMatchObject({ role: "champion", name: "iris-onnx", version: "local", runtime: "onnx", share: 1 });
    expect(st.models[0].requests).toBeGreaterThan(0);
    const metrics = await app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.headers["content-type"]).toMatch(/text\/plain/);
    expect(metrics.body).toMatch(/mloop_serving_requests_total\{model="iris-onnx",version="local",role="champion",status="200"\}/);
    expect((await app.inject({ method: "GET", url: "/ping" })).statusCode).toBe(200);
    const unsigned = await app.inject({ method: "POST", url: "/webhooks/registry", payload: { entity: "model_version_alias" } });
    expect(unsigned.statusCode).toBe(401);
    expect(unsigned.json().error_code).toBe("UNAUTHENTICATED");
  });

  it("the traffic route refuses bad input and a split without a challenger with MLflow's error JSON", async () => {
    const post = (payload: unknown) => app.inject({ method: "POST", url: "/traffic", headers: { "content-type": "application/json" }, payload: JSON.stringify(payload) });
    for (const [payload, message] of [
      [{ mode: "blue" }, `'mode' must be canary or shadow, got "blue"`],
      [{ mode: "canary" }, "'share' must be a number between 0 and 1 in canary mode, got null"],
      [{ mode: "canary", share: -0.1 }, "'share' must be a number between 0 and 1 in canary mode, got -0.1"],
      [{ mode: "shadow", colour: 1 }, "unknown field 'colour' (expected mode, share)"],
    ] as const) {
      const res = await post(payload);
      expect([res.statusCode, res.json()]).toEqual([400, { error_code: "INVALID_PARAMETER_VALUE", message }]);
    }
    const none = await post({ mode: "shadow" });
    expect([none.statusCode, none.json().error_code]).toEqual([400, "INVALID_STATE"]);
    expect(none.json().message).toMatch(/needs a challenger model/);
    expect((await app.inject({ method: "GET", url: "/status" })).json().policy.mode).toBe("single");
  });
});
