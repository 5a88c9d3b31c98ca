/**
 * The webhook outbox with real server processes and a real HTTP receiver:
 * an event committed with its registry change is delivered even when the
 * server is killed with SIGKILL before the delivery finished, and two server
 * processes on one database deliver each event once. On SQLite, and on
 * PostgreSQL when MLOOP_TEST_POSTGRES_URL is set.
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, TEST_POSTGRES_URL, type TestDatabase } from "../helpers/pg.js";
import { api, startServerProcess, transpiledBinary, type ServerProcess } from "./harness.js";

interface Receiver {
  port: number;
  url: string;
  /** Every request, answered or not, by delivery id. */
  requests: { id: string; body: string; t: number }[];
  /** Delivery ids answered 200, with how often. */
  acked: Map<string, number>;
  /** While true, requests are held open and never answered. */
  hang: boolean;
  releaseHung(): void;
  close(): Promise<void>;
}

async function startReceiver(delayMs = 0): Promise<Receiver> {
  const hung: http.ServerResponse[] = [];
  const r: Receiver = {
    port: 0,
    url: "",
    requests: [],
    acked: new Map(),
    hang: false,
    releaseHung: () => {
      for (const res of hung.splice(0)) res.destroy();
    },
    close: async () => {
      r.releaseHung();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const id = String(req.headers["x-mlflow-delivery-id"]);
      r.requests.push({ id, body: Buffer.concat(chunks).toString("utf8"), t: Date.now() });
      if (r.hang) {
        hung.push(res);
        return;
      }
      setTimeout(() => {
        r.acked.set(id, (r.acked.get(id) ?? 0) + 1);
        res.writeHead(200).end("ok");
      }, delayMs);
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  r.port = (server.address() as AddressInfo).port;
  r.url = `http://127.0.0.1:${r.port}/hook`;
  return r;
}

async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const backends: { name: string; pg: boolean }[] = [{ name: "SQLite", pg: false }, ...(TEST_POSTGRES_URL ? [{ name: "PostgreSQL", pg: true }] : [])];

describe.each(backends)("webhook outbox with real server processes ($name)", ({ pg }) => {
  let bin: string;
  let remove: () => void;
  let dir: string;
  const servers: ServerProcess[] = [];
  const receivers: Receiver[] = [];
  const databases: TestDatabase[] = [];

  beforeAll(() => {
    ({ bin, remove } = transpiledBinary());
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-outbox-"));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.kill()));
    for (const r of receivers) await r.close();
    for (const d of databases) await d.drop();
    remove?.();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function storeUri(name: string): Promise<string> {
    if (!pg) return `sqlite:///${path.join(dir, `${name}.db`)}`;
    const d = await createTestDatabase();
    databases.push(d);
    return d.uri;
  }

  async function start(uri: string, rcv: Receiver, leaseMs: number, pollMs: number): Promise<ServerProcess> {
    const s = await startServerProcess(bin, dir, uri, {
      MLOOP_WEBHOOK_ALLOW_LIST: `127.0.0.1:${rcv.port}`,
      MLOOP_WEBHOOK_LEASE_MS: String(leaseMs),
      MLOOP_WEBHOOK_POLL_MS: String(pollMs),
    });
    servers.push(s);
    return s;
  }

  it("delivers events after a SIGKILL that came between their commit and their delivery", async () => {
    const rcv = await startReceiver();
    receivers.push(rcv);
    const uri = await storeUri("kill");
    const first = await start(uri, rcv, 1500, 200);
    const hook = await api(first.url, "POST", "webhooks", { name: "h", url: rcv.url, events: [{ entity: "REGISTERED_MODEL", action: "CREATED" }] });
    expect(hook.status).toBe(200);

    // The receiver holds every request open: the server has committed and started sending, nothing is delivered.
    rcv.hang = true;
    const names = Array.from({ length: 6 }, (_, i) => `killed-${i}`);
    for (const name of names) expect((await api(first.url, "POST", "registered-models/create", { name })).status).toBe(200);
    await until(() => new Set(rcv.requests.map((q) => q.id)).size === names.length, "the first sends");
    await first.kill();
    rcv.releaseHung();
    rcv.hang = false;
    expect(rcv.acked.size).toBe(0);

    // After a restart the dead process's leases run out and every event is delivered, once.
    const second = await start(uri, rcv, 1500, 200);
    await until(() => rcv.acked.size === names.length, "deliveries after the restart");
    await new Promise((r) => setTimeout(r, 800));
    expect([...rcv.acked.values()].every((n) => n === 1)).toBe(true);
    const delivered = [...rcv.acked.keys()].map((id) => (JSON.parse(rcv.requests.find((q) => q.id === id)!.body) as { data: { name: string } }).data.name);
    expect(delivered.sort()).toEqual([...names].sort());
    await second.stop();
  });

  it("delivers each event exactly once with two server processes on one database", async () => {
    const rcv = await startReceiver(5);
    receivers.push(rcv);
    const uri = await storeUri("replicas");
    const a = await start(uri, rcv, 10_000, 50);
    const b = await start(uri, rcv, 10_000, 50);
    const hook = await api(a.url, "POST", "webhooks", {
      name: "h",
      url: rcv.url,
      events: [
        { entity: "REGISTERED_MODEL", action: "CREATED" },
        { entity: "MODEL_VERSION_ALIAS", action: "CREATED" },
      ],
    });
    expect(hook.status).toBe(200);
    const exp = await api(a.url, "POST", "experiments/create", { name: "outbox" });
    const run = await api(b.url, "POST", "runs/create", { experiment_id: exp.body.experiment_id, start_time: Date.now() });
    const runId = run.body.run.info.run_id as string;

    const models = 20;
    await Promise.all(
      Array.from({ length: models }, async (_, i) => {
        const [x, y] = i % 2 ? [a, b] : [b, a];
        const name = `shared-${i}`;
        expect((await api(x.url, "POST", "registered-models/create", { name })).status).toBe(200);
        expect((await api(y.url, "POST", "model-versions/create", { name, source: `runs:/${runId}/model`, run_id: runId })).status).toBe(200);
        // Both replicas move one alias at once: two events, both committed.
        const set = await Promise.all([x, y].map((s) => api(s.url, "POST", "registered-models/alias", { name, alias: "champion", version: "1" })));
        expect(set.map((s) => s.status)).toEqual([200, 200]);
      }),
    );
    const expected = models * 3;
    await until(() => rcv.acked.size === expected, `${expected} deliveries`);
    await new Promise((r) => setTimeout(r, 1000));
    expect(rcv.requests).toHaveLength(expected);
    expect([...rcv.acked.values()].every((n) => n === 1)).toBe(true);
    // Per model, the order of events is the order they committed in.
    const byModel = new Map<string, string[]>();
    for (const q of rcv.requests) {
      const e = JSON.parse(q.body) as { entity: string; data: { name: string } };
      byModel.set(e.data.name, [...(byModel.get(e.data.name) ?? []), e.entity]);
    }
    for (const [, events] of byModel) expect(events).toEqual(["registered_model", "model_version_alias", "model_version_alias"]);
  });
});
