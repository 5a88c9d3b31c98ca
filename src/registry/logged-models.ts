import crypto from "node:crypto";
import { invalidParameter, invalidState, notFound } from "../errors.js";
import { decodePageToken, encodePageToken } from "../paging.js";
import { joinUri, type ExperimentService, type RunService } from "../tracking/index.js";
import type { LoggedModelStore } from "./logged-models-store.js";
import type { ModelVersionStore } from "./model-versions-store.js";
import { LOGGED_MODEL_STATUSES, type KeyValue, type LoggedModel, type LoggedModelStatus } from "../wire/index.js";
import { REGISTRY_LIMITS, validateLoggedModelName, validateMaxResults, validateTags } from "./validation.js";

const ADJECTIVES = ["agile", "bold", "calm", "deft", "eager", "fair", "glad", "hardy", "keen", "lucid", "merry", "nimble", "quiet", "rapid", "sly", "tidy", "vivid", "witty"];
const NOUNS = ["ant", "bass", "crane", "doe", "eel", "finch", "gnu", "hawk", "ibis", "jay", "koala", "lark", "mole", "newt", "owl", "puma", "quail", "robin", "seal", "toad", "wren", "yak"];

function randomName(): string {
  const pick = <T>(a: T[]) => a[crypto.randomInt(a.length)]!;
  return `${pick(ADJECTIVES)}-${pick(NOUNS)}-${crypto.randomInt(1000)}`;
}

/** Reads a logged-model status from its name or proto number. */
export function parseLoggedModelStatus(raw: unknown): LoggedModelStatus {
  if (typeof raw === "number" && LOGGED_MODEL_STATUSES[raw]) return LOGGED_MODEL_STATUSES[raw]!;
  if (typeof raw === "string") {
    const up = raw.toUpperCase();
    if (/^\d+$/.test(up) && LOGGED_MODEL_STATUSES[Number(up)]) return LOGGED_MODEL_STATUSES[Number(up)]!;
    const full = up.startsWith("LOGGED_MODEL_") ? up : `LOGGED_MODEL_${up}`;
    if ((LOGGED_MODEL_STATUSES as readonly string[]).includes(full)) return full as LoggedModelStatus;
  }
  throw invalidParameter(`Invalid logged model status ${JSON.stringify(raw)}: use LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED`);
}

export interface LoggedModelSearch {
  experimentIds: string[];
  filter?: string;
  orderBy?: { field_name?: unknown; ascending?: unknown }[];
  maxResults?: number;
  pageToken?: string;
  datasets?: { dataset_name?: unknown; dataset_digest?: unknown }[];
}

/**
 * MLflow 3 logged models: created PENDING by `log_model`, their files
 * uploaded under `<experiment artifact location>/models/<model_id>/artifacts`,
 * then finalized READY (or UPLOAD_FAILED).
 */
export class LoggedModelService {
  constructor(
    private readonly store: LoggedModelStore,
    /** A model's registrations are the model versions made from it. */
    private readonly versions: Pick<ModelVersionStore, "registrationsOf">,
    /** Experiments and runs, through tracking's door. */
    private readonly tracking: { experiments: Pick<ExperimentService, "find">; runs: Pick<RunService, "find"> },
    private readonly now: () => number = Date.now,
  ) {}

  private async withRegistrations(models: LoggedModel[]): Promise<LoggedModel[]> {
    const regs = await this.versions.registrationsOf(models.map((m) => m.info.model_id));
    for (const m of models) m.info.registrations = regs.get(m.info.model_id) ?? [];
    return models;
  }

  async create(inp: { experimentId: string; name?: string; modelType?: string; sourceRunId?: string; params: KeyValue[]; tags: KeyValue[] }): Promise<LoggedModel> {
    const name = inp.name === "" ? undefined : inp.name;
    validateLoggedModelName(name);
    validateTags(inp.tags);
    const exp = await this.tracking.experiments.find(inp.experimentId);
    if (!exp) throw notFound(`No Experiment with id=${inp.experimentId} exists`);
    if (exp.lifecycle_stage !== "active") throw invalidState(`The experiment ${inp.experimentId} must be in the 'active' state. Current state is ${exp.lifecycle_stage}.`);
    // Like MLflow, source_run_id is recorded as given: it need not name a run of this server.
    const modelId = `m-${crypto.randomUUID().replace(/-/g, "")}`;
    const ts = this.now();
    await this.store.create(
      {
        model_id: modelId,
        experiment_id: Number(exp.experiment_id),
        name: name ?? randomName(),
        artifact_location: joinUri(exp.artifact_location, "models", modelId, "artifacts"),
        creation_timestamp_ms: ts,
        last_updated_timestamp_ms: ts,
        status: LOGGED_MODEL_STATUSES.indexOf("LOGGED_MODEL_PENDING"),
        lifecycle_stage: "active",
        model_type: inp.modelType || null,
        source_run_id: inp.sourceRunId || null,
        status_message: null,
      },
      inp.params,
      inp.tags,
    );
    return this.get(modelId);
  }

  async get(modelId: string, allowDeleted = false): Promise<LoggedModel> {
    const m = await this.store.get(modelId, allowDeleted);
    if (!m) throw notFound(`Logged model with ID '${modelId}' not found.`);
    return (await this.withRegistrations([m]))[0]!;
  }

  private async requireActive(modelId: string): Promise<void> {
    const row = await this.store.row(modelId);
    if (!row) throw notFound(`Logged model with ID '${modelId}' not found.`);
  }

  async finalize(modelId: string, rawStatus: unknown): Promise<LoggedModel> {
    const status = parseLoggedModelStatus(rawStatus);
    if (status !== "LOGGED_MODEL_READY" && status !== "LOGGED_MODEL_UPLOAD_FAILED") {
      throw invalidParameter(`Invalid status '${status}' to finalize a logged model: use LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED`);
    }
    await this.requireActive(modelId);
    await this.store.finalize(modelId, status, this.now());
    return this.get(modelId);
  }

  async delete(modelId: string): Promise<void> {
    await this.requireActive(modelId);
    await this.store.delete(modelId, this.now());
  }

  async setTags(modelId: string, tags: KeyValue[]): Promise<void> {
    validateTags(tags);
    await this.requireActive(modelId);
    await this.store.setTags(modelId, tags, this.now());
  }

  async deleteTag(modelId: string, key: string): Promise<void> {
    await this.requireActive(modelId);
    if (!(await this.store.deleteTag(modelId, key))) {
      throw notFound(`No tag with key '${key}' found for model with ID '${modelId}'.`);
    }
  }

  async logParams(modelId: string, params: KeyValue[]): Promise<void> {
    for (const p of params) {
      if (!p.key) throw invalidParameter("Logged model params need a key");
      if (p.value.length > 8000) throw invalidParameter(`Param value for '${p.key}' exceeds 8000 characters`);
    }
    await this.requireActive(modelId);
    await this.store.logParams(modelId, params);
  }

  async search(q: LoggedModelSearch): Promise<{ models: LoggedModel[]; nextPageToken?: string }> {
    if (q.experimentIds.length === 0) throw invalidParameter("Missing value for required parameter 'experiment_ids'. See the API docs for more information about request parameters.");
    const ids = q.experimentIds.map((id) => {
      if (!/^\d{1,15}$/.test(id)) throw invalidParameter(`Invalid experiment ID '${id}'`);
      return Number(id);
    });
    const limit = validateMaxResults(q.maxResults, REGISTRY_LIMITS.searchLoggedModelsDefault, REGISTRY_LIMITS.searchLoggedModelsMax);
    const order = (q.orderBy ?? []).map((o) => {
      if (!o || typeof o.field_name !== "string" || !o.field_name) throw invalidParameter("Each order_by entry needs a field_name");
      return { field: o.field_name, ascending: o.ascending === undefined ? true : o.ascending === true || o.ascending === "true" };
    });
    const datasets = (q.datasets ?? []).map((d) => {
      if (!d || typeof d.dataset_name !== "string" || !d.dataset_name) throw invalidParameter("Each datasets entry needs a dataset_name");
      if (d.dataset_digest !== undefined && d.dataset_digest !== null && typeof d.dataset_digest !== "string") throw invalidParameter("dataset_digest must be a string");
      return { name: d.dataset_name, digest: d.dataset_digest || undefined };
    });
    const sql = this.store.compileSearch(ids, q.filter, order, datasets);
    const state = decodePageToken(q.pageToken);
    const offset = typeof state?.offset === "number" && Number.isSafeInteger(state.offset) && state.offset >= 0 ? state.offset : 0;
    const rows = await this.withRegistrations(await this.store.search(sql, limit + 1, offset));
    return { models: rows.slice(0, limit), nextPageToken: rows.length > limit ? encodePageToken({ offset: offset + limit }) : undefined };
  }
}
