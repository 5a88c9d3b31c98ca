/**
 * PostgreSQL restarts while clients log through the HTTP API: clients get
 * retryable 503s (never a 500), the server process stays up, its pool
 * reconnects by itself, and every write the server acknowledged is stored.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canStartPostgres, startPostgresCluster, type PostgresCluster } from "../helpers/pg.js";
import { buildScratchBinary, call, callWithRetry, startServer, type Reply, type ServerProcess } from "./harness.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!canStartPostgres())("a PostgreSQL restart under continuous logging", () => {
  let cluster: PostgresCluster;
  let server: ServerProcess;
  let cleanup: () => void;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-pg-restart-"));
    const built = buildScratchBinary("pg-restart");
    cleanup = built.cleanup;
    cluster = await startPostgresCluster();
    server = await startServer(built.bin, ["--backend-store-uri", cluster.uri, "--artifacts-destination", path.join(dir, "artifacts")]);
  });

  afterAll(async () => {
    await server?.stop();
    await cluster?.destroy();
    cleanup?.();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("loses no acknowledged write and serves again without a restart", async () => {
    const exp = await call(server.url, "POST", "experiments/create", { name: "restart" });
    expect(exp.status).toBe(200);
    const experimentId = exp.body.experiment_id as string;

    const writers = 4;
    const runIds: string[] = [];
    for (let w = 0; w < writers; w++) {
      const r = await call(server.url, "POST", "runs/create", { experiment_id: experimentId, start_time: Date.now() });
      expect(r.status).toBe(200);
      runIds.push(r.body.run.info.run_id);
    }

    const acked = runIds.map(() => new Set<number>());
    const ackedParams = runIds.map(() => new Set<string>());
    const failures: Reply[] = [];
    const lost: Reply[] = [];
    let stop = false;

    const writer = async (w: number) => {
      for (let step = 0; !stop; step++) {
        const body = {
          run_id: runIds[w],
          metrics: [
            { key: "loss", value: 1 / (step + 1), timestamp: 1_700_000_000_000 + step, step },
            { key: "acc", value: step / 1000, timestamp: 1_700_000_000_000 + step, step },
          ],
          params: step % 10 === 0 ? [{ key: `p${step}`, value: String(step) }] : [],
        };
        const r = await callWithRetry(server.url, "POST", "runs/log-batch", body, { seen: failures, retries: 20 });
        if (r.status === 200) {
          acked[w]!.add(step);
          if (step % 10 === 0) ackedParams[w]!.add(`p${step}`);
        } else {
          lost.push(r);
        }
        await sleep(5);
      }
    };

    const running = Array.from({ length: writers }, (_, w) => writer(w));
    await sleep(1500);
    const before = acked.map((s) => s.size);
    await cluster.stop("fast");
    await sleep(2000);
    await cluster.start();
    await sleep(2000);
    stop = true;
    await Promise.all(running);

    // The outage was noticed, and reported only as retryable unavailability.
    expect(failures.length).toBeGreaterThan(0);
    for (const f of failures) {
      expect(f.status).toBe(503);
      expect(f.body.error_code).toBe("TEMPORARILY_UNAVAILABLE");
    }
    expect(lost).toEqual([]);
    // Writes went on after PostgreSQL came back.
    acked.forEach((s, w) => expect(s.size).toBeGreaterThan(before[w]!));

    // The same server process, still up, answers and has every acknowledged point.
    expect(server.child.exitCode).toBeNull();
    for (let w = 0; w < writers; w++) {
      const steps = new Set<number>();
      let token: string | undefined;
      do {
        const q = new URLSearchParams({ run_id: runIds[w]!, metric_key: "loss", max_results: "25000" });
        if (token) q.set("page_token", token);
        const h = await call(server.url, "GET", `metrics/get-history?${q}`);
        expect(h.status).toBe(200);
        for (const m of h.body.metrics ?? []) steps.add(m.step);
        token = h.body.next_page_token;
      } while (token);
      for (const s of acked[w]!) expect(steps.has(s)).toBe(true);
      const run = await call(server.url, "GET", `runs/get?run_id=${runIds[w]}`);
      const params = new Set((run.body.run.data.params ?? []).map((p: { key: string }) => p.key));
      for (const p of ackedParams[w]!) expect(params.has(p)).toBe(true);
    }
    const fresh = await call(server.url, "POST", "experiments/create", { name: "after-restart" });
    expect(fresh.status).toBe(200);
    expect(server.stderr()).not.toMatch(/Unhandled|uncaught/i);
  });
});
