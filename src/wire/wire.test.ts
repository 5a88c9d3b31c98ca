/**
 * The wire types must not drift from what the server sends, nor from what the
 * SDK and the web UI read.
 *
 * Each message below has a field table typed from its wire type: a field added
 * to or removed from the type, or one whose optionality changes, fails
 * type-checking (`npm test` runs tsc first). The same tables are then held
 * against real replies of a server built in-process: every required field is
 * there and nothing the type does not declare is.
 */
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import type * as client from "../client/index.js";
import type * as web from "../../web/src/api.js";
import { makeTestApp, type TestApp } from "../../test/helpers/app.js";
import type * as wire from "./index.js";

// ---- field tables, checked against the types --------------------------------

type Presence = "required" | "optional";
type Elem<T> = T extends readonly (infer E)[] ? E : T;
type PresenceOf<T, K extends keyof T> = {} extends Pick<T, K> ? "optional" : "required";
/** Every key of `T`, each marked with its presence; an object-valued field may carry the table of its value (or of its list's elements). */
type Fields<T> = { [K in keyof T]-?: PresenceOf<T, K> | readonly [PresenceOf<T, K>, Fields<Elem<NonNullable<T[K]>>>] };
type AnyFields = { readonly [key: string]: Presence | readonly [Presence, AnyFields] };

const fields = <T,>(table: Fields<T>): Fields<T> => table;

const R = "required";
const O = "optional";

const keyValue = fields<wire.KeyValue>({ key: R, value: R });
const experiment = fields<wire.Experiment>({
  experiment_id: R,
  name: R,
  artifact_location: R,
  lifecycle_stage: R,
  creation_time: R,
  last_update_time: R,
  tags: [R, keyValue],
});
const metric = fields<wire.Metric>({ key: R, value: R, timestamp: R, step: R });
const runMetric = fields<wire.RunMetric>({ key: R, value: R, timestamp: R, step: R, run_id: R });
const runInfo = fields<wire.RunInfo>({
  run_id: R,
  run_uuid: R,
  run_name: R,
  experiment_id: R,
  user_id: R,
  status: R,
  start_time: R,
  end_time: O,
  artifact_uri: R,
  lifecycle_stage: R,
});
const run = fields<wire.Run>({
  info: [R, runInfo],
  data: [R, fields<wire.RunData>({ metrics: [R, metric], params: [R, keyValue], tags: [R, keyValue] })],
  inputs: [
    R,
    fields<wire.RunInputs>({
      dataset_inputs: [
        R,
        fields<wire.DatasetInput>({
          tags: [R, keyValue],
          dataset: [R, fields<wire.Dataset>({ name: R, digest: R, source_type: R, source: R, schema: O, profile: O })],
        }),
      ],
      model_inputs: [R, fields<wire.ModelInput>({ model_id: R })],
    }),
  ],
  outputs: [R, fields<wire.RunOutputs>({ model_outputs: [R, fields<wire.ModelOutput>({ model_id: R, step: R })] })],
});
const modelVersion = fields<wire.ModelVersion>({
  name: R,
  version: R,
  creation_timestamp: R,
  last_updated_timestamp: R,
  user_id: O,
  current_stage: R,
  description: O,
  source: R,
  run_id: O,
  status: R,
  status_message: O,
  tags: [R, keyValue],
  run_link: O,
  aliases: R,
  model_id: O,
});
const registeredModel = fields<wire.RegisteredModel>({
  name: R,
  creation_timestamp: R,
  last_updated_timestamp: R,
  user_id: O,
  description: O,
  latest_versions: [R, modelVersion],
  tags: [R, keyValue],
  aliases: [R, fields<wire.RegisteredModelAlias>({ alias: R, version: R })],
});
const loggedModel = fields<wire.LoggedModel>({
  info: [
    R,
    fields<wire.LoggedModelInfo>({
      model_id: R,
      experiment_id: R,
      name: R,
      creation_timestamp_ms: R,
      last_updated_timestamp_ms: R,
      artifact_uri: R,
      status: R,
      model_type: O,
      source_run_id: O,
      status_message: O,
      tags: [R, keyValue],
      registrations: [R, fields<wire.LoggedModelRegistrationInfo>({ name: R, version: R })],
    }),
  ],
  data: [
    R,
    fields<wire.LoggedModelData>({
      params: [R, keyValue],
      metrics: [
        R,
        fields<wire.LoggedModelMetric>({ key: R, value: R, timestamp: R, step: R, model_id: R, run_id: R, dataset_name: O, dataset_digest: O }),
      ],
    }),
  ],
});
const webhook = fields<wire.Webhook>({
  webhook_id: R,
  name: R,
  description: O,
  url: R,
  events: [R, fields<wire.WebhookEventName>({ entity: R, action: R })],
  status: R,
  creation_timestamp: R,
  last_updated_timestamp: R,
});
const fileInfo = fields<wire.FileInfo>({ path: R, is_dir: R, file_size: O });
const page = { next_page_token: O } as const satisfies Fields<wire.PageResponse>;
const servedVersion = fields<wire.ServedVersionInfo>({ role: R, alias: R, version: R, share: R, mode: R, shadow_share: O });
const deployment = fields<wire.DeploymentInfo>({ name: R, state: R, context: R, revision: R, spec: R, created_at: R, updated_at: R, served: [R, servedVersion] });
const deploymentEvent = fields<wire.DeploymentEventInfo>({ seq: R, timestamp_ms: R, from_state: R, to_state: R, reason: R, data: R });

const replies = {
  createExperiment: fields<wire.CreateExperimentResponse>({ experiment_id: R }),
  getExperiment: fields<wire.GetExperimentResponse>({ experiment: [R, experiment] }),
  searchExperiments: fields<wire.SearchExperimentsResponse>({ ...page, experiments: [R, experiment] }),
  createRun: fields<wire.CreateRunResponse>({ run: [R, run] }),
  getRun: fields<wire.GetRunResponse>({ run: [R, run] }),
  updateRun: fields<wire.UpdateRunResponse>({ run_info: [R, runInfo] }),
  searchRuns: fields<wire.SearchRunsResponse>({ ...page, runs: [R, run] }),
  metricHistory: fields<wire.GetMetricHistoryResponse>({ ...page, metrics: [R, metric] }),
  metricHistoryBulk: fields<wire.GetMetricHistoryBulkResponse>({ metrics: [R, runMetric] }),
  searchDatasets: fields<wire.SearchDatasetsResponse>({
    dataset_summaries: [R, fields<wire.DatasetSummary>({ experiment_id: R, name: R, digest: R, context: O })],
  }),
  registeredModel: fields<wire.RegisteredModelResponse>({ registered_model: [R, registeredModel] }),
  searchRegisteredModels: fields<wire.SearchRegisteredModelsResponse>({ ...page, registered_models: [R, registeredModel] }),
  modelVersion: fields<wire.ModelVersionResponse>({ model_version: [R, modelVersion] }),
  modelVersions: fields<wire.ModelVersionsResponse>({ model_versions: [R, modelVersion] }),
  searchModelVersions: fields<wire.SearchModelVersionsResponse>({ ...page, model_versions: [R, modelVersion] }),
  downloadUri: fields<wire.GetModelVersionDownloadUriResponse>({ artifact_uri: R }),
  loggedModel: fields<wire.LoggedModelResponse>({ model: [R, loggedModel] }),
  searchLoggedModels: fields<wire.SearchLoggedModelsResponse>({ ...page, models: [R, loggedModel] }),
  webhook: fields<wire.WebhookResponse>({ webhook: [R, webhook] }),
  listWebhooks: fields<wire.ListWebhooksResponse>({ ...page, webhooks: [R, webhook] }),
  listArtifacts: fields<wire.ListArtifactsResponse>({ ...page, root_uri: R, files: [R, fileInfo] }),
  listProxyArtifacts: fields<wire.ListProxyArtifactsResponse>({ files: [R, fileInfo] }),
  deployment: fields<wire.GetDeploymentResponse>({ deployment: [R, deployment] }),
  deployments: fields<wire.ListDeploymentsResponse>({ deployments: [R, deployment] }),
  deploymentEvents: fields<wire.ListDeploymentEventsResponse>({ events: [R, deploymentEvent] }),
  lease: fields<wire.AcquireLeaseResponse>({ acquired: R, holder: R }),
  error: fields<wire.ErrorResponse>({ error_code: R, message: R }),
  empty: fields<wire.EmptyResponse>({}),
};

/** Where `value` departs from `table`: missing required fields and fields the type does not declare, by path. */
function drift(value: unknown, fieldTable: object, at = "$"): string[] {
  const table = fieldTable as AnyFields;
  if (!value || typeof value !== "object" || Array.isArray(value)) return [`${at}: expected an object, got ${JSON.stringify(value)}`];
  const obj = value as Record<string, unknown>;
  const out: string[] = [];
  for (const key of Object.keys(obj)) if (!(key in table)) out.push(`${at}.${key}: not in the wire type`);
  for (const [key, spec] of Object.entries(table)) {
    const [presence, inner] = typeof spec === "string" ? [spec, undefined] : spec;
    const v = obj[key];
    if (v === undefined) {
      if (presence === "required") out.push(`${at}.${key}: required by the wire type, not sent`);
      continue;
    }
    if (!inner) continue;
    if (Array.isArray(v)) v.forEach((item, i) => out.push(...drift(item, inner, `${at}.${key}[${i}]`)));
    else out.push(...drift(v, inner, `${at}.${key}`));
  }
  return out;
}

describe("drift", () => {
  it("names missing required fields and undeclared ones, nested in lists", () => {
    const reply = { run: { info: { run_id: "r" }, data: { metrics: [{ key: "k", value: 1, timestamp: 0, step: 0, extra: 1 }], params: [], tags: [] }, inputs: {}, outputs: {} } };
    expect(drift(reply, replies.getRun)).toEqual(
      expect.arrayContaining([
        "$.run.info.run_uuid: required by the wire type, not sent",
        "$.run.data.metrics[0].extra: not in the wire type",
        "$.run.inputs.dataset_inputs: required by the wire type, not sent",
      ]),
    );
    expect(drift({ run: { ...reply.run, info: undefined } }, replies.getRun)).toContain("$.run.info: required by the wire type, not sent");
  });
});

// ---- one definition: the SDK and the web UI read the same types ---------------

describe("the wire types are the SDK's and the web UI's", () => {
  it("the web UI's API module re-exports them unchanged", () => {
    expectTypeOf<web.Experiment>().toEqualTypeOf<wire.Experiment>();
    expectTypeOf<web.Run>().toEqualTypeOf<wire.Run>();
    expectTypeOf<web.RunMetric>().toEqualTypeOf<wire.RunMetric>();
    expectTypeOf<web.FileInfo>().toEqualTypeOf<wire.FileInfo>();
    expectTypeOf<web.RegisteredModel>().toEqualTypeOf<wire.RegisteredModel>();
    expectTypeOf<web.ModelVersion>().toEqualTypeOf<wire.ModelVersion>();
    expectTypeOf<web.LoggedModel>().toEqualTypeOf<wire.LoggedModel>();
    expectTypeOf<web.DeploymentInfo>().toEqualTypeOf<wire.DeploymentInfo>();
    expectTypeOf<web.DeploymentEventInfo>().toEqualTypeOf<wire.DeploymentEventInfo>();
  });

  it("the SDK returns them, its metric values decoded to numbers", () => {
    expectTypeOf<client.Experiment>().toEqualTypeOf<wire.Experiment>();
    expectTypeOf<client.RunInfo>().toEqualTypeOf<wire.RunInfo>();
    expectTypeOf<client.FileInfo>().toEqualTypeOf<wire.FileInfo>();
    expectTypeOf<client.RegisteredModel>().toEqualTypeOf<wire.RegisteredModel>();
    expectTypeOf<client.ModelVersion>().toEqualTypeOf<wire.ModelVersion>();
    expectTypeOf<client.LoggedModel>().toEqualTypeOf<wire.LoggedModel>();
    expectTypeOf<client.Run["inputs"]>().toEqualTypeOf<wire.RunInputs>();
    expectTypeOf<client.Run["outputs"]>().toEqualTypeOf<wire.RunOutputs>();
    expectTypeOf<client.Run["data"]["params"]>().toEqualTypeOf<wire.KeyValue[]>();
    expectTypeOf<keyof client.Metric>().toEqualTypeOf<keyof wire.Metric>();
    expectTypeOf<client.Metric["value"]>().toEqualTypeOf<number>();
    expectTypeOf<keyof client.MetricWithRunId>().toEqualTypeOf<keyof wire.RunMetric>();
  });
});

// ---- the server sends exactly the declared fields -----------------------------

describe("the server's replies have exactly the wire types' fields", () => {
  let t: TestApp;
  let experimentId: string;
  let runId: string;
  let modelId: string;
  let webhookId: string;

  async function ok(method: "GET" | "POST" | "PATCH" | "DELETE" | "PUT", url: string, body?: unknown): Promise<any> {
    const res = await t.call(method, url, body);
    expect(res.status, `${method} ${url}: ${JSON.stringify(res.body)}`).toBe(200);
    return res.body;
  }

  async function expectShape(table: object, method: "GET" | "POST" | "PATCH" | "DELETE", url: string, body?: unknown): Promise<any> {
    const reply = await ok(method, url, body);
    expect(drift(reply, table), `${method} ${url}`).toEqual([]);
    return reply;
  }

  beforeAll(async () => {
    t = await makeTestApp({ webhookAllowList: ["127.0.0.1:9"] });
    experimentId = (await ok("POST", "experiments/create", { name: "wire", tags: [{ key: "team", value: "risk" }] })).experiment_id;
    await ok("POST", "experiments/create", { name: "wire-2" });
    runId = (await ok("POST", "runs/create", { experiment_id: experimentId, run_name: "r1", start_time: 1000, tags: [{ key: "t", value: "v" }] })).run.info.run_id;
    await ok("POST", "runs/create", { experiment_id: experimentId, start_time: 2000 });
    await ok("POST", "runs/log-batch", {
      run_id: runId,
      metrics: [
        { key: "loss", value: 0.5, timestamp: 1, step: 0 },
        { key: "loss", value: "NaN", timestamp: 2, step: 1 },
      ],
      params: [{ key: "lr", value: "0.1" }],
    });
    modelId = (await ok("POST", "logged-models", { experiment_id: experimentId, name: "m", source_run_id: runId, params: [{ key: "p", value: "1" }] })).model.info.model_id;
    await ok("POST", "runs/log-metric", { run_id: runId, key: "auc", value: 0.9, timestamp: 3, step: 0, model_id: modelId });
    await ok("POST", "runs/log-inputs", {
      run_id: runId,
      datasets: [{ tags: [{ key: "mlflow.data.context", value: "training" }], dataset: { name: "d", digest: "abc", source_type: "local", source: "{}", schema: "{}" } }],
      models: [{ model_id: modelId }],
    });
    await ok("POST", "runs/outputs", { run_id: runId, models: [{ model_id: modelId, step: 0 }] });
    await ok("POST", "runs/update", { run_id: runId, status: "FINISHED", end_time: 5000 });
    const put = await t.app.inject({
      method: "PUT",
      url: `/api/2.0/mlflow-artifacts/artifacts/${experimentId}/${runId}/artifacts/model/MLmodel`,
      payload: "flavors: {}\n",
      headers: { "content-type": "text/plain" },
    });
    expect(put.statusCode).toBe(200);
    await ok("POST", "registered-models/create", { name: "fraud", description: "card fraud", tags: [{ key: "k", value: "v" }] });
    await ok("POST", "model-versions/create", { name: "fraud", source: `runs:/${runId}/model`, run_id: runId, tags: [{ key: "k", value: "v" }] });
    await ok("POST", "model-versions/create", { name: "fraud", source: `models:/${modelId}`, model_id: modelId });
    await ok("POST", "registered-models/alias", { name: "fraud", alias: "champion", version: "1" });
    webhookId = (
      await ok("POST", "webhooks", { name: "hook", url: "http://127.0.0.1:9/x", events: [{ entity: "MODEL_VERSION", action: "CREATED" }], description: "d" })
    ).webhook.webhook_id;
  });
  afterAll(async () => t?.close());

  it("deployments", async () => {
    const base = "/api/2.0/mloop/deployments";
    const applied = await expectShape(replies.deployment, "POST", `${base}/apply`, { name: "wire", spec: { model: { name: "fraud" } } });
    await expectShape(replies.deployment, "POST", `${base}/transition`, { name: "wire", revision: applied.deployment.revision, to_state: "drift_detected", reason: "test", data: { window: 1 } });
    await expectShape(replies.deployment, "GET", `${base}/get?name=wire`);
    await expectShape(replies.deployments, "GET", `${base}/list`);
    const events = await expectShape(replies.deploymentEvents, "GET", `${base}/events/list?name=wire`);
    expect(events.events.map((e: { to_state: string }) => e.to_state)).toEqual(["serving", "drift_detected"]);
    await expectShape(replies.lease, "POST", `${base}/leases/acquire`, { name: "wire", purpose: "retraining", holder: "a", ttl_ms: 1000 });
    await expectShape(replies.empty, "POST", `${base}/leases/release`, { name: "wire", purpose: "retraining", holder: "a" });
    await expectShape(replies.deployment, "POST", `${base}/update-context`, { name: "wire", revision: 2, context: { a: 1 } });
  });

  it("experiments", async () => {
    await expectShape(replies.createExperiment, "POST", "experiments/create", { name: "wire-3" });
    await expectShape(replies.getExperiment, "GET", `experiments/get?experiment_id=${experimentId}`);
    await expectShape(replies.getExperiment, "GET", "experiments/get-by-name?experiment_name=wire");
    const first = await expectShape(replies.searchExperiments, "POST", "experiments/search", { max_results: 1 });
    expect(first.next_page_token).toBeTruthy();
    await expectShape(replies.searchExperiments, "POST", "experiments/search", { max_results: 1, page_token: first.next_page_token });
  });

  it("runs, metrics and datasets", async () => {
    const created = await expectShape(replies.createRun, "POST", "runs/create", { experiment_id: experimentId, start_time: 3000 });
    expect(created.run.info.end_time).toBeUndefined();
    const got = await expectShape(replies.getRun, "GET", `runs/get?run_id=${runId}`);
    expect(got.run.inputs.dataset_inputs).toHaveLength(1);
    expect(got.run.inputs.model_inputs).toHaveLength(1);
    expect(got.run.outputs.model_outputs).toHaveLength(1);
    await expectShape(replies.updateRun, "POST", "runs/update", { run_id: runId, run_name: "r1b" });
    const first = await expectShape(replies.searchRuns, "POST", "runs/search", { experiment_ids: [experimentId], max_results: 1 });
    expect(first.next_page_token).toBeTruthy();
    await expectShape(replies.metricHistory, "GET", `metrics/get-history?run_id=${runId}&metric_key=loss`);
    await expectShape(replies.metricHistory, "GET", `metrics/get-history?run_id=${runId}&metric_key=loss&max_results=1`);
    await expectShape(replies.metricHistoryBulk, "GET", `metrics/get-history-bulk?run_id=${runId}&metric_key=loss`);
    await expectShape(replies.metricHistoryBulk, "GET", `metrics/get-history-bulk-interval?run_ids=${runId}&metric_key=loss&max_results=10`);
    await expectShape(replies.searchDatasets, "POST", "/ajax-api/2.0/mlflow/experiments/search-datasets", { experiment_ids: [experimentId] });
    await expectShape(replies.empty, "POST", "runs/set-tag", { run_id: runId, key: "a", value: "b" });
  });

  it("registered models, versions and aliases", async () => {
    await expectShape(replies.registeredModel, "GET", "registered-models/get?name=fraud");
    await expectShape(replies.registeredModel, "PATCH", "registered-models/update", { name: "fraud", description: "d2" });
    await expectShape(replies.searchRegisteredModels, "GET", "registered-models/search?max_results=10");
    await expectShape(replies.modelVersions, "POST", "registered-models/get-latest-versions", { name: "fraud" });
    const v1 = await expectShape(replies.modelVersion, "GET", "model-versions/get?name=fraud&version=1");
    expect(v1.model_version.aliases).toEqual(["champion"]);
    await expectShape(replies.modelVersion, "GET", "registered-models/alias?name=fraud&alias=champion");
    await expectShape(replies.modelVersion, "POST", "model-versions/transition-stage", { name: "fraud", version: "1", stage: "Staging", archive_existing_versions: false });
    const versions = await expectShape(replies.searchModelVersions, "GET", "model-versions/search?filter=name%3D'fraud'&max_results=1");
    expect(versions.next_page_token).toBeTruthy();
    await expectShape(replies.downloadUri, "GET", "model-versions/get-download-uri?name=fraud&version=1");
  });

  it("logged models", async () => {
    await expectShape(replies.loggedModel, "PATCH", `logged-models/${modelId}`, { status: "LOGGED_MODEL_READY" });
    const got = await expectShape(replies.loggedModel, "GET", `logged-models/${modelId}`);
    expect(got.model.data.metrics).toHaveLength(1);
    expect(got.model.info.registrations).toHaveLength(1);
    await expectShape(replies.searchLoggedModels, "POST", "logged-models/search", { experiment_ids: [experimentId] });
  });

  it("webhooks", async () => {
    await expectShape(replies.webhook, "GET", `webhooks/${webhookId}`);
    await expectShape(replies.webhook, "PATCH", `webhooks/${webhookId}`, { status: "DISABLED" });
    await expectShape(replies.listWebhooks, "GET", "webhooks");
  });

  it("artifact listings", async () => {
    const listed = await expectShape(replies.listArtifacts, "GET", `artifacts/list?run_id=${runId}`);
    expect(listed.files).toEqual([{ path: "model", is_dir: true }]);
    const inner = await expectShape(replies.listArtifacts, "GET", `artifacts/list?run_id=${runId}&path=model`);
    expect(inner.files[0]).toMatchObject({ path: "model/MLmodel", is_dir: false });
    await expectShape(replies.listProxyArtifacts, "GET", `/api/2.0/mlflow-artifacts/artifacts?path=${experimentId}/${runId}/artifacts/model`);
  });

  it("errors", async () => {
    const res = await t.call("GET", "experiments/get?experiment_id=999999");
    expect(res.status).toBe(404);
    expect(drift(res.body, replies.error)).toEqual([]);
    const unknown = await t.call("GET", "/api/2.0/mlflow/no-such-endpoint");
    expect(drift(unknown.body, replies.error)).toEqual([]);
  });
});
