/**
 * Durability: `mloop server` is killed with SIGKILL while clients are logging; after a restart on
 * the same store every write that was acknowledged with a 200 is there.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, fullHistory, startServerProcess, transpiledBinary, type ServerProcess } from "./harness.js";

const WRITERS = 4;

describe("SIGKILL in the middle of logging", () => {
  let bin: ReturnType<typeof transpiledBinary>;
  let dir: string;
  let server: ServerProcess | undefined;

  beforeAll(() => {
    bin = transpiledBinary();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-crash-"));
  });

  afterAll(async () => {
    await server?.stop();
    bin?.remove();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("keeps every acknowledged write across two kills and restarts", async () => {
    server = await startServerProcess(bin.bin, dir);
    const exp = await api(server.url, "POST", "experiments/create", { name: "crash" });
    expect(exp.status).toBe(200);
    const runIds: string[] = [];
    for (let w = 0; w < WRITERS; w++) {
      const run = await api(server.url, "POST", "runs/create", { experiment_id: exp.body.experiment_id, start_time: Date.now() });
      expect(run.status).toBe(200);
      runIds.push(run.body.run.info.run_id);
    }

    // What the server acknowledged: per writer, metric steps, params and tags.
    const acked = runIds.map(() => ({ steps: new Set<number>(), params: new Map<string, string>(), tags: new Map<string, string>() }));
    const unexpected: string[] = [];
    let step = 0;

    for (let round = 0; round < 2; round++) {
      const url = server.url;
      let stop = false;
      const writers = runIds.map(async (runId, w) => {
        while (!stop) {
          const s = step++;
          const body =
            s % 3 === 0
              ? { route: "runs/log-metric", payload: { run_id: runId, key: "loss", value: s / 7, timestamp: Date.now(), step: s } }
              : {
                  route: "runs/log-batch",
                  payload: {
                    run_id: runId,
                    metrics: [{ key: "loss", value: s / 7, timestamp: Date.now(), step: s }],
                    params: [{ key: `p${s}`, value: `v${s}` }],
                    tags: [{ key: `t${s}`, value: `w${w}` }],
                  },
                };
          let res;
          try {
            res = await api(url, "POST", body.route, body.payload);
          } catch {
            return; // the server is gone: this write was not acknowledged
          }
          if (res.status !== 200) {
            unexpected.push(`${body.route} ${res.status} ${JSON.stringify(res.body)}`);
            continue;
          }
          acked[w]!.steps.add(s);
          if (body.route === "runs/log-batch") {
            acked[w]!.params.set(`p${s}`, `v${s}`);
            acked[w]!.tags.set(`t${s}`, `w${w}`);
          }
        }
      });
      // Let the writers get going, then kill the server without warning while requests are in flight.
      const before = acked.reduce((n, a) => n + a.steps.size, 0);
      const deadline = Date.now() + 15_000;
      while (acked.reduce((n, a) => n + a.steps.size, 0) < before + 150 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      await server.kill();
      stop = true;
      await Promise.all(writers);
      expect(server.child.signalCode).toBe("SIGKILL");

      server = await startServerProcess(bin.bin, dir);
    }

    expect(unexpected).toEqual([]);
    const total = acked.reduce((n, a) => n + a.steps.size, 0);
    expect(total).toBeGreaterThanOrEqual(300);

    for (let w = 0; w < WRITERS; w++) {
      const history = await fullHistory(server.url, runIds[w]!, "loss");
      const stored = new Set(history.map((p) => p.step));
      const missing = [...acked[w]!.steps].filter((s) => !stored.has(s));
      expect(missing).toEqual([]);
      for (const p of history) expect(p.value).toBeCloseTo(p.step / 7, 12);

      const run = await api(server.url, "GET", "runs/get", { run_id: runIds[w] });
      expect(run.status).toBe(200);
      const params = new Map((run.body.run.data.params ?? []).map((p: { key: string; value: string }) => [p.key, p.value]));
      const tags = new Map((run.body.run.data.tags ?? []).map((t: { key: string; value: string }) => [t.key, t.value]));
      for (const [k, v] of acked[w]!.params) expect(params.get(k)).toBe(v);
      for (const [k, v] of acked[w]!.tags) expect(tags.get(k)).toBe(v);
    }

    // The restarted server takes writes as usual.
    const after = await api(server.url, "POST", "runs/log-metric", { run_id: runIds[0], key: "after", value: 1, timestamp: Date.now(), step: 0 });
    expect(after.status).toBe(200);
  });
});
