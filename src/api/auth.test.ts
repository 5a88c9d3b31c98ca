import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTestApp, type TestApp } from "../../test/helpers/app.js";
import { allows, PERMISSIONS, type Need, type Permission } from "../auth/index.js";
import { loadAuthConfig, loadServerConfig, type AuthConfig } from "../config.js";
import { openDatabase } from "../store/index.js";
import { authorizedRoutes, registerAuth } from "./auth.js";

const ADMIN_PW = "admin-pw-for-tests";

function authConfig(env: Record<string, string> = {}): AuthConfig {
  return loadAuthConfig(true, { MLOOP_AUTH_ADMIN_PASSWORD: ADMIN_PW, ...env });
}

type Creds = string | undefined;
const basic = (user: string, pw: string): string => "Basic " + Buffer.from(`${user}:${pw}`).toString("base64");
const ADMIN = basic("admin", ADMIN_PW);

/** An auth-enabled server and JSON calls made as someone. */
async function authApp(env: Record<string, string> = {}) {
  const t = await makeTestApp({ auth: authConfig(env) });
  const call = async (who: Creds, method: "GET" | "POST" | "PATCH" | "DELETE" | "PUT", url: string, body?: unknown) => {
    const full = url.startsWith("/") ? url : `/api/2.0/mlflow/${url}`;
    const headers: Record<string, string> = {};
    if (who) headers.authorization = who;
    let payload: string | undefined;
    if (body !== undefined && method === "GET") {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(body as Record<string, unknown>)) for (const x of [v].flat()) q.append(k, String(x));
      const res = await t.app.inject({ method, url: `${full}?${q}`, headers });
      return { status: res.statusCode, body: safeJson(res.body), headers: res.headers };
    }
    if (body !== undefined) {
      payload = JSON.stringify(body);
      headers["content-type"] = "application/json";
    }
    const res = await t.app.inject({ method, url: full, headers, payload });
    return { status: res.statusCode, body: safeJson(res.body), headers: res.headers };
  };
  const user = async (name: string): Promise<string> => {
    const pw = `${name}-pw`;
    expect((await call(ADMIN, "POST", "users/create", { username: name, password: pw })).status).toBe(200);
    return basic(name, pw);
  };
  return { t, call, user };
}

function safeJson(s: string): any {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

/** A concrete URL for a route pattern (parameters and wildcards filled in). */
function sampleUrl(pattern: string): string {
  return pattern.replace(/:model_id/g, "m-0000").replace(/:webhook_id/g, "wh-0").replace(/:tag_key/g, "k").replace(/\*$/, "0/x/artifacts/f.txt");
}

describe("auth: every route covered by construction", () => {
  let a: Awaited<ReturnType<typeof authApp>>;
  beforeAll(async () => {
    a = await authApp();
  });
  afterAll(async () => a.t.close());

  it("every registered route has a rule, and without credentials every non-public one answers 401 with MLflow's error JSON", async () => {
    const routes = authorizedRoutes(a.t.app);
    expect(routes.length).toBeGreaterThan(150);
    const open = routes.filter((r) => r.rule.who === "anyone").map((r) => `${r.method} ${r.url}`);
    expect(open.sort()).toEqual(["GET /", "GET /*", "GET /health", "HEAD /", "HEAD /*", "HEAD /health"]);
    for (const r of routes) {
      if (r.rule.who === "anyone") continue;
      const headers: Record<string, string> = {};
      let payload: string | undefined;
      if (r.method === "PUT") {
        headers["content-type"] = "application/octet-stream";
        payload = "x";
      } else if (r.method !== "GET" && r.method !== "HEAD") {
        headers["content-type"] = "application/json";
        payload = "{}";
      }
      const res = await a.t.app.inject({ method: r.method as "GET", url: sampleUrl(r.url), headers, payload });
      expect(res.statusCode, `${r.method} ${r.url}`).toBe(401);
      if (r.method !== "HEAD") expect(res.json(), `${r.method} ${r.url}`).toMatchObject({ error_code: "UNAUTHENTICATED" });
      expect(res.headers["www-authenticate"]).toBe('Basic realm="mlflow"');
    }
  });

  it("a signed-in non-admin sending nonsense to any route gets a 4xx in MLflow's shape, never a 5xx", async () => {
    const carl = await a.user("carl");
    const nonsense = [
      "{}",
      JSON.stringify({ experiment_id: { a: 1 }, run_id: ["x", "y"], name: 5, path: "%zz/../..", username: [], resource_type: "experiment", resource_id: {} }),
      JSON.stringify({ experiment_id: "999999", run_id: "0".repeat(32), name: "nope", source: "models:/%E0%A4%A", model_id: "m-x", experiment_ids: ["x", 3], run_ids: "y" }),
    ];
    for (const r of authorizedRoutes(a.t.app)) {
      if (r.rule.who === "anyone" || r.method === "HEAD") continue;
      for (const body of nonsense) {
        const get = r.method === "GET";
        const url = sampleUrl(r.url) + (get ? `?${new URLSearchParams(Object.entries(JSON.parse(body)).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]))}` : "");
        const res = await a.t.app.inject({
          method: r.method as "GET",
          url,
          headers: { authorization: carl, "content-type": r.method === "PUT" ? "application/octet-stream" : "application/json" },
          payload: get ? undefined : body,
        });
        expect(res.statusCode, `${r.method} ${r.url} ${body}`).toBeLessThan(500);
        if (res.statusCode >= 400) expect(res.json(), `${r.method} ${r.url}`).toHaveProperty("error_code");
      }
    }
  });

  it("a route added without a rule stops the server from starting", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-auth-boot-"));
    const db = await openDatabase(`sqlite:///${path.join(dir, "db.sqlite")}`);
    const app = Fastify();
    const config = { ...loadServerConfig({}, {}, dir), auth: authConfig() };
    await registerAuth(app, { config, db }, {});
    expect(() => app.get("/api/2.0/mlflow/experiments/brand-new", async () => ({}))).toThrow(/GET \/api\/2.0\/mlflow\/experiments\/brand-new has no authorization rule/);
    await app.close();
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("unknown paths need credentials too", async () => {
    expect((await a.call(undefined, "POST", "no-such/endpoint", {})).status).toBe(401);
    expect((await a.call(ADMIN, "POST", "no-such/endpoint", {})).body.error_code).toBe("ENDPOINT_NOT_FOUND");
  });

  it("with auth off there are no auth routes and no checks", async () => {
    const t = await makeTestApp();
    expect(t.app.auth).toBeUndefined();
    expect((await t.call("GET", "experiments/search")).status).toBe(200);
    expect((await t.call("POST", "users/create", { username: "x", password: "y" })).status).toBe(404);
    await t.close();
  });
});

describe("auth: users, permissions and the MLflow semantics", () => {
  let a: Awaited<ReturnType<typeof authApp>>;
  let alice: string;
  let bob: string;
  let expA: string;
  let runA: string;
  beforeAll(async () => {
    a = await authApp();
    alice = await a.user("alice");
    bob = await a.user("bob");
    expA = (await a.call(alice, "POST", "experiments/create", { name: "alice-exp" })).body.experiment_id;
    runA = (await a.call(alice, "POST", "runs/create", { experiment_id: expA })).body.run.info.run_id;
  });
  afterAll(async () => a.t.close());

  it("the creator of an experiment gets MANAGE on it", async () => {
    const res = await a.call(ADMIN, "GET", "experiments/permissions/get", { experiment_id: expA, username: "alice" });
    expect(res.body).toEqual({ experiment_permission: { experiment_id: expA, user_id: expect.any(Number), permission: "MANAGE" } });
  });

  it("another user with the default READ can read but not log, and is refused with 403 PERMISSION_DENIED", async () => {
    expect((await a.call(bob, "GET", "experiments/get", { experiment_id: expA })).status).toBe(200);
    expect((await a.call(bob, "GET", "runs/get", { run_id: runA })).status).toBe(200);
    const denied = await a.call(bob, "POST", "runs/log-metric", { run_id: runA, key: "m", value: 1, timestamp: 1 });
    expect(denied.status).toBe(403);
    expect(denied.body).toEqual({ error_code: "PERMISSION_DENIED", message: "Permission denied" });
    expect((await a.call(bob, "POST", "runs/create", { experiment_id: expA })).status).toBe(403);
    expect((await a.call(bob, "POST", "experiments/delete", { experiment_id: expA })).status).toBe(403);
  });

  it("users: only admins create, list and delete; a user reads only themself", async () => {
    expect((await a.call(bob, "POST", "users/create", { username: "mallory", password: "x" })).status).toBe(403);
    expect((await a.call(bob, "GET", "users/list")).status).toBe(403);
    expect((await a.call(bob, "GET", "users/get", { username: "alice" })).status).toBe(403);
    const me = await a.call(bob, "GET", "users/get", { username: "bob" });
    expect(me.body.user).toMatchObject({ username: "bob", is_admin: false });
    expect(JSON.stringify(me.body)).not.toContain("scrypt");
    expect((await a.call(bob, "GET", "users/current")).body.user.username).toBe("bob");
    expect((await a.call(bob, "PATCH", "users/update-admin", { username: "bob", is_admin: true })).status).toBe(403);
    expect((await a.call(ADMIN, "POST", "users/create", { username: "alice", password: "x" })).body.error_code).toBe("RESOURCE_ALREADY_EXISTS");
    expect((await a.call(ADMIN, "GET", "users/get", { username: "ghost" })).status).toBe(404);
  });

  it("generated from the permission table: each level allows exactly what MLflow's does, on experiments and registered models", async () => {
    // One route per need; each level is granted to a fresh user on a fresh resource.
    const levels = PERMISSIONS.filter((p) => p !== "USE");
    for (const level of levels) {
      const name = `u-${level.toLowerCase()}`;
      const who = await a.user(name);
      const exp = (await a.call(alice, "POST", "experiments/create", { name: `exp-${level}` })).body.experiment_id;
      const model = (await a.call(alice, "POST", "registered-models/create", { name: `model-${level}` })).body.registered_model.name;
      await a.call(alice, "POST", "experiments/permissions/create", { experiment_id: exp, username: name, permission: level });
      await a.call(alice, "POST", "registered-models/permissions/create", { name: model, username: name, permission: level });
      const probes: [Need, () => Promise<{ status: number }>][] = [
        ["read", () => a.call(who, "GET", "experiments/get", { experiment_id: exp })],
        ["update", () => a.call(who, "POST", "experiments/set-experiment-tag", { experiment_id: exp, key: "k", value: "v" })],
        ["manage", () => a.call(who, "GET", "experiments/permissions/get", { experiment_id: exp, username: name })],
        ["read", () => a.call(who, "GET", "registered-models/get", { name: model })],
        ["update", () => a.call(who, "PATCH", "registered-models/update", { name: model, description: "d" })],
        ["manage", () => a.call(who, "GET", "registered-models/permissions/get", { name: model, username: name })],
        ["delete", () => a.call(who, "POST", "experiments/delete", { experiment_id: exp })],
        ["delete", () => a.call(who, "DELETE", "registered-models/delete", { name: model })],
      ];
      for (const [need, probe] of probes) {
        const { status } = await probe();
        expect(status, `${level} ${need}`).toBe(allows(level as Permission, need) ? 200 : 403);
      }
    }
  });

  it("EDIT cannot delete artifacts or manage permissions; MANAGE can", async () => {
    const editor = await a.user("editor");
    await a.call(alice, "POST", "experiments/permissions/create", { experiment_id: expA, username: "editor", permission: "EDIT" });
    const put = (who: string) =>
      a.t.app.inject({ method: "PUT", url: `/api/2.0/mlflow-artifacts/artifacts/${expA}/${runA}/artifacts/a.txt`, headers: { authorization: who, "content-type": "application/octet-stream" }, payload: "x" });
    const del = (who: string) => a.t.app.inject({ method: "DELETE", url: `/api/2.0/mlflow-artifacts/artifacts/${expA}/${runA}/artifacts/a.txt`, headers: { authorization: who } });
    expect((await put(editor)).statusCode).toBe(200);
    expect((await del(editor)).statusCode).toBe(403);
    expect((await a.call(editor, "PATCH", "experiments/permissions/update", { experiment_id: expA, username: "bob", permission: "EDIT" })).status).toBe(403);
    expect((await del(alice)).statusCode).toBe(200);
    expect((await a.call(bob, "GET", "/api/3.0/mlflow/users/permissions/get", {})).status).toBe(400);
  });

  it("MLflow 3's grant / revoke / get permission API", async () => {
    const exp = (await a.call(alice, "POST", "experiments/create", { name: "v3-exp" })).body.experiment_id;
    const g = (who: string, user: string, permission: string) =>
      a.call(who, "POST", "/api/3.0/mlflow/users/permissions/grant", { username: user, resource_type: "experiment", resource_id: exp, permission });
    expect((await g(bob, "bob", "MANAGE")).status).toBe(403);
    expect((await g(alice, "bob", "EDIT")).status).toBe(200);
    expect((await a.call(alice, "GET", "/api/3.0/mlflow/users/permissions/get", { username: "bob", resource_type: "experiment", resource_id: exp })).body).toEqual({ allowed: true, permission: "EDIT" });
    expect((await a.call(bob, "POST", "runs/create", { experiment_id: exp })).status).toBe(200);
    await a.call(alice, "POST", "/api/3.0/mlflow/users/permissions/revoke", { username: "bob", resource_type: "experiment", resource_id: exp });
    expect((await a.call(bob, "POST", "runs/create", { experiment_id: exp })).status).toBe(403);
    expect((await g(alice, "bob", "SUPERUSER")).body.error_code).toBe("INVALID_PARAMETER_VALUE");
    expect((await a.call(alice, "POST", "/api/3.0/mlflow/users/permissions/grant", { username: "bob", resource_type: "gateway", resource_id: "x", permission: "READ" })).status).toBe(400);
  });

  it("registered model permissions follow a rename and go with a delete", async () => {
    await a.call(alice, "POST", "registered-models/create", { name: "renamed-from" });
    await a.call(alice, "POST", "registered-models/rename", { name: "renamed-from", new_name: "renamed-to" });
    expect((await a.call(alice, "PATCH", "registered-models/update", { name: "renamed-to", description: "x" })).status).toBe(200);
    await a.call(alice, "DELETE", "registered-models/delete", { name: "renamed-to" });
    // Bob takes the name: alice's old MANAGE does not carry over to his model.
    await a.call(bob, "POST", "registered-models/create", { name: "renamed-to" });
    expect((await a.call(alice, "PATCH", "registered-models/update", { name: "renamed-to", description: "x" })).status).toBe(403);
  });
});

describe("auth: search results contain only what the caller may read, with full pages", () => {
  let a: Awaited<ReturnType<typeof authApp>>;
  let alice: string;
  let bob: string;
  const exps: string[] = [];
  beforeAll(async () => {
    a = await authApp({ MLOOP_AUTH_DEFAULT_PERMISSION: "NO_PERMISSIONS" });
    alice = await a.user("alice");
    bob = await a.user("bob");
    for (let i = 0; i < 6; i++) exps.push((await a.call(alice, "POST", "experiments/create", { name: `e${i}` })).body.experiment_id);
    for (const i of [1, 3, 5]) await a.call(alice, "POST", "experiments/permissions/create", { experiment_id: exps[i], username: "bob", permission: "READ" });
    for (let i = 0; i < 4; i++) await a.call(alice, "POST", "registered-models/create", { name: `m${i}` });
    await a.call(alice, "POST", "registered-models/permissions/create", { name: "m2", username: "bob", permission: "READ" });
  });
  afterAll(async () => a.t.close());

  it("search_experiments: pages of the requested size, only readable experiments", async () => {
    const p1 = await a.call(bob, "POST", "experiments/search", { max_results: 2, order_by: ["name ASC"] });
    expect(p1.body.experiments.map((e: any) => e.name)).toEqual(["e1", "e3"]);
    const p2 = await a.call(bob, "POST", "experiments/search", { max_results: 2, order_by: ["name ASC"], page_token: p1.body.next_page_token });
    expect(p2.body.experiments.map((e: any) => e.name)).toEqual(["e5"]);
    expect(p2.body.next_page_token).toBeUndefined();
    expect((await a.call(alice, "POST", "experiments/search", { max_results: 100 })).body.experiments).toHaveLength(6);
    expect((await a.call(ADMIN, "POST", "experiments/search", { max_results: 100 })).body.experiments).toHaveLength(7);
  });

  it("search_runs across experiments drops the unreadable ones", async () => {
    await a.call(alice, "POST", "runs/create", { experiment_id: exps[0] });
    const visible = (await a.call(alice, "POST", "runs/create", { experiment_id: exps[1] })).body.run.info.run_id;
    const res = await a.call(bob, "POST", "runs/search", { experiment_ids: [exps[0], exps[1]] });
    expect(res.body.runs.map((r: any) => r.info.run_id)).toEqual([visible]);
    expect((await a.call(bob, "POST", "runs/search", { experiment_ids: [exps[0]] })).body).toEqual({ runs: [] });
    expect((await a.call(bob, "POST", "logged-models/search", { experiment_ids: [exps[0]] })).body).toEqual({ models: [] });
  });

  it("search_registered_models and search_model_versions show only readable models", async () => {
    expect((await a.call(bob, "GET", "registered-models/search", { max_results: 10 })).body.registered_models.map((m: any) => m.name)).toEqual(["m2"]);
    expect((await a.call(bob, "GET", "model-versions/search", { filter: "name = 'm1'" })).body.model_versions ?? []).toEqual([]);
  });

  it("metric history in bulk needs READ on every run", async () => {
    const hidden = (await a.call(alice, "POST", "runs/create", { experiment_id: exps[2] })).body.run.info.run_id;
    expect((await a.call(bob, "GET", "metrics/get-history-bulk-interval", { run_ids: [hidden], metric_key: "m" })).status).toBe(403);
    expect((await a.call(bob, "GET", "metrics/get-history-bulk", { run_id: hidden, metric_key: "m" })).status).toBe(403);
  });
});

describe("auth: MLflow's CVE patterns, each as a test", () => {
  let a: Awaited<ReturnType<typeof authApp>>;
  let alice: string;
  let bob: string;
  let exp: string;
  let run: string;
  let loggedModel: string;
  beforeAll(async () => {
    a = await authApp({ MLOOP_AUTH_DEFAULT_PERMISSION: "NO_PERMISSIONS" });
    alice = await a.user("alice");
    bob = await a.user("bob");
    exp = (await a.call(alice, "POST", "experiments/create", { name: "private" })).body.experiment_id;
    run = (await a.call(alice, "POST", "runs/create", { experiment_id: exp })).body.run.info.run_id;
    const up = await a.t.app.inject({
      method: "PUT",
      url: `/api/2.0/mlflow-artifacts/artifacts/${exp}/${run}/artifacts/secret.txt`,
      headers: { authorization: alice, "content-type": "application/octet-stream" },
      payload: "top secret",
    });
    expect(up.statusCode).toBe(200);
    loggedModel = (await a.call(alice, "POST", "logged-models", { experiment_id: exp, name: "lm" })).body.model.info.model_id;
    await a.call(alice, "POST", "registered-models/create", { name: "private-model" });
    await a.call(alice, "POST", "model-versions/create", { name: "private-model", source: `runs:/${run}/artifacts`, run_id: run });
  });
  afterAll(async () => a.t.close());

  const get = (who: string, url: string) => a.t.app.inject({ method: "GET", url, headers: { authorization: who } });

  it("artifact proxy: download, list, upload, delete and multipart check the owning experiment", async () => {
    expect((await get(alice, `/api/2.0/mlflow-artifacts/artifacts/${exp}/${run}/artifacts/secret.txt`)).body).toBe("top secret");
    expect((await get(bob, `/api/2.0/mlflow-artifacts/artifacts/${exp}/${run}/artifacts/secret.txt`)).statusCode).toBe(403);
    expect((await get(bob, `/ajax-api/2.0/mlflow-artifacts/artifacts/${exp}/${run}/artifacts/secret.txt`)).statusCode).toBe(403);
    expect((await get(bob, `/api/2.0/mlflow-artifacts/artifacts?path=${exp}/${run}/artifacts`)).statusCode).toBe(403);
    expect((await get(bob, `/api/2.0/mlflow-artifacts/presigned/${exp}/${run}/artifacts/secret.txt`)).statusCode).toBe(403);
    // Path tricks resolve to the same owner, or are refused outright.
    expect((await get(bob, `/api/2.0/mlflow-artifacts/artifacts/./${exp}/${run}/artifacts/secret.txt`)).statusCode).toBeGreaterThanOrEqual(400);
    expect((await get(bob, `/api/2.0/mlflow-artifacts/artifacts/x/..%2F${exp}/${run}/artifacts/secret.txt`)).statusCode).toBeGreaterThanOrEqual(400);
    const put = await a.t.app.inject({ method: "PUT", url: `/api/2.0/mlflow-artifacts/artifacts/${exp}/${run}/artifacts/evil.txt`, headers: { authorization: bob, "content-type": "application/octet-stream" }, payload: "x" });
    expect(put.statusCode).toBe(403);
    const mpu = await a.call(bob, "POST", `/api/2.0/mlflow-artifacts/mpu/create/${exp}/${run}/artifacts`, { path: "big.bin", num_parts: 1 });
    expect(mpu.status).toBe(403);
    expect((await a.t.app.inject({ method: "DELETE", url: `/api/2.0/mlflow-artifacts/artifacts/${exp}/${run}/artifacts/secret.txt`, headers: { authorization: bob } })).statusCode).toBe(403);
    // A path no experiment owns is writable by admins only.
    expect((await a.t.app.inject({ method: "PUT", url: `/api/2.0/mlflow-artifacts/artifacts/loose/file.txt`, headers: { authorization: bob, "content-type": "application/octet-stream" }, payload: "x" })).statusCode).toBe(403);
  });

  it("traces: start, read, search, tag, assess and OTLP ingest check the trace's experiment", async () => {
    const now = Date.now();
    const start = await a.call(alice, "POST", "/api/3.0/mlflow/traces", {
      trace: { trace_info: { trace_id: "tr-secret", trace_location: { type: "MLFLOW_EXPERIMENT", mlflow_experiment: { experiment_id: exp } }, request_time: new Date(now).toISOString(), execution_duration: "0.5s", state: "OK" } },
    });
    expect(start.status).toBe(200);
    const traceId = start.body.trace.trace_info.trace_id as string;
    expect((await a.call(alice, "GET", `/api/3.0/mlflow/traces/${traceId}`)).status).toBe(200);
    expect((await a.call(bob, "GET", `/api/3.0/mlflow/traces/${traceId}`)).status).toBe(403);
    expect((await a.call(bob, "GET", "/ajax-api/3.0/mlflow/traces/get", { trace_id: traceId })).status).toBe(403);
    expect((await a.call(bob, "GET", "/ajax-api/2.0/mlflow/get-trace-artifact", { request_id: traceId })).status).toBe(403);
    expect((await a.call(bob, "POST", "/api/3.0/mlflow/traces/batchGetInfos", { trace_ids: [traceId] })).status).toBe(403);
    expect((await a.call(bob, "POST", "/api/3.0/mlflow/traces/search", { locations: [{ type: "MLFLOW_EXPERIMENT", mlflow_experiment: { experiment_id: exp } }] })).status).toBe(403);
    expect((await a.call(bob, "PATCH", `/api/3.0/mlflow/traces/${traceId}/tags`, { key: "k", value: "v" })).status).toBe(403);
    expect((await a.call(bob, "POST", `/api/3.0/mlflow/traces/${traceId}/assessments`, { assessment: { assessment_name: "x", feedback: { value: 1 } } })).status).toBe(403);
    expect((await a.call(bob, "POST", "/api/3.0/mlflow/traces", { trace: { trace_info: { trace_location: { type: "MLFLOW_EXPERIMENT", mlflow_experiment: { experiment_id: exp } } } } })).status).toBe(403);
    const otlp = await a.t.app.inject({ method: "POST", url: "/v1/traces", headers: { authorization: bob, "content-type": "application/json", "x-mlflow-experiment-id": exp }, payload: "{}" });
    expect(otlp.statusCode).toBe(403);
    expect((await a.call(bob, "POST", "/api/3.0/mlflow/traces/delete-traces", { experiment_id: exp, max_timestamp_millis: now + 1000, max_traces: 10 })).status).toBe(403);
    expect((await a.call(alice, "POST", "/api/3.0/mlflow/traces/search", { locations: [{ type: "MLFLOW_EXPERIMENT", mlflow_experiment: { experiment_id: exp } }] })).body.traces.length).toBe(1);
  });

  it("get-artifact, artifacts/list and logged-model artifacts check the run's or model's experiment", async () => {
    expect((await get(bob, `/get-artifact?run_id=${run}&path=secret.txt`)).statusCode).toBe(403);
    expect((await get(alice, `/get-artifact?run_id=${run}&path=secret.txt`)).body).toBe("top secret");
    expect((await get(bob, `/api/2.0/mlflow/artifacts/list?run_id=${run}`)).statusCode).toBe(403);
    expect((await get(bob, `/api/2.0/mlflow/logged-models/${loggedModel}`)).statusCode).toBe(403);
    expect((await get(bob, `/api/2.0/mlflow/logged-models/${loggedModel}/artifacts/directories`)).statusCode).toBe(403);
    expect((await get(bob, `/ajax-api/2.0/mlflow/logged-models/${loggedModel}/artifacts/files?artifact_file_path=MLmodel`)).statusCode).toBe(403);
    expect((await a.call(bob, "PATCH", `logged-models/${loggedModel}/tags`, { tags: [{ key: "k", value: "v" }] })).status).toBe(403);
  });

  it("model versions: download URI and get-artifact check the model; registering another's run is refused", async () => {
    expect((await a.call(bob, "GET", "model-versions/get-download-uri", { name: "private-model", version: "1" })).status).toBe(403);
    expect((await get(bob, `/model-versions/get-artifact?name=private-model&version=1&path=secret.txt`)).statusCode).toBe(403);
    await a.call(bob, "POST", "registered-models/create", { name: "bobs-model" });
    for (const body of [
      { name: "bobs-model", source: `runs:/${run}/artifacts` },
      { name: "bobs-model", source: `mlflow-artifacts:/${exp}/${run}/artifacts` },
      { name: "bobs-model", source: "s3://elsewhere/x", run_id: run },
      { name: "bobs-model", source: `models:/${loggedModel}` },
      { name: "bobs-model", source: "models:/private-model/1" },
    ]) {
      expect((await a.call(bob, "POST", "model-versions/create", body)).status, JSON.stringify(body)).toBe(403);
    }
  });

  it("webhooks are admin-only", async () => {
    expect((await a.call(bob, "GET", "webhooks")).status).toBe(403);
    expect((await a.call(ADMIN, "GET", "webhooks")).status).toBe(200);
  });

  it("cross-site requests still cannot mutate: the JSON content-type rule runs before auth", async () => {
    const res = await a.t.app.inject({ method: "POST", url: "/api/2.0/mlflow/experiments/create", headers: { authorization: alice, "content-type": "text/plain" }, payload: '{"name":"csrf"}' });
    expect(res.statusCode).toBe(400);
  });
});

describe("auth: tokens and attacks on sign-in", () => {
  let a: Awaited<ReturnType<typeof authApp>>;
  beforeAll(async () => {
    a = await authApp({ MLOOP_AUTH_MAX_FAILED_LOGINS_PER_USER: "3" });
  });
  afterAll(async () => a.t.close());

  it("a token works as a bearer credential until revoked, and a revoked token stops at once", async () => {
    const carol = await a.user("carol");
    const made = await a.call(carol, "POST", "users/tokens/create", { name: "ci", expires_in_seconds: 3600 });
    expect(made.body.token).toMatch(/^mlp_/);
    const bearer = `Bearer ${made.body.token}`;
    expect((await a.call(bearer, "GET", "users/current")).body.user.username).toBe("carol");
    expect((await a.call(carol, "GET", "users/tokens/list")).body.tokens).toEqual([{ id: made.body.token_info.id, name: "ci", creation_time: expect.any(Number), expiration_time: expect.any(Number) }]);
    expect((await a.call(carol, "POST", "users/tokens/revoke", { token_id: made.body.token_info.id })).status).toBe(200);
    expect((await a.call(bearer, "GET", "users/current")).status).toBe(401);
    expect((await a.call("Bearer mlp_forged", "GET", "users/current")).status).toBe(401);
    expect((await a.call(carol, "POST", "users/tokens/create", { expires_in_seconds: -5 })).status).toBe(400);
  });

  it("a deleted user's token and password stop working at once", async () => {
    const dave = await a.user("dave");
    const bearer = `Bearer ${(await a.call(dave, "POST", "users/tokens/create", {})).body.token}`;
    expect((await a.call(bearer, "GET", "users/current")).status).toBe(200);
    await a.call(ADMIN, "DELETE", "users/delete", { username: "dave" });
    expect((await a.call(bearer, "GET", "users/current")).status).toBe(401);
    expect((await a.call(dave, "GET", "users/current")).status).toBe(401);
  });

  it("a password change invalidates the old password and the user's tokens", async () => {
    const erin = await a.user("erin");
    const bearer = `Bearer ${(await a.call(erin, "POST", "users/tokens/create", {})).body.token}`;
    expect((await a.call(erin, "PATCH", "users/update-password", { username: "erin", password: "new-pw" })).status).toBe(400);
    expect((await a.call(erin, "PATCH", "users/update-password", { username: "erin", password: "new-pw", current_password: "erin-pw" })).status).toBe(200);
    expect((await a.call(erin, "GET", "users/current")).status).toBe(401);
    expect((await a.call(bearer, "GET", "users/current")).status).toBe(401);
    expect((await a.call(basic("erin", "new-pw"), "GET", "users/current")).status).toBe(200);
  });

  it("brute force is slowed: after the limit the right password gets 429 with Retry-After", async () => {
    const frank = await a.user("frank");
    for (let i = 0; i < 3; i++) expect((await a.call(basic("frank", `guess${i}`), "GET", "users/current")).status).toBe(401);
    const locked = await a.call(frank, "GET", "users/current");
    expect(locked.status).toBe(429);
    expect(locked.body.error_code).toBe("REQUEST_LIMIT_EXCEEDED");
    expect(Number(locked.headers["retry-after"])).toBeGreaterThan(0);
    expect((await a.call("Basic !!!", "GET", "users/current")).status).toBe(401);
  });
});

describe("auth: failed logins are limited per client address too", () => {
  it("guessing across many usernames from one address is stopped; another address is not", async () => {
    const t = await makeTestApp({ auth: authConfig({ MLOOP_AUTH_MAX_FAILED_LOGINS_PER_ADDRESS: "3" }), trustProxy: true });
    const hit = (user: string, ip: string) =>
      t.app.inject({ method: "GET", url: "/api/2.0/mlflow/users/current", headers: { authorization: basic(user, "guess"), "x-forwarded-for": ip } });
    for (const u of ["u1", "u2", "u3"]) expect((await hit(u, "203.0.113.7")).statusCode).toBe(401);
    expect((await hit("u4", "203.0.113.7")).statusCode).toBe(429);
    expect((await hit("u4", "198.51.100.1")).statusCode).toBe(401);
    await t.close();
  });
});
