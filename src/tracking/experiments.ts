import path from "node:path";
import { invalidParameter, invalidState, notFound } from "../errors.js";
import { LIMITS, validateExperimentId, validateExperimentName, validateKey, validateValueLength, validateMaxResults } from "./validation.js";
import { lifecycleFilter, type TrackingStore } from "./store.js";
import type { Experiment, KeyValue, ViewType } from "../wire/index.js";
import { decodePageToken, encodePageToken, scopeClause, type ResultScope } from "../paging.js";

/** Appends a path segment to an artifact root URI without doubling slashes. */
export function joinUri(root: string, ...parts: string[]): string {
  let out = root;
  for (const p of parts) out = out.endsWith("/") ? `${out}${p}` : `${out}/${p}`;
  return out;
}

export function parseViewType(raw: string | number | undefined): ViewType {
  if (raw === undefined || raw === "" ) return "ACTIVE_ONLY";
  const map: Record<string, ViewType> = { "1": "ACTIVE_ONLY", "2": "DELETED_ONLY", "3": "ALL", ACTIVE_ONLY: "ACTIVE_ONLY", DELETED_ONLY: "DELETED_ONLY", ALL: "ALL" };
  const v = map[String(raw).toUpperCase()];
  if (!v) throw invalidParameter(`Invalid view_type '${String(raw)}': use ACTIVE_ONLY, DELETED_ONLY or ALL`);
  return v;
}

export interface ExperimentSearch {
  filter?: string;
  maxResults?: number;
  orderBy?: string[];
  pageToken?: string;
  viewType: ViewType;
  /** Only these experiments (by id) may appear; set by the auth layer. */
  scope?: ResultScope;
}

/** Turns an experiment filter and order_by into SQL (`experimentCompiler` in `search-tables.ts`). */
export type ExperimentQueryCompiler = (filter: string | undefined, orderBy: string[] | undefined) => {
  where: string;
  params: (string | number)[];
  order: string;
};

export class ExperimentService {
  constructor(
    private readonly store: TrackingStore,
    private readonly defaultArtifactRoot: string,
    private readonly compile: ExperimentQueryCompiler,
    private readonly now: () => number = Date.now,
  ) {}

  async init(): Promise<void> {
    await this.store.ensureDefaultExperimentLocation(joinUri(this.defaultArtifactRoot, "0"));
  }

  async create(name: unknown, artifactLocation: string | undefined, tags: KeyValue[] = []): Promise<string> {
    validateExperimentName(name);
    for (const t of tags) {
      validateKey("experiment tag", t.key);
      validateValueLength("experiment tag", t.key, t.value);
    }
    if (artifactLocation !== undefined && artifactLocation !== "") {
      validateArtifactLocation(artifactLocation);
    }
    return this.store.createExperiment(
      name,
      (id) => joinUri(this.defaultArtifactRoot, id),
      artifactLocation === "" ? undefined : absoluteIfLocal(artifactLocation),
      tags,
      this.now(),
    );
  }

  async get(id: string): Promise<Experiment> {
    validateExperimentId(id);
    return this.store.getExperiment(id);
  }

  /** The experiment, or undefined when there is none: how other domains (logged models) look one up. */
  async find(id: string): Promise<Experiment | undefined> {
    return this.store.findExperiment(id);
  }

  async getByName(name: string): Promise<Experiment> {
    const exp = await this.store.getExperimentByName(name);
    if (!exp) throw notFound(`Could not find experiment with name '${name}'`);
    return exp;
  }

  async search(q: ExperimentSearch): Promise<{ experiments: Experiment[]; nextPageToken?: string }> {
    const limit = validateMaxResults(q.maxResults, LIMITS.searchExperimentsDefault);
    const state = decodePageToken(q.pageToken);
    const offset = typeof state?.offset === "number" && Number.isSafeInteger(state.offset) && state.offset >= 0 ? state.offset : 0;
    if (state && offset === 0 && state.offset !== 0) throw invalidParameter(`Invalid page token`);
    const { where, params, order } = this.compile(q.filter, q.orderBy);
    const scope = scopeClause("CAST(e.experiment_id AS TEXT)", q.scope);
    const rows = await this.store.searchExperiments(
      `(${lifecycleFilter(q.viewType, "e.lifecycle_stage")}) AND (${where}) AND (${scope.sql})`,
      [...params, ...scope.params],
      order,
      limit + 1,
      offset,
    );
    const more = rows.length > limit;
    return {
      experiments: rows.slice(0, limit),
      nextPageToken: more ? encodePageToken({ offset: offset + limit }) : undefined,
    };
  }

  async rename(id: string, newName: unknown): Promise<void> {
    validateExperimentName(newName);
    const exp = await this.get(id);
    if (exp.lifecycle_stage !== "active") {
      throw invalidState(`Cannot rename a non-active experiment ${id}. Current state: ${exp.lifecycle_stage}`);
    }
    await this.store.renameExperiment(id, newName, this.now());
  }

  async delete(id: string): Promise<void> {
    const exp = await this.get(id);
    if (exp.experiment_id === "0") throw invalidParameter("Cannot delete the default experiment '0'. This is an internally reserved experiment.");
    await this.store.setExperimentLifecycle(exp.experiment_id, "deleted", this.now());
  }

  async restore(id: string): Promise<void> {
    const exp = await this.get(id);
    if (exp.lifecycle_stage !== "deleted") {
      throw invalidState(`Cannot restore an active experiment ${id}. Current state: ${exp.lifecycle_stage}`);
    }
    await this.store.setExperimentLifecycle(exp.experiment_id, "active", this.now());
  }

  async setTag(id: string, key: string, value: string): Promise<void> {
    validateKey("experiment tag", key);
    validateValueLength("experiment tag", key, value);
    const exp = await this.get(id);
    if (exp.lifecycle_stage !== "active") {
      throw invalidState(`The experiment ${id} must be in the 'active' state. Current state is ${exp.lifecycle_stage}.`);
    }
    await this.store.setExperimentTag(exp.experiment_id, key, value, this.now());
  }

  async deleteTag(id: string, key: string): Promise<void> {
    const exp = await this.get(id);
    if (exp.lifecycle_stage !== "active") {
      throw invalidState(`The experiment ${id} must be in the 'active' state. Current state is ${exp.lifecycle_stage}.`);
    }
    const deleted = await this.store.deleteExperimentTag(exp.experiment_id, key);
    if (!deleted) throw notFound(`No tag with name: ${key} in experiment with id ${id}`);
  }
}

/** A relative path is made absolute against the server's working directory, as MLflow does. */
function absoluteIfLocal(loc: string | undefined): string | undefined {
  if (loc === undefined || /^[A-Za-z][A-Za-z0-9+.-]*:/.test(loc) || path.isAbsolute(loc)) return loc;
  return path.resolve(process.cwd(), loc);
}

/** Experiment locations are URIs chosen by the user; refuse the ones that point into the server's own files. */
function validateArtifactLocation(loc: string): void {
  if (loc.includes("\0")) throw invalidParameter("artifact_location must not contain NUL characters");
  if (/[?#]/.test(loc) && !/^s3:\/\//.test(loc)) {
    throw invalidParameter(`Invalid artifact_location '${loc}': query strings and fragments are not allowed`);
  }
}
