/**
 * End to end: a model served by `src/serving` writes its prediction log; the
 * reference profile is stored with the model version through the tracking
 * server's routes (and `mloop monitor profile`); `mloop monitor start --once`
 * reads the log window by window, logs the monitoring run's metrics to the
 * tracking server and fires the alert webhook; the drift metrics cross the
 * threshold in the first window after the shift and not before, and live
 * accuracy drops when the labels change. Then the bad inputs a monitor must
 * survive, and the monitor's own HTTP app.
 */
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildMonitorApp, buildServingApp } from "../api/index.js";
import { loadServeConfig } from "../config.js";
import { signPayload, SIGNATURE_HEADER, DELIVERY_ID_HEADER, TIMESTAMP_HEADER } from "../registry/index.js";
import { makePolicy, ServingService } from "../serving/index.js";
import { listenTestApp, runCli } from "../../test/helpers/cli.js";
import type { TestApp } from "../../test/helpers/app.js";
import { buildProfile, Monitor, MonitorMetrics, parseAlertRule, tableFromSplit } from "./index.js";
import { normal, rng } from "./testdata/random.js";

const MODEL = path.join(import.meta.dirname, "../serving/testdata/iris-onnx");
const COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"];
// per class: means of the four features (iris-like), sd 0.3
const MEANS = [
  [5.0, 3.4, 1.5, 0.25],
  [5.9, 2.8, 4.3, 1.3],
  [6.6, 3.0, 5.5, 2.0],
];

function rows(r: () => number, n: number, shift = 0): number[][] {
  return Array.from({ length: n }, () => {
    const k = Math.floor(r() * 3);
    return MEANS[k]!.map((m, j) => Math.round((normal(r, m, 0.3) + (j >= 2 ? shift : shift / 2)) * 100) / 100);
  });
}

describe("monitoring a served model end to end", () => {
  let server: TestApp & { uri: string };
  let serving: FastifyInstance;
  let dir: string;
  let logDir: string;
  let hook: http.Server;
  let hookUrl: string;
  const deliveries: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  let runId: string;
  const r = rng(42);
  const reference = rows(r, 300);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-monitor-e2e-"));
    logDir = path.join(dir, "log");
    server = await listenTestApp();
    const service = await ServingService.start({
      modelUri: MODEL,
      policy: makePolicy(undefined, undefined, undefined, false),
      cacheDir: path.join(dir, "cache"),
      logDir,
      logSampleRate: 1,
      logOverflow: "wait",
      logMaxPendingBytes: 1 << 20,
      logFsyncIntervalMs: 20,
      pollIntervalMs: 0,
      python: "python3",
      workers: 1,
      requestTimeoutMs: 10_000,
      onnxRuntime: "node",
    });
    serving = await buildServingApp(loadServeConfig({ modelUri: MODEL, logDir }, {}), { service });
    hook = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        deliveries.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
        res.end("ok");
      });
    });
    await new Promise<void>((ok) => hook.listen(0, "127.0.0.1", ok));
    hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`;

    // a registered model version whose files live in a run's artifacts
    const run = await server.call("POST", "runs/create", { experiment_id: "0" });
    runId = run.body.run.info.run_id as string;
    expect((await server.call("POST", "registered-models/create", { name: "iris" })).status).toBe(200);
    expect((await server.call("POST", "model-versions/create", { name: "iris", source: `runs:/${runId}/model`, run_id: runId })).status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await serving?.close();
    await server?.close();
    await new Promise<void>((ok) => hook.close(() => ok()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Sends `n` rows in requests of 20 rows; labels each request (the model's answer, or a wrong class for `wrongShare` of rows). */
  async function traffic(data: number[][], wrongShare: number): Promise<void> {
    const feedback: { request_id: string; label: number[] }[] = [];
    for (let i = 0; i < data.length; i += 20) {
      const id = `req-${Math.round(r() * 1e12)}`;
      const res = await serving.inject({ method: "POST", url: "/invocations", payload: { dataframe_split: { columns: COLUMNS, data: data.slice(i, i + 20) } }, headers: { "x-request-id": id } });
      expect(res.statusCode).toBe(200);
      const labels = (res.json().predictions as { output_label: number }[]).map((p) => (r() < wrongShare ? (p.output_label + 1) % 3 : p.output_label));
      feedback.push({ request_id: id, label: labels });
    }
    const fb = await serving.inject({ method: "POST", url: "/feedback", payload: { feedback } });
    expect(fb.json()).toEqual({ accepted: feedback.length });
    await new Promise((ok) => setTimeout(ok, 60)); // past the log's fsync interval
  }

  it("stores the reference profile with the model version, through the route and the CLI", async () => {
    const created = await server.call("POST", "/api/2.0/mloop/monitoring/profiles/create", { name: "iris", version: "1", data: { columns: COLUMNS, data: reference } });
    expect(created.status).toBe(200);
    expect(created.body.profile.rows).toBe(300);
    expect(created.body.profile.columns.map((c: { kind: string }) => c.kind)).toEqual(["numerical", "numerical", "numerical", "numerical"]);
    const csv = path.join(dir, "ref.csv");
    fs.writeFileSync(csv, [COLUMNS.join(","), ...reference.map((row) => row.join(","))].join("\n"));
    const cli = await runCli("monitor", "profile", "models:/iris/1", "--reference", csv, "--tracking-uri", server.uri);
    expect(cli.stderr).toBe("");
    expect(cli.stdout).toMatch(/stored the reference profile of iris version 1: 300 rows/);
    const got = await server.call("GET", "/api/2.0/mloop/monitoring/profiles/get?name=iris&version=1");
    expect(got.status).toBe(200);
    expect(got.body.profile.format).toBe("mloop-reference-profile");
    const missing = await server.call("GET", "/api/2.0/mloop/monitoring/profiles/get?name=iris&version=7");
    expect(missing.status).toBe(404);

    // the training dataset the run logged (mlflow.log_input with a local file source)
    const logged = await server.call("POST", "runs/log-inputs", {
      run_id: runId,
      datasets: [{ dataset: { name: "iris-train", digest: "d1", source_type: "local", source: JSON.stringify({ uri: csv }) }, tags: [{ key: "mlflow.data.context", value: "training" }] }],
    });
    expect(logged.status).toBe(200);
    const fromRun = await runCli("monitor", "profile", "models:/iris/1", "--from-run-dataset", "--tracking-uri", server.uri, "--output", path.join(dir, "from-run.json"));
    expect(fromRun.stderr).toBe("");
    expect(JSON.parse(fs.readFileSync(path.join(dir, "from-run.json"), "utf8")).source).toMatch(/dataset 'iris-train' of run/);
  });

  it("drift crosses the threshold in the first window after the shift, accuracy drops, the webhook fires once", async () => {
    const args = ["monitor", "start", "models:/iris/1", "--log-dir", logDir, "--window-rows", "200", "--once", "--json", "--tracking-uri", server.uri];
    const alerts = ["--alert", "drift_share>=0.5", "--alert", "accuracy<0.8,clear=0.9", "--webhook-url", hookUrl, "--webhook-allow", new URL(hookUrl).host, "--webhook-secret", "s3cret"];
    // three windows from the training distribution, labels agreeing with the model
    await traffic(rows(r, 600), 0);
    const first = await runCli(...args, ...alerts);
    expect(first.stderr).toBe("");
    const w1 = first.stdout.trim().split("\n").map((l) => JSON.parse(l) as { seq: number; values: Record<string, number>; alerts: unknown[] });
    expect(w1.map((w) => w.seq)).toEqual([1, 2, 3]);
    for (const w of w1) {
      expect(w.values.drift_share).toBeLessThan(0.5);
      expect(w.values.accuracy).toBe(1);
      expect(w.values.labelled_rows).toBe(200);
      expect(w.alerts).toEqual([]);
    }
    // then two shifted windows, half the labels disagreeing: the monitor resumes at window 4
    const w2Start = Date.now();
    await new Promise((ok) => setTimeout(ok, 5));
    await traffic(rows(r, 400, 1.5), 0.5);
    const second = await runCli(...args, ...alerts);
    expect(second.stderr).toBe("");
    const w2 = second.stdout.trim().split("\n").map((l) => JSON.parse(l) as { seq: number; values: Record<string, number>; alerts: { rule: string; state: string }[] });
    expect(w2.map((w) => w.seq)).toEqual([4, 5]);
    expect(w2[0]!.values.drift_share).toBeGreaterThanOrEqual(0.5);
    expect(w2[0]!.values.dataset_drift).toBe(1);
    expect(w2[0]!.values.accuracy).toBeLessThan(0.8);
    expect(w2[0]!.alerts.map((a) => `${a.rule} ${a.state}`).sort()).toEqual(["accuracy<0.8,clear=0.9 fired", "drift_share>=0.5 fired"]);
    expect(w2[1]!.alerts).toEqual([]); // still breached: no second alert for the same crossing
    expect(w2[0]!.values.prediction_drift).toBe(1);

    // a reference taken from the log itself: the first three windows' requests, predictions included
    const first600 = path.join(dir, "from-log.json");
    const fromLog = await runCli("monitor", "profile", "--from-log", logDir, "--until", String(w2Start), "--output", first600);
    expect(fromLog.stderr).toBe("");
    const logProfile = JSON.parse(fs.readFileSync(first600, "utf8"));
    expect(logProfile.rows).toBe(600);
    expect(Object.keys(logProfile.columns)).toEqual([...COLUMNS, "prediction"]);

    // the webhook got exactly the two events, signed as the registry signs
    expect(deliveries).toHaveLength(2);
    for (const d of deliveries) {
      const sig = signPayload("s3cret", String(d.headers[DELIVERY_ID_HEADER.toLowerCase()]), String(d.headers[TIMESTAMP_HEADER.toLowerCase()]), d.body);
      expect(d.headers[SIGNATURE_HEADER.toLowerCase()]).toBe(sig);
      expect(JSON.parse(d.body).data.window.seq).toBe(4);
    }

    // the monitoring run's metrics are in the tracking server, searchable
    const exp = await server.call("GET", "experiments/get-by-name?experiment_name=mloop-monitoring");
    const runs = await server.call("POST", "runs/search", { experiment_ids: [exp.body.experiment.experiment_id], filter: "metrics.drift_share >= 0.5" });
    expect(runs.body.runs).toHaveLength(1);
    const runId = runs.body.runs[0].info.run_id;
    const hist = await server.call("GET", `metrics/get-history?run_id=${runId}&metric_key=drift_share`);
    const byStep = Object.fromEntries(hist.body.metrics.map((m: { step: number; value: number }) => [m.step, m.value]));
    expect(Object.keys(byStep).map(Number).sort()).toEqual([1, 2, 3, 4, 5]);
    expect([1, 2, 3].every((s) => byStep[s] < 0.5)).toBe(true);
    expect(byStep[4]).toBeGreaterThanOrEqual(0.5);
    const acc = await server.call("GET", `metrics/get-history?run_id=${runId}&metric_key=accuracy`);
    expect(acc.body.metrics.find((m: { step: number }) => m.step === 4).value).toBeLessThan(0.8);
  }, 90_000);

  it("drift reports over HTTP: against the stored profile, and of two data sets sent together", async () => {
    const shifted = rows(r, 200, 1.5);
    const res = await server.call("POST", "/api/2.0/mloop/monitoring/model-versions/drift-report", { name: "iris", version: "1", current: { columns: COLUMNS, data: shifted } });
    expect(res.status).toBe(200);
    expect(res.body.data_drift.dataset_drift).toBe(true);
    expect(res.body.data_drift.columns.map((c: { method: string }) => c.method)).toEqual(["ks", "ks", "ks", "ks"]);
    const same = await server.call("POST", "/api/2.0/mloop/monitoring/reports/create", { reference: { columns: COLUMNS, data: reference }, current: { columns: COLUMNS, data: reference }, method: "psi" });
    expect(same.body.data_drift.dataset_drift).toBe(false);
    expect(same.body.data_drift.columns.every((c: { drift_score: number }) => c.drift_score === 0)).toBe(true);
    const html = await server.app.inject({ method: "POST", url: "/api/2.0/mloop/monitoring/model-versions/drift-report", payload: { name: "iris", version: "1", current: { columns: COLUMNS, data: shifted }, format: "html" } });
    expect(html.headers["content-type"]).toMatch(/text\/html/);
    expect(html.body).toMatch(/dataset drift detected/);
    expect(html.body).not.toMatch(/<script|https?:\/\/(?!www\.w3)/);
    const bad = await server.call("POST", "/api/2.0/mloop/monitoring/reports/create", { reference: { columns: ["a"], data: [[1]] }, current: { columns: ["a"], data: [[1]] }, method: "magic" });
    expect(bad.status).toBe(400);
    expect(bad.body.error_code).toBe("INVALID_PARAMETER_VALUE");
  });
});

describe("a monitor survives bad input", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-monitor-bad-"));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const line = (id: string, ts: number, columns: string[], data: unknown[][], status = 200) =>
    JSON.stringify({ request_id: id, timestamp_ms: ts, model: "m", version: "1", role: "champion", status, latency_ms: 1.5, inputs: { columns, data }, predictions: data.map(() => 1) });

  it("reports a reference column the model lacks, a non-numeric value, an empty window and a torn line; never a NaN", async () => {
    const log = path.join(dir, "log");
    fs.mkdirSync(log);
    const reference = buildProfile(tableFromSplit(["x", "extra", "c"], Array.from({ length: 50 }, (_, i) => [i / 10, i % 7, ["a", "b", "c"][i % 3]])));
    const lines = [
      line("r1", 60_000, ["x", "c"], [[1.5, "a"], ["oops", "b"], [2.5, "zzz"]]),
      line("r2", 61_000, ["x", "c", "mystery"], [[1.1, "a", 9]]),
      line("r3", 62_000, ["x", "c"], [[1, "a"]], 400),
      // nothing in minute 2: an empty window
      line("r4", 180_000, ["x", "c"], [[3.3, "b"]]),
    ];
    fs.writeFileSync(path.join(log, "predictions-1-1-0.jsonl"), lines.join("\n") + "\n" + '{"request_id": "torn", "timest');
    const mon = new Monitor({ logDir: log, reference, window: { minutes: 1 }, model: "m", now: () => 10 * 60_000 });
    const windows = await mon.poll();
    expect(windows.map((w) => w.seq)).toEqual([1, 2, 3]);
    const [w1, empty, w3] = windows;
    const x = w1!.drift.columns.find((c) => c.column === "x")!;
    expect(x.issues.join(" ")).toMatch(/1 current value\(s\) are not numbers \(e\.g\. 'oops'\)/);
    expect(w1!.drift.columns.find((c) => c.column === "extra")!.issues.join(" ")).toMatch(/no values in this column/);
    expect(w1!.drift.columns.find((c) => c.column === "c")!.new_categories).toEqual(["zzz"]);
    expect(w1!.issues.join(" ")).toMatch(/mystery/);
    expect(w1!.operations.error_rate).toBeCloseTo(1 / 3);
    expect(empty!.rows).toBe(0);
    expect(empty!.drift.issues.join(" ")).toMatch(/empty/);
    expect(empty!.drift.dataset_drift).toBe(false);
    expect(w3!.rows).toBe(1);
    for (const w of windows) expect(JSON.stringify(w)).not.toMatch(/NaN|Infinity/);
    for (const w of windows) for (const v of Object.values(w.values)) expect(Number.isFinite(v)).toBe(true);
    // a restart resumes after the last finished window: nothing is read twice
    const again = new Monitor({ logDir: log, reference, window: { minutes: 1 }, model: "m", now: () => 10 * 60_000 });
    expect(await again.poll()).toEqual([]);
    expect(again.windowsDone).toBe(3);
  });

  it("labels that arrive after a window closed re-score that window's performance", async () => {
    const log = path.join(dir, "log3");
    fs.mkdirSync(log);
    const reference = buildProfile(tableFromSplit(["x"], Array.from({ length: 40 }, (_, i) => [i])));
    fs.writeFileSync(path.join(log, "predictions-1-1-0.jsonl"), Array.from({ length: 4 }, (_, i) => line(`l${i}`, 1000 + i, ["x"], [[i]])).join("\n") + "\n");
    const mon = new Monitor({ logDir: log, reference, window: { rows: 4 }, model: "m" });
    const [w] = await mon.poll();
    expect(w!.performance.labelled_rows).toBe(0);
    expect(mon.lateLabels()).toEqual([]);
    // predictions were all 1; three of four labels agree
    fs.writeFileSync(path.join(log, "feedback-2-1-0.jsonl"), ["l0", "l1", "l2", "l3"].map((id, i) => JSON.stringify({ request_id: id, label: i === 3 ? 0 : 1, timestamp_ms: 9000 })).join("\n") + "\n");
    expect(await mon.poll()).toEqual([]);
    const [u] = mon.lateLabels();
    expect(u).toMatchObject({ seq: 1, values: { labelled_rows: 4, accuracy: 0.75 } });
    expect(mon.lateLabels()).toEqual([]);
  });

  it("the monitor's app serves status, Prometheus metrics and window reports", async () => {
    const log = path.join(dir, "log2");
    fs.mkdirSync(log);
    const reference = buildProfile(tableFromSplit(["x"], Array.from({ length: 40 }, (_, i) => [i])));
    fs.writeFileSync(path.join(log, "predictions-1-1-0.jsonl"), Array.from({ length: 10 }, (_, i) => line(`q${i}`, 1000 + i, ["x"], [[i + 100], [i + 200]])).join("\n") + "\n");
    const mon = new Monitor({ logDir: log, reference, window: { rows: 10 }, model: "m", alerts: [parseAlertRule("drift_share>=0.5")] });
    const metrics = await MonitorMetrics.create();
    for (const w of await mon.poll()) metrics.observe("m", w);
    const app = buildMonitorApp({ monitor: mon, metrics, model: "m", startedAt: 0 });
    const status = (await app.inject({ method: "GET", url: "/status" })).json();
    expect(status).toMatchObject({ model: "m", windows: 2, firing_alerts: ["drift_share>=0.5"] });
    const prom = (await app.inject({ method: "GET", url: "/metrics" })).body;
    expect(prom).toMatch(/mloop_monitor_drift_share\{model="m"\} 1/);
    expect(prom).toMatch(/mloop_monitor_alerts_total\{model="m",rule="drift_share>=0.5",state="fired"\} 1/);
    expect(prom).toMatch(/mloop_monitor_feature_drift_score\{model="m",feature="x",method="ks"\}/);
    const report = (await app.inject({ method: "GET", url: "/windows/1/report" })).json();
    expect(report.data_drift.columns[0].method).toBe("ks");
    expect((await app.inject({ method: "GET", url: "/windows/1/report?format=html" })).body).toMatch(/<svg/);
    expect((await app.inject({ method: "GET", url: "/windows/99/report" })).statusCode).toBe(404);
    const uri = await app.listen({ port: 0, host: "127.0.0.1" });
    const cli = await runCli("monitor", "status", "--url", uri);
    expect(cli.stdout).toMatch(/m: 2 window\(s\) finished; firing alerts: drift_share>=0.5/);
    await app.close();
  });

  it("mloop monitor report: a batch report on two files, JSON and HTML; bad files are one clear line", async () => {
    const ref = path.join(dir, "ref.csv");
    const cur = path.join(dir, "cur.csv");
    const rr = rng(5);
    fs.writeFileSync(ref, "a,b\n" + Array.from({ length: 200 }, () => `${normal(rr)},${["x", "y", "z"][Math.floor(rr() * 3)]}`).join("\n"));
    fs.writeFileSync(cur, "a,b\n" + Array.from({ length: 200 }, () => `${normal(rr, 1)},${["x", "y", "w"][Math.floor(rr() * 3)]}`).join("\n"));
    const res = await runCli("monitor", "report", "--reference", ref, "--current", cur, "--html", path.join(dir, "r.html"), "--json", path.join(dir, "r.json"));
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/Dataset drift: 2 of 2 tested column\(s\) drifted/);
    const doc = JSON.parse(fs.readFileSync(path.join(dir, "r.json"), "utf8"));
    expect(doc.data_drift.columns.map((c: { method: string }) => c.method)).toEqual(["ks", "chisquare"]);
    expect(fs.readFileSync(path.join(dir, "r.html"), "utf8")).toMatch(/<svg/);
    const fail = await runCli("monitor", "report", "--reference", ref, "--current", cur, "--fail-on-drift");
    expect(fail.code).toBe(3);
    const missing = await runCli("monitor", "report", "--reference", path.join(dir, "nope.csv"), "--current", cur);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^mloop: INVALID_PARAMETER_VALUE: No such file/);
    const badMethod = await runCli("monitor", "report", "--reference", ref, "--current", cur, "--method", "magic");
    expect(badMethod.stderr).toMatch(/unknown test 'magic'/);
  });
});
