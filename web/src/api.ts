/**
 * The UI's only way to the server: MLflow's public REST API under
 * `/ajax-api/2.0/mlflow/` and the artifact proxy under `/api/2.0/mlflow-artifacts/`.
 */

import type {
  ErrorResponse,
  Experiment,
  FileInfo,
  GetExperimentResponse,
  GetMetricHistoryBulkResponse,
  GetRunResponse,
  CreateExperimentResponse,
  ListArtifactsResponse,
  ListProxyArtifactsResponse,
  LoggedModel,
  LoggedModelResponse,
  ModelVersion,
  ModelVersionResponse,
  RegisteredModelResponse,
  Run,
  RunInfo,
  RunMetric,
  SearchExperimentsResponse,
  SearchModelVersionsResponse,
  SearchRegisteredModelsResponse,
  SearchRunsResponse,
  GetDeploymentResponse,
  ListDeploymentsResponse,
  ListDeploymentEventsResponse,
} from "../../src/wire/index.js";

/** The wire types the pages use, from the one definition in `src/wire/`. */
export type {
  DatasetInput,
  Experiment,
  FileInfo,
  KeyValue,
  LoggedModel,
  Metric,
  ModelVersion,
  RegisteredModel,
  Run,
  RunInfo,
  RunMetric,
  DeploymentInfo,
  DeploymentEventInfo,
} from "../../src/wire/index.js";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

const API = "/ajax-api/2.0/mlflow/";
const ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts";

type Query = Record<string, string | number | boolean | readonly (string | number)[] | undefined>;

function qs(query: Query): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) p.append(k, String(item));
    else p.append(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

async function toError(res: Response): Promise<ApiError> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as Partial<ErrorResponse>;
    return new ApiError(res.status, body.error_code ?? "INTERNAL_ERROR", body.message ?? text);
  } catch {
    return new ApiError(res.status, res.status === 404 ? "ENDPOINT_NOT_FOUND" : "INTERNAL_ERROR", text || res.statusText);
  }
}

async function request<T>(method: string, path: string, query: Query = {}, body?: unknown, signal?: AbortSignal): Promise<T> {
  const init: RequestInit = { method, signal, headers: { accept: "application/json" } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { ...init.headers, "content-type": "application/json" };
  }
  const res = await fetch(path + qs(query), init);
  if (!res.ok) throw await toError(res);
  const text = await res.text();
  return (text ? JSON.parse(text) : {}) as T;
}

export const get = <T>(path: string, query: Query = {}, signal?: AbortSignal) => request<T>("GET", API + path, query, undefined, signal);
export const post = <T>(path: string, body: unknown = {}) => request<T>("POST", API + path, {}, body);
export const patch = <T>(path: string, body: unknown = {}) => request<T>("PATCH", API + path, {}, body);
export const del = <T>(path: string, body?: unknown, query: Query = {}) => request<T>("DELETE", API + path, query, body);

// ---- experiments ----

export async function searchExperiments(opts: { filter?: string; viewType?: string; pageToken?: string; maxResults?: number }) {
  return post<SearchExperimentsResponse>("experiments/search", {
    filter: opts.filter || undefined,
    view_type: opts.viewType ?? "ACTIVE_ONLY",
    max_results: opts.maxResults ?? 1000,
    page_token: opts.pageToken,
    order_by: ["last_update_time DESC"],
  });
}

export const getExperiment = async (id: string) => (await get<GetExperimentResponse>("experiments/get", { experiment_id: id })).experiment;
export const createExperiment = async (name: string) => (await post<CreateExperimentResponse>("experiments/create", { name })).experiment_id;
export const renameExperiment = (id: string, newName: string) => post("experiments/update", { experiment_id: id, new_name: newName });
export const deleteExperiment = (id: string) => post("experiments/delete", { experiment_id: id });
export const restoreExperiment = (id: string) => post("experiments/restore", { experiment_id: id });

// ---- runs ----

export interface SearchRunsRequest {
  experimentIds: string[];
  filter?: string;
  orderBy?: string[];
  viewType?: string;
  maxResults?: number;
  pageToken?: string;
}

export async function searchRuns(r: SearchRunsRequest, signal?: AbortSignal) {
  return request<SearchRunsResponse>(
    "POST",
    API + "runs/search",
    {},
    {
      experiment_ids: r.experimentIds,
      filter: r.filter || undefined,
      order_by: r.orderBy && r.orderBy.length ? r.orderBy : undefined,
      run_view_type: r.viewType ?? "ACTIVE_ONLY",
      max_results: r.maxResults ?? 1000,
      page_token: r.pageToken,
    },
    signal,
  );
}

export const getRun = async (runId: string) => (await get<GetRunResponse>("runs/get", { run_id: runId })).run;
export const setRunTag = (runId: string, key: string, value: string) => post("runs/set-tag", { run_id: runId, key, value });
export const deleteRunTag = (runId: string, key: string) => post("runs/delete-tag", { run_id: runId, key });
export const deleteRun = (runId: string) => post("runs/delete", { run_id: runId });
export const restoreRun = (runId: string) => post("runs/restore", { run_id: runId });

declare global {
  interface Window {
    /** Started by index.html for a deep link to one metric's chart. */
    __mloopPrefetch?: { url: string; body: Promise<Partial<GetMetricHistoryBulkResponse> | null> };
  }
}

/** Sampled history of one metric for up to 100 runs: MLflow's bulk-interval endpoint. */
export async function getSampledHistory(runIds: string[], metricKey: string, opts: { maxResults?: number; startStep?: number; endStep?: number } = {}, signal?: AbortSignal): Promise<RunMetric[]> {
  const query: Query = {
    run_ids: runIds,
    metric_key: metricKey,
    max_results: opts.maxResults ?? 1000,
    start_step: opts.startStep,
    end_step: opts.endStep,
  };
  const early = window.__mloopPrefetch;
  if (early && early.url === API + "metrics/get-history-bulk-interval" + qs(query)) {
    window.__mloopPrefetch = undefined;
    const body = await early.body;
    if (body) return body.metrics ?? [];
  }
  const res = await get<GetMetricHistoryBulkResponse>("metrics/get-history-bulk-interval", query, signal);
  return res.metrics ?? [];
}

// ---- artifacts ----

/** The proxy path (`<exp>/<run>/artifacts`) behind a run's `mlflow-artifacts:` URI, if it has one. */
export function proxyRoot(artifactUri: string | undefined): string | undefined {
  if (!artifactUri) return undefined;
  const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/*(.*)$/.exec(artifactUri);
  return m ? (m[1] ?? "").replace(/\/+$/, "") : undefined;
}

function joinPath(...parts: (string | undefined)[]): string {
  return parts.filter((p): p is string => !!p).join("/").replace(/\/+/g, "/").replace(/^\//, "");
}

/** Files in a run's artifact folder; `path` is relative to the run's artifact root. Paths returned are relative to that root too. */
export async function listArtifacts(run: RunInfo, path = ""): Promise<FileInfo[]> {
  const root = proxyRoot(run.artifact_uri);
  let files: FileInfo[];
  if (root !== undefined) {
    const res = await request<ListProxyArtifactsResponse>("GET", ARTIFACTS, { path: joinPath(root, path) || undefined });
    files = (res.files ?? []).map((f) => ({ ...f, path: joinPath(path, f.path.split("/").pop()) }));
  } else {
    const res = await get<ListArtifactsResponse>("artifacts/list", { run_id: run.run_id, path: path || undefined });
    files = res.files ?? [];
  }
  return files.sort((a, b) => Number(!!b.is_dir) - Number(!!a.is_dir) || a.path.localeCompare(b.path));
}

/** URL that downloads one artifact of a run. */
export function artifactUrl(run: RunInfo, path: string): string {
  const root = proxyRoot(run.artifact_uri);
  const enc = (p: string) => p.split("/").map(encodeURIComponent).join("/");
  if (root !== undefined) return `${ARTIFACTS}/${enc(joinPath(root, path))}`;
  return `/get-artifact${qs({ path, run_uuid: run.run_id })}`;
}

export async function fetchArtifactText(run: RunInfo, path: string, maxBytes = 2_000_000): Promise<{ text: string; truncated: boolean }> {
  const res = await fetch(artifactUrl(run, path), { headers: { range: `bytes=0-${maxBytes - 1}` } });
  if (!res.ok && res.status !== 206) throw await toError(res);
  const text = await res.text();
  const total = Number(res.headers.get("content-range")?.split("/")[1] ?? NaN);
  return { text, truncated: res.status === 206 && Number.isFinite(total) && total > maxBytes };
}

// ---- registry ----

export async function searchRegisteredModels(filter: string, pageToken?: string) {
  return get<SearchRegisteredModelsResponse>("registered-models/search", {
    filter: filter || undefined,
    max_results: 100,
    order_by: ["name ASC"],
    page_token: pageToken,
  });
}

export const getRegisteredModel = async (name: string) =>
  (await get<RegisteredModelResponse>("registered-models/get", { name })).registered_model;

export async function searchModelVersions(name: string) {
  const out: ModelVersion[] = [];
  let token: string | undefined;
  do {
    const res = await get<SearchModelVersionsResponse>("model-versions/search", {
      filter: `name='${name.replace(/'/g, "\\'")}'`,
      max_results: 1000,
      page_token: token,
    });
    out.push(...(res.model_versions ?? []));
    token = res.next_page_token;
  } while (token && out.length < 10_000);
  return out.sort((a, b) => Number(b.version) - Number(a.version));
}

export const getModelVersion = async (name: string, version: string) =>
  (await get<ModelVersionResponse>("model-versions/get", { name, version })).model_version;
export const updateRegisteredModel = (name: string, description: string) => patch("registered-models/update", { name, description });
export const updateModelVersion = (name: string, version: string, description: string) => patch("model-versions/update", { name, version, description });
export const setModelAlias = (name: string, alias: string, version: string) => post("registered-models/alias", { name, alias, version });
export const deleteModelAlias = (name: string, alias: string) => del("registered-models/alias", { name, alias });
export const transitionStage = (name: string, version: string, stage: string, archiveExisting: boolean) =>
  post("model-versions/transition-stage", { name, version, stage, archive_existing_versions: archiveExisting });
export const setModelTag = (name: string, key: string, value: string) => post("registered-models/set-tag", { name, key, value });
export const deleteModelTag = (name: string, key: string) => del("registered-models/delete-tag", { name, key });
export const setVersionTag = (name: string, version: string, key: string, value: string) => post("model-versions/set-tag", { name, version, key, value });
export const deleteVersionTag = (name: string, version: string, key: string) => del("model-versions/delete-tag", { name, version, key });

export const getLoggedModel = async (modelId: string) => (await get<LoggedModelResponse>(`logged-models/${encodeURIComponent(modelId)}`)).model;

export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

// ---- deployments (mloop's closed loop, /ajax-api/2.0/mloop/deployments) ----

const MLOOP = "/ajax-api/2.0/mloop/";
export const listDeployments = async () => (await request<ListDeploymentsResponse>("GET", MLOOP + "deployments/list")).deployments;
export const getDeployment = async (name: string) => (await request<GetDeploymentResponse>("GET", MLOOP + "deployments/get", { name })).deployment;
export const listDeploymentEvents = async (name: string) => (await request<ListDeploymentEventsResponse>("GET", MLOOP + "deployments/events/list", { name, max_results: 10000 })).events;
