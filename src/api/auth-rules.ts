import type { Need, ResourceKind } from "../auth/index.js";

/**
 * The authorization rule of every route, in one table keyed by method and
 * route pattern (`/ajax-api/` patterns share the `/api/` entry, HEAD shares
 * GET's). With auth on, registering a route that has no entry here fails at
 * start-up, so a new endpoint cannot be left open by forgetting it.
 */
export interface Rule {
  /** Who may call at all: anyone (no credentials), any signed-in user, admins, or the user the request names (and admins). */
  who: "anyone" | "user" | "admin" | "self";
  /** Permissions the caller needs on the objects the request names; admins pass. */
  checks?: Check[];
  /** The route searches experiments or registered models (or their versions): results are limited to what the caller may read. */
  scope?: ResourceKind;
  /** The route searches within a list of experiments: unreadable ones are dropped from it; `empty` is the answer when none is left. */
  experimentList?: { field: string; empty: Record<string, unknown> };
  /** MLflow 3's per-user permission API: MANAGE on the (resource_type, resource_id) the request names. */
  grant?: true;
  /** Bookkeeping after a successful call: the creator manages what they created; a registered model's permissions follow its name. */
  after?: "own-experiment" | "own-registered-model" | "rename-registered-model" | "drop-registered-model";
}

/**
 * Where the object a check is about comes from:
 * - `experiment`: the `experiment_id` field; `run-experiment`: the same, defaulting to the Default experiment ("0").
 * - `experiment-name`: the `experiment_name` field.
 * - `run`: the `run_id` (or `run_uuid`) field's run; `runs:F`: every run listed in field F.
 * - `logged-model`: the `:model_id` path parameter's logged model.
 * - `registered-model`: the `name` field.
 * - `artifact`: an artifact proxy path (wildcard, `path` query or multipart target), owned by the experiment its first segment names.
 * - `version-source`: what a new model version is made from (`run_id`, `model_id`, and a `runs:/`, `models:/` or `mlflow-artifacts:/` source).
 * - `experiments:F`: every experiment listed in field F.
 * - `trace`: the experiment of the trace named by the `:trace_id`/`:request_id` path parameter or the `trace_id`/`request_id` field; `traces:F`: of every trace listed in F.
 * - `trace-start`: the experiment a new trace goes to (v3 `trace.trace_info.trace_location`, v2 `experiment_id`).
 * - `trace-locations`: every experiment of a v3 trace search's `locations`.
 * - `otlp`: the experiment named by the OTLP receiver's `x-mlflow-experiment-id` header.
 */
export type Target =
  | "experiment"
  | "run-experiment"
  | "experiment-name"
  | "run"
  | `runs:${string}`
  | `experiments:${string}`
  | "logged-model"
  | "registered-model"
  | "artifact"
  | "version-source"
  | "trace"
  | `traces:${string}`
  | "trace-start"
  | "trace-locations"
  | "otlp";

export interface Check {
  on: Target;
  need: Need;
}

const ANYONE: Rule = { who: "anyone" };
const USER: Rule = { who: "user" };
const ADMIN: Rule = { who: "admin" };
const SELF: Rule = { who: "self" };
const on = (target: Target, need: Need, extra: Partial<Rule> = {}): Rule => ({ who: "user", checks: [{ on: target, need }], ...extra });

const API = "/api/2.0/mlflow";
const API3 = "/api/3.0/mlflow";
const ART = "/api/2.0/mlflow-artifacts";
const MLOOP = "/api/2.0/mloop";

/** `"GET|POST /path"` → rule. */
const TABLE: Record<string, Rule> = {
  // ---- server ---------------------------------------------------------------
  "GET /health": ANYONE,
  "GET /version": USER,
  [`GET ${API3}/server-info`]: USER,
  // The UI's static files (the data it shows comes through the API below).
  "GET /": ANYONE,
  "GET /*": ANYONE,

  // ---- experiments ----------------------------------------------------------
  [`POST ${API}/experiments/create`]: { who: "user", after: "own-experiment" },
  [`GET ${API}/experiments/get`]: on("experiment", "read"),
  [`GET ${API}/experiments/get-by-name`]: on("experiment-name", "read"),
  [`GET|POST ${API}/experiments/search`]: { who: "user", scope: "experiment" },
  [`POST ${API}/experiments/update`]: on("experiment", "update"),
  [`POST ${API}/experiments/delete`]: on("experiment", "delete"),
  [`POST ${API}/experiments/restore`]: on("experiment", "delete"),
  [`POST ${API}/experiments/set-experiment-tag`]: on("experiment", "update"),
  [`POST ${API}/experiments/delete-experiment-tag`]: on("experiment", "update"),

  // ---- runs -----------------------------------------------------------------
  [`POST ${API}/runs/create`]: on("run-experiment", "update"),
  [`GET ${API}/runs/get`]: on("run", "read"),
  [`POST ${API}/runs/update`]: on("run", "update"),
  [`POST ${API}/runs/delete`]: on("run", "delete"),
  [`POST ${API}/runs/restore`]: on("run", "delete"),
  [`POST ${API}/runs/set-tag`]: on("run", "update"),
  [`POST ${API}/runs/delete-tag`]: on("run", "update"),
  [`POST ${API}/runs/log-metric`]: on("run", "update"),
  [`POST ${API}/runs/log-parameter`]: on("run", "update"),
  [`POST ${API}/runs/log-batch`]: on("run", "update"),
  [`POST ${API}/runs/log-inputs`]: on("run", "update"),
  [`POST ${API}/runs/log-outputs`]: on("run", "update"),
  [`POST ${API}/runs/outputs`]: on("run", "update"),
  [`GET|POST ${API}/runs/search`]: { who: "user", experimentList: { field: "experiment_ids", empty: { runs: [] } } },
  [`GET ${API}/metrics/get-history`]: on("run", "read"),
  [`GET ${API}/metrics/get-history-bulk`]: on("runs:run_id", "read"),
  [`GET ${API}/metrics/get-history-bulk-interval`]: on("runs:run_ids", "read"),
  [`GET ${API}/artifacts/list`]: on("run", "read"),
  "GET /get-artifact": on("run", "read"),
  // GraphQL (src/api/graphql.ts): any signed-in user; every resolver checks read permission on the
  // experiment (or registered model) of what it returns, searches leave out what the caller cannot read.
  "GET|POST /graphql": USER,

  // ---- logged models (permissions of their experiment) ----------------------
  [`POST ${API}/logged-models`]: on("experiment", "update"),
  [`POST ${API}/logged-models/search`]: { who: "user", experimentList: { field: "experiment_ids", empty: { models: [] } } },
  [`GET ${API}/logged-models/:model_id`]: on("logged-model", "read"),
  [`PATCH ${API}/logged-models/:model_id`]: on("logged-model", "update"),
  [`DELETE ${API}/logged-models/:model_id`]: on("logged-model", "delete"),
  [`PATCH ${API}/logged-models/:model_id/tags`]: on("logged-model", "update"),
  [`DELETE ${API}/logged-models/:model_id/tags/:tag_key`]: on("logged-model", "delete"),
  [`POST ${API}/logged-models/:model_id/params`]: on("logged-model", "update"),
  [`GET ${API}/logged-models/:model_id/artifacts/directories`]: on("logged-model", "read"),
  [`GET ${API}/logged-models/:model_id/artifacts/files`]: on("logged-model", "read"),

  // ---- registered models and versions ---------------------------------------
  [`POST ${API}/registered-models/create`]: { who: "user", after: "own-registered-model" },
  [`GET ${API}/registered-models/get`]: on("registered-model", "read"),
  [`POST ${API}/registered-models/rename`]: on("registered-model", "update", { after: "rename-registered-model" }),
  [`PATCH ${API}/registered-models/update`]: on("registered-model", "update"),
  [`DELETE ${API}/registered-models/delete`]: on("registered-model", "delete", { after: "drop-registered-model" }),
  [`GET|POST ${API}/registered-models/search`]: { who: "user", scope: "registered_model" },
  [`GET|POST ${API}/registered-models/get-latest-versions`]: on("registered-model", "read"),
  [`POST ${API}/registered-models/set-tag`]: on("registered-model", "update"),
  [`DELETE ${API}/registered-models/delete-tag`]: on("registered-model", "update"),
  [`POST ${API}/registered-models/alias`]: on("registered-model", "update"),
  [`DELETE ${API}/registered-models/alias`]: on("registered-model", "delete"),
  [`GET ${API}/registered-models/alias`]: on("registered-model", "read"),
  [`POST ${API}/model-versions/create`]: { who: "user", checks: [{ on: "registered-model", need: "update" }, { on: "version-source", need: "read" }] },
  [`GET ${API}/model-versions/get`]: on("registered-model", "read"),
  [`GET ${API}/model-versions/get-download-uri`]: on("registered-model", "read"),
  [`PATCH ${API}/model-versions/update`]: on("registered-model", "update"),
  [`POST ${API}/model-versions/transition-stage`]: on("registered-model", "update"),
  [`DELETE ${API}/model-versions/delete`]: on("registered-model", "delete"),
  [`POST ${API}/model-versions/set-tag`]: on("registered-model", "update"),
  [`DELETE ${API}/model-versions/delete-tag`]: on("registered-model", "delete"),
  [`GET|POST ${API}/model-versions/search`]: { who: "user", scope: "registered_model" },
  "GET /model-versions/get-artifact": on("registered-model", "read"),
  "GET //model-versions/get-artifact": on("registered-model", "read"),

  // ---- webhooks: they see every model's events, so only admins manage them --
  // ---- UI helpers ---------------------------------------------------------------
  [`POST ${API}/upload-artifact`]: on("run", "update"),
  [`POST ${API}/experiments/search-datasets`]: on("experiments:experiment_ids", "read"),
  [`POST ${API}/runs/create-promptlab-run`]: on("experiment", "update"),

  // ---- traces: each checked against the experiment its trace lives in ------------
  [`POST ${API3}/traces`]: on("trace-start", "update"),
  [`POST ${API}/traces`]: on("trace-start", "update"),
  [`PATCH ${API}/traces/:request_id`]: on("trace", "update"),
  [`GET ${API}/traces/:request_id/info`]: on("trace", "read"),
  [`GET ${API}/traces/:trace_id`]: on("trace", "read"),
  [`GET ${API3}/traces/:trace_id`]: on("trace", "read"),
  [`GET ${API3}/traces/get`]: on("trace", "read"),
  [`GET ${API3}/traces/batchGet`]: on("traces:trace_ids", "read"),
  [`POST ${API3}/traces/batchGetInfos`]: on("traces:trace_ids", "read"),
  [`POST ${API3}/traces/search`]: on("trace-locations", "read"),
  [`GET ${API}/traces`]: on("experiments:experiment_ids", "read"),
  [`POST ${API}/traces/delete-traces`]: on("experiment", "delete"),
  [`POST ${API3}/traces/delete-traces`]: on("experiment", "delete"),
  [`PATCH ${API}/traces/:trace_id/tags`]: on("trace", "update"),
  [`PATCH ${API3}/traces/:trace_id/tags`]: on("trace", "update"),
  [`DELETE ${API}/traces/:trace_id/tags`]: on("trace", "update"),
  [`DELETE ${API3}/traces/:trace_id/tags`]: on("trace", "update"),
  [`POST ${API}/traces/link-to-run`]: { who: "user", checks: [{ on: "run", need: "update" }, { on: "traces:trace_ids", need: "update" }] },
  [`POST ${API3}/traces/link-to-run`]: { who: "user", checks: [{ on: "run", need: "update" }, { on: "traces:trace_ids", need: "update" }] },
  [`POST ${API3}/traces/calculate-filter-correlation`]: on("experiments:experiment_ids", "read"),
  [`POST ${API3}/traces/metrics`]: on("experiments:experiment_ids", "read"),
  [`POST ${API3}/traces/:trace_id/assessments`]: on("trace", "update"),
  [`GET ${API3}/traces/:trace_id/assessments/:assessment_id`]: on("trace", "read"),
  [`PATCH ${API3}/traces/:trace_id/assessments/:assessment_id`]: on("trace", "update"),
  [`DELETE ${API3}/traces/:trace_id/assessments/:assessment_id`]: on("trace", "delete"),
  "POST /v1/traces": on("otlp", "update"),
  [`GET ${API}/get-trace-artifact`]: on("trace", "read"),

  // ---- monitoring (src/api/monitoring.ts): a model version's reference profile, drift reports
  [`POST ${MLOOP}/monitoring/profiles/create`]: on("registered-model", "update"),
  [`GET ${MLOOP}/monitoring/profiles/get`]: on("registered-model", "read"),
  [`POST ${MLOOP}/monitoring/model-versions/drift-report`]: on("registered-model", "read"),
  [`POST ${MLOOP}/monitoring/reports/create`]: USER,
  // ---- deployments (src/api/retraining.ts): any user reads; controllers and operators who change them are admins
  [`GET ${MLOOP}/deployments/get`]: USER,
  [`GET ${MLOOP}/deployments/list`]: USER,
  [`GET ${MLOOP}/deployments/events/list`]: USER,
  [`POST ${MLOOP}/deployments/apply`]: ADMIN,
  [`POST ${MLOOP}/deployments/transition`]: ADMIN,
  [`POST ${MLOOP}/deployments/update-context`]: ADMIN,
  [`POST ${MLOOP}/deployments/leases/acquire`]: ADMIN,
  [`POST ${MLOOP}/deployments/leases/release`]: ADMIN,

  [`GET|POST ${API}/webhooks`]: ADMIN,
  [`GET|PATCH|DELETE ${API}/webhooks/:webhook_id`]: ADMIN,
  [`POST ${API}/webhooks/:webhook_id/test`]: ADMIN,

  // ---- artifact proxy (owned by the experiment the path starts with) --------
  [`GET ${ART}/artifacts`]: on("artifact", "read"),
  [`GET ${ART}/artifacts/*`]: on("artifact", "read"),
  [`PUT ${ART}/artifacts/*`]: on("artifact", "update"),
  [`DELETE ${ART}/artifacts/*`]: on("artifact", "delete"),
  [`GET ${ART}/presigned/*`]: on("artifact", "read"),
  [`PUT ${ART}/mpu/upload/*`]: on("artifact", "update"),
  [`POST ${ART}/mpu/create`]: on("artifact", "update"),
  [`POST ${ART}/mpu/create/*`]: on("artifact", "update"),
  [`POST ${ART}/mpu/complete`]: on("artifact", "update"),
  [`POST ${ART}/mpu/complete/*`]: on("artifact", "update"),
  [`POST ${ART}/mpu/abort`]: on("artifact", "update"),
  [`POST ${ART}/mpu/abort/*`]: on("artifact", "update"),

  // ---- users, tokens, permissions (src/api/auth.ts) -------------------------
  [`POST ${API}/users/create`]: ADMIN,
  [`GET ${API}/users/get`]: SELF,
  [`GET ${API}/users/current`]: USER,
  [`GET ${API}/users/list`]: ADMIN,
  [`PATCH ${API}/users/update-password`]: SELF,
  [`PATCH ${API}/users/update-admin`]: ADMIN,
  [`DELETE ${API}/users/delete`]: ADMIN,
  [`POST ${API}/users/tokens/create`]: USER,
  [`GET ${API}/users/tokens/list`]: USER,
  [`POST|DELETE ${API}/users/tokens/revoke`]: USER,
  [`POST ${API}/experiments/permissions/create`]: on("experiment", "manage"),
  [`GET ${API}/experiments/permissions/get`]: on("experiment", "manage"),
  [`PATCH ${API}/experiments/permissions/update`]: on("experiment", "manage"),
  [`DELETE ${API}/experiments/permissions/delete`]: on("experiment", "manage"),
  [`POST ${API}/registered-models/permissions/create`]: on("registered-model", "manage"),
  [`GET ${API}/registered-models/permissions/get`]: on("registered-model", "manage"),
  [`PATCH ${API}/registered-models/permissions/update`]: on("registered-model", "manage"),
  [`DELETE ${API}/registered-models/permissions/delete`]: on("registered-model", "manage"),
  [`POST ${API3}/users/permissions/grant`]: { who: "user", grant: true },
  [`POST ${API3}/users/permissions/revoke`]: { who: "user", grant: true },
  [`GET ${API3}/users/permissions/get`]: { who: "user", grant: true },
};

const RULES = new Map<string, Rule>();
for (const [key, rule] of Object.entries(TABLE)) {
  const [methods, pattern] = key.split(" ") as [string, string];
  for (const m of methods.split("|")) RULES.set(`${m} ${pattern}`, rule);
}

/** The rule of a route, by method and the pattern it was registered with; undefined when the table has none. */
export function ruleFor(method: string, pattern: string): Rule | undefined {
  const m = method === "HEAD" ? "GET" : method;
  const p = pattern.replace(/^\/ajax-api\//, "/api/");
  return RULES.get(`${m} ${p}`);
}
