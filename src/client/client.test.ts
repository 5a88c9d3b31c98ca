import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { makeTestApp, type TestApp } from "../../test/helpers/app.js";
import { ApiError, MloopClient, splitBatch, type TransferProgress } from "./index.js";

let server: TestApp;
let client: MloopClient;
let tmp: string;

beforeAll(async () => {
  server = await makeTestApp();
  const address = await server.app.listen({ port: 0, host: "127.0.0.1" });
  client = new MloopClient({ trackingUri: address });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-client-"));
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function newExperiment(prefix = "exp"): Promise<string> {
  return client.createExperiment(`${prefix}-${crypto.randomUUID()}`);
}

async function expectApiError(p: Promise<unknown>, errorCode: string): Promise<ApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  expect((err as ApiError).errorCode).toBe(errorCode);
  return err as ApiError;
}

describe("experiments", () => {
  it("creates, reads, renames, tags, deletes and restores", async () => {
    const name = `fraud-${crypto.randomUUID()}`;
    const id = await client.createExperiment(name, { tags: { team: "risk" } });
    expect(typeof id).toBe("string");

    const exp = await client.getExperiment(id);
    expect(exp).toMatchObject({ experiment_id: id, name, lifecycle_stage: "active" });
    expect(exp.tags).toContainEqual({ key: "team", value: "risk" });
    expect((await client.getExperimentByName(name))?.experiment_id).toBe(id);
    expect(await client.getExperimentByName(`missing-${crypto.randomUUID()}`)).toBeUndefined();

    await client.renameExperiment(id, `${name}-v2`);
    expect((await client.getExperiment(id)).name).toBe(`${name}-v2`);

    await client.setExperimentTag(id, "stage", "dev");
    expect((await client.getExperiment(id)).tags).toContainEqual({ key: "stage", value: "dev" });
    await client.deleteExperimentTag(id, "stage");
    expect((await client.getExperiment(id)).tags?.some((t) => t.key === "stage")).toBe(false);

    await client.deleteExperiment(id);
    expect((await client.getExperiment(id)).lifecycle_stage).toBe("deleted");
    await client.restoreExperiment(id);
    expect((await client.getExperiment(id)).lifecycle_stage).toBe("active");
  });

  it("reports MLflow's error codes", async () => {
    const err = await expectApiError(client.getExperiment("987654321"), "RESOURCE_DOES_NOT_EXIST");
    expect(err.status).toBe(404);
    const name = `dup-${crypto.randomUUID()}`;
    await client.createExperiment(name);
    await expectApiError(client.createExperiment(name), "RESOURCE_ALREADY_EXISTS");
  });

  it("walks every page of a search", async () => {
    const prefix = `paged-${crypto.randomUUID()}`;
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await client.createExperiment(`${prefix}-${i}`));
    const first = await client.searchExperiments({ filter: `name LIKE '${prefix}-%'`, maxResults: 2, orderBy: ["name ASC"] });
    expect(first.items.map((e) => e.name)).toEqual([`${prefix}-0`, `${prefix}-1`]);
    expect(first.nextPageToken).toBeTruthy();

    const all = [];
    for await (const e of client.iterExperiments({ filter: `name LIKE '${prefix}-%'`, maxResults: 2, orderBy: ["name ASC"] })) all.push(e.experiment_id);
    expect(all).toEqual(ids);

    await client.deleteExperiment(ids[0]!);
    const deleted = [];
    for await (const e of client.iterExperiments({ filter: `name LIKE '${prefix}-%'`, viewType: "DELETED_ONLY" })) deleted.push(e.experiment_id);
    expect(deleted).toEqual([ids[0]]);
  });
});

describe("runs", () => {
  it("creates a run in MLflow's shape and logs metrics, params and tags", async () => {
    const experimentId = await newExperiment();
    const run = await client.createRun({ experimentId, runName: "baseline", tags: { git_sha: "abc123" }, startTime: 1_700_000_000_000 });
    const runId = run.info.run_id;
    expect(run.info).toMatchObject({ experiment_id: experimentId, run_name: "baseline", status: "RUNNING", lifecycle_stage: "active", start_time: 1_700_000_000_000 });
    expect(run.info.artifact_uri).toMatch(/^mlflow-artifacts:/);

    await client.logMetric(runId, "loss", 0.5, { step: 1, timestamp: 1_700_000_000_100 });
    await client.logMetric(runId, "loss", 0.25, { step: 2 });
    await client.logMetric(runId, "nan", Number.NaN);
    await client.logMetric(runId, "inf", Number.POSITIVE_INFINITY);
    await client.logMetric(runId, "ninf", Number.NEGATIVE_INFINITY);
    await client.logParam(runId, "lr", 0.01);
    await client.logParams(runId, { depth: "6", model: "xgb" });
    await client.setTag(runId, "stage", "dev");
    await client.setTags(runId, { owner: "ana", team: "risk" });
    await client.deleteTag(runId, "team");

    const got = await client.getRun(runId);
    const metrics = Object.fromEntries((got.data.metrics ?? []).map((m) => [m.key, m]));
    expect(metrics.loss).toMatchObject({ value: 0.25, step: 2 });
    expect(metrics.nan?.value).toBeNaN();
    expect(metrics.inf?.value).toBe(Number.POSITIVE_INFINITY);
    expect(metrics.ninf?.value).toBe(Number.NEGATIVE_INFINITY);
    expect(got.data.params).toEqual(expect.arrayContaining([
      { key: "lr", value: "0.01" },
      { key: "depth", value: "6" },
      { key: "model", value: "xgb" },
    ]));
    const tags = Object.fromEntries((got.data.tags ?? []).map((t) => [t.key, t.value]));
    expect(tags).toMatchObject({ git_sha: "abc123", stage: "dev", owner: "ana" });
    expect(tags.team).toBeUndefined();

    const history = await client.getMetricHistory(runId, "loss");
    expect(history.map((m) => [m.step, m.value])).toEqual([
      [1, 0.5],
      [2, 0.25],
    ]);
    expect(history[0]!.timestamp).toBe(1_700_000_000_100);

    await expectApiError(client.logParam(runId, "lr", "0.02"), "INVALID_PARAMETER_VALUE");

    const info = await client.updateRun(runId, { status: "FINISHED", endTime: 1_700_000_060_000, runName: "baseline-final" });
    expect(info).toMatchObject({ status: "FINISHED", end_time: 1_700_000_060_000, run_name: "baseline-final" });

    await client.deleteRun(runId);
    expect((await client.getRun(runId)).info.lifecycle_stage).toBe("deleted");
    await client.restoreRun(runId);
    expect((await client.getRun(runId)).info.lifecycle_stage).toBe("active");
  });

  it("splits a large logBatch within MLflow's limits and keeps every value", async () => {
    const experimentId = await newExperiment();
    const runId = (await client.createRun({ experimentId })).info.run_id;
    const metrics = Array.from({ length: 2500 }, (_, i) => ({ key: "acc", value: i / 2500, step: i, timestamp: 1_700_000_000_000 + i }));
    const params = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`p${i}`, String(i)]));
    const tags = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`t${i}`, `v${i}`]));
    await client.logBatch(runId, { metrics, params, tags });

    const run = await client.getRun(runId);
    expect(run.data.params).toHaveLength(250);
    expect(run.data.tags?.filter((t) => /^t\d+$/.test(t.key))).toHaveLength(150);
    const history = await client.getMetricHistory(runId, "acc");
    expect(history).toHaveLength(2500);
    expect(history.map((m) => m.step)).toEqual(metrics.map((m) => m.step));

    const sampled = await client.getMetricHistoryBulkInterval({ runIds: [runId], metricKey: "acc", maxResults: 50 });
    expect(sampled.length).toBeGreaterThan(0);
    expect(sampled.length).toBeLessThanOrEqual(60);
    expect(sampled.every((m) => m.run_id === runId && m.key === "acc")).toBe(true);
    expect(sampled[0]!.step).toBe(0);
    expect(sampled.at(-1)!.step).toBe(2499);
  });

  it("records dataset inputs", async () => {
    const experimentId = await newExperiment();
    const runId = (await client.createRun({ experimentId })).info.run_id;
    await client.logInputs(runId, [
      {
        dataset: { name: "train", digest: "9f8e7d", source_type: "local", source: "data/train.csv" },
        tags: [{ key: "mlflow.data.context", value: "training" }],
      },
    ]);
    const run = await client.getRun(runId);
    expect(run.inputs?.dataset_inputs?.[0]?.dataset).toMatchObject({ name: "train", digest: "9f8e7d" });
  });

  it("searches runs with filter, order and pagination", async () => {
    const experimentId = await newExperiment();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const runId = (await client.createRun({ experimentId, runName: `r${i}` })).info.run_id;
      await client.logMetric(runId, "rmse", i);
      ids.push(runId);
    }
    const page = await client.searchRuns({ experimentIds: [experimentId], filter: "metrics.rmse < 5", orderBy: ["metrics.rmse DESC"], maxResults: 2 });
    expect(page.items.map((r) => r.info.run_id)).toEqual([ids[4], ids[3]]);
    expect(page.nextPageToken).toBeTruthy();

    const all: string[] = [];
    for await (const r of client.iterRuns({ experimentIds: [experimentId], filter: "metrics.rmse < 5", orderBy: ["metrics.rmse ASC"], maxResults: 2 })) all.push(r.info.run_id);
    expect(all).toEqual(ids.slice(0, 5));

    await expectApiError(client.searchRuns({ experimentIds: [experimentId], filter: "metrics.rmse <<< 5" }), "INVALID_PARAMETER_VALUE");
  });

  it("throws RESOURCE_DOES_NOT_EXIST for an unknown run", async () => {
    const err = await expectApiError(client.getRun("0123456789abcdef0123456789abcdef"), "RESOURCE_DOES_NOT_EXIST");
    expect(err.status).toBe(404);
  });
});

describe("fluent runs", () => {
  it("buffers values, sends them as batches and ends the run", async () => {
    const experimentName = `fluent-${crypto.randomUUID()}`;
    const run = await client.startRun({ experimentName, runName: "cnn", tags: { purpose: "test" } });
    const exp = await client.getExperimentByName(experimentName);
    expect(exp?.experiment_id).toBe(run.experimentId);

    run.logParams({ lr: 0.001, epochs: 3 }).setTag("stage", "dev").setTag("stage", "tuning");
    for (let step = 0; step < 2300; step++) run.logMetric("loss", 1 / (step + 1), { step });
    run.logMetrics({ acc: 0.9, f1: 0.8 }, { step: 3 });
    await run.flush();
    expect((await client.getMetricHistory(run.runId, "loss")).length).toBe(2300);

    run.logMetric("final", 1);
    await run.end();
    const got = await client.getRun(run.runId);
    expect(got.info.status).toBe("FINISHED");
    expect(got.info.end_time).toBeGreaterThan(0);
    const tags = Object.fromEntries((got.data.tags ?? []).map((t) => [t.key, t.value]));
    expect(tags).toMatchObject({ purpose: "test", stage: "tuning", "mlflow.runName": "cnn", "mlflow.source.type": "LOCAL" });
    const metrics = Object.fromEntries((got.data.metrics ?? []).map((m) => [m.key, m.value]));
    expect(metrics).toMatchObject({ acc: 0.9, f1: 0.8, final: 1, loss: 1 / 2300 });
    expect(() => run.logMetric("late", 1)).toThrow(/has ended/);
  });

  it("surfaces a failed background send on the next call and still ends the run", async () => {
    const run = await client.startRun({ experimentId: await newExperiment(), flushIntervalMs: 5 });
    run.logParam("lr", "0.1");
    await run.flush();
    expect(() => run.logParam("x", "1").logParam("x", "2")).toThrow(/already logged/);
    run.logParam("lr", "0.2"); // the server refuses to change a param
    await vi.waitFor(() => expect(() => run.logMetric("tick", 1)).toThrow(ApiError), { timeout: 10_000, interval: 20 });

    run.logParam("lr", "0.3");
    await expect(run.end("FAILED")).rejects.toMatchObject({ errorCode: "INVALID_PARAMETER_VALUE" });
    expect((await client.getRun(run.runId)).info.status).toBe("FAILED");
  });

  it("reports a server that went away on flush and on end", async () => {
    const other = await makeTestApp();
    const uri = await other.app.listen({ port: 0, host: "127.0.0.1" });
    const c = new MloopClient({ trackingUri: uri, maxRetries: 1 });
    const run = await c.startRun({ runName: "orphan" });
    await other.close();
    run.logMetric("loss", 1);
    await expect(run.flush()).rejects.toMatchObject({ errorCode: "CONNECTION_ERROR" });
    await expect(run.end()).rejects.toMatchObject({ errorCode: "CONNECTION_ERROR" });
    expect(() => run.logMetric("loss", 2)).toThrow(/has ended/);
  });

  it("withRun ends FINISHED on success and FAILED on a throw", async () => {
    const experimentId = await newExperiment();
    const ok = await client.withRun({ experimentId }, async (run) => {
      run.logMetric("auc", 0.93);
      return run.runId;
    });
    expect((await client.getRun(ok)).info.status).toBe("FINISHED");
    let failedId = "";
    await expect(
      client.withRun({ experimentId }, async (run) => {
        failedId = run.runId;
        throw new Error("training diverged");
      }),
    ).rejects.toThrow("training diverged");
    expect((await client.getRun(failedId)).info.status).toBe("FAILED");
  });
});

describe("artifacts", () => {
  it("uploads files and folders, lists and downloads them byte for byte", async () => {
    const runId = (await client.createRun({ experimentId: await newExperiment() })).info.run_id;
    const src = path.join(tmp, "src");
    fs.mkdirSync(path.join(src, "nested", "deeper"), { recursive: true });
    const big = crypto.randomBytes(3 * 1024 * 1024 + 17);
    fs.writeFileSync(path.join(src, "big.bin"), big);
    fs.writeFileSync(path.join(src, "nested", "a.txt"), "alpha\n");
    fs.writeFileSync(path.join(src, "nested", "deeper", "b with space.json"), '{"b":1}');
    fs.writeFileSync(path.join(tmp, "model.onnx"), "onnx-bytes");

    const progress: TransferProgress[] = [];
    await client.logArtifacts(runId, src, "data", { onProgress: (p) => progress.push({ ...p }), concurrency: 2 });
    const last = progress.at(-1)!;
    expect(last).toEqual({ bytes: big.length + 6 + 7, totalBytes: big.length + 6 + 7, files: 3, totalFiles: 3 });

    await client.logArtifact(runId, path.join(tmp, "model.onnx"), "model");
    await client.logText(runId, "precision 0.93\n", "reports/summary.txt");
    await client.logDict(runId, { threshold: 0.42 }, "config.json");

    const root = await client.listArtifacts(runId);
    expect(root.map((f) => [f.path, f.is_dir]).sort()).toEqual([
      ["config.json", false],
      ["data", true],
      ["model", true],
      ["reports", true],
    ]);
    const nested = await client.listArtifacts(runId, "data/nested");
    expect(nested.map((f) => f.path).sort()).toEqual(["data/nested/a.txt", "data/nested/deeper"]);
    expect(nested.find((f) => f.path === "data/nested/a.txt")?.file_size).toBe(6);

    const dst = path.join(tmp, "dst");
    const local = await client.downloadArtifacts(runId, "data", dst);
    expect(local).toBe(path.join(dst, "data"));
    expect(fs.readFileSync(path.join(dst, "data", "big.bin")).equals(big)).toBe(true);
    expect(fs.readFileSync(path.join(dst, "data", "nested", "deeper", "b with space.json"), "utf8")).toBe('{"b":1}');

    const file = await client.downloadArtifacts(runId, "reports/summary.txt", dst);
    expect(fs.readFileSync(file, "utf8")).toBe("precision 0.93\n");

    const everything = await client.downloadArtifacts(runId, "", path.join(tmp, "all"));
    expect(fs.readFileSync(path.join(everything, "model", "model.onnx"), "utf8")).toBe("onnx-bytes");
    expect(JSON.parse(fs.readFileSync(path.join(everything, "config.json"), "utf8"))).toEqual({ threshold: 0.42 });

    await client.deleteArtifact(runId, "reports");
    expect((await client.listArtifacts(runId)).some((f) => f.path === "reports")).toBe(false);
  });

  it("refuses paths that leave the run's artifacts and reports missing ones", async () => {
    const runId = (await client.createRun({ experimentId: await newExperiment() })).info.run_id;
    await expectApiError(client.logText(runId, "x", "../escape.txt"), "INVALID_PARAMETER_VALUE");
    await expectApiError(client.logText(runId, "x", "/etc/passwd"), "INVALID_PARAMETER_VALUE");
    await expectApiError(client.downloadArtifacts(runId, "nope.txt", path.join(tmp, "missing")), "RESOURCE_DOES_NOT_EXIST");
    await expectApiError(client.listArtifacts("0123456789abcdef0123456789abcdef"), "RESOURCE_DOES_NOT_EXIST");
  });
});

describe("transport", () => {
  it("reports an unreachable server as CONNECTION_ERROR", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const down = new MloopClient({ trackingUri: `http://127.0.0.1:${port}`, maxRetries: 2 });
    const err = await expectApiError(down.getExperiment("0"), "CONNECTION_ERROR");
    expect(err.message).toContain(`127.0.0.1:${port}`);
  });
});

describe("splitBatch", () => {
  it("respects every MLflow limit and keeps order", () => {
    const metrics = Array.from({ length: 2100 }, (_, i) => ({ key: "m", value: i, step: i, timestamp: 0 }));
    const params = Array.from({ length: 230 }, (_, i) => ({ key: `p${i}`, value: "v" }));
    const tags = Array.from({ length: 120 }, (_, i) => ({ key: `t${i}`, value: "x".repeat(7000) }));
    const batches = splitBatch(metrics, params, tags);
    for (const b of batches) {
      expect(b.metrics.length).toBeLessThanOrEqual(1000);
      expect(b.params.length).toBeLessThanOrEqual(100);
      expect(b.tags.length).toBeLessThanOrEqual(100);
      expect(b.metrics.length + b.params.length + b.tags.length).toBeLessThanOrEqual(1000);
      expect(JSON.stringify(b).length).toBeLessThan(1_000_000);
    }
    expect(batches.flatMap((b) => b.metrics.map((m) => m.step))).toEqual(metrics.map((m) => m.step));
    expect(batches.flatMap((b) => b.params.map((p) => p.key))).toEqual(params.map((p) => p.key));
    expect(batches.flatMap((b) => b.tags.map((t) => t.key))).toEqual(tags.map((t) => t.key));
  });
});
