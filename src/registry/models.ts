import { invalidParameter, notFound } from "../errors.js";
import { decodePageToken, encodePageToken, scopeClause, type ResultScope } from "../paging.js";
import { parseFilter, parseOrderBy } from "./filter.js";
import { resolveVersionSource } from "./source.js";
import type { RegistryStore, SqlQuery } from "./store.js";
import { STAGES, type KeyValue, type ModelVersion, type RegisteredModel } from "./types.js";
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

/** Where registry events go (the webhook outbox); a no-op when webhooks are off. */
export type EventSink = (event: WebhookEvent, modelName: string, data: Record<string, unknown>) => Promise<void>;

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

/** Registered models, model versions, stages and aliases. */
export class ModelRegistryService {
  constructor(
    private readonly store: RegistryStore,
    private readonly emit: EventSink,
    private readonly now: () => number = Date.now,
  ) {}

  // ---- registered models --------------------------------------------------

  async createRegisteredModel(nameRaw: unknown, description: string | undefined, tags: KeyValue[]): Promise<RegisteredModel> {
    const name = validateModelName(nameRaw);
    validateTags(tags);
    await this.store.createRegisteredModel(name, description, tags, this.now());
    await this.emit("registered_model.created", name, { name, tags: Object.fromEntries(tags.map((t) => [t.key, t.value])), description: description ?? null });
    return this.store.getRegisteredModel(name);
  }

  async getRegisteredModel(nameRaw: unknown): Promise<RegisteredModel> {
    return this.store.getRegisteredModel(validateModelName(nameRaw));
  }

  async renameRegisteredModel(nameRaw: unknown, newNameRaw: unknown): Promise<RegisteredModel> {
    const name = validateModelName(nameRaw);
    const newName = validateModelName(newNameRaw, "new_name");
    await this.store.renameRegisteredModel(name, newName, this.now());
    return this.store.getRegisteredModel(newName);
  }

  async updateRegisteredModel(nameRaw: unknown, description: string | undefined): Promise<RegisteredModel> {
    const name = validateModelName(nameRaw);
    await this.store.updateRegisteredModel(name, description ?? "", this.now());
    return this.store.getRegisteredModel(name);
  }

  async deleteRegisteredModel(nameRaw: unknown): Promise<void> {
    await this.store.deleteRegisteredModel(validateModelName(nameRaw));
  }

  async setRegisteredModelTag(nameRaw: unknown, key: unknown, value: string): Promise<void> {
    const name = validateModelName(nameRaw);
    validateTag(key, value);
    await this.store.setRegisteredModelTag(name, key, value, this.now());
  }

  async deleteRegisteredModelTag(nameRaw: unknown, key: unknown): Promise<void> {
    const name = validateModelName(nameRaw);
    if (typeof key !== "string" || !key) throw invalidParameter("Missing value for required parameter 'key'. See the API docs for more information about request parameters.");
    await this.store.deleteRegisteredModelTag(name, key);
  }

  async searchRegisteredModels(q: SearchQuery): Promise<{ registered_models: RegisteredModel[]; next_page_token?: string }> {
    const limit = validateMaxResults(q.maxResults, REGISTRY_LIMITS.searchModelsDefault, REGISTRY_LIMITS.searchModelsMax);
    const sql = this.store.compileRegisteredModelQuery(parseFilter(q.filter), parseOrderBy(q.orderBy, ["name", "creation_timestamp", "last_updated_timestamp"]));
    const offset = offsetOf(q.pageToken);
    const rows = await this.store.searchRegisteredModels(scoped(sql, "rm.name", q.scope), limit + 1, offset);
    const out: { registered_models: RegisteredModel[]; next_page_token?: string } = { registered_models: rows.slice(0, limit) };
    if (rows.length > limit) out.next_page_token = encodePageToken({ offset: offset + limit });
    return out;
  }

  async getLatestVersions(nameRaw: unknown, stages: string[] | undefined): Promise<ModelVersion[]> {
    const name = validateModelName(nameRaw);
    const wanted = stages?.filter(Boolean).map(parseStage);
    return this.store.latestVersions(name, wanted);
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
    await this.store.requireRegisteredModel(name);
    const resolved = await resolveVersionSource(this.store, inp.source, inp.runId || undefined, inp.modelId || undefined);
    const version = await this.store.createModelVersion(
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
    );
    const mv = await this.store.getModelVersion(name, version);
    await this.emit("model_version.created", name, {
      name,
      version: mv.version,
      source: mv.source,
      run_id: mv.run_id ?? null,
      tags: Object.fromEntries(inp.tags.map((t) => [t.key, t.value])),
      description: mv.description ?? null,
    });
    return mv;
  }

  async getModelVersion(nameRaw: unknown, versionRaw: unknown): Promise<ModelVersion> {
    return this.store.getModelVersion(validateModelName(nameRaw), validateVersion(versionRaw));
  }

  async updateModelVersion(nameRaw: unknown, versionRaw: unknown, description: string | undefined): Promise<ModelVersion> {
    const name = validateModelName(nameRaw);
    const version = validateVersion(versionRaw);
    await this.store.updateModelVersion(name, version, description ?? "", this.now());
    return this.store.getModelVersion(name, version);
  }

  async transitionStage(nameRaw: unknown, versionRaw: unknown, stageRaw: unknown, archiveExisting: boolean): Promise<ModelVersion> {
    const name = validateModelName(nameRaw);
    const version = validateVersion(versionRaw);
    const stage = parseStage(stageRaw);
    await this.store.transitionStage(name, version, stage, archiveExisting, this.now());
    return this.store.getModelVersion(name, version);
  }

  async deleteModelVersion(nameRaw: unknown, versionRaw: unknown): Promise<void> {
    await this.store.deleteModelVersion(validateModelName(nameRaw), validateVersion(versionRaw), this.now());
  }

  async setModelVersionTag(nameRaw: unknown, versionRaw: unknown, key: unknown, value: string): Promise<void> {
    const name = validateModelName(nameRaw);
    const version = validateVersion(versionRaw);
    validateTag(key, value);
    await this.store.setModelVersionTag(name, version, key, value);
    await this.emit("model_version_tag.set", name, { name, version: String(version), key, value });
  }

  async deleteModelVersionTag(nameRaw: unknown, versionRaw: unknown, key: unknown): Promise<void> {
    const name = validateModelName(nameRaw);
    const version = validateVersion(versionRaw);
    if (typeof key !== "string" || !key) throw invalidParameter("Missing value for required parameter 'key'. See the API docs for more information about request parameters.");
    await this.store.deleteModelVersionTag(name, version, key);
    await this.emit("model_version_tag.deleted", name, { name, version: String(version), key });
  }

  async searchModelVersions(q: SearchQuery): Promise<{ model_versions: ModelVersion[]; next_page_token?: string }> {
    const limit = validateMaxResults(q.maxResults, REGISTRY_LIMITS.searchVersionsDefault, REGISTRY_LIMITS.searchVersionsMax);
    const sql = this.store.compileModelVersionQuery(parseFilter(q.filter), parseOrderBy(q.orderBy, ["name", "version_number", "creation_timestamp", "last_updated_timestamp"]));
    const offset = offsetOf(q.pageToken);
    const rows = await this.store.searchModelVersions(scoped(sql, "mv.name", q.scope), limit + 1, offset);
    const out: { model_versions: ModelVersion[]; next_page_token?: string } = { model_versions: rows.slice(0, limit) };
    if (rows.length > limit) out.next_page_token = encodePageToken({ offset: offset + limit });
    return out;
  }

  async getDownloadUri(nameRaw: unknown, versionRaw: unknown): Promise<string> {
    const row = await this.store.modelVersionRow(validateModelName(nameRaw), validateVersion(versionRaw));
    return row.storage_location ?? row.source;
  }

  // ---- aliases --------------------------------------------------------------

  async setAlias(nameRaw: unknown, aliasRaw: unknown, versionRaw: unknown): Promise<void> {
    const name = validateModelName(nameRaw);
    const alias = validateAlias(aliasRaw);
    validateAliasNotReserved(alias);
    const version = validateVersion(versionRaw);
    await this.store.setAlias(name, alias, version, this.now());
    await this.emit("model_version_alias.created", name, { name, alias, version: String(version) });
  }

  async deleteAlias(nameRaw: unknown, aliasRaw: unknown): Promise<void> {
    const name = validateModelName(nameRaw);
    const alias = validateAlias(aliasRaw);
    // MLflow answers success for an alias that is not set; only a real removal is an event.
    if (await this.store.deleteAlias(name, alias, this.now())) {
      await this.emit("model_version_alias.deleted", name, { name, alias });
    }
  }

  async getVersionByAlias(nameRaw: unknown, aliasRaw: unknown): Promise<ModelVersion> {
    const name = validateModelName(nameRaw);
    const alias = validateAlias(aliasRaw);
    const version = await this.store.versionByAlias(name, alias);
    try {
      return await this.store.getModelVersion(name, version);
    } catch {
      throw notFound(`Registered model alias ${alias} not found.`);
    }
  }
}
