/**
 * `mloop serve` as a user runs it: real processes, models logged and registered by the real
 * mlflow client, compared with `mlflow models serve` from the compat venv.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServingClient } from "../../src/client/index.js";
import { readPredictionLog } from "../../src/serving/index.js";
import { buildScratchCli } from "../helpers/scratch-cli.js";
import { FEATURES, freePort, invoke, postRaw, makeModels, rest, startMlflowServe, startMloopServe, startTracking, type Fixtures, type Proc } from "./harness.js";

let dir: string;
let cli: { bin: string; remove(): void };
let tracking: Proc;
let fixtures: Fixtures;
let webhookPort: number;
const procs: Proc[] = [];

async function serve(args: string[], port?: number): Promise<Proc> {
  const p = await startMloopServe(cli.bin, ["--cache-dir", path.join(dir, "cache"), ...args], { cwd: dir, trackingUri: tracking.url, port });
  procs.push(p);
  return p;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-serving-"));
  cli = buildScratchCli("serving");
  webhookPort = await freePort();
  tracking = await startTracking(cli.bin, dir, `127.0.0.1:${webhookPort}`);
  fixtures = makeModels(tracking.url, dir);
}, 240_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await tracking?.stop();
  cli?.remove();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The probe rows in every request format of MLflow's scoring protocol. */
function formats(): [string, string, string][] {
  const { columns, data } = fixtures.probe;
  const records = data.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]])));
  const byColumn = Object.fromEntries(columns.map((c, i) => [c, data.map((row) => row[i])]));
  const csv = [columns.join(","), ...data.map((r) => r.join(","))].join("\n") + "\n";
  return [
    ["dataframe_split", JSON.stringify({ dataframe_split: { columns, data } }), "application/json"],
    ["dataframe_split with index", JSON.stringify({ dataframe_split: { index: [0, 1, 2, 3], columns, data } }), "application/json"],
    ["dataframe_records", JSON.stringify({ dataframe_records: records }), "application/json"],
    ["instances (records)", JSON.stringify({ instances: records }), "application/json"],
    ["inputs (records)", JSON.stringify({ inputs: records }), "application/json"],
    ["inputs (columns)", JSON.stringify({ inputs: byColumn }), "application/json"],
    ["csv", csv, "text/csv"],
    ["csv with charset", csv, "text/csv; charset=utf-8"],
  ];
}

describe("answers like mlflow models serve", () => {
  let mlflowOnnx: Proc;
  let mlflowSk: Proc;
  let mloopOnnx: Proc;
  let mloopSk: Proc;

  beforeAll(async () => {
    [mlflowOnnx, mlflowSk, mloopOnnx, mloopSk] = await Promise.all([
      startMlflowServe("models:/iris-onnx@champion", tracking.url, dir),
      startMlflowServe("models:/iris-sklearn@champion", tracking.url, dir),
      serve(["models:/iris-onnx@champion", "--log-dir", path.join(dir, "log-compat-onnx"), "--body-limit-mb", "1"]),
      serve(["models:/iris-sklearn@champion", "--log-dir", path.join(dir, "log-compat-sk"), "--workers", "1", "--body-limit-mb", "1"]),
    ]);
    procs.push(mlflowOnnx, mlflowSk);
  }, 300_000);

  it("ONNX model in-process: every format gives mlflow's predictions, which are the model's own in Python", async () => {
    for (const [name, body, type] of formats()) {
      const [ours, theirs] = await Promise.all([invoke(mloopOnnx.url, body, type), invoke(mlflowOnnx.url, body, type)]);
      expect(theirs.status, `mlflow on ${name}`).toBe(200);
      expect(ours.status, `${name}: ${JSON.stringify(ours.body)}`).toBe(200);
      expect(ours.body, name).toEqual(theirs.body);
      expect(ours.body.predictions, name).toEqual(fixtures.versions["1"]!.onnx_predictions);
      expect(ours.headers.get("x-mloop-model-version")).toBe("1");
    }
  });

  it("sklearn model in the Python worker: every format gives mlflow's predictions, which are the model's own", async () => {
    for (const [name, body, type] of formats()) {
      const [ours, theirs] = await Promise.all([invoke(mloopSk.url, body, type), invoke(mlflowSk.url, body, type)]);
      expect(theirs.status, `mlflow on ${name}`).toBe(200);
      expect(ours.status, `${name}: ${JSON.stringify(ours.body)}`).toBe(200);
      expect(ours.body, name).toEqual(theirs.body);
      expect(ours.body.predictions, name).toEqual(fixtures.versions["1"]!.sklearn_predictions);
    }
  });

  it("sklearn fast path, batched: concurrent requests share predict calls and each gets mlflow's answer; a failing one batched with good ones gets mlflow's 4xx", async () => {
    const metric = async (name: string) => {
      const text = await (await fetch(`${mloopSk.url}/metrics`)).text();
      return Number(new RegExp(`^${name.replace(/[{}"]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1]);
    };
    const fastBefore = await metric('mloop_pyfunc_requests_total{path="fast"}');
    // the JSON formats of the comparison above took the fast path, CSV MLflow's
    expect(fastBefore).toBeGreaterThan(0);
    expect(await metric('mloop_pyfunc_requests_total{path="mlflow"}')).toBeGreaterThan(0);
    const row = (i: number) => [4.3 + (i % 36) / 10, 2 + (i % 24) / 10, 1 + (i % 59) / 10, 0.1 + (i % 24) / 10];
    const record = (r: number[]) => Object.fromEntries(FEATURES.map((c, k) => [c, r[k]]));
    const bodies = Array.from({ length: 48 }, (_, i) =>
      i % 3 === 0
        ? JSON.stringify({ dataframe_split: { columns: FEATURES, data: [row(i), row(i + 7), row(i + 19)] } })
        : i % 3 === 1
          ? JSON.stringify({ dataframe_records: [record(row(i))] })
          : JSON.stringify({ inputs: Object.fromEntries(FEATURES.map((c, k) => [c, [row(i)[k]]])) }),
    );
    // a missing value passes the signature check (a double column may hold NaN) and fails inside the model
    bodies.splice(20, 0, JSON.stringify({ dataframe_split: { columns: FEATURES, data: [[5.1, null, 1.4, 0.2]] } }));
    const theirs = [];
    for (const b of bodies) theirs.push(await invoke(mlflowSk.url, b));
    const ours = await Promise.all(bodies.map((b) => invoke(mloopSk.url, b)));
    expect(theirs[20]!.status).toBe(400);
    for (let i = 0; i < bodies.length; i++) {
      expect(ours[i]!.status, bodies[i]).toBe(theirs[i]!.status);
      if (theirs[i]!.status === 200) expect(ours[i]!.body, bodies[i]).toEqual(theirs[i]!.body);
      else expect({ error_code: ours[i]!.body.error_code, message: ours[i]!.body.message }).toEqual({ error_code: theirs[i]!.body.error_code, message: theirs[i]!.body.message });
    }
    expect(await metric("mloop_pyfunc_largest_batch")).toBeGreaterThan(1);
    expect(await metric('mloop_pyfunc_requests_total{path="fast"}')).toBeGreaterThanOrEqual(fastBefore + 48);
  });

  it("a bad request is a 4xx with MLflow's error JSON, naming the column at fault", async () => {
    const row = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
    const cases: [string, string, string, number, RegExp][] = [
      ["malformed JSON", '{"dataframe_split": {"columns": [', "application/json", 400, /JSON/],
      ["unknown column", JSON.stringify({ dataframe_records: [{ ...row, petal_colour: 1 }] }), "application/json", 400, /petal_colour/],
      ["wrong type", JSON.stringify({ dataframe_records: [{ ...row, sepal_width: "wide" }] }), "application/json", 400, /sepal_width/],
      ["missing column", JSON.stringify({ dataframe_split: { columns: FEATURES.slice(1), data: [[3.5, 1.4, 0.2]] } }), "application/json", 400, /sepal_length/],
      ["empty input", JSON.stringify({ dataframe_records: [] }), "application/json", 400, /empty/],
      ["unknown format", JSON.stringify({ rows: [row] }), "application/json", 400, /dataframe_split/],
      ["unknown content type", "sepal_length\n1\n", "text/plain", 400, /content type/],
      ["CSV with a bad header", "sepal_length,sepal_width,petal_length,petal_widht\n5.1,3.5,1.4,0.2\n", "text/csv", 400, /petal_widht/],
      ["CSV with a bad value", "sepal_length,sepal_width,petal_length,petal_width\n5.1,x,1.4,0.2\n", "text/csv", 400, /sepal_width/],
      ["ragged CSV", "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5\n", "text/csv", 400, /row 1/],
      ["a list, not an object", JSON.stringify([row]), "application/json", 400, /list/],
      ["oversize body", JSON.stringify({ dataframe_records: Array.from({ length: 15_000 }, () => row) }), "application/json", 413, /limit/],
    ];
    for (const server of [mloopOnnx, mloopSk]) {
      for (const [name, body, type, status, message] of cases) {
        const res = await postRaw(server.url, body, type);
        expect(res.status, `${name}: ${JSON.stringify(res.body).slice(0, 300)}`).toBe(status);
        expect(typeof res.body.error_code, name).toBe("string");
        expect(res.body.message, name).toMatch(message);
      }
      const after = await invoke(server.url, formats()[0]![1]);
      expect(after.status).toBe(200);
    }
  });

  it("/ping, /health, /version and /metrics answer", async () => {
    for (const route of ["/ping", "/health", "/version"]) expect((await fetch(`${mloopOnnx.url}${route}`)).status).toBe(200);
    const metrics = await (await fetch(`${mloopOnnx.url}/metrics`)).text();
    expect(metrics).toMatch(/mloop_serving_requests_total\{model="iris-onnx",version="1",role="champion",status="200"\} \d+/);
    expect(metrics).toMatch(/mloop_serving_request_duration_seconds_bucket/);
    expect(metrics).toMatch(/mloop_prediction_log_lag_seconds/);
  });
});

describe("rollout", () => {
  it("follows the alias under load: two moves, zero failed requests, then every answer names the new version", async () => {
    const server = await serve(["models:/iris-onnx@champion", "--log-dir", path.join(dir, "log-swap"), "--poll-interval", "0.3"], webhookPort);
    // The registry tells the server at once through a webhook; polling is the fallback.
    await rest(tracking.url, "POST", "webhooks", {
      name: "serve",
      url: `${server.url}/webhooks/registry`,
      events: [{ entity: "model_version_alias", action: "created" }],
    });
    const body = formats()[0]![1];
    let failures = 0;
    let running = true;
    const seen: { version: string; at: number }[] = [];
    const client = async () => {
      while (running) {
        const at = Date.now();
        const res = await invoke(server.url, body).catch(() => ({ status: 0, headers: new Headers(), body: null }));
        if (res.status !== 200) failures++;
        seen.push({ version: res.headers.get("x-mloop-model-version") ?? "?", at });
      }
    };
    const load = Array.from({ length: 8 }, client);
    const waitFor = async (version: string) => {
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        if ((await invoke(server.url, body)).headers.get("x-mloop-model-version") === version) return Date.now();
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`never switched to version ${version}`);
    };
    await new Promise((r) => setTimeout(r, 300));
    await rest(tracking.url, "POST", "registered-models/alias", { name: "iris-onnx", alias: "champion", version: "2" });
    const switched2 = await waitFor("2");
    await new Promise((r) => setTimeout(r, 300));
    const moved1 = Date.now();
    await rest(tracking.url, "POST", "registered-models/alias", { name: "iris-onnx", alias: "champion", version: "1" });
    const switched1 = await waitFor("1");
    await new Promise((r) => setTimeout(r, 300));
    running = false;
    await Promise.all(load);
    expect(failures).toBe(0);
    expect(seen.length).toBeGreaterThan(50);
    expect(seen.filter((s) => s.version === "2").length).toBeGreaterThan(0);
    // Once a response named the new version, no request sent after it gets the old one.
    expect(seen.filter((s) => s.at > switched2 && s.at < moved1 && s.version !== "2")).toEqual([]);
    expect(seen.filter((s) => s.at > switched1 && s.version !== "1")).toEqual([]);
    const st = await new ServingClient({ url: server.url }).status();
    expect(st.models[0]!.swaps).toBe(2);
  }, 90_000);

  it("canary: the challenger's share is within 3 points over 10k requests, and a sticky key keeps its side", async () => {
    const server = await serve(["models:/iris-onnx@champion", "--challenger", "models:/iris-onnx/2", "--canary-share", "0.2", "--sticky-header", "X-User-Id", "--log-dir", path.join(dir, "log-canary")]);
    const body = formats()[0]![1];
    const counts: Record<string, number> = {};
    let next = 0;
    const client = async () => {
      while (next < 10_000) {
        next++;
        const res = await invoke(server.url, body);
        expect(res.status).toBe(200);
        const v = res.headers.get("x-mloop-model-version")!;
        counts[v] = (counts[v] ?? 0) + 1;
        expect(res.body.predictions).toEqual(fixtures.versions[v]!.onnx_predictions);
      }
    };
    await Promise.all(Array.from({ length: 16 }, client));
    const share = (counts["2"] ?? 0) / 10_000;
    expect(share).toBeGreaterThan(0.17);
    expect(share).toBeLessThan(0.23);
    for (let user = 0; user < 50; user++) {
      const versions = new Set<string>();
      for (let i = 0; i < 4; i++) versions.add((await invoke(server.url, body, "application/json", { "x-user-id": `user-${user}` })).headers.get("x-mloop-model-version")!);
      expect(versions.size, `user-${user}`).toBe(1);
    }
    const st = await new ServingClient({ url: server.url }).status();
    expect(st.policy).toEqual({ mode: "canary", challenger_share: 0.2, sticky_header: "x-user-id" });
    expect(st.models.map((m) => [m.role, m.version])).toEqual([["champion", "1"], ["challenger", "2"]]);
  }, 120_000);

  it("shadow: the champion answers every request, the challenger's answers are only logged", async () => {
    const logDir = path.join(dir, "log-shadow");
    const server = await serve(["models:/iris-onnx@champion", "--challenger", "models:/iris-onnx/2", "--traffic-mode", "shadow", "--log-dir", logDir]);
    const body = formats()[0]![1];
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) {
      const res = await invoke(server.url, body, "application/json", { "x-request-id": `shadow-${i}` });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-mloop-model-version")).toBe("1");
      expect(res.body.predictions).toEqual(fixtures.versions["1"]!.onnx_predictions);
      ids.push(res.headers.get("x-request-id")!);
    }
    expect(ids[0]).toBe("shadow-0");
    await new Promise((r) => setTimeout(r, 300));
    const log = readPredictionLog(logDir).predictions;
    const shadow = log.filter((r) => r.role === "shadow");
    expect(new Set(shadow.map((r) => r.request_id))).toEqual(new Set(ids));
    expect(shadow.every((r) => r.version === "2")).toBe(true);
    expect(shadow[0]!.predictions).toEqual(fixtures.versions["2"]!.onnx_predictions);
    expect(fixtures.versions["2"]!.onnx_predictions).not.toEqual(fixtures.versions["1"]!.onnx_predictions);
  }, 60_000);
});

describe("durability and workers", () => {
  it("kill -9 mid-traffic: every answered prediction and every acknowledged feedback is in the log", async () => {
    const logDir = path.join(dir, "log-crash");
    const port = await freePort();
    const server = await serve(["models:/iris-onnx@champion", "--log-dir", logDir], port);
    const sdk = new ServingClient({ url: server.url });
    const answered: string[] = [];
    const acked: string[] = [];
    let stop = false;
    const client = async (n: number) => {
      for (let i = 0; !stop; i++) {
        try {
          const res = await sdk.predict({ dataframe_split: fixtures.probe }, { requestId: `c${n}-${i}` });
          answered.push(res.requestId!);
          if (i % 10 === 0) {
            await sdk.sendFeedback({ requestId: res.requestId!, label: 1 });
            acked.push(res.requestId!);
          }
        } catch {
          return; // the server is gone
        }
      }
    };
    const load = Array.from({ length: 8 }, (_, n) => client(n));
    await new Promise((r) => setTimeout(r, 1500));
    await server.kill();
    stop = true;
    await Promise.all(load);
    expect(answered.length).toBeGreaterThan(100);
    const { predictions, feedback } = readPredictionLog(logDir);
    const logged = new Set(predictions.map((p) => p.request_id));
    expect(answered.filter((id) => !logged.has(id))).toEqual([]);
    const labelled = new Set(feedback.map((f) => f.request_id));
    expect(acked.filter((id) => !labelled.has(id))).toEqual([]);
    // A restarted server appends to the same folder.
    const again = await serve(["models:/iris-onnx@champion", "--log-dir", logDir], port);
    const res = await new ServingClient({ url: again.url }).predict({ dataframe_split: fixtures.probe }, { requestId: "after-restart" });
    expect(res.predictions).toEqual(fixtures.versions["1"]!.onnx_predictions);
    await again.stop();
    expect(readPredictionLog(logDir).predictions.some((p) => p.request_id === "after-restart")).toBe(true);
  }, 60_000);

  it("a Python worker killed mid-request: its requests get a retryable 503, never a hang, and a new worker serves", async () => {
    const server = await serve(["models:/iris-sklearn/1", "--workers", "1", "--log-dir", path.join(dir, "log-worker")]);
    const body = formats()[0]![1];
    const workerPid = () => {
      const out = spawnSync("pgrep", ["-P", String(server.child.pid)], { encoding: "utf8" }).stdout.trim();
      return Number(out.split("\n")[0]);
    };
    const first = workerPid();
    expect(first).toBeGreaterThan(0);
    const inflight = Array.from({ length: 20 }, () => invoke(server.url, body));
    process.kill(first, "SIGKILL");
    const results = await Promise.all(inflight);
    for (const r of results) {
      expect([200, 503]).toContain(r.status);
      if (r.status === 503) expect(r.body.error_code).toBe("TEMPORARILY_UNAVAILABLE");
    }
    const deadline = Date.now() + 60_000;
    let ok = false;
    while (!ok && Date.now() < deadline) {
      ok = (await invoke(server.url, body)).status === 200;
      if (!ok) await new Promise((r) => setTimeout(r, 200));
    }
    expect(ok).toBe(true);
    expect(workerPid()).not.toBe(first);
    expect((await new ServingClient({ url: server.url }).status()).worker_restarts).toBe(1);
  }, 90_000);

  it("mloop predict scores a CSV file to a predictions file; mloop serve status prints the table", async () => {
    const csv = path.join(dir, "batch.csv");
    const rows = Array.from({ length: 25 }, () => fixtures.probe.data).flat();
    fs.writeFileSync(csv, [FEATURES.join(","), ...rows.map((r) => r.join(","))].join("\n") + "\n");
    const outFile = path.join(dir, "predictions.json");
    const res = spawnSync(process.execPath, [cli.bin, "predict", "models:/iris-onnx/1", "--input", csv, "--output", outFile, "--batch-size", "30", "--tracking-uri", tracking.url, "--cache-dir", path.join(dir, "cache")], { encoding: "utf8" });
    expect(res.status, res.stderr).toBe(0);
    const preds = JSON.parse(fs.readFileSync(outFile, "utf8")).predictions;
    expect(preds).toEqual(Array.from({ length: 25 }, () => fixtures.versions["1"]!.onnx_predictions).flat());
    const bad = spawnSync(process.execPath, [cli.bin, "predict", "models:/iris-onnx/1", "--input", path.join(dir, "nope.csv"), "--tracking-uri", tracking.url], { encoding: "utf8" });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    const server = procs.find((p) => p.child.exitCode === null && p.output().includes("iris-onnx"))!;
    const st = spawnSync(process.execPath, [cli.bin, "serve", "status", "--url", server.url], { encoding: "utf8" });
    expect(st.status, st.stderr).toBe(0);
    expect(st.stdout).toMatch(/ROLE\s+MODEL\s+VERSION/);
    expect(st.stdout).toMatch(/champion\s+iris-onnx/);
  }, 60_000);
});
