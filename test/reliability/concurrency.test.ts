/**
 * 16 clients log at the same time, over real HTTP, and none of them may see an error (SQLite's
 * "database is locked" in particular); afterwards every value they logged is there.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTestApp, type TestApp } from "../helpers/app.js";
import { api, fullHistory, startServerProcess, transpiledBinary, type ServerProcess } from "./harness.js";

const CLIENTS = 16;
const BATCHES = 12;
const KEYS = 100; // metrics per batch: one point of each key
const PARAMS_PER_BATCH = 4;

interface Failure {
  client: number;
  status: number | string;
  body: unknown;
}

/** Each client creates its own run and logs BATCHES batches; all also tag one shared run. */
async function workload(urls: string[], experimentName: string) {
  const exp = await api(urls[0]!, "POST", "experiments/create", { name: experimentName });
  expect(exp.status).toBe(200);
  const experimentId = exp.body.experiment_id as string;
  const shared = await api(urls[0]!, "POST", "runs/create", { experiment_id: experimentId, run_name: "shared", start_time: Date.now() });
  expect(shared.status).toBe(200);
  const sharedId = shared.body.run.info.run_id as string;

  const failures: Failure[] = [];
  const runIds: string[] = new Array(CLIENTS);
  const check = (client: number, res: { status: number; body: unknown }) => {
    if (res.status !== 200) failures.push({ client, status: res.status, body: res.body });
  };
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      const url = urls[c % urls.length]!;
      try {
        const created = await api(url, "POST", "runs/create", { experiment_id: experimentId, run_name: `client-${c}`, start_time: Date.now() });
        check(c, created);
        const runId = created.body.run.info.run_id as string;
        runIds[c] = runId;
        for (let b = 0; b < BATCHES; b++) {
          const ts = Date.now();
          check(
            c,
            await api(url, "POST", "runs/log-batch", {
              run_id: runId,
              metrics: Array.from({ length: KEYS }, (_, k) => ({ key: `m${k}`, value: c * 1000 + b + k / 1000, timestamp: ts, step: b })),
              params: Array.from({ length: PARAMS_PER_BATCH }, (_, p) => ({ key: `p${b}_${p}`, value: `${c}-${b}-${p}` })),
              tags: [{ key: "last_batch", value: String(b) }],
            }),
          );
          check(c, await api(url, "POST", "runs/log-metric", { run_id: sharedId, key: `client_${c}`, value: b, timestamp: ts, step: b }));
        }
        check(c, await api(url, "POST", "runs/update", { run_id: runId, status: "FINISHED", end_time: Date.now() }));
      } catch (err) {
        failures.push({ client: c, status: "network", body: String(err) });
      }
    }),
  );
  return { experimentId, sharedId, runIds, failures };
}

async function verify(url: string, result: Awaited<ReturnType<typeof workload>>) {
  expect(result.failures).toEqual([]);
  const search = await api(url, "POST", "runs/search", { experiment_ids: [result.experimentId], max_results: 1000, filter: "attributes.status = 'FINISHED'" });
  expect(search.status).toBe(200);
  expect((search.body.runs as unknown[]).length).toBe(CLIENTS);
  for (let c = 0; c < CLIENTS; c++) {
    const run = await api(url, "GET", "runs/get", { run_id: result.runIds[c] });
    expect(run.status).toBe(200);
    const data = run.body.run.data;
    expect(data.metrics).toHaveLength(KEYS);
    for (const m of data.metrics as Array<{ key: string; value: number; step: number }>) {
      const k = Number(m.key.slice(1));
      expect(m.step).toBe(BATCHES - 1);
      expect(m.value).toBeCloseTo(c * 1000 + (BATCHES - 1) + k / 1000, 9);
    }
    expect(data.params).toHaveLength(BATCHES * PARAMS_PER_BATCH);
    expect(data.params).toContainEqual({ key: `p${BATCHES - 1}_0`, value: `${c}-${BATCHES - 1}-0` });
    expect(data.tags).toContainEqual({ key: "last_batch", value: String(BATCHES - 1) });
    const history = await fullHistory(url, result.runIds[c]!, "m7");
    expect(history.map((p) => p.step).sort((a, b) => a - b)).toEqual(Array.from({ length: BATCHES }, (_, b) => b));
    const sharedHistory = await fullHistory(url, result.sharedId, `client_${c}`);
    expect(sharedHistory.map((p) => p.value).sort((a, b) => a - b)).toEqual(Array.from({ length: BATCHES }, (_, b) => b));
  }
}

describe("16 concurrent clients", () => {
  it("against one server: no request fails and every value is stored", async () => {
    const t: TestApp = await makeTestApp({ ui: false });
    try {
      await t.app.listen({ host: "127.0.0.1", port: 0 });
      const { port } = t.app.server.address() as { port: number };
      const url = `http://127.0.0.1:${port}`;
      const result = await workload([url], "concurrency-one-server");
      await verify(url, result);
    } finally {
      await t.close();
    }
  });

  describe("against two server processes sharing one SQLite file", () => {
    let bin: ReturnType<typeof transpiledBinary>;
    let dir: string;
    let servers: ServerProcess[] = [];

    beforeAll(async () => {
      bin = transpiledBinary();
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-concurrency-"));
      // Started one after the other so that only one of them runs the migrations of a new file.
      servers.push(await startServerProcess(bin.bin, dir));
      servers.push(await startServerProcess(bin.bin, dir));
    });

    afterAll(async () => {
      await Promise.all(servers.map((s) => s.stop()));
      servers = [];
      bin?.remove();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("no request fails (no 'database is locked') and every value is stored", async () => {
      const result = await workload(
        servers.map((s) => s.url),
        "concurrency-two-processes",
      );
      const locked = result.failures.filter((f) => JSON.stringify(f.body).includes("locked"));
      expect(locked).toEqual([]);
      await verify(servers[1]!.url, result);
      for (const s of servers) expect(s.output()).not.toMatch(/database is locked|SQLITE_BUSY/);
    });
  });
});
