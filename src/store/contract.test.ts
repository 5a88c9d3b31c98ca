import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { expectMlflowError } from "../../test/helpers/contract.js";
import { createTrackingServices, RunStore, TrackingStore, type TrackingServices } from "../tracking/index.js";
import type { SqlDriver } from "./driver.js";
import { openDatabase } from "./factory.js";

/**
 * One suite, every backend: the tracking store's behaviour through the
 * {@link SqlDriver} seam. `makeDriver` returns a fresh, migrated, empty
 * database; `dispose` (optional) removes it after the test.
 */
export function runStoreContract(name: string, makeDriver: () => Promise<{ db: SqlDriver; dispose?: () => Promise<void> }>): void {
  describe(`tracking store contract: ${name}`, () => {
    let db: SqlDriver;
    let dispose: (() => Promise<void>) | undefined;
    let s: TrackingServices;

    beforeEach(async () => {
      ({ db, dispose } = await makeDriver());
      s = await createTrackingServices(db, "mlflow-artifacts:");
    });
    afterEach(async () => {
      await db.close();
      await dispose?.();
    });

    it("creates experiments with ids, locations and tags; names are unique", async () => {
      const id = await s.experiments.create("exp", undefined, [{ key: "team", value: "a" }]);
      expect(id).not.toBe("0");
      const exp = await s.experiments.get(id);
      expect(exp).toMatchObject({ name: "exp", artifact_location: `mlflow-artifacts:/${id}`, lifecycle_stage: "active", tags: [{ key: "team", value: "a" }] });
      await expectMlflowError(s.experiments.create("exp", undefined), "RESOURCE_ALREADY_EXISTS");
      expect((await s.experiments.get("0")).name).toBe("Default");
    });

    it("searches experiments by name and tag with ordering and pages", async () => {
      for (const n of ["b", "a", "c"]) await s.experiments.create(`x-${n}`, undefined, [{ key: "k", value: n }]);
      const r = await s.experiments.search({ viewType: "ACTIVE_ONLY", filter: "name LIKE 'x-%' and tags.k != 'c'", orderBy: ["name ASC"] });
      expect(r.experiments.map((e) => e.name)).toEqual(["x-a", "x-b"]);
      const ci = await s.experiments.search({ viewType: "ACTIVE_ONLY", filter: "name ILIKE 'X-A'" });
      expect(ci.experiments.map((e) => e.name)).toEqual(["x-a"]);
      const cs = await s.experiments.search({ viewType: "ACTIVE_ONLY", filter: "name LIKE 'X-%'" });
      expect(cs.experiments).toEqual([]);
      const p1 = await s.experiments.search({ viewType: "ALL", maxResults: 2, orderBy: ["name"] });
      const p2 = await s.experiments.search({ viewType: "ALL", maxResults: 2, orderBy: ["name"], pageToken: p1.nextPageToken });
      expect([...p1.experiments, ...p2.experiments].map((e) => e.name)).toEqual(["Default", "x-a", "x-b", "x-c"]);
    });

    it("creates runs, reads them back, updates, deletes and restores them", async () => {
      const exp = await s.experiments.create("e", undefined);
      const run = await s.runs.create({ experimentId: exp, userId: "u", runName: "r1", startTime: 123, tags: [{ key: "a", value: "1" }] });
      expect(run.info).toMatchObject({ run_name: "r1", user_id: "u", start_time: 123, status: "RUNNING", experiment_id: exp, artifact_uri: `mlflow-artifacts:/${exp}/${run.info.run_id}/artifacts` });
      expect(await s.runs.locate(run.info.run_id)).toEqual({ runId: run.info.run_id, experimentId: exp, artifactUri: run.info.artifact_uri, lifecycleStage: "active" });
      const info = await s.runs.update(run.info.run_id, { status: "FINISHED", endTime: 456, runName: "r2" });
      expect(info).toMatchObject({ status: "FINISHED", end_time: 456, run_name: "r2" });
      expect((await s.runs.get(run.info.run_id)).data.tags).toEqual([{ key: "a", value: "1" }, { key: "mlflow.runName", value: "r2" }]);
      await s.runs.delete(run.info.run_id);
      await expectMlflowError(s.runs.setTag(run.info.run_id, "x", "y"), "INVALID_PARAMETER_VALUE", /must be in the 'active' state/);
      await s.runs.restore(run.info.run_id);
      await s.runs.setTag(run.info.run_id, "x", "y");
      await expectMlflowError(s.runs.get("ffffffffffffffffffffffffffffffff"), "RESOURCE_DOES_NOT_EXIST");
    });

    it("cascades experiment deletion to its runs' lifecycle", async () => {
      const exp = await s.experiments.create("e", undefined);
      const run = await s.runs.create({ experimentId: exp });
      await s.experiments.delete(exp);
      expect((await s.runs.get(run.info.run_id)).info.lifecycle_stage).toBe("deleted");
      await s.experiments.restore(exp);
      expect((await s.runs.get(run.info.run_id)).info.lifecycle_stage).toBe("active");
    });

    it("stores metrics with NaN and infinities, keeps the latest point and ignores repeated points", async () => {
      const { info } = await s.runs.create({});
      const id = info.run_id;
      await s.runs.logBatch(id, {
        metrics: [
          { key: "n", value: "NaN", timestamp: 1, step: 0 },
          { key: "p", value: "Infinity", timestamp: 1, step: 0 },
          { key: "m", value: "-Infinity", timestamp: 1, step: 0 },
          { key: "a", value: 1.5, timestamp: 2, step: 5 },
          { key: "a", value: 9, timestamp: 1, step: 1 },
          { key: "a", value: 1.5, timestamp: 2, step: 5 },
        ],
      });
      await s.runs.logMetric(id, { key: "a", value: 2, timestamp: 2, step: 5 });
      await s.runs.logMetric(id, { key: "a", value: 100, timestamp: 1, step: 4 });
      const run = await s.runs.get(id);
      expect(run.data.metrics).toEqual([
        { key: "a", value: 2, timestamp: 2, step: 5 },
        { key: "m", value: "-Infinity", timestamp: 1, step: 0 },
        { key: "n", value: "NaN", timestamp: 1, step: 0 },
        { key: "p", value: "Infinity", timestamp: 1, step: 0 },
      ]);
      const h = await s.runs.metricHistory(id, "a", undefined, undefined);
      expect(h.metrics.map((m) => [m.step, m.value])).toEqual([[1, 9], [4, 100], [5, 1.5], [5, 2]]);
    });

    it("refuses a changed param atomically and accepts an identical one", async () => {
      const { info } = await s.runs.create({});
      await s.runs.logParam(info.run_id, "lr", "0.1");
      await s.runs.logParam(info.run_id, "lr", "0.1");
      await expectMlflowError(
        s.runs.logBatch(info.run_id, { params: [{ key: "other", value: "1" }, { key: "lr", value: "0.2" }], metrics: [{ key: "m", value: 1, timestamp: 1 }] }),
        "INVALID_PARAMETER_VALUE",
        /Changing param values is not allowed/,
      );
      const run = await s.runs.get(info.run_id);
      expect(run.data.params).toEqual([{ key: "lr", value: "0.1" }]);
      expect(run.data.metrics).toEqual([]);
    });

    it("acknowledges exactly one of two different values logged for one param at once", async () => {
      const { info } = await s.runs.create({});
      for (let i = 0; i < 20; i++) {
        const key = `k${i}`;
        const results = await Promise.allSettled(["a", "b", "c"].map((value) => s.runs.logBatch(info.run_id, { params: [{ key, value }] })));
        const ok = results.filter((r) => r.status === "fulfilled");
        expect(ok, key).toHaveLength(1);
        for (const r of results) {
          if (r.status === "rejected") expect((r.reason as { errorCode?: string }).errorCode).toBe("INVALID_PARAMETER_VALUE");
        }
      }
      expect((await s.runs.get(info.run_id)).data.params).toHaveLength(20);
    });

    it("serialises concurrent batches to one run without losing points", async () => {
      const { info } = await s.runs.create({});
      await Promise.all(
        Array.from({ length: 8 }, (_, w) =>
          // 123 points: whole multi-row chunks plus a remainder, and one point repeated inside the batch.
          s.runs.logBatch(info.run_id, {
            metrics: [
              ...Array.from({ length: 123 }, (_, i) => ({ key: "m", value: w * 1000 + i, timestamp: w, step: w * 100 + i })),
              { key: "m", value: w * 1000, timestamp: w, step: w * 100 },
            ],
          }),
        ),
      );
      const h = await s.runs.metricHistory(info.run_id, "m", undefined, undefined);
      expect(h.metrics).toHaveLength(8 * 123);
      expect((await s.runs.get(info.run_id)).data.metrics).toEqual([{ key: "m", value: 7122, timestamp: 7, step: 822 }]);
    });

    it("links datasets (with tags), model inputs and model outputs idempotently", async () => {
      const exp = await s.experiments.create("e", undefined);
      const { info } = await s.runs.create({ experimentId: exp });
      const dataset = { name: "d", digest: "x1", source_type: "s3", source: "s3://b/k", profile: '{"rows": 3}' };
      const entry = { tags: [{ key: "mlflow.data.context", value: "eval" }], dataset };
      await s.runs.logInputs(info.run_id, [entry, entry], [{ model_id: "m-in" }]);
      await s.runs.logInputs(info.run_id, [entry], [{ model_id: "m-in" }]);
      await s.runs.logOutputs(info.run_id, [{ model_id: "m-out", step: 3 }]);
      await s.runs.logOutputs(info.run_id, [{ model_id: "m-out", step: 4 }]);
      const run = await s.runs.get(info.run_id);
      expect(run.inputs).toEqual({ dataset_inputs: [entry], model_inputs: [{ model_id: "m-in" }] });
      expect(run.outputs).toEqual({ model_outputs: [{ model_id: "m-out", step: 4 }] });
      expect(await new RunStore(db).runsProducingModel("m-out")).toEqual([{ run_id: info.run_id, step: 4 }]);
    });

    it("searches runs by every entity kind, orders with NULLs last and pages", async () => {
      const exp = await s.experiments.create("e", undefined);
      const mk = async (name: string, start: number, acc: number | undefined, lr: string | undefined, tag: string | undefined) => {
        const { info } = await s.runs.create({ experimentId: exp, runName: name, startTime: start, tags: tag ? [{ key: "t", value: tag }] : [] });
        await s.runs.logBatch(info.run_id, {
          metrics: acc === undefined ? [] : [{ key: "acc", value: Number.isNaN(acc) ? "NaN" : acc, timestamp: 1, step: 0 }],
          params: lr === undefined ? [] : [{ key: "lr", value: lr }],
        });
        return info.run_id;
      };
      const a = await mk("a", 1, 0.9, "0.1", "Blue");
      await mk("b", 2, 0.5, "0.2", "blue");
      await mk("c", 3, NaN, "0.1", undefined);
      await mk("d", 4, undefined, undefined, "red");
      await s.runs.logInputs(a, [{ tags: [], dataset: { name: "iris", digest: "1", source_type: "local", source: "x" } }], []);
      const names = async (filter?: string, orderBy?: string[]) =>
        (await s.runs.search({ experimentIds: [exp], viewType: "ACTIVE_ONLY", filter, orderBy })).runs.map((r) => r.info.run_name);
      expect(await names()).toEqual(["d", "c", "b", "a"]);
      expect(await names("metrics.acc < 0.95")).toEqual(["b", "a"]);
      expect(await names("params.lr = '0.1' and metrics.acc > 0.1")).toEqual(["a"]);
      expect(await names("tags.t LIKE 'b%'")).toEqual(["b"]);
      expect(await names("tags.t ILIKE 'b%'")).toEqual(["b", "a"]);
      expect(await names("tags.t IS NULL")).toEqual(["c"]);
      expect(await names("attributes.run_name IN ('a', 'c')")).toEqual(["c", "a"]);
      expect(await names("attributes.start_time > 2")).toEqual(["d", "c"]);
      expect(await names("datasets.name = 'iris'")).toEqual(["a"]);
      expect(await names(undefined, ["metrics.acc DESC"])).toEqual(["a", "b", "c", "d"]);
      expect(await names(undefined, ["metrics.acc"])).toEqual(["b", "a", "c", "d"]);
      expect(await names(undefined, ["params.lr DESC"])).toEqual(["b", "c", "a", "d"]);
      expect(await names(undefined, ["tags.t"])).toEqual(["a", "b", "d", "c"]);
      // Pages of one and of three cross the valued, NaN and missing segments of a keyed order.
      for (const [order, expected] of [
        [["metrics.acc DESC"], ["a", "b", "c", "d"]],
        [["params.lr"], ["c", "a", "b", "d"]],
      ] as const) {
        for (const size of [1, 3]) {
          const seen: string[] = [];
          let token: string | undefined;
          do {
            const page = await s.runs.search({ experimentIds: [exp], viewType: "ACTIVE_ONLY", orderBy: [...order], maxResults: size, pageToken: token });
            seen.push(...page.runs.map((r) => r.info.run_name));
            token = page.nextPageToken;
          } while (token);
          expect(seen, `${order} by ${size}`).toEqual(expected);
        }
      }
      const p1 = await s.runs.search({ experimentIds: [exp], viewType: "ACTIVE_ONLY", maxResults: 3 });
      const p2 = await s.runs.search({ experimentIds: [exp], viewType: "ACTIVE_ONLY", maxResults: 3, pageToken: p1.nextPageToken });
      expect(p2.runs.map((r) => r.info.run_name)).toEqual(["a"]);
      expect(p2.nextPageToken).toBeUndefined();
    });

    it("samples a long history through the index, keeping the first and last step", async () => {
      const { info } = await s.runs.create({});
      for (let start = 0; start < 5000; start += 1000) {
        await s.runs.logBatch(info.run_id, { metrics: Array.from({ length: 1000 }, (_, i) => ({ key: "x", value: start + i, timestamp: 1, step: (start + i) * 2 })) });
      }
      const sampled = await s.runs.metricHistoryInterval([info.run_id], "x", undefined, undefined, 100);
      expect(sampled.length).toBeLessThanOrEqual(100);
      expect(sampled.length).toBeGreaterThan(90);
      expect(sampled[0]!.step).toBe(0);
      expect(sampled.at(-1)!.step).toBe(9998);
      const window = await s.runs.metricHistoryInterval([info.run_id], "x", 10, 20, 320);
      expect(window.map((m) => m.step)).toEqual([10, 12, 14, 16, 18, 20]);
      const bulk = await s.runs.metricHistoryBulk([info.run_id], "x", 10);
      expect(bulk.map((m) => m.step)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    });

    it("purges runs with everything logged to them", async () => {
      const { info } = await s.runs.create({ tags: [{ key: "t", value: "v" }] });
      await s.runs.logBatch(info.run_id, { metrics: [{ key: "m", value: 1, timestamp: 1 }], params: [{ key: "p", value: "1" }] });
      await s.runs.logOutputs(info.run_id, [{ model_id: "m-1", step: 0 }]);
      await new RunStore(db).purgeRuns([info.run_id]);
      await expectMlflowError(s.runs.get(info.run_id), "RESOURCE_DOES_NOT_EXIST");
      const left = await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM metrics WHERE run_uuid = ?", [info.run_id]);
      expect(Number(left!.n)).toBe(0);
      expect(new TrackingStore(db)).toBeInstanceOf(TrackingStore);
    });
  });
}

runStoreContract("sqlite", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-contract-"));
  const db = await openDatabase(`sqlite:///${path.join(dir, "db.sqlite")}`);
  return { db, dispose: async () => fs.rmSync(dir, { recursive: true, force: true }) };
});

const PG_URL = process.env.MLOOP_TEST_POSTGRES_URL;
if (PG_URL) {
  // Each test gets its own database on the server, dropped afterwards.
  const { default: pg } = await import("pg");
  const admin = new pg.Pool({ connectionString: PG_URL, max: 2 });
  afterAll(async () => admin.end());
  runStoreContract("postgres", async () => {
    const name = `mloop_contract_${randomBytes(6).toString("hex")}`;
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(PG_URL);
    url.pathname = `/${name}`;
    const db = await openDatabase(url.toString());
    return { db, dispose: async () => void (await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)) };
  });
} else {
  describe("tracking store contract: postgres", () => {
    it.skip("skipped: set MLOOP_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/postgres) to run this suite against PostgreSQL", () => {});
  });
}
