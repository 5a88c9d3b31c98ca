import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTestApp, type TestApp } from "../../test/helpers/app.js";
import { createExperiment, createRun, getRun, logMetricHistory } from "../../test/helpers/factories.js";

describe("runs API", () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeTestApp();
  });
  afterEach(async () => t.close());

  it("creates a run with MLflow's Run JSON and reads it back under both prefixes", async () => {
    const exp = await createExperiment(t, { name: "e1" });
    const c = await t.call("POST", "runs/create", { experiment_id: exp, user_id: "ann", start_time: 1000, tags: [{ key: "team", value: "a" }] });
    expect(c.status).toBe(200);
    const info = c.body.run.info;
    expect(info.run_id).toMatch(/^[0-9a-f]{32}$/);
    expect(info).toMatchObject({
      run_uuid: info.run_id,
      experiment_id: exp,
      user_id: "ann",
      status: "RUNNING",
      start_time: 1000,
      lifecycle_stage: "active",
      artifact_uri: `mlflow-artifacts:/${exp}/${info.run_id}/artifacts`,
    });
    expect(info.end_time).toBeUndefined();
    expect(info.run_name).toMatch(/^[a-z]+-[a-z]+-\d{1,3}$/);
    expect(c.body.run.data.tags).toEqual([{ key: "mlflow.runName", value: info.run_name }, { key: "team", value: "a" }]);
    expect(c.body.run.inputs).toEqual({ dataset_inputs: [], model_inputs: [] });
    expect(c.body.run.outputs).toEqual({ model_outputs: [] });

    expect(await t.app.tracking.runs.locate(info.run_id)).toEqual({ runId: info.run_id, experimentId: exp, artifactUri: info.artifact_uri, lifecycleStage: "active" });

    const ajax = await t.call("GET", `/ajax-api/2.0/mlflow/runs/get?run_uuid=${info.run_id}`);
    expect(ajax.status).toBe(200);
    expect(ajax.body.run.info).toEqual(info);
  });

  it("takes the run name from run_name or the mlflow.runName tag and refuses a mismatch", async () => {
    const a = await t.call("POST", "runs/create", { run_name: "alpha" });
    expect(a.body.run.info).toMatchObject({ run_name: "alpha", experiment_id: "0" });
    const b = await t.call("POST", "runs/create", { tags: [{ key: "mlflow.runName", value: "beta" }] });
    expect(b.body.run.info.run_name).toBe("beta");
    const bad = await t.call("POST", "runs/create", { run_name: "x", tags: [{ key: "mlflow.runName", value: "y" }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error_code).toBe("INVALID_PARAMETER_VALUE");
  });

  it("refuses runs in unknown or deleted experiments", async () => {
    expect((await t.call("POST", "runs/create", { experiment_id: "999" })).status).toBe(404);
    const exp = await createExperiment(t);
    await t.call("POST", "experiments/delete", { experiment_id: exp });
    const r = await t.call("POST", "runs/create", { experiment_id: exp });
    expect(r.status).toBe(400);
    expect(r.body.message).toContain("must be in the 'active' state");
  });

  it("updates status, end time and name", async () => {
    const id = await createRun(t, { runName: "first" });
    const u = await t.call("POST", "runs/update", { run_id: id, status: "FINISHED", end_time: 5000, run_name: "second" });
    expect(u.status).toBe(200);
    expect(u.body.run_info).toMatchObject({ run_id: id, status: "FINISHED", end_time: 5000, run_name: "second" });
    const run = await getRun(t, id);
    expect(run.data.tags).toContainEqual({ key: "mlflow.runName", value: "second" });
    expect((await t.call("POST", "runs/update", { run_id: id, status: "DONE" })).body.error_code).toBe("INVALID_PARAMETER_VALUE");
  });

  it("deletes and restores; writes to a deleted run are refused", async () => {
    const id = await createRun(t);
    expect((await t.call("POST", "runs/delete", { run_id: id })).status).toBe(200);
    expect((await getRun(t, id)).info.lifecycle_stage).toBe("deleted");
    for (const [url, body] of [
      ["runs/log-metric", { run_id: id, key: "m", value: 1, timestamp: 1 }],
      ["runs/log-parameter", { run_id: id, key: "p", value: "1" }],
      ["runs/set-tag", { run_id: id, key: "k", value: "v" }],
      ["runs/log-batch", { run_id: id, metrics: [{ key: "m", value: 1, timestamp: 1 }] }],
      ["runs/update", { run_id: id, status: "FINISHED" }],
    ] as const) {
      const r = await t.call("POST", url, body);
      expect(r.status, url).toBe(400);
      expect(r.body.message).toBe(`The run ${id} must be in the 'active' state. Current state is deleted.`);
    }
    expect((await t.call("POST", "runs/restore", { run_id: id })).status).toBe(200);
    expect((await getRun(t, id)).info.lifecycle_stage).toBe("active");
  });

  it("answers unknown runs with RESOURCE_DOES_NOT_EXIST and 404 on every endpoint", async () => {
    const id = "0123456789abcdef0123456789abcdef";
    const calls: [string, string, unknown?][] = [
      ["GET", `runs/get?run_id=${id}`],
      ["POST", "runs/update", { run_id: id, status: "FINISHED" }],
      ["POST", "runs/delete", { run_id: id }],
      ["POST", "runs/restore", { run_id: id }],
      ["POST", "runs/set-tag", { run_id: id, key: "k", value: "v" }],
      ["POST", "runs/delete-tag", { run_id: id, key: "k" }],
      ["POST", "runs/log-metric", { run_id: id, key: "m", value: 1, timestamp: 1 }],
      ["POST", "runs/log-parameter", { run_id: id, key: "p", value: "v" }],
      ["POST", "runs/log-batch", { run_id: id, metrics: [] }],
      ["POST", "runs/log-inputs", { run_id: id, datasets: [] }],
      ["POST", "runs/log-outputs", { run_id: id, models: [] }],
      ["GET", `metrics/get-history?run_id=${id}&metric_key=m`],
    ];
    for (const [method, url, body] of calls) {
      const r = await t.call(method as "GET" | "POST", url, body);
      expect(r.status, url).toBe(404);
      expect(r.body).toEqual({ error_code: "RESOURCE_DOES_NOT_EXIST", message: `Run with id=${id} not found` });
    }
    const missing = await t.call("GET", "runs/get");
    expect(missing.status).toBe(400);
    expect(missing.body.message).toContain("'run_id'");
    expect((await t.call("GET", "runs/get?run_id=..%2F..%2Fetc")).status).toBe(400);
  });

  it("sets and deletes tags; a missing tag is RESOURCE_DOES_NOT_EXIST", async () => {
    const id = await createRun(t);
    await t.call("POST", "runs/set-tag", { run_id: id, key: "k", value: "v1" });
    await t.call("POST", "runs/set-tag", { run_uuid: id, key: "k", value: "v2" });
    expect((await getRun(t, id)).data.tags).toContainEqual({ key: "k", value: "v2" });
    await t.call("POST", "runs/set-tag", { run_id: id, key: "mlflow.runName", value: "renamed" });
    expect((await getRun(t, id)).info.run_name).toBe("renamed");
    expect((await t.call("POST", "runs/delete-tag", { run_id: id, key: "k" })).status).toBe(200);
    const again = await t.call("POST", "runs/delete-tag", { run_id: id, key: "k" });
    expect(again.status).toBe(404);
    expect(again.body.message).toBe(`No tag with name: k in run with id ${id}`);
    expect((await t.call("POST", "runs/set-tag", { run_id: id, key: "../x", value: "v" })).status).toBe(400);
    expect((await t.call("POST", "runs/set-tag", { run_id: id, key: "k", value: "x".repeat(8001) })).status).toBe(400);
  });

  it("logs metrics with NaN and infinities that round-trip as MLflow's JSON strings", async () => {
    const id = await createRun(t);
    await t.call("POST", "runs/log-metric", { run_id: id, key: "loss", value: 0.5, timestamp: 10, step: 1 });
    await t.call("POST", "runs/log-metric", { run_id: id, key: "loss", value: "NaN", timestamp: 11, step: 2 });
    await t.call("POST", "runs/log-metric", { run_id: id, key: "up", value: "Infinity", timestamp: 11 });
    await t.call("POST", "runs/log-metric", { run_id: id, key: "down", value: "-Infinity", timestamp: "12", step: "3" });
    const run = await getRun(t, id);
    expect(run.data.metrics).toEqual([
      { key: "down", value: "-Infinity", timestamp: 12, step: 3 },
      { key: "loss", value: "NaN", timestamp: 11, step: 2 },
      { key: "up", value: "Infinity", timestamp: 11, step: 0 },
    ]);
    const h = await t.call("GET", `metrics/get-history?run_id=${id}&metric_key=loss`);
    expect(h.body).toEqual({ metrics: [{ key: "loss", value: 0.5, timestamp: 10, step: 1 }, { key: "loss", value: "NaN", timestamp: 11, step: 2 }] });
  });

  it("keeps the latest metric by (step, timestamp, value) whatever the logging order", async () => {
    const id = await createRun(t);
    await t.call("POST", "runs/log-batch", {
      run_id: id,
      metrics: [
        { key: "a", value: 3, timestamp: 5, step: 10 },
        { key: "a", value: 1, timestamp: 9, step: 2 },
      ],
    });
    await t.call("POST", "runs/log-metric", { run_id: id, key: "a", value: 7, timestamp: 100, step: 1 });
    await t.call("POST", "runs/log-metric", { run_id: id, key: "a", value: 4, timestamp: 5, step: 10 });
    expect((await getRun(t, id)).data.metrics).toEqual([{ key: "a", value: 4, timestamp: 5, step: 10 }]);
    // A retried identical point is stored once.
    await t.call("POST", "runs/log-metric", { run_id: id, key: "a", value: 4, timestamp: 5, step: 10 });
    expect((await t.call("GET", `metrics/get-history?run_id=${id}&metric_key=a`)).body.metrics).toHaveLength(4);
  });

  it("validates metrics like MLflow", async () => {
    const id = await createRun(t);
    const bad = [
      { run_id: id, key: "m", value: "abc", timestamp: 1 },
      { run_id: id, key: "m", value: 1, timestamp: -1 },
      { run_id: id, key: "m", value: 1, timestamp: 1, step: 1.5 },
      { run_id: id, key: "bad*key", value: 1, timestamp: 1 },
      { run_id: id, key: "m", timestamp: 1 },
      { run_id: id, key: "m", value: 1 },
    ];
    for (const b of bad) {
      const r = await t.call("POST", "runs/log-metric", b);
      expect(r.status, JSON.stringify(b)).toBe(400);
      expect(r.body.error_code).toBe("INVALID_PARAMETER_VALUE");
    }
  });

  it("refuses changing a param value with MLflow's message and accepts the same value again", async () => {
    const id = await createRun(t);
    expect((await t.call("POST", "runs/log-parameter", { run_id: id, key: "lr", value: "0.1" })).status).toBe(200);
    expect((await t.call("POST", "runs/log-parameter", { run_id: id, key: "lr", value: "0.1" })).status).toBe(200);
    const r = await t.call("POST", "runs/log-parameter", { run_id: id, key: "lr", value: "0.2" });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      error_code: "INVALID_PARAMETER_VALUE",
      message: `Changing param values is not allowed. Param with key='lr' was already logged with value='0.1' for run ID='${id}'. Attempted logging new value '0.2'.`,
    });
    expect((await t.call("POST", "runs/log-parameter", { run_id: id, key: "big", value: "x".repeat(6001) })).status).toBe(400);
  });

  it("logs a batch in one transaction: a refused param leaves nothing behind", async () => {
    const id = await createRun(t, { params: { p: "1" } });
    const r = await t.call("POST", "runs/log-batch", {
      run_id: id,
      metrics: [{ key: "m", value: 1, timestamp: 1, step: 0 }],
      params: [{ key: "q", value: "2" }, { key: "p", value: "changed" }],
      tags: [{ key: "t", value: "v" }],
    });
    expect(r.status).toBe(400);
    const run = await getRun(t, id);
    expect(run.data.metrics).toEqual([]);
    expect(run.data.params).toEqual([{ key: "p", value: "1" }]);
    expect(run.data.tags.map((x: any) => x.key)).not.toContain("t");

    const good = await t.call("POST", "runs/log-batch", {
      run_id: id,
      metrics: [{ key: "m", value: 1, timestamp: 1, step: 0 }],
      params: [{ key: "q", value: "2" }, { key: "q", value: "2" }],
      tags: [{ key: "t", value: "v" }],
    });
    expect(good.status).toBe(200);
    const after = await getRun(t, id);
    expect(after.data.params).toEqual([{ key: "p", value: "1" }, { key: "q", value: "2" }]);
    const dup = await t.call("POST", "runs/log-batch", { run_id: id, params: [{ key: "z", value: "1" }, { key: "z", value: "2" }] });
    expect(dup.body.message).toContain("Duplicate parameter keys have been submitted: [z]");
  });

  it("enforces MLflow's log-batch limits", async () => {
    const id = await createRun(t);
    const metric = (i: number) => ({ key: `m${i}`, value: i, timestamp: 1, step: 0 });
    const kv = (i: number) => ({ key: `k${i}`, value: "v" });
    const cases: [unknown, string][] = [
      [{ metrics: Array.from({ length: 1001 }, (_, i) => metric(i)) }, "at most 1000 metrics. Got 1001 metrics"],
      [{ params: Array.from({ length: 101 }, (_, i) => kv(i)) }, "at most 100 params. Got 101 params"],
      [{ tags: Array.from({ length: 101 }, (_, i) => kv(i)) }, "at most 100 tags. Got 101 tags"],
      [{ metrics: Array.from({ length: 950 }, (_, i) => metric(i)), params: Array.from({ length: 60 }, (_, i) => kv(i)) }, "at most 1000 metrics, params, and tags in total"],
      [{ tags: [{ key: "k", value: "x".repeat(1_000_001) }] }, "must be at most 1 MB"],
    ];
    for (const [body, message] of cases) {
      const r = await t.call("POST", "runs/log-batch", { run_id: id, ...(body as object) });
      expect(r.status).toBe(400);
      expect(r.body.error_code).toBe("INVALID_PARAMETER_VALUE");
      expect(r.body.message).toContain(message);
    }
    const full = await t.call("POST", "runs/log-batch", { run_id: id, metrics: Array.from({ length: 1000 }, (_, i) => metric(i)) });
    expect(full.status).toBe(200);
    expect((await getRun(t, id)).data.metrics).toHaveLength(1000);
  });

  it("logs dataset inputs with tags, model inputs and model outputs", async () => {
    const exp = await createExperiment(t);
    const id = await createRun(t, { experimentId: exp });
    const dataset = { name: "iris", digest: "abc123", source_type: "local", source: '{"uri": "/data/iris.csv"}', schema: '{"cols": []}' };
    const r = await t.call("POST", "runs/log-inputs", {
      run_id: id,
      datasets: [{ tags: [{ key: "mlflow.data.context", value: "training" }], dataset }],
      models: [{ model_id: "m-1" }],
    });
    expect(r.status).toBe(200);
    // Logging the same dataset again links it once.
    await t.call("POST", "runs/log-inputs", { run_id: id, datasets: [{ tags: [{ key: "mlflow.data.context", value: "training" }], dataset }] });
    expect((await t.call("POST", "runs/log-outputs", { run_id: id, models: [{ model_id: "m-2", step: 7 }] })).status).toBe(200);
    const run = await getRun(t, id);
    expect(run.inputs).toEqual({
      dataset_inputs: [{ tags: [{ key: "mlflow.data.context", value: "training" }], dataset }],
      model_inputs: [{ model_id: "m-1" }],
    });
    expect(run.outputs).toEqual({ model_outputs: [{ model_id: "m-2", step: 7 }] });
    const bad = await t.call("POST", "runs/log-inputs", { run_id: id, datasets: [{ dataset: { name: "x" } }] });
    expect(bad.status).toBe(400);
    const longDigest = await t.call("POST", "runs/log-inputs", { run_id: id, datasets: [{ dataset: { ...dataset, digest: "d".repeat(37) } }] });
    expect(longDigest.status).toBe(400);
  });

  it("pages metric history and fetches it in bulk", async () => {
    const a = await createRun(t);
    const b = await createRun(t);
    await logMetricHistory(t, a, "loss", 25);
    await logMetricHistory(t, b, "loss", 5, (s) => 100 + s);
    const p1 = await t.call("GET", `metrics/get-history?run_id=${a}&metric_key=loss&max_results=10`);
    expect(p1.body.metrics.map((m: any) => m.step)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const p3 = await t.call("GET", `metrics/get-history?run_id=${a}&metric_key=loss&max_results=10&page_token=${encodeURIComponent(p1.body.next_page_token)}`);
    expect(p3.body.metrics[0].step).toBe(10);
    const bulk = await t.call("GET", `metrics/get-history-bulk?run_id=${a}&run_id=${b}&metric_key=loss`);
    expect(bulk.status).toBe(200);
    expect(bulk.body.metrics).toHaveLength(30);
    expect(bulk.body.metrics.filter((m: any) => m.run_id === b).map((m: any) => m.value)).toEqual([100, 101, 102, 103, 104]);
    expect((await t.call("GET", "metrics/get-history-bulk?metric_key=loss")).status).toBe(400);
    const many = Array.from({ length: 101 }, (_, i) => `run_id=r${i}`).join("&");
    expect((await t.call("GET", `metrics/get-history-bulk?${many}&metric_key=loss`)).body.message).toContain("more than 100 run_ids");
    expect((await t.call("GET", `metrics/get-history?run_id=${a}&metric_key=loss&page_token=garbage!`)).status).toBe(400);
  });

  it("samples long histories to max_results points, keeping the first and last step", async () => {
    const a = await createRun(t);
    await logMetricHistory(t, a, "acc", 3000, (s) => s / 3000);
    const r = await t.call("GET", `/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids=${a}&metric_key=acc&max_results=50`);
    expect(r.status).toBe(200);
    const steps = r.body.metrics.map((m: any) => m.step);
    expect(steps.length).toBeLessThanOrEqual(50);
    expect(steps.length).toBeGreaterThan(40);
    expect(steps[0]).toBe(0);
    expect(steps[steps.length - 1]).toBe(2999);
    expect([...steps].sort((x: number, y: number) => x - y)).toEqual(steps);
    expect(r.body.metrics[0]).toMatchObject({ key: "acc", run_id: a });
    const win = await t.call("GET", `metrics/get-history-bulk-interval?run_ids=${a}&metric_key=acc&start_step=100&end_step=120`);
    expect(win.body.metrics.map((m: any) => m.step)).toEqual(Array.from({ length: 21 }, (_, i) => 100 + i));
    const def = await t.call("GET", `metrics/get-history-bulk-interval?run_ids=${a}&metric_key=acc`);
    expect(def.body.metrics.length).toBe(2500);
    // MLflow 3.17's choice: NTILE(5) over 10 points keeps each bucket's first, the last replaced by the final point.
    const ten = await createRun(t);
    await logMetricHistory(t, ten, "m", 10, () => 10);
    const five = await t.call("GET", `metrics/get-history-bulk-interval?run_ids=${ten}&metric_key=m&max_results=5`);
    expect(five.body.metrics.map((m: any) => m.step)).toEqual([0, 2, 4, 6, 9]);
    // Many points on one step are sampled as points, not returned whole.
    const flat = await createRun(t);
    await t.call("POST", "runs/log-batch", { run_id: flat, metrics: Array.from({ length: 30 }, (_, i) => ({ key: "f", value: i, timestamp: i, step: 0 })) });
    const sampled = await t.call("GET", `metrics/get-history-bulk-interval?run_ids=${flat}&metric_key=f&max_results=4`);
    expect(sampled.body.metrics.map((m: any) => m.timestamp)).toEqual([0, 8, 16, 29]);
    // Runs answer in the order asked.
    const both = await t.call("GET", `metrics/get-history-bulk-interval?run_ids=${ten}&run_ids=${flat}&metric_key=m`);
    expect(both.body.metrics.every((m: any) => m.run_id === ten)).toBe(true);
    expect((await t.call("GET", `metrics/get-history-bulk-interval?run_ids=${a}&metric_key=acc&start_step=5&end_step=1`)).status).toBe(400);
    expect((await t.call("GET", `metrics/get-history-bulk-interval?metric_key=acc`)).status).toBe(400);
  });
});

describe("runs/search", () => {
  let t: TestApp;
  let exp: string;
  const ids: Record<string, string> = {};
  beforeEach(async () => {
    t = await makeTestApp();
    exp = await createExperiment(t);
    ids.a = await createRun(t, { experimentId: exp, runName: "alpha", startTime: 1000, params: { lr: "0.1", opt: "adam" }, metrics: { acc: 0.9, loss: 0.3 }, tags: { "my tag": "hello" }, status: "FINISHED" });
    ids.b = await createRun(t, { experimentId: exp, runName: "beta", startTime: 2000, params: { lr: "0.2" }, metrics: { acc: 0.7 }, tags: { "my tag": "HELLO world" } });
    ids.c = await createRun(t, { experimentId: exp, runName: "Gamma", startTime: 3000, params: { lr: "0.1" }, metrics: { acc: NaN } });
    ids.d = await createRun(t, { experimentId: exp, runName: "delta", startTime: 4000 });
  });
  afterEach(async () => t.close());

  const search = async (body: Record<string, unknown>) => {
    const r = await t.call("POST", "runs/search", { experiment_ids: [exp], ...body });
    if (r.status !== 200) throw new Error(JSON.stringify(r.body));
    return (r.body.runs as any[]).map((x) => x.info.run_name as string);
  };

  it("orders by start_time DESC by default and returns full runs", async () => {
    expect(await search({})).toEqual(["delta", "Gamma", "beta", "alpha"]);
    const r = await t.call("POST", "runs/search", { experiment_ids: [exp], filter: "run_name = 'alpha'" });
    expect(r.body.runs[0].data.params).toEqual([{ key: "lr", value: "0.1" }, { key: "opt", value: "adam" }]);
  });

  it("filters on metrics, params, tags, attributes and combinations", async () => {
    expect(await search({ filter: "metrics.acc > 0.8" })).toEqual(["alpha"]);
    expect(await search({ filter: "metrics.acc >= 0.7 and params.lr = '0.2'" })).toEqual(["beta"]);
    expect(await search({ filter: "params.lr = \"0.1\"" })).toEqual(["Gamma", "alpha"]);
    expect(await search({ filter: "tags.\"my tag\" LIKE '%world'" })).toEqual(["beta"]);
    expect(await search({ filter: "tags.`my tag` LIKE 'hello%'" })).toEqual(["alpha"]);
    expect(await search({ filter: "tags.`my tag` ILIKE 'hello%'" })).toEqual(["beta", "alpha"]);
    expect(await search({ filter: "attributes.status IN ('FINISHED', 'KILLED')" })).toEqual(["alpha"]);
    expect(await search({ filter: "attr.status NOT IN ('FINISHED')" })).toEqual(["delta", "Gamma", "beta"]);
    expect(await search({ filter: "run_name ILIKE 'g%'" })).toEqual(["Gamma"]);
    expect(await search({ filter: "run_name LIKE 'g%'" })).toEqual([]);
    expect(await search({ filter: "run.start_time >= 2000 and attributes.start_time < 4000" })).toEqual(["Gamma", "beta"]);
    expect(await search({ filter: `attributes.run_id = '${ids.b}'` })).toEqual(["beta"]);
    expect(await search({ filter: `run_id IN ('${ids.a}', '${ids.d}')` })).toEqual(["delta", "alpha"]);
    expect(await search({ filter: "params.opt IS NULL" })).toEqual(["delta", "Gamma", "beta"]);
    expect(await search({ filter: "params.opt IS NOT NULL" })).toEqual(["alpha"]);
    expect(await search({ filter: "params.lr != '0.1'" })).toEqual(["beta"]);
    expect(await search({ filter: "attributes.user_id = 'tester'" })).toHaveLength(4);
  });

  it("filters on datasets", async () => {
    const dataset = { name: "iris", digest: "d1", source_type: "local", source: "/x" };
    await t.call("POST", "runs/log-inputs", { run_id: ids.b, datasets: [{ tags: [{ key: "mlflow.data.context", value: "train" }], dataset }] });
    expect(await search({ filter: "datasets.name = 'iris'" })).toEqual(["beta"]);
    expect(await search({ filter: "datasets.digest IN ('d1', 'd2')" })).toEqual(["beta"]);
    expect(await search({ filter: "dataset.context = 'train'" })).toEqual(["beta"]);
    expect(await search({ filter: "datasets.name = 'wine'" })).toEqual([]);
  });

  it("orders by metrics, params, tags and attributes with NULLs (and NaN) last", async () => {
    expect(await search({ order_by: ["metrics.acc DESC"] })).toEqual(["alpha", "beta", "Gamma", "delta"]);
    expect(await search({ order_by: ["metrics.acc ASC"] })).toEqual(["beta", "alpha", "Gamma", "delta"]);
    expect(await search({ order_by: ["params.lr DESC", "attributes.run_name"] })).toEqual(["beta", "Gamma", "alpha", "delta"]);
    expect(await search({ order_by: ["attributes.start_time ASC"] })).toEqual(["alpha", "beta", "Gamma", "delta"]);
    expect(await search({ order_by: ["tags.`my tag`"] })).toEqual(["beta", "alpha", "delta", "Gamma"]);
  });

  it("pages with next_page_token and honours run_view_type", async () => {
    const p1 = await t.call("POST", "runs/search", { experiment_ids: [exp], max_results: 3 });
    expect(p1.body.runs).toHaveLength(3);
    const p2 = await t.call("POST", "runs/search", { experiment_ids: [exp], max_results: 3, page_token: p1.body.next_page_token });
    expect(p2.body.runs.map((r: any) => r.info.run_name)).toEqual(["alpha"]);
    expect(p2.body.next_page_token).toBeUndefined();
    await t.call("POST", "runs/delete", { run_id: ids.a });
    expect(await search({})).toEqual(["delta", "Gamma", "beta"]);
    expect(await search({ run_view_type: "DELETED_ONLY" })).toEqual(["alpha"]);
    expect(await search({ run_view_type: "ALL" })).toHaveLength(4);
    expect((await t.call("POST", "runs/search", { experiment_ids: [exp], max_results: 50001 })).status).toBe(400);
    expect((await t.call("POST", "runs/search", { experiment_ids: [exp], page_token: "nope" })).status).toBe(400);
  });

  it("answers bad filters with INVALID_PARAMETER_VALUE naming the problem", async () => {
    const cases: [string, string][] = [
      ["metrics.acc > 'high'", "numeric"],
      ["params.lr > '0.1'", "comparator '>'"],
      ["metrics.acc > 0.5 or params.lr = '1'", "'OR' is not supported"],
      ["foo.bar = 'x'", "invalid entity type 'foo'"],
      ["attributes.nope = 'x'", "Invalid attribute key 'nope' specified"],
      ["params.lr = 0.1", "quoted string"],
      ["metrics.acc >", "expected a value"],
      ["tags.x = 'unterminated", "unterminated"],
      ["metrics.acc ~ 1", "unexpected character '~'"],
    ];
    for (const [filter, message] of cases) {
      const r = await t.call("POST", "runs/search", { experiment_ids: [exp], filter });
      expect(r.status, filter).toBe(400);
      expect(r.body.error_code).toBe("INVALID_PARAMETER_VALUE");
      expect(r.body.message, filter).toContain(message);
    }
    const order = await t.call("POST", "runs/search", { experiment_ids: [exp], order_by: ["metrics.acc SIDEWAYS"] });
    expect(order.status).toBe(400);
  });
});

describe("experiments/search filters", () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await makeTestApp();
  });
  afterEach(async () => t.close());

  it("filters by name and tags and orders by name", async () => {
    await createExperiment(t, { name: "alpha", tags: { team: "vision" } });
    await createExperiment(t, { name: "beta", tags: { team: "nlp" } });
    await createExperiment(t, { name: "alphabet" });
    const names = async (q: string) => {
      const r = await t.call("GET", `experiments/search?max_results=100&${q}`);
      if (r.status !== 200) throw new Error(JSON.stringify(r.body));
      return (r.body.experiments as any[]).map((e) => e.name as string);
    };
    expect(await names(`filter=${encodeURIComponent("name LIKE 'alpha%'")}&order_by=name`)).toEqual(["alpha", "alphabet"]);
    expect(await names(`filter=${encodeURIComponent("tags.team = 'nlp'")}`)).toEqual(["beta"]);
    expect(await names(`filter=${encodeURIComponent("attribute.name ILIKE 'BETA'")}`)).toEqual(["beta"]);
    expect(await names(`filter=${encodeURIComponent("creation_time > 0")}&order_by=${encodeURIComponent("name DESC")}`)).toEqual(["beta", "alphabet", "alpha"]);
    const bad = await t.call("GET", `experiments/search?filter=${encodeURIComponent("metrics.x > 1")}`);
    expect(bad.status).toBe(400);
    const badOrder = await t.call("GET", `experiments/search?order_by=${encodeURIComponent("tags.team")}`);
    expect(badOrder.status).toBe(400);
  });
});

describe("runs API under arbitrary input", () => {
  let t: TestApp;
  let runId: string;
  beforeEach(async () => {
    t = await makeTestApp();
    runId = await createRun(t);
  });
  afterEach(async () => t.close());

  it("answers any JSON body with 200 or an MLflow 4xx error, never a 500", async () => {
    const fc = (await import("fast-check")).default;
    const value = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.constantFrom("NaN", "Infinity", "-1", "1e400", "../x", "", "m"),
    );
    const entity = fc.dictionary(fc.constantFrom("key", "value", "timestamp", "step", "model_id", "dataset", "tags"), fc.oneof(value, fc.array(value, { maxLength: 2 })));
    const endpoints = ["runs/create", "runs/update", "runs/set-tag", "runs/delete-tag", "runs/log-metric", "runs/log-parameter", "runs/log-batch", "runs/log-inputs", "runs/log-outputs", "runs/search"];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...endpoints),
        fc.dictionary(
          fc.constantFrom("run_id", "experiment_id", "key", "value", "timestamp", "step", "status", "end_time", "run_name", "metrics", "params", "tags", "datasets", "models", "filter", "order_by", "max_results", "experiment_ids"),
          fc.oneof(value, fc.array(entity, { maxLength: 3 }), fc.array(value, { maxLength: 3 })),
        ),
        fc.boolean(),
        async (url, body, useRun) => {
          const payload = useRun ? { ...body, run_id: runId } : body;
          const r = await t.call("POST", url, payload);
          if (r.status === 200) return true;
          return r.status >= 400 && r.status < 500 && typeof r.body.error_code === "string" && typeof r.body.message === "string";
        },
      ),
      { numRuns: 400 },
    );
  });
  it("summarises the datasets an experiment's runs used (the UI's search-datasets)", async () => {
    const exp = await createExperiment(t);
    const id = await createRun(t, { experimentId: exp });
    const dataset = { name: "iris", digest: "d1", source_type: "local", source: "{}" };
    await t.call("POST", "runs/log-inputs", { run_id: id, datasets: [{ tags: [{ key: "mlflow.data.context", value: "training" }], dataset }] });
    await t.call("POST", "runs/log-inputs", { run_id: id, datasets: [{ tags: [], dataset: { ...dataset, name: "plain" } }] });
    const r = await t.call("POST", "/ajax-api/2.0/mlflow/experiments/search-datasets", { experiment_ids: [exp] });
    expect(r.body.dataset_summaries).toEqual([
      { experiment_id: exp, name: "iris", digest: "d1", context: "training" },
      { experiment_id: exp, name: "plain", digest: "d1" },
    ]);
    expect((await t.call("POST", "/ajax-api/2.0/mlflow/experiments/search-datasets", {})).body.message).toBe("SearchDatasets request must specify at least one experiment_id.");
    const many = await t.call("POST", "/ajax-api/2.0/mlflow/experiments/search-datasets", { experiment_ids: Array.from({ length: 21 }, (_, i) => String(i)) });
    expect(many.body.message).toBe("SearchDatasets request cannot specify more than 20 experiment_ids. Received 21 experiment_ids.");
  });

  it("records a prompt-engineering run with its params, tags and evaluation table", async () => {
    const exp = await createExperiment(t);
    const P = "/ajax-api/2.0/mlflow/runs/create-promptlab-run";
    const body = {
      experiment_id: exp,
      run_name: "p1",
      prompt_template: "Say {{ x }}",
      prompt_parameters: [{ key: "x", value: "hi" }],
      model_route: "chat",
      model_parameters: [{ key: "temperature", value: "0.1" }],
      model_input: "Say hi",
      model_output: "hi",
      model_output_parameters: [{ key: "latency", value: "100" }],
      mlflow_version: "3.17.2",
      user_id: "ann",
      start_time: 456,
    };
    const r = await t.call("POST", P, body);
    expect(r.status).toBe(200);
    expect(r.body.run.info).toMatchObject({ run_name: "p1", experiment_id: exp, user_id: "ann", status: "FINISHED", start_time: 456 });
    expect(r.body.run.data.params).toEqual(expect.arrayContaining([{ key: "model_route", value: "chat" }, { key: "temperature", value: "0.1" }]));
    expect(r.body.run.data.tags).toEqual(expect.arrayContaining([{ key: "mlflow.runSourceType", value: "PROMPT_ENGINEERING" }]));
    const table = await t.app.inject({ method: "GET", url: `/get-artifact?run_uuid=${r.body.run.info.run_id}&path=eval_results_table.json` });
    expect(JSON.parse(table.body)).toEqual({ columns: ["x", "prompt", "output", "latency"], data: [["hi", "Say hi", "hi", "100"]] });
    const { mlflow_version: _omit, ...noVersion } = body;
    expect((await t.call("POST", P, noVersion)).body.message).toBe("CreatePromptlabRun request must specify mlflow_version.");
    expect((await t.call("POST", P, {})).body.message).toBe("CreatePromptlabRun request must specify experiment_id.");
  });
});
