import { invalidParameter, notFound } from "../errors.js";
import { decodePageToken, encodePageToken, scopeClause, type ResultScope } from "../paging.js";
import type { LoggedModelStore } from "./logged-models-store.js";
import type { ModelVersionStore } from "./model-versions-store.js";
import type { RegisteredModelRecord, RegisteredModelStore } from "./registered-models-store.js";
import { resolveVersionSource, type SourceLookups } from "./source.js";
import type { SqlExecutor } from "../store/index.js";
import type { SqlQuery } from "./sql.js";
import { STAGES, type KeyValue, type ModelVersion, type RegisteredModel } from "../wire/index.js";
import {
  REGISTRY_LIMITS,
  validateAlias,
  validateAliasNotReserved,
  validateMaxResults,
  validateModelName,
  validateTag,
  validateTags,
  validateVersion,
} from "./validation.js";
import type { WebhookEvent } from "./webhooks.js";

/** Where registry events go: the webhook outbox, written in the change's own transaction. */
export interface EventSink {
  /** Writes the event through `tx`, the transaction of the registry change it describes. */
  record(tx: SqlExecutor, event: WebhookEvent, modelName: string, data: Record<string, unknown>): Promise<void>;
  /** The change (and its events) committed: deliver them. */
  committed(): void;
}

export interface SearchQuery {
  filter?: string;
  maxResults?: number;
  orderBy?: string[];
  pageToken?: string;
  /** Only these registered models (by name) and their versions may appear; set by the auth layer. */
  scope?: ResultScope;
}

function scoped(q: SqlQuery, column: string, scope: ResultScope | undefined): SqlQuery {
  if (!scope) return q;
  const c = scopeClause(column, scope);
  return { ...q, where: `(${q.where}) AND (${c.sql})`, params: [...q.params, ...c.params] };
}

function offsetOf(token: string | undefined): number {
  const state = decodePageToken(token);
  if (!state) return 0;
  const o = state.offset;
  if (typeof o !== "number" || !Number.isSafeInteger(o) || o < 0) throw invalidParameter(`Invalid page token '${String(token).slice(0, 100)}'`);
  return o;
}

/** Stage names are matched case-insensitively and returned in MLflow's spelling. */
export function parseStage(raw: unknown): string {
  if (typeof raw !== "string" || raw === "") throw invalidParameter("Missing value for required parameter 'stage'. See the API docs for more information about request parameters.");
  const s = STAGES.find((x) => x.toLowerCase() === raw.toLowerCase());
  if (!s) throw invalidParameter(`Invalid Model Version stage: ${raw}. Value must be one of ${STAGES.join(", ")}.`);
  return s;
}

/** What the registry service reads and writes. */
export interface ModelRegistryStores {
  registeredModels: RegisteredModelStore;
  versions: ModelVersionStore;
  /** For `models:/<model_id>` sources. */
  loggedModels: LoggedModelStore;
  /** Runs, through tracking's door, for `runs:/` sources and `run_id`. */
  findRun: SourceLookups["findRun"];
}

const MODEL_VERSIONS_TAG = "mlflow.modelVersions";

/** A string as Python's json.dumps writes it (non-ASCII escaped). */
function pyString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Registered models, model versions, stages and aliases. */
export class ModelRegistryService {
  private readonly models: RegisteredModelStore;
  private readonly loggedModels: ModelRegistryStores["loggedModels"];
  private readonly versions: ModelVersionStore;
  private readonly sources: SourceLookups;

  constructor(
    stores: ModelRegistryStores,
    private readonly events: EventSink,
    private readonly now: () => number = Date.now,
  ) {
    this.models = stores.registeredModels;
    this.versions = stores.versions;
    this.loggedModels = stores.loggedModels;
    this.sources = {
      findRun: stores.findRun,
      findLoggedModel: (id) => stores.loggedModels.row(id),
      versionByAlias: (name, alias) => stores.versions.versionByAlias(name, alias),
      versionRow: (name, version) => stores.versions.row(name, version),
    };
  }

  /** A registered model with its latest version per stage and its aliases. */
  private async withVersions(records: RegisteredModelRecord[]): Promise<RegisteredModel[]> {
    const names = records.map((r) => r.name);
    const [latest, aliases] = await Promise.all([this.versions.latestOfEach(names), this.versions.aliasesOf(names)]);
    return records.map((r) => ({
      name: r.name,
      creation_timestamp: r.creation_timestamp,
      last_updated_timestamp: r.last_updated_timestamp,
      user_id: r.user_id,
      description: r.description,
      latest_versions: latest.filter((v) => v.name === r.name),
      tags: r.tags,
      aliases: aliases.get(r.name) ?? [],
    }));
  }

  private async registeredModel(name: string): Promise<RegisteredModel> {
    return (await this.withVersions([await this.models.get(name)]))[0]!;
  }

  // ---- registered models --------------------------------------------------

  async createRegisteredModel(nameRaw: unknown, description: string | undefined, tags: KeyValue[]): Promise<RegisteredModel> {
    const name = validateModelName(nameRaw);
    validateTags(tags);
    await this.models.create(name, description, tags, this.now(), (tx) =>
      this.events.record(tx, "registered_model.created", name, { name, tags: Object.fromEntries(tags.map((t) => [t.key, t.value])), description: description ?? null }),
    );
    this.events.committed();
    return this.registeredModel(name);
  }

  async getRegisteredModel(nameRaw: unknown): Promise<RegisteredModel> {
    return this.registeredModel(validateModelName(nameRaw));
  }

  async renameRegisteredModel(nameRaw: unknown, newNameRaw: unknown): Promise<RegisteredModel> {
    const name = validateModelName(nameRaw);
    const newName = validateModelName(newNameRaw, "new_name");
    await this.models.rename(name, newName, this.now());
    return this.registeredModel(newName);
  }

  async updateRegisteredModel(nameRaw: unknown, description: string | undefined): Promise<RegisteredModel> {
    const name = validateModelName(nameRaw);
    await this.models.update(name, description ?? "", this.now());
    return this.registeredModel(name);
  }

  async deleteRegisteredModel(nameRaw: unknown): Promise<void> {
    const name = validateModelName(nameRaw);
    await this.models.delete(name, (tx) => this.versions.deleteAllOf(name, tx));
  }

  async setRegisteredModelTag(nameRaw: unknown, key: unknown, value: string): Promise<void> {
    const name = validateModelName(nameRaw);
    validateTag(key, value);
    await this.models.setTag(name, key, value, this.now());
  }

  async deleteRegisteredModelTag(nameRaw: unknown, key: unknown): Promise<void> {
    const name = validateModelName(nameRaw);
    if (typeof key !== "string" || !key) throw invalidParameter("Missing value for required parameter 'key'. See the API docs for more information about request parameters.");
    await this.models.deleteTag(name, key);
  }

  async searchRegisteredModels(q: SearchQuery): Promise<{ registered_models: RegisteredModel[]; next_page_token?: string }> {
    const limit = validateMaxResults(q.maxResults, REGISTRY_LIMITS.searchModelsDefault, REGISTRY_LIMITS.searchModelsMax);
    const sql = this.models.compileSearch(q.filter, q.orderBy);
    const offset = offsetOf(q.pageToken);
    const rows = await this.withVersions(await this.models.search(scoped(sql, "rm.name", q.scope), limit + 1, offset));
    const out: { registered_models: RegisteredModel[]; next_page_token?: string } = { registered_models: rows.slice(0, limit) };
    if (rows.length > limit) out.next_page_token = encodePageToken({ offset: offset + limit });
    return out;
  }

  async getLatestVersions(nameRaw: unknown, stages: string[] | undefined): Promise<ModelVersion[]> {
    const name = validateModelName(nameRaw);
    const wanted = stages?.filter(Boolean).map(parseStage);
    return this.versions.latest(name, wanted);
  }

  // ---- model versions -----------------------------------------------------

  async createModelVersion(inp: {
    name: unknown;
    source: unknown;
    runId?: string;
    modelId?: string;
    tags: KeyValue[];
    runLink?: string;
    description?: string;
  }): Promise<ModelVersion> {
    const name = validateModelName(inp.name);
    if (typeof inp.source !== "string" || inp.source === "") {
      throw invalidParameter("Missing value for required parameter 'source'. See the API docs for more information about request parameters.");
    }
    validateTags(inp.tags);
    await this.models.row(name);
    const resolved = await resolveVersionSource(this.sources, inp.source, inp.runId || undefined, inp.modelId || undefined);
    const version = await this.versions.create(
      {
        name,
        description: inp.description ?? null,
        source: resolved.source,
        storage_location: resolved.storageLocation,
        run_id: resolved.runId ?? null,
        run_link: inp.runLink || null,
        model_id: resolved.modelId ?? null,
      },
      inp.tags,
      this.now(),
      (tx, v) =>
        this.events.record(tx, "model_version.created", name, {
          name,
          version: String(v),
          source: resolved.source,
          run_id: resolved.runId || null,
          tags: Object.fromEntries(inp.tags.map((t) => [t.key, t.value])),
          description: inp.description ?? null,
        }),
    );
    this.events.committed();
    const mv = await this.versions.get(name, version);
    if (resolved.modelId) await this.recordVersionOnLoggedModel(resolved.modelId, name, version);
    return mv;
  }

  /** The logged model's `mlflow.modelVersions` tag lists the versions made from it, as MLflow writes it. */
  private async recordVersionOnLoggedModel(modelId: string, name: string, version: number): Promise<void> {
    const model = await this.loggedModels.get(modelId);
    if (!model) return;
    const current = model.info.tags.find((t) => t.key === MODEL_VERSIONS_TAG)?.value;
    let list: { name: string; version: number }[] = [];
    try {
      const parsed: unknown = current ? JSON.parse(current) : [];
      if (Array.isArray(parsed)) list = parsed as { name: string; version: number }[];
    } catch {
      // a hand-written tag that is not JSON is replaced
    }
    if (!list.some((e) => e && e.name === name && e.version === version)) list.push({ name, version });
    const value = `[${list.map((e) => `{"name": ${pyString(e.name)}, "version": ${e.version}}`).join(", ")}]`;
    await this.loggedModels.setTags(modelId, [{ key: MODEL_VERSIONS_TAG, value }], this.now());
  }

  async getModelVersion(nameRaw: unknown, versionRaw: unknown): Promise<ModelVersion> {
    return this.versions.get(validateModelName(nameRaw), validateVersion(versionRaw));
  }

  async updateModelVersion(nameRaw: unknown, versionRaw: unknown, description: string | undefined): Promise<ModelVersion> {
    const name = validateModelName(nameRaw);
    const version = validateVersion(versionRaw);
    await this.versions.update(name, version, description ?? "", this.now());
    return this.versions.get(name, version);
  }

  async transitionStage(nameRaw: unknown, versionRaw: unknown, stageRaw: unknown, archiveExisting: boolean): Promise<ModelVersion> {
    const name = validateModelName(nameRaw);
    const version = validateVersion(versionRaw);
    const stage = parseStage(stageRaw);
    await this.versions.transitionStage(name, version, stage, archiveExisting, this.now());
    return this.versions.get(name, version);
  }

  async deleteModelVersion(nameRaw: unknown, versionRaw: unknown): Promise<void> {
    await this.versions.delete(validateModelName(nameRaw), validateVersion(versionRaw), this.now());
  }

  async setModelVersionTag(nameRaw: unknown, versionRaw: unknown, key: unknown, value: string): Promise<void> {
    const name = validateModelName(nameRaw);
    const version = validateVersion(versionRaw);
    validateTag(key, value);
    await this.versions.setTag(name, version, key, value, (tx) => this.events.record(tx, "model_version_tag.set", name, { name, version: String(version), key, value }));
    this.events.committed();
  }

  async deleteModelVersionTag(nameRaw: unknown, versionRaw: unknown, key: unknown): Promise<void> {
    const name = validateModelName(nameRaw);
    const version = validateVersion(versionRaw);
    if (typeof key !== "string" || !key) throw invalidParameter("Missing value for required parameter 'key'. See the API docs for more information about request parameters.");
    await this.versions.deleteTag(name, version, key, (tx) => this.events.record(tx, "model_version_tag.deleted", name, { name, version: String(version), key }));
    this.events.committed();
  }

  async searchModelVersions(q: SearchQuery): Promise<{ model_versions: ModelVersion[]; next_page_token?: string }> {
    const limit = validateMaxResults(q.maxResults, REGISTRY_LIMITS.searchVersionsDefault, REGISTRY_LIMITS.searchVersionsMax);
    // With no order_by, MLflow lists the most recently updated versions first.
    const orderBy = q.orderBy && q.orderBy.length > 0 ? q.orderBy : ["last_updated_timestamp DESC"];
    const sql = this.versions.compileSearch(q.filter, orderBy);
    const offset = offsetOf(q.pageToken);
    const rows = await this.versions.search(scoped(sql, "mv.name", q.scope), limit + 1, offset);
    const out: { model_versions: ModelVersion[]; next_page_token?: string } = { model_versions: rows.slice(0, limit) };
    if (rows.length > limit) out.next_page_token = encodePageToken({ offset: offset + limit });
    return out;
  }

  async getDownloadUri(nameRaw: unknown, versionRaw: unknown): Promise<string> {
    const row = await this.versions.row(validateModelName(nameRaw), validateVersion(versionRaw));
    return row.storage_location ?? row.source;
  }

  // ---- aliases --------------------------------------------------------------

  async setAlias(nameRaw: unknown, aliasRaw: unknown, versionRaw: unknown): Promise<void> {
    const name = validateModelName(nameRaw);
    const alias = validateAlias(aliasRaw);
    validateAliasNotReserved(alias);
    const version = validateVersion(versionRaw);
    await this.versions.setAlias(name, alias, version, this.now(), (tx) => this.events.record(tx, "model_version_alias.created", name, { name, alias, version: String(version) }));
    this.events.committed();
  }

  async deleteAlias(nameRaw: unknown, aliasRaw: unknown): Promise<void> {
    const name = validateModelName(nameRaw);
    const alias = validateAlias(aliasRaw);
    // MLflow answers success for an alias that is not set; only a real removal is an event.
    if (await this.versions.deleteAlias(name, alias, this.now(), (tx) => this.events.record(tx, "model_version_alias.deleted", name, { name, alias }))) {
      this.events.committed();
    }
  }

  async getVersionByAlias(nameRaw: unknown, aliasRaw: unknown): Promise<ModelVersion> {
    const name = validateModelName(nameRaw);
    const alias = validateAlias(aliasRaw);
    const version = await this.versions.versionByAlias(name, alias);
    try {
      return await this.versions.get(name, version);
    } catch {
      throw notFound(`Registered model alias ${alias} not found.`);
    }
  }
}
