import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTestApp, type TestApp } from "../../test/helpers/app.js";
import { loadAuthConfig } from "../config.js";

type Gql = { status: number; body: any };

async function gql(t: TestApp, query: string, extra: { variables?: unknown; operationName?: string; headers?: Record<string, string> } = {}): Promise<Gql> {
  const res = await t.app.inject({
    method: "POST",
    url: "/graphql",
    headers: { "content-type": "application/json; charset=utf-8", ...extra.headers },
    payload: JSON.stringify({ query, variables: extra.variables, operationName: extra.operationName }),
  });
  return { status: res.statusCode, body: JSON.parse(res.body) };
}

describe("graphql: MLflow's /graphql on the real app (SQLite)", () => {
  let t: TestApp;
  let experimentId: string;
  let runId: string;

  beforeAll(async () => {
    t = await makeTestApp();
    experimentId = (await t.call("POST", "experiments/create", { name: "gql" })).body.experiment_id;
    runId = (await t.call("POST", "runs/create", { experiment_id: experimentId, start_time: 5 })).body.run.info.run_id;
    await t.call("POST", "runs/log-batch", {
      run_id: runId,
      metrics: [
        { key: "loss", value: 0.5, timestamp: 1, step: 1 },
        { key: "bad", value: "NaN", timestamp: 2, step: 2 },
      ],
      params: [{ key: "lr", value: "0.1" }],
    });
    await t.call("POST", "registered-models/create", { name: "gql-model" });
    const created = await t.call("POST", "model-versions/create", { name: "gql-model", source: `runs:/${runId}/model`, run_id: runId });
    expect(created.status).toBe(200);
  });
  afterAll(async () => t.close());

  it("echoes the test field and answers errors as null", async () => {
    const r = await gql(t, 'query testQuery { test(inputString: "abc") { output } }', { operationName: "testQuery" });
    expect(r).toEqual({ status: 200, body: { data: { test: { output: "abc" } }, errors: null } });
    const m = await gql(t, 'mutation m { testMutation(inputString: "x") { output } }');
    expect(m.body.data.testMutation.output).toBe("x");
  });

  it("serves GET with the query in the query string", async () => {
    const q = encodeURIComponent('query { test(inputString: "g") { output } }');
    const res = await t.app.inject({ method: "GET", url: `/graphql?query=${q}` });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body).data.test.output).toBe("g");
  });

  it("reads a run with its experiment, model versions, and a NaN metric as null", async () => {
    const r = await gql(
      t,
      `query q @component(name: "Test") { mlflowGetRun(input: {runId: "${runId}"}) { run {
         info { runId status startTime endTime lifecycleStage }
         data { metrics { key value step timestamp } params { key value } }
         inputs { datasetInputs { dataset { name } } }
         experiment { experimentId name }
         modelVersions { name version status }
       } apiError { code } } }`,
    );
    expect(r.status).toBe(200);
    expect(r.body.errors).toBeNull();
    const run = r.body.data.mlflowGetRun.run;
    // 64-bit integers travel as strings; unset ones read as proto's 0, as on MLflow.
    expect(run.info).toEqual({ runId, status: "RUNNING", startTime: "5", endTime: "0", lifecycleStage: "active" });
    const byKey = Object.fromEntries(run.data.metrics.map((m: any) => [m.key, m]));
    expect(byKey.loss).toEqual({ key: "loss", value: 0.5, step: "1", timestamp: "1" });
    expect(byKey.bad.value).toBeNull();
    expect(run.data.params).toEqual([{ key: "lr", value: "0.1" }]);
    expect(run.inputs).toEqual({ datasetInputs: [] });
    expect(run.experiment).toEqual({ experimentId, name: "gql" });
    expect(run.modelVersions).toEqual([{ name: "gql-model", version: "1", status: "READY" }]);
    expect(r.body.data.mlflowGetRun.apiError).toBeNull();
  });

  it("gets an experiment, searches runs and samples metric history", async () => {
    const e = await gql(t, `{ mlflowGetExperiment(input: {experimentId: "${experimentId}"}) { experiment { name tags { key } } } }`);
    expect(e.body.data.mlflowGetExperiment.experiment).toEqual({ name: "gql", tags: [] });
    const s = await gql(t, `mutation { mlflowSearchRuns(input: {experimentIds: ["${experimentId}"], runViewType: ALL}) { runs { info { runId } } nextPageToken } }`);
    expect(s.body.data.mlflowSearchRuns).toEqual({ runs: [{ info: { runId } }], nextPageToken: "" });
    const h = await gql(t, `query($ids: [String]) { mlflowGetMetricHistoryBulkInterval(input: {runIds: $ids, metricKey: "loss"}) { metrics { key value step runId } } }`, {
      variables: { ids: [runId] },
    });
    expect(h.body.data.mlflowGetMetricHistoryBulkInterval.metrics).toEqual([{ key: "loss", value: 0.5, step: "1", runId }]);
  });

  it("lists artifacts and searches model versions", async () => {
    const a = await gql(t, `{ mlflowListArtifacts(input: {runId: "${runId}"}) { rootUri files { path } } }`);
    expect(a.body.errors).toBeNull();
    expect(a.body.data.mlflowListArtifacts.files).toEqual([]);
    const bad = await gql(t, `{ mlflowListArtifacts(input: {runId: "${runId}", path: "../../etc"}) { files { path } } }`);
    expect(bad.status).toBe(200);
    expect(bad.body.data.mlflowListArtifacts).toBeNull();
    expect(bad.body.errors[0]).toMatch(/Invalid path/);
    const v = await gql(t, `{ mlflowSearchModelVersions(input: {filter: "name = 'gql-model'", maxResults: 5}) { modelVersions { name version runId } } }`);
    expect(v.body.data.mlflowSearchModelVersions.modelVersions).toEqual([{ name: "gql-model", version: "1", runId }]);
  });

  it("gives a resolver's MLflow error as a message and the field as null", async () => {
    const r = await gql(t, '{ mlflowGetRun(input: {runId: "0123456789abcdef0123456789abcdef"}) { run { info { runId } } } }');
    expect(r.status).toBe(200);
    expect(r.body.data).toEqual({ mlflowGetRun: null });
    expect(r.body.errors).toEqual([expect.stringMatching(/not found|does not exist/i)]);
    const missing = await gql(t, "{ mlflowGetExperiment(input: {}) { experiment { name } } }");
    expect(missing.body.errors[0]).toMatch(/Missing value for required parameter 'experiment_id'/);
  });

  it("applies MLflow's limits before validating the query", async () => {
    const roots = Array.from({ length: 12 }, (_, i) => `k${i}: test(inputString: "a") { output }`).join(" ");
    const r = await gql(t, `query { ${roots} }`);
    expect(r.body).toEqual({ data: null, errors: [expect.stringContaining("GraphQL queries should have at most 10 root fields, got 12 root fields")] });
    let inner = "name";
    for (let i = 0; i < 12; i++) inner = `name { ${inner} }`;
    const deep = await gql(t, `{ mlflowGetExperiment(input: {experimentId: "0"}) { experiment { ${inner} } } }`);
    expect(deep.body.errors).toEqual(["Query exceeds maximum depth of 10"]);
    const wide = Array.from({ length: 1002 }, (_, i) => `f${i} { name }`).join(" ");
    const many = await gql(t, `{ mlflowGetExperiment(input: {experimentId: "0"}) { experiment { ${wide} } } }`);
    expect(many.body.errors).toEqual(["Query exceeds maximum total selections of 1000"]);
    const aliases = Array.from({ length: 11 }, (_, i) => `a${i}: name`).join(" ");
    const al = await gql(t, `{ mlflowGetExperiment(input: {experimentId: "0"}) { experiment { ${aliases} } } }`);
    expect(al.body.errors[0]).toContain("queries should have at most 10 aliases, got 11 aliases");
    // Inline fragments do not hide root fields.
    const frag = await gql(t, `query { ... on Query { ${roots} } }`);
    expect(frag.body.errors[0]).toContain("at most 10 root fields");
  });

  it("never answers bad input with a 500", async () => {
    const syntax = await gql(t, "query {");
    expect(syntax.status).toBe(200);
    expect(syntax.body.data).toBeNull();
    expect(syntax.body.errors[0]).toMatch(/Syntax Error/);
    const unknown = await gql(t, "{ nope }");
    expect(unknown.body.errors[0]).toMatch(/Cannot query field "nope"/);
    const badVar = await gql(t, "query($n: Int) { mlflowSearchRuns(input: {maxResults: $n}) { runs { info { runId } } } }", { variables: { n: "x" } });
    expect(badVar.status).toBe(200);
    expect(badVar.body.errors[0]).toMatch(/Int cannot represent/);
    for (const payload of ["[]", '"q"', "{}", '{"query": 5}', '{"query": "{ test { output } }", "variables": [1]}', '{"query": "{ test { output } }", "operationName": 3}']) {
      const res = await t.app.inject({ method: "POST", url: "/graphql", headers: { "content-type": "application/json" }, payload });
      expect(res.statusCode, payload).toBe(400);
      expect(JSON.parse(res.body).error_code).toBe("INVALID_PARAMETER_VALUE");
    }
    // Writes need JSON, as on every API path (a cross-site form cannot post a query).
    const form = await t.app.inject({ method: "POST", url: "/graphql", headers: { "content-type": "text/plain" }, payload: "{}" });
    expect(form.statusCode).toBe(400);
    const garbage = await gql(t, "{ mlflowGetRun(input: {runId: \"'; DROP TABLE runs; --\"}) { run { info { runId } } } }");
    expect(garbage.status).toBe(200);
    expect(garbage.body.data.mlflowGetRun).toBeNull();
  });
});

describe("graphql: with auth on, each resolver checks read permission", () => {
  let t: TestApp;
  const ADMIN = "Basic " + Buffer.from("admin:admin-pw").toString("base64");
  const BOB = "Basic " + Buffer.from("bob:bob-pw").toString("base64");
  let privateExp: string;
  let privateRun: string;
  let openExp: string;

  const as = async (who: string, method: "GET" | "POST", url: string, body?: unknown) => {
    const res = await t.app.inject({ method, url: `/api/2.0/mlflow/${url}`, headers: { authorization: who, "content-type": "application/json" }, payload: body === undefined ? undefined : JSON.stringify(body) });
    return JSON.parse(res.body);
  };

  beforeAll(async () => {
    t = await makeTestApp({ auth: loadAuthConfig(true, { MLOOP_AUTH_ADMIN_PASSWORD: "admin-pw" }) });
    await as(ADMIN, "POST", "users/create", { username: "bob", password: "bob-pw" });
    privateExp = (await as(ADMIN, "POST", "experiments/create", { name: "private" })).experiment_id;
    openExp = (await as(ADMIN, "POST", "experiments/create", { name: "open" })).experiment_id;
    await as(ADMIN, "POST", "experiments/permissions/create", { experiment_id: privateExp, username: "bob", permission: "NO_PERMISSIONS" });
    privateRun = (await as(ADMIN, "POST", "runs/create", { experiment_id: privateExp })).run.info.run_id;
    await as(ADMIN, "POST", "runs/create", { experiment_id: openExp });
    await as(ADMIN, "POST", "registered-models/create", { name: "secret-model" });
    await as(ADMIN, "POST", "model-versions/create", { name: "secret-model", source: `runs:/${privateRun}/m`, run_id: privateRun });
    await as(ADMIN, "POST", "registered-models/permissions/create", { name: "secret-model", username: "bob", permission: "NO_PERMISSIONS" });
  });
  afterAll(async () => t.close());

  it("refuses strangers, and lets a user read only what they may", async () => {
    const anon = await gql(t, '{ test(inputString: "a") { output } }');
    expect(anon.status).toBe(401);
    const run = await gql(t, `{ mlflowGetRun(input: {runId: "${privateRun}"}) { run { info { runId } } } }`, { headers: { authorization: BOB } });
    expect(run.body).toEqual({ data: { mlflowGetRun: null }, errors: ["Permission denied"] });
    const exp = await gql(t, `{ mlflowGetExperiment(input: {experimentId: "${privateExp}"}) { experiment { name } } }`, { headers: { authorization: BOB } });
    expect(exp.body.errors).toEqual(["Permission denied"]);
    const arts = await gql(t, `{ mlflowListArtifacts(input: {runId: "${privateRun}"}) { files { path } } }`, { headers: { authorization: BOB } });
    expect(arts.body.errors).toEqual(["Permission denied"]);
    const hist = await gql(t, `{ mlflowGetMetricHistoryBulkInterval(input: {runIds: ["${privateRun}"], metricKey: "m"}) { metrics { key } } }`, { headers: { authorization: BOB } });
    expect(hist.body.errors).toEqual(["Permission denied"]);
    // Searches leave out what bob cannot read.
    const search = await gql(t, `mutation { mlflowSearchRuns(input: {experimentIds: ["${privateExp}", "${openExp}"]}) { runs { info { experimentId } } } }`, { headers: { authorization: BOB } });
    expect(search.body.data.mlflowSearchRuns.runs.map((r: any) => r.info.experimentId)).toEqual([openExp]);
    const onlyPrivate = await gql(t, `mutation { mlflowSearchDatasets(input: {experimentIds: ["${privateExp}"]}) { datasetSummaries { name } } }`, { headers: { authorization: BOB } });
    expect(onlyPrivate.body.data.mlflowSearchDatasets.datasetSummaries).toEqual([]);
    const versions = await gql(t, "{ mlflowSearchModelVersions(input: {}) { modelVersions { name } } }", { headers: { authorization: BOB } });
    expect(versions.body.data.mlflowSearchModelVersions.modelVersions).toEqual([]);
    // The admin reads everything.
    const admin = await gql(t, `{ mlflowGetRun(input: {runId: "${privateRun}"}) { run { modelVersions { name } } } }`, { headers: { authorization: ADMIN } });
    expect(admin.body.data.mlflowGetRun.run.modelVersions).toEqual([{ name: "secret-model" }]);
  });
});
