import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { makeTestApp, type TestApp } from "../../test/helpers/app.js";
import { signPayload } from "./webhooks.js";

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A real HTTP receiver on a free loopback port; fails the first `failFirst` requests of each delivery id. */
async function startReceiver(failFirst = 0): Promise<{ url: string; port: number; received: Received[]; attempts: Map<string, number>; close(): Promise<void> }> {
  const received: Received[] = [];
  const attempts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const id = String(req.headers["x-mlflow-delivery-id"]);
      const n = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, n);
      if (n <= failFirst) {
        res.writeHead(503).end("busy");
        return;
      }
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    received,
    attempts,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function until(cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

const ALL_EVENTS = [
  { entity: "REGISTERED_MODEL", action: "CREATED" },
  { entity: "MODEL_VERSION", action: "CREATED" },
  { entity: "MODEL_VERSION_TAG", action: "SET" },
  { entity: "MODEL_VERSION_TAG", action: "DELETED" },
  { entity: "MODEL_VERSION_ALIAS", action: "CREATED" },
  { entity: "MODEL_VERSION_ALIAS", action: "DELETED" },
];

describe("registry webhooks", () => {
  let t: TestApp | undefined;
  let receivers: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await t?.close();
    for (const r of receivers) await r.close();
    receivers = [];
    t = undefined;
  });

  async function setup(failFirst = 0) {
    const rcv = await startReceiver(failFirst);
    receivers.push(rcv);
    t = await makeTestApp({ webhookAllowList: [`127.0.0.1:${rcv.port}`] });
    const run = await t.call("POST", "runs/create", { experiment_id: "0", start_time: Date.now() });
    return { rcv, runId: run.body.run.info.run_id as string, app: t };
  }

  it("delivers every registry event once, signed, in order per model", async () => {
    const { rcv, runId, app } = await setup();
    const secret = "s3cret";
    const c = await app.call("POST", "webhooks", { name: "ci-hook", url: rcv.url, events: ALL_EVENTS, secret });
    expect(c.status).toBe(200);
    expect(c.body.webhook).toMatchObject({ name: "ci-hook", url: rcv.url, status: "ACTIVE" });
    expect(c.body.webhook.secret).toBeUndefined();

    await app.call("POST", "registered-models/create", { name: "a", tags: [{ key: "t", value: "1" }] });
    await app.call("POST", "registered-models/create", { name: "b" });
    await app.call("POST", "model-versions/create", { name: "a", source: `runs:/${runId}/model`, run_id: runId });
    await app.call("POST", "model-versions/create", { name: "b", source: `runs:/${runId}/model`, run_id: runId });
    await app.call("POST", "model-versions/set-tag", { name: "a", version: "1", key: "k", value: "v" });
    await app.call("DELETE", "model-versions/delete-tag", { name: "a", version: "1", key: "k" });
    await app.call("POST", "registered-models/alias", { name: "a", alias: "champion", version: "1" });
    await app.call("DELETE", "registered-models/alias", { name: "a", alias: "champion" });

    await until(() => rcv.received.length >= 8);
    await app.app.registry.webhooks.whenIdle();
    expect(rcv.received).toHaveLength(8);
    const ids = rcv.received.map((r) => r.headers["x-mlflow-delivery-id"]);
    expect(new Set(ids).size).toBe(8);
    for (const r of rcv.received) {
      const id = String(r.headers["x-mlflow-delivery-id"]);
      const ts = String(r.headers["x-mlflow-timestamp"]);
      expect(r.headers["content-type"]).toBe("application/json");
      expect(r.headers["x-mlflow-signature"]).toBe(signPayload(secret, id, ts, r.body));
      // independently recomputed, as a receiver would
      const mac = crypto.createHmac("sha256", secret).update(`${id}.${ts}.${r.body}`).digest("base64");
      expect(r.headers["x-mlflow-signature"]).toBe(`v1,${mac}`);
    }
    const events = rcv.received.map((r) => JSON.parse(r.body) as { entity: string; action: string; data: Record<string, unknown> });
    const forA = events.filter((e) => e.data.name === "a").map((e) => `${e.entity}.${e.action}`);
    expect(forA).toEqual([
      "registered_model.created",
      "model_version.created",
      "model_version_tag.set",
      "model_version_tag.deleted",
      "model_version_alias.created",
      "model_version_alias.deleted",
    ]);
    expect(events.filter((e) => e.data.name === "b").map((e) => `${e.entity}.${e.action}`)).toEqual(["registered_model.created", "model_version.created"]);
    expect(events[0]!.data).toEqual({ name: "a", tags: { t: "1" }, description: null });
    const mvCreated = events.find((e) => e.entity === "model_version" && e.data.name === "a")!;
    expect(mvCreated.data).toMatchObject({ name: "a", version: "1", source: `runs:/${runId}/model`, run_id: runId });
  });

  it("retries a receiver that fails twice, with the same delivery id, and keeps the order", async () => {
    const { rcv, app, runId } = await setup(2);
    await app.call("POST", "webhooks", { name: "flaky", url: rcv.url, events: ALL_EVENTS.slice(0, 2) });
    await app.call("POST", "registered-models/create", { name: "m1" });
    await app.call("POST", "model-versions/create", { name: "m1", source: `runs:/${runId}/model`, run_id: runId });
    await until(() => rcv.received.length >= 2, 60_000);
    await app.app.registry.webhooks.whenIdle();
    expect(rcv.received).toHaveLength(2);
    for (const r of rcv.received) expect(rcv.attempts.get(String(r.headers["x-mlflow-delivery-id"]))).toBe(3);
    expect(rcv.received.map((r) => JSON.parse(r.body).entity)).toEqual(["registered_model", "model_version"]);
    // no signature header without a secret
    expect(rcv.received[0]!.headers["x-mlflow-signature"]).toBeUndefined();
  });

  it("lists, gets, updates, tests and deletes webhooks", async () => {
    const { rcv, app } = await setup();
    const c = await app.call("POST", "webhooks", { name: "h1", url: rcv.url, events: [{ entity: "model_version", action: "created" }], description: "d" });
    const id = c.body.webhook.webhook_id;
    expect(c.body.webhook.events).toEqual([{ entity: "MODEL_VERSION", action: "CREATED" }]);
    expect((await app.call("GET", `webhooks/${id}`)).body.webhook.name).toBe("h1");
    expect((await app.call("GET", "webhooks")).body.webhooks).toHaveLength(1);
    const u = await app.call("PATCH", `webhooks/${id}`, { status: "DISABLED", name: "h2" });
    expect(u.body.webhook).toMatchObject({ name: "h2", status: "DISABLED" });
    const test = await app.call("POST", `webhooks/${id}/test`, {});
    expect(test.body.result).toMatchObject({ success: true, response_status: 200, response_body: "ok" });
    expect(JSON.parse(rcv.received[0]!.body)).toMatchObject({ entity: "model_version", action: "created", data: { name: "example_model" } });
    expect((await app.call("DELETE", `webhooks/${id}`)).status).toBe(200);
    expect((await app.call("GET", `webhooks/${id}`)).body.error_code).toBe("RESOURCE_DOES_NOT_EXIST");
  });

  it("refuses loopback, private and link-local targets that are not allow-listed", async () => {
    const { app } = await setup();
    for (const url of [
      "http://127.0.0.1:9/x",
      "http://localhost:9/x",
      "http://10.0.0.5/x",
      "http://192.168.1.1/x",
      "http://172.16.0.1/x",
      "http://169.254.169.254/latest/meta-data",
      "http://[::1]/x",
      "http://[::ffff:127.0.0.1]/x",
      "http://0.0.0.0/x",
      "file:///etc/passwd",
      "ftp://example.com/x",
      "http://user:pw@example.com/x",
    ]) {
      const r = await app.call("POST", "webhooks", { name: "bad", url, events: [{ entity: "REGISTERED_MODEL", action: "CREATED" }] });
      expect(r.status, url).toBe(400);
      expect(r.body.error_code, url).toBe("INVALID_PARAMETER_VALUE");
    }
    const badEvent = await app.call("POST", "webhooks", { name: "bad", url: "http://127.0.0.1:9/x", events: [{ entity: "RUN", action: "CREATED" }] });
    expect(badEvent.body.error_code).toBe("INVALID_PARAMETER_VALUE");
  });

  it("writes the event in the registry change's own transaction: when the outbox write fails, the change is rolled back", async () => {
    const { rcv, app, runId } = await setup();
    await app.call("POST", "webhooks", { name: "tx", url: rcv.url, events: ALL_EVENTS });
    await app.call("POST", "registered-models/create", { name: "kept" });
    const hooks = app.app.registry.webhooks;
    const record = hooks.record.bind(hooks);
    hooks.record = async () => {
      throw new Error("outbox write failed");
    };
    expect((await app.call("POST", "registered-models/create", { name: "lost" })).status).toBe(500);
    expect((await app.call("GET", "registered-models/get?name=lost")).body.error_code).toBe("RESOURCE_DOES_NOT_EXIST");
    expect((await app.call("POST", "model-versions/create", { name: "kept", source: `runs:/${runId}/model`, run_id: runId })).status).toBe(500);
    expect((await app.call("POST", "registered-models/alias", { name: "kept", alias: "a", version: "1" })).status).toBe(404);
    hooks.record = record;
    // The failed version took no number: the next one is still 1.
    const mv = await app.call("POST", "model-versions/create", { name: "kept", source: `runs:/${runId}/model`, run_id: runId });
    expect(mv.body.model_version.version).toBe("1");
    await until(() => rcv.received.length >= 2);
    await hooks.whenIdle();
    expect(rcv.received.map((r) => JSON.parse(r.body) as { entity: string; data: { name: string } }).map((e) => `${e.entity}:${e.data.name}`)).toEqual([
      "registered_model:kept",
      "model_version:kept",
    ]);
  });
});
