/**
 * Two server processes on one database log different values for one param of
 * one run at the same instant, many times over: each time exactly one is
 * acknowledged and the other gets MLflow's INVALID_PARAMETER_VALUE, and the
 * stored value is the acknowledged one. On SQLite, and on PostgreSQL when
 * MLOOP_TEST_POSTGRES_URL is set.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, TEST_POSTGRES_URL, type TestDatabase } from "../helpers/pg.js";
import { api, startServerProcess, transpiledBinary, type ServerProcess } from "./harness.js";

const backends: { name: string; pg: boolean }[] = [{ name: "SQLite", pg: false }, ...(TEST_POSTGRES_URL ? [{ name: "PostgreSQL", pg: true }] : [])];

describe.each(backends)("a param logged with two values through two server processes at once ($name)", ({ pg }) => {
  let remove: () => void;
  let dir: string;
  let database: TestDatabase | undefined;
  let replicas: ServerProcess[] = [];

  beforeAll(async () => {
    const built = transpiledBinary();
    remove = built.remove;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-param-race-"));
    let uri = `sqlite:///${path.join(dir, "mlruns.db")}`;
    if (pg) {
      database = await createTestDatabase();
      uri = database.uri;
    }
    const first = await startServerProcess(built.bin, dir, uri);
    replicas = [first, await startServerProcess(built.bin, dir, uri)];
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await database?.drop();
    remove?.();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("acknowledges exactly one of them, every round", async () => {
    const [a, b] = replicas as [ServerProcess, ServerProcess];
    const exp = await api(a.url, "POST", "experiments/create", { name: "race" });
    const runs = await Promise.all(
      [a, b].map(async (s) => (await api(s.url, "POST", "runs/create", { experiment_id: exp.body.experiment_id, start_time: Date.now() })).body.run.info.run_id as string),
    );
    const rounds = 60;
    for (let i = 0; i < rounds; i++) {
      const runId = runs[i % 2]!;
      const key = `lr_${i}`;
      // Alternate log-parameter and log-batch; several keys race in flight at once.
      const send = (s: ServerProcess, value: string) =>
        i % 3 === 2
          ? api(s.url, "POST", "runs/log-batch", { run_id: runId, params: [{ key, value }, { key: `same_${i}`, value: "x" }] })
          : api(s.url, "POST", "runs/log-parameter", { run_id: runId, key, value });
      const answers = await Promise.all([send(a, "0.1"), send(b, "0.2")]);
      const ok = answers.filter((r) => r.status === 200);
      expect(ok, `round ${i}: ${JSON.stringify(answers)}`).toHaveLength(1);
      const winner = answers[0]!.status === 200 ? "0.1" : "0.2";
      const loser = winner === "0.1" ? "0.2" : "0.1";
      const refused = answers.find((r) => r.status !== 200)!;
      expect(refused.status).toBe(400);
      expect(refused.body).toEqual({
        error_code: "INVALID_PARAMETER_VALUE",
        message: `Changing param values is not allowed. Param with key='${key}' was already logged with value='${winner}' for run ID='${runId}'. Attempted logging new value '${loser}'.`,
      });
      const stored = await api(b.url, "GET", "runs/get", { run_id: runId });
      const params = stored.body.run.data.params as { key: string; value: string }[];
      expect(params.find((p) => p.key === key)?.value).toBe(winner);
    }
  });
});
