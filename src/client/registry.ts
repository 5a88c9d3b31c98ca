import fsp from "node:fs/promises";
import { resolveTrackingUri } from "../config.js";
import { downloadTree, proxyRoot, type TransferOptions } from "./artifacts.js";
import { ApiError, HttpTransport } from "./http.js";
import type * as wire from "../wire/index.js";
import type { LoggedModel, ModelVersion, RegisteredModel, Stage } from "../wire/index.js";

/** A tag as the registry returns it. */
export type RegistryTag = wire.KeyValue;

export type { LoggedModel, ModelVersion, RegisteredModel, Stage } from "../wire/index.js";

/** A page of results and the token of the next one. */
export interface RegistryPage<T> {
  items: T[];
  nextPageToken?: string;
}

export interface RegistrySearchOptions {
  /** MLflow search syntax, e.g. `name ILIKE '%fraud%' AND tags.team = 'risk'`. */
  filter?: string;
  /** e.g. `["name ASC"]`, `["version_number DESC"]`. */
  orderBy?: string[];
  maxResults?: number;
  pageToken?: string;
}

export interface RegistryClientOptions {
  /** Server URL; defaults to `MLFLOW_TRACKING_URI`, then `MLOOP_TRACKING_URI`, then `http://127.0.0.1:5000`. */
  trackingUri?: string;
  headers?: Record<string, string>;
  maxRetries?: number;
  timeoutMs?: number;
}

type Tags = Record<string, string> | RegistryTag[] | undefined;

function toTags(tags: Tags): RegistryTag[] {
  if (!tags) return [];
  return Array.isArray(tags) ? tags : Object.entries(tags).map(([key, value]) => ({ key, value }));
}

/**
 * The typed client of the model registry of an mloop (or MLflow) server:
 * registered models, versions, aliases, stages and downloads, with MLflow's
 * REST shapes and errors as {@link ApiError}.
 *
 * @example
 * ```ts
 * const registry = new RegistryClient({ trackingUri: "http://127.0.0.1:5000" });
 * await registry.createRegisteredModel("fraud");
 * const mv = await registry.createModelVersion("fraud", `runs:/${runId}/model`, { runId });
 * await registry.setAlias("fraud", "champion", mv.version);
 * ```
 */
export class RegistryClient {
  readonly http: HttpTransport;

  /**
   * @example
   * ```ts
   * const registry = new RegistryClient(); // MLFLOW_TRACKING_URI or http://127.0.0.1:5000
   * ```
   */
  constructor(opts: RegistryClientOptions | HttpTransport = {}) {
    this.http =
      opts instanceof HttpTransport
        ? opts
        : new HttpTransport({
            trackingUri: opts.trackingUri ?? resolveTrackingUri(undefined) ?? "http://127.0.0.1:5000",
            headers: opts.headers,
            maxRetries: opts.maxRetries,
            timeoutMs: opts.timeoutMs,
          });
  }

  /**
   * Creates a registered model.
   *
   * @example
   * ```ts
   * await registry.createRegisteredModel("fraud", { description: "card fraud", tags: { team: "risk" } });
   * ```
   */
  async createRegisteredModel(name: string, opts: { description?: string; tags?: Tags } = {}): Promise<RegisteredModel> {
    const res = await this.http.post<wire.RegisteredModelResponse>("registered-models/create", { name, description: opts.description, tags: toTags(opts.tags) });
    return res.registered_model;
  }

  /**
   * A registered model with its latest versions per stage, tags and aliases.
   *
   * @example
   * ```ts
   * const model = await registry.getRegisteredModel("fraud");
   * ```
   */
  async getRegisteredModel(name: string): Promise<RegisteredModel> {
    return (await this.http.get<wire.RegisteredModelResponse>("registered-models/get", { name })).registered_model;
  }

  /**
   * One page of registered models.
   *
   * @example
   * ```ts
   * const { items } = await registry.searchRegisteredModels({ filter: "name LIKE 'fraud%'" });
   * ```
   */
  async searchRegisteredModels(opts: RegistrySearchOptions = {}): Promise<RegistryPage<RegisteredModel>> {
    const res = await this.http.get<wire.SearchRegisteredModelsResponse>("registered-models/search", {
      filter: opts.filter,
      order_by: opts.orderBy,
      max_results: opts.maxResults,
      page_token: opts.pageToken,
    });
    return { items: res.registered_models ?? [], nextPageToken: res.next_page_token };
  }

  /**
   * Renames a registered model; its versions and aliases follow.
   *
   * @example
   * ```ts
   * await registry.renameRegisteredModel("fraud", "fraud-v2");
   * ```
   */
  async renameRegisteredModel(name: string, newName: string): Promise<RegisteredModel> {
    return (await this.http.post<wire.RegisteredModelResponse>("registered-models/rename", { name, new_name: newName })).registered_model;
  }

  /**
   * Sets a registered model's description.
   *
   * @example
   * ```ts
   * await registry.updateRegisteredModel("fraud", "card fraud classifier");
   * ```
   */
  async updateRegisteredModel(name: string, description: string): Promise<RegisteredModel> {
    return (await this.http.patch<wire.RegisteredModelResponse>("registered-models/update", { name, description })).registered_model;
  }

  /**
   * Deletes a registered model and all its versions.
   *
   * @example
   * ```ts
   * await registry.deleteRegisteredModel("fraud");
   * ```
   */
  async deleteRegisteredModel(name: string): Promise<void> {
    await this.http.delete("registered-models/delete", { name });
  }

  /**
   * Sets a tag on a registered model.
   *
   * @example
   * ```ts
   * await registry.setRegisteredModelTag("fraud", "team", "risk");
   * ```
   */
  async setRegisteredModelTag(name: string, key: string, value: string): Promise<void> {
    await this.http.post("registered-models/set-tag", { name, key, value });
  }

  /**
   * Removes a tag from a registered model.
   *
   * @example
   * ```ts
   * await registry.deleteRegisteredModelTag("fraud", "team");
   * ```
   */
  async deleteRegisteredModelTag(name: string, key: string): Promise<void> {
    await this.http.delete("registered-models/delete-tag", { name, key });
  }

  /**
   * Registers a new version from `runs:/<run>/<path>`, `models:/<model_id>`,
   * `models:/<name>/<version>` or an artifact URI inside the run's artifacts.
   *
   * @example
   * ```ts
   * const mv = await registry.createModelVersion("fraud", `runs:/${runId}/model`, { runId });
   * ```
   */
  async createModelVersion(
    name: string,
    source: string,
    opts: { runId?: string; modelId?: string; description?: string; tags?: Tags; runLink?: string } = {},
  ): Promise<ModelVersion> {
    const res = await this.http.post<wire.ModelVersionResponse>("model-versions/create", {
      name,
      source,
      run_id: opts.runId,
      model_id: opts.modelId,
      description: opts.description,
      run_link: opts.runLink,
      tags: toTags(opts.tags),
    });
    return res.model_version;
  }

  /**
   * Registers `source` under `name`, creating the registered model first when it does not exist.
   *
   * @example
   * ```ts
   * const mv = await registry.registerModel(`runs:/${runId}/model`, "fraud");
   * ```
   */
  async registerModel(source: string, name: string, opts: { runId?: string; modelId?: string; description?: string; tags?: Tags } = {}): Promise<ModelVersion> {
    try {
      await this.createRegisteredModel(name);
    } catch (err) {
      if (!(err instanceof ApiError && err.errorCode === "RESOURCE_ALREADY_EXISTS")) throw err;
    }
    let runId = opts.runId;
    if (!runId && !opts.modelId) {
      const m = /^runs:\/([^/]+)/.exec(source);
      if (m) runId = m[1];
    }
    return this.createModelVersion(name, source, { ...opts, runId });
  }

  /**
   * One model version.
   *
   * @example
   * ```ts
   * const mv = await registry.getModelVersion("fraud", "3");
   * ```
   */
  async getModelVersion(name: string, version: string | number): Promise<ModelVersion> {
    return (await this.http.get<wire.ModelVersionResponse>("model-versions/get", { name, version: String(version) })).model_version;
  }

  /**
   * One page of model versions.
   *
   * @example
   * ```ts
   * const { items } = await registry.searchModelVersions({ filter: "name = 'fraud'" });
   * ```
   */
  async searchModelVersions(opts: RegistrySearchOptions = {}): Promise<RegistryPage<ModelVersion>> {
    const res = await this.http.get<wire.SearchModelVersionsResponse>("model-versions/search", {
      filter: opts.filter,
      order_by: opts.orderBy,
      max_results: opts.maxResults,
      page_token: opts.pageToken,
    });
    return { items: res.model_versions ?? [], nextPageToken: res.next_page_token };
  }

  /**
   * The newest version in each stage (or in the given stages).
   *
   * @example
   * ```ts
   * const [prod] = await registry.getLatestVersions("fraud", ["Production"]);
   * ```
   */
  async getLatestVersions(name: string, stages?: Stage[]): Promise<ModelVersion[]> {
    return (await this.http.post<wire.ModelVersionsResponse>("registered-models/get-latest-versions", { name, stages })).model_versions ?? [];
  }

  /**
   * Sets a version's description.
   *
   * @example
   * ```ts
   * await registry.updateModelVersion("fraud", "3", "retrained on March data");
   * ```
   */
  async updateModelVersion(name: string, version: string | number, description: string): Promise<ModelVersion> {
    return (await this.http.patch<wire.ModelVersionResponse>("model-versions/update", { name, version: String(version), description })).model_version;
  }

  /**
   * Moves a version to a stage, optionally archiving the versions already there.
   *
   * @example
   * ```ts
   * await registry.transitionStage("fraud", "3", "Production", { archiveExisting: true });
   * ```
   */
  async transitionStage(name: string, version: string | number, stage: Stage, opts: { archiveExisting?: boolean } = {}): Promise<ModelVersion> {
    const res = await this.http.post<wire.ModelVersionResponse>("model-versions/transition-stage", {
      name,
      version: String(version),
      stage,
      archive_existing_versions: opts.archiveExisting ?? false,
    });
    return res.model_version;
  }

  /**
   * Deletes one version; its number is not reused.
   *
   * @example
   * ```ts
   * await registry.deleteModelVersion("fraud", "2");
   * ```
   */
  async deleteModelVersion(name: string, version: string | number): Promise<void> {
    await this.http.delete("model-versions/delete", { name, version: String(version) });
  }

  /**
   * Sets a tag on a version.
   *
   * @example
   * ```ts
   * await registry.setModelVersionTag("fraud", "3", "validated", "true");
   * ```
   */
  async setModelVersionTag(name: string, version: string | number, key: string, value: string): Promise<void> {
    await this.http.post("model-versions/set-tag", { name, version: String(version), key, value });
  }

  /**
   * Removes a tag from a version.
   *
   * @example
   * ```ts
   * await registry.deleteModelVersionTag("fraud", "3", "validated");
   * ```
   */
  async deleteModelVersionTag(name: string, version: string | number, key: string): Promise<void> {
    await this.http.delete("model-versions/delete-tag", { name, version: String(version), key });
  }

  /**
   * Points an alias (e.g. `champion`) at a version.
   *
   * @example
   * ```ts
   * await registry.setAlias("fraud", "champion", "3");
   * ```
   */
  async setAlias(name: string, alias: string, version: string | number): Promise<void> {
    await this.http.post("registered-models/alias", { name, alias, version: String(version) });
  }

  /**
   * Removes an alias.
   *
   * @example
   * ```ts
   * await registry.deleteAlias("fraud", "champion");
   * ```
   */
  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.http.delete("registered-models/alias", { name, alias });
  }

  /**
   * The version an alias points at.
   *
   * @example
   * ```ts
   * const champion = await registry.getVersionByAlias("fraud", "champion");
   * ```
   */
  async getVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    return (await this.http.get<wire.ModelVersionResponse>("registered-models/alias", { name, alias })).model_version;
  }

  /**
   * Where a version's files are (an artifact URI).
   *
   * @example
   * ```ts
   * const uri = await registry.getDownloadUri("fraud", "3"); // "mlflow-artifacts:/0/…/artifacts/model"
   * ```
   */
  async getDownloadUri(name: string, version: string | number): Promise<string> {
    return (await this.http.get<wire.GetModelVersionDownloadUriResponse>("model-versions/get-download-uri", { name, version: String(version) })).artifact_uri;
  }

  /**
   * Downloads a version's files (through the server's artifact proxy) into `dstDir` and returns that folder.
   *
   * @example
   * ```ts
   * const dir = await registry.downloadModelVersion("fraud", "3", "/tmp/fraud-3");
   * ```
   */
  async downloadModelVersion(name: string, version: string | number, dstDir: string, opts: TransferOptions = {}): Promise<string> {
    const uri = await this.getDownloadUri(name, version);
    await fsp.mkdir(dstDir, { recursive: true });
    return downloadTree(this.http, proxyRoot(uri), "", dstDir, opts);
  }

  /**
   * An MLflow 3 logged model (`models:/<model_id>`): its id, name, source run and artifact location.
   *
   * @example
   * ```ts
   * const model = await registry.getLoggedModel("m-0123456789abcdef");
   * ```
   */
  async getLoggedModel(modelId: string): Promise<LoggedModel> {
    return (await this.http.get<wire.LoggedModelResponse>(`logged-models/${encodeURIComponent(modelId)}`)).model;
  }

  /**
   * The logged models a run produced, newest first (how MLflow 3 resolves `runs:/<run_id>/<name>`).
   *
   * @example
   * ```ts
   * const [model] = await registry.searchLoggedModelsOfRun("0", runId);
   * ```
   */
  async searchLoggedModelsOfRun(experimentId: string, runId: string): Promise<LoggedModel[]> {
    const res = await this.http.post<wire.SearchLoggedModelsResponse>("logged-models/search", {
      experiment_ids: [experimentId],
      filter: `source_run_id = '${runId.replace(/'/g, "")}'`,
      max_results: 100,
    });
    return res.models ?? [];
  }

  /**
   * Downloads a logged model's files (through the server's artifact proxy) into `dstDir` and returns that folder.
   *
   * @example
   * ```ts
   * const dir = await registry.downloadLoggedModel("m-0123456789abcdef", "/tmp/model");
   * ```
   */
  async downloadLoggedModel(modelId: string, dstDir: string, opts: TransferOptions = {}): Promise<string> {
    const model = await this.getLoggedModel(modelId);
    await fsp.mkdir(dstDir, { recursive: true });
    return downloadTree(this.http, proxyRoot(model.info.artifact_uri), "", dstDir, opts);
  }
}
