/**
 * Two `mloop server` processes on one PostgreSQL database and one artifact
 * folder behave as one server: writes go to both, reads come through the
 * other, and uniqueness holds across them.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canStartPostgres, createTestDatabase, startPostgresCluster, TEST_POSTGRES_URL, type PostgresCluster, type TestDatabase } from "../helpers/pg.js";
import { buildScratchBinary, call, callWithRetry, startServer, type ServerProcess } from "./harness.js";

describe.skipIf(!TEST_POSTGRES_URL && !canStartPostgres())("two server replicas on one PostgreSQL", () => {
  let cluster: PostgresCluster | undefined;
  let database: TestDatabase | undefined;
  let replicas: ServerProcess[] = [];
  let cleanup: () => void;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-replicas-"));
    const built = buildScratchBinary("replicas");
    cleanup = built.cleanup;
    let uri: string;
    if (TEST_POSTGRES_URL) {
      database = await createTestDatabase();
      uri = database.uri;
    } else {
      cluster = await startPostgresCluster();
      uri = cluster.uri;
    }
    const args = ["--backend-store-uri", uri, "--artifacts-destination", path.join(dir, "artifacts")];
    // Started together: both run the migrations against an empty database at once.
    replicas = await Promise.all([startServer(built.bin, args), startServer(built.bin, args)]);
  });

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await database?.drop();
    await cluster?.destroy();
    cleanup?.();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("keeps experiment names unique when both replicas create the same names at once", async () => {
    const names = Array.from({ length: 10 }, (_, i) => `shared-${i}`);
    const attempts = await Promise.all(
      names.flatMap((name) => replicas.flatMap((r) => [0, 1].map(() => call(r.url, "POST", "experiments/create", { name })))),
    );
    const ok = attempts.filter((a) => a.status === 200);
    expect(ok).toHaveLength(names.length);
    for (const a of attempts.filter((x) => x.status !== 200)) {
      expect(a.status).toBe(400);
      expect(a.body.error_code).toBe("RESOURCE_ALREADY_EXISTS");
    }
    const [a, b] = replicas;
    for (const name of names) {
      const viaA = await call(a!.url, "GET", `experiments/get-by-name?experiment_name=${name}`);
      const viaB = await call(b!.url, "GET", `experiments/get-by-name?experiment_name=${name}`);
      expect(viaA.status).toBe(200);
      expect(viaB.body.experiment.experiment_id).toBe(viaA.body.experiment.experiment_id);
    }
  });

  it("serves concurrent logging through both replicas consistently", async () => {
    const exp = await call(replicas[0]!.url, "POST", "experiments/create", { name: "load" });
    const experimentId = exp.body.experiment_id as string;
    const clients = 8;
    const runsPerClient = 5;
    const batchesPerRun = 4;
    const created: { runId: string; client: number }[] = [];

    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        for (let k = 0; k < runsPerClient; k++) {
          // Create through one replica, log through the other, alternating.
          const writeA = replicas[(c + k) % 2]!;
          const writeB = replicas[(c + k + 1) % 2]!;
          const run = await callWithRetry(writeA.url, "POST", "runs/create", {
            experiment_id: experimentId,
            run_name: `c${c}-r${k}`,
            start_time: Date.now(),
            tags: [{ key: "client", value: String(c) }],
          });
          expect(run.status).toBe(200);
          const runId = run.body.run.info.run_id as string;
          created.push({ runId, client: c });
          for (let b = 0; b < batchesPerRun; b++) {
            const target = b % 2 === 0 ? writeB : writeA;
            const r = await callWithRetry(target.url, "POST", "runs/log-batch", {
              run_id: runId,
              metrics: Array.from({ length: 100 }, (_, i) => ({ key: `m${i % 5}`, value: b * 100 + i, timestamp: 1_700_000_000_000 + b, step: b * 100 + i })),
              params: [{ key: `p${b}`, value: String(b) }],
              tags: [{ key: "batch", value: String(b) }],
            });
            expect(r.status).toBe(200);
          }
          const end = await callWithRetry(writeB.url, "POST", "runs/update", { run_id: runId, status: "FINISHED", end_time: Date.now() });
          expect(end.status).toBe(200);
        }
      }),
    );

    const ids = created.map((c) => c.runId);
    expect(new Set(ids).size).toBe(clients * runsPerClient);

    // Every run, through either replica: complete metrics, params, latest values and status.
    for (const [i, { runId }] of created.entries()) {
      const via = replicas[i % 2]!;
      const run = await call(via.url, "GET", `runs/get?run_id=${runId}`);
      expect(run.status).toBe(200);
      expect(run.body.run.info.status).toBe("FINISHED");
      expect(run.body.run.data.params).toHaveLength(batchesPerRun);
      const latest = Object.fromEntries(run.body.run.data.metrics.map((m: { key: string; value: number }) => [m.key, m.value]));
      expect(latest).toEqual({ m0: 395, m1: 396, m2: 397, m3: 398, m4: 399 });
      const history = await call(via.url, "GET", `metrics/get-history?run_id=${runId}&metric_key=m0`);
      expect(history.body.metrics).toHaveLength((batchesPerRun * 100) / 5);
    }

    // Search through each replica sees the runs written through both.
    for (const r of replicas) {
      const seen = new Set<string>();
      let token: string | undefined;
      do {
        const page = await call(r.url, "POST", "runs/search", {
          experiment_ids: [experimentId],
          filter: "metrics.m4 = 399 and params.p3 = '3'",
          max_results: 15,
          ...(token ? { page_token: token } : {}),
        });
        expect(page.status).toBe(200);
        for (const run of page.body.runs ?? []) seen.add(run.info.run_id);
        token = page.body.next_page_token;
      } while (token);
      expect([...seen].sort()).toEqual([...ids].sort());
    }
  });

  it("reads through one replica the artifacts uploaded through the other", async () => {
    const [a, b] = replicas;
    const body = Buffer.from(Array.from({ length: 5000 }, (_, i) => `line ${i}\n`).join(""));
    const put = await fetch(`${a!.url}/api/2.0/mlflow-artifacts/artifacts/1/replicas/artifacts/data.txt`, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body,
    });
    expect(put.status).toBe(200);
    const got = await fetch(`${b!.url}/api/2.0/mlflow-artifacts/artifacts/1/replicas/artifacts/data.txt`);
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(body)).toBe(true);
    const list = await fetch(`${b!.url}/api/2.0/mlflow-artifacts/artifacts?path=1/replicas/artifacts`);
    expect(((await list.json()) as { files: { path: string }[] }).files.map((f) => f.path)).toEqual(["data.txt"]);
  });
});
