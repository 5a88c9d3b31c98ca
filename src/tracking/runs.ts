import { randomUUID } from "node:crypto";
import { invalidParameter, notFound } from "../errors.js";
import { encodePageToken, offsetFromToken } from "../paging.js";
import type { Dialect } from "../store/index.js";
import { joinUri } from "./experiments.js";
import { generateRunName } from "./run-names.js";
import { runInfo, type RunRow, type RunStore } from "./run-store.js";
import { compileRunSearch } from "./search-tables.js";
import { lifecycleFilter, type TrackingStore } from "./store.js";
import {
  RUN_STATUSES,
  type DatasetInput,
  type DatasetSummary,
  type KeyValue,
  type Metric,
  type ModelInput,
  type ModelOutput,
  type Run,
  type RunInfo,
  type RunMetric,
  type RunStatus,
  type ViewType,
} from "../wire/index.js";
import type { MetricPoint } from "./types.js";
import {
  LIMITS,
  toStringValue,
  validateBatchLimits,
  validateDataset,
  validateKey,
  validateMaxResults,
  validateMetric,
  validateParam,
  validateRunId,
  validateTag,
  validateValueLength,
} from "./validation.js";

export const RUN_NAME_TAG = "mlflow.runName";

/** MLflow's limits for the metric history endpoints. */
export const HISTORY_LIMITS = {
  pageDefault: 25_000,
  bulkRunIds: 100,
  bulkDefault: 25_000,
  // MLflow's handler defaults max_results to MAX_RESULTS_PER_RUN.
  intervalDefault: 2_500,
  intervalMax: 2_500,
} as const;

export interface CreateRunRequest {
  experimentId?: string;
  userId?: string;
  runName?: string;
  startTime?: number;
  tags?: KeyValue[];
}

/** The web UI's prompt-engineering run (MLflow's CreatePromptlabRun). */
export interface PromptlabRunRequest extends CreateRunRequest {
  promptTemplate: string;
  promptParameters: KeyValue[];
  modelRoute: string;
  modelParameters: KeyValue[];
  modelInput: string;
  modelOutput: string;
  modelOutputParameters: KeyValue[];
}

export interface RunSearch {
  experimentIds: string[];
  filter?: string;
  viewType: ViewType;
  maxResults?: number;
  orderBy?: string[];
  pageToken?: string;
}

export interface RawEntities {
  metrics?: unknown[];
  params?: unknown[];
  tags?: unknown[];
}

/** Where a run's artifacts live and which experiment it belongs to. */
export interface RunLocation {
  runId: string;
  experimentId: string;
  artifactUri: string;
  lifecycleStage: string;
}

function toLocation(row: RunRow): RunLocation {
  return { runId: row.run_uuid, experimentId: String(row.experiment_id), artifactUri: row.artifact_uri ?? "", lifecycleStage: row.lifecycle_stage };
}

const STATUS_BY_NUMBER: Record<number, RunStatus> = { 1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED" };

export function parseRunStatus(raw: unknown): RunStatus {
  if (typeof raw === "number" && STATUS_BY_NUMBER[raw]) return STATUS_BY_NUMBER[raw];
  if (typeof raw === "string" && (RUN_STATUSES as readonly string[]).includes(raw)) return raw as RunStatus;
  throw invalidParameter(`Invalid value ${JSON.stringify(raw)} for parameter 'status' supplied: use one of ${RUN_STATUSES.join(", ")}`);
}

function asObject(v: unknown, what: string): Record<string, unknown> {
  if (!v || typeof v !== "object" || Array.isArray(v)) throw invalidParameter(`Invalid value for '${what}': each entry must be an object`);
  return v as Record<string, unknown>;
}

function requiredField(o: Record<string, unknown>, name: string, what: string): unknown {
  const v = o[name];
  if (v === undefined || v === null) {
    throw invalidParameter(`Missing value for required parameter '${name}' in '${what}'. See the API docs for more information about request parameters.`);
  }
  return v;
}

/** Runs: create, read, update, log to, search. Validation and MLflow's rules here; SQL in {@link RunStore}. */
export class RunService {
  private readonly dialect: Dialect;

  constructor(
    private readonly runs: RunStore,
    private readonly tracking: TrackingStore,
    private readonly now: () => number = Date.now,
  ) {
    this.dialect = runs.db.dialect;
  }

  /** The run's stored row; RESOURCE_DOES_NOT_EXIST when there is none. */
  async getRow(runId: string): Promise<RunRow> {
    validateRunId(runId);
    const row = await this.runs.getRunRow(runId);
    if (!row) throw notFound(`Run with id=${runId} not found`);
    return row;
  }

  private async activeRow(runId: string): Promise<RunRow> {
    const row = await this.getRow(runId);
    if (row.lifecycle_stage !== "active") {
      // MLflow answers writes to a deleted run with INVALID_PARAMETER_VALUE and this wording.
      throw invalidParameter(`The run ${runId} must be in the 'active' state. Current state is ${row.lifecycle_stage}.`);
    }
    return row;
  }

  async create(req: CreateRunRequest): Promise<Run> {
    const experimentId = req.experimentId && req.experimentId !== "" ? req.experimentId : "0";
    const experiment = await this.tracking.getExperiment(experimentId);
    if (experiment.lifecycle_stage !== "active") {
      throw invalidParameter(`The experiment ${experimentId} must be in the 'active' state. Current state is ${experiment.lifecycle_stage}.`);
    }
    const tags = dedupeTags(req.tags ?? []);
    for (const t of tags) validateTag(t.key, t.value);
    const tagName = tags.find((t) => t.key === RUN_NAME_TAG)?.value;
    if (req.runName && tagName !== undefined && tagName !== req.runName) {
      throw invalidParameter(
        `Both 'run_name' and '${RUN_NAME_TAG}' tag are specified, but with different values (run_name='${req.runName}', ${RUN_NAME_TAG}='${tagName}').`,
      );
    }
    const name = req.runName || tagName || generateRunName();
    validateValueLength("tag", RUN_NAME_TAG, name);
    const runId = randomUUID().replace(/-/g, "");
    const allTags = [...tags.filter((t) => t.key !== RUN_NAME_TAG), { key: RUN_NAME_TAG, value: name }];
    await this.runs.createRun({
      runId,
      experimentId: experiment.experiment_id,
      name,
      userId: req.userId ?? "",
      status: "RUNNING",
      startTime: req.startTime ?? this.now(),
      artifactUri: joinUri(experiment.artifact_location, runId, "artifacts"),
      tags: allTags,
    });
    return this.get(runId);
  }

  async get(runId: string): Promise<Run> {
    validateRunId(runId);
    const [run] = await this.runs.getRuns([runId]);
    if (!run) throw notFound(`Run with id=${runId} not found`);
    return run;
  }

  /** Where a run's artifacts live and which experiment it belongs to (for the artifact code); RESOURCE_DOES_NOT_EXIST when there is no such run. */
  async locate(runId: string): Promise<RunLocation> {
    return toLocation(await this.getRow(runId));
  }

  /** The same as {@link locate}, or undefined for an unknown (or malformed) run id: how the registry checks a model's source run. */
  async find(runId: string): Promise<RunLocation | undefined> {
    const row = await this.runs.getRunRow(runId);
    return row ? toLocation(row) : undefined;
  }

  /**
   * A finished run recording one prompt evaluation: the model parameters, route and template as
   * params, and the prompt, output and output parameters as the `eval_results_table.json` table,
   * written by `writeArtifact` under the run's artifact URI. A failed write leaves the run FAILED.
   */
  async createPromptlabRun(req: PromptlabRunRequest, writeArtifact: (artifactUri: string, path: string, body: string) => Promise<void>): Promise<Run> {
    const run = await this.create(req);
    const runId = run.info.run_id;
    const params = [...req.modelParameters, { key: "model_route", value: req.modelRoute }, { key: "prompt_template", value: req.promptTemplate }];
    const tags = [
      // Written as MLflow's Python client writes it (json.dumps spacing): the UI parses it either way.
      { key: "mlflow.loggedArtifacts", value: '[{"path": "eval_results_table.json", "type": "table"}]' },
      { key: "mlflow.runSourceType", value: "PROMPT_ENGINEERING" },
    ];
    let status: RunStatus = "FINISHED";
    try {
      await this.logBatch(runId, { metrics: [], params, tags });
      const table = {
        columns: [...req.promptParameters.map((p) => p.key), "prompt", "output", ...req.modelOutputParameters.map((p) => p.key)],
        data: [[...req.promptParameters.map((p) => p.value), req.modelInput, req.modelOutput, ...req.modelOutputParameters.map((p) => p.value)]],
      };
      await writeArtifact(run.info.artifact_uri, "eval_results_table.json", JSON.stringify(table));
    } catch {
      status = "FAILED";
    }
    await this.update(runId, { status, endTime: this.now() });
    return this.get(runId);
  }

  async update(runId: string, fields: { status?: RunStatus; endTime?: number; runName?: string }): Promise<RunInfo> {
    await this.activeRow(runId);
    if (fields.runName !== undefined && fields.runName !== "") validateValueLength("tag", RUN_NAME_TAG, fields.runName);
    await this.runs.updateRun(runId, {
      status: fields.status,
      endTime: fields.endTime,
      name: fields.runName === "" ? undefined : fields.runName,
    });
    return runInfo((await this.runs.getRunRow(runId))!);
  }

  async delete(runId: string): Promise<void> {
    await this.getRow(runId);
    await this.runs.setRunLifecycle([runId], "deleted", this.now());
  }

  async restore(runId: string): Promise<void> {
    await this.getRow(runId);
    await this.runs.setRunLifecycle([runId], "active", null);
  }

  async setTag(runId: string, key: unknown, value: string): Promise<void> {
    validateTag(key, value);
    await this.activeRow(runId);
    await this.runs.setTags(runId, [{ key, value }]);
  }

  async deleteTag(runId: string, key: string): Promise<void> {
    await this.activeRow(runId);
    const deleted = await this.runs.deleteTag(runId, key);
    if (!deleted) throw notFound(`No tag with name: ${key} in run with id ${runId}`);
  }

  async logMetric(
    runId: string,
    raw: { key: unknown; value: unknown; timestamp: unknown; step: unknown; modelId?: string; datasetName?: string; datasetDigest?: string },
  ): Promise<void> {
    const metric = validateMetric({ ...raw, model_id: raw.modelId, dataset_name: raw.datasetName, dataset_digest: raw.datasetDigest });
    await this.activeRow(runId);
    await this.write(runId, [metric], [], []);
  }

  async logParam(runId: string, key: unknown, value: string): Promise<void> {
    validateParam(key, value);
    await this.activeRow(runId);
    await this.write(runId, [], [{ key, value }], []);
  }

  async logBatch(runId: string, raw: RawEntities): Promise<void> {
    const rawMetrics = raw.metrics ?? [];
    const rawParams = raw.params ?? [];
    const rawTags = raw.tags ?? [];
    validateBatchLimits(rawMetrics.length, rawParams.length, rawTags.length);
    const metrics = rawMetrics.map((m) => {
      const o = asObject(m, "metrics");
      return validateMetric({ key: o.key, value: requiredField(o, "value", "metrics"), timestamp: requiredField(o, "timestamp", "metrics"), step: o.step });
    });
    const params: KeyValue[] = [];
    const seen = new Map<string, string>();
    for (const p of rawParams) {
      const o = asObject(p, "params");
      validateKey("param", o.key);
      const value = toStringValue("param", o.key, o.value);
      validateParam(o.key, value);
      const prev = seen.get(o.key);
      if (prev !== undefined) {
        if (prev !== value) {
          throw invalidParameter(
            `Duplicate parameter keys have been submitted: [${o.key}]. Please ensure the request contains only one param value per param key.`,
          );
        }
        continue;
      }
      seen.set(o.key, value);
      params.push({ key: o.key, value });
    }
    const tags = rawTags.map((t) => {
      const o = asObject(t, "tags");
      validateKey("tag", o.key);
      const value = toStringValue("tag", o.key, o.value);
      validateTag(o.key, value);
      return { key: o.key, value };
    });
    await this.activeRow(runId);
    await this.write(runId, metrics, params, tags);
  }

  private async write(runId: string, metrics: MetricPoint[], params: KeyValue[], tags: KeyValue[]): Promise<void> {
    const res = await this.runs.logBatch(runId, metrics, params, tags);
    if (res.conflict) {
      const c = res.conflict;
      throw invalidParameter(
        `Changing param values is not allowed. Param with key='${c.key}' was already logged with value='${c.old}' for run ID='${runId}'. Attempted logging new value '${c.new}'.`,
      );
    }
  }

  async logInputs(runId: string, rawDatasets: unknown[], rawModels: unknown[]): Promise<void> {
    const datasets: DatasetInput[] = rawDatasets.map((d) => {
      const o = asObject(d, "datasets");
      const ds = asObject(requiredField(o, "dataset", "datasets"), "dataset");
      const str = (name: string, required: boolean): string | undefined => {
        const v = ds[name];
        if (v === undefined || v === null) {
          if (required) throw invalidParameter(`Missing value for required parameter 'dataset.${name}'. See the API docs for more information about request parameters.`);
          return undefined;
        }
        if (typeof v !== "string") throw invalidParameter(`Invalid value for 'dataset.${name}': must be a string`);
        return v;
      };
      const dataset = {
        name: str("name", true)!,
        digest: str("digest", true)!,
        source_type: str("source_type", true)!,
        source: str("source", true)!,
        schema: str("schema", false),
        profile: str("profile", false),
      };
      validateDataset(dataset);
      const tagList = Array.isArray(o.tags) ? o.tags : o.tags === undefined || o.tags === null ? [] : undefined;
      if (!tagList) throw invalidParameter("Invalid value for 'tags' of a dataset input: must be a list");
      const tags = dedupeTags(
        tagList.map((t) => {
          const to = asObject(t, "tags");
          validateKey("input tag", to.key);
          const value = toStringValue("tag", to.key, to.value);
          validateValueLength("input tag", to.key, value);
          return { key: to.key, value };
        }),
      );
      return { dataset, tags };
    });
    const models: ModelInput[] = rawModels.map((m) => {
      const o = asObject(m, "models");
      const id = requiredField(o, "model_id", "models");
      if (typeof id !== "string" || id === "") throw invalidParameter("Invalid value for 'model_id': must be a non-empty string");
      return { model_id: id };
    });
    const row = await this.activeRow(runId);
    await this.runs.logInputs(runId, String(row.experiment_id), datasets, models);
  }

  async logOutputs(runId: string, rawModels: unknown[]): Promise<void> {
    const models: ModelOutput[] = rawModels.map((m) => {
      const o = asObject(m, "models");
      const id = requiredField(o, "model_id", "models");
      if (typeof id !== "string" || id === "") throw invalidParameter("Invalid value for 'model_id': must be a non-empty string");
      const step = o.step === undefined || o.step === null ? 0 : Number(o.step);
      if (!Number.isSafeInteger(step)) throw invalidParameter(`Invalid value ${JSON.stringify(o.step)} for 'step': must be an integer`);
      return { model_id: id, step };
    });
    await this.activeRow(runId);
    await this.runs.logOutputs(runId, models);
  }

  async search(q: RunSearch): Promise<{ runs: Run[]; nextPageToken?: string }> {
    const limit = validateMaxResults(q.maxResults, LIMITS.searchRunsDefault);
    const offset = offsetFromToken(q.pageToken);
    const ids = q.experimentIds.map((id) => {
      if (!/^\d{1,15}$/.test(id)) throw invalidParameter(`Invalid experiment ID: '${id.slice(0, 100)}'`);
      return Number(id);
    });
    const compiled = compileRunSearch(q.filter, q.orderBy, this.dialect);
    const runIds = await this.runs.searchRunIds(ids, lifecycleFilter(q.viewType, "r.lifecycle_stage"), compiled, limit + 1, offset);
    const more = runIds.length > limit;
    const runs = await this.runs.getRuns(runIds.slice(0, limit));
    return { runs, nextPageToken: more ? encodePageToken({ offset: offset + limit }) : undefined };
  }

  /** The datasets runs of these experiments logged as inputs, with their context tag (the UI's dataset filter). */
  async searchDatasets(experimentIds: string[]): Promise<DatasetSummary[]> {
    if (experimentIds.length === 0) throw invalidParameter("SearchDatasets request must specify at least one experiment_id.");
    if (experimentIds.length > 20) {
      throw invalidParameter(`SearchDatasets request cannot specify more than 20 experiment_ids. Received ${experimentIds.length} experiment_ids.`);
    }
    const ids = experimentIds.map((id) => {
      if (!/^\d{1,18}$/.test(id)) throw invalidParameter(`Invalid experiment ID '${id}'`);
      return Number(id);
    });
    return this.runs.datasetSummaries(ids, 1000);
  }

  async metricHistory(runId: string, key: string, maxResults: number | undefined, pageToken: string | undefined): Promise<{ metrics: Metric[]; nextPageToken?: string }> {
    const limit = validateMaxResults(maxResults, HISTORY_LIMITS.pageDefault, HISTORY_LIMITS.pageDefault);
    const offset = offsetFromToken(pageToken);
    await this.getRow(runId);
    const rows = await this.runs.metricHistory(runId, key, limit + 1, offset);
    const more = rows.length > limit;
    return { metrics: rows.slice(0, limit), nextPageToken: more ? encodePageToken({ offset: offset + limit }) : undefined };
  }

  private checkRunIds(runIds: string[], endpoint: string): void {
    if (runIds.length === 0) throw invalidParameter(`${endpoint} request must specify at least one run_id.`);
    if (runIds.length > HISTORY_LIMITS.bulkRunIds) {
      throw invalidParameter(`${endpoint} request cannot specify more than ${HISTORY_LIMITS.bulkRunIds} run_ids. Received ${runIds.length} run_ids.`);
    }
    for (const id of runIds) validateRunId(id);
  }

  async metricHistoryBulk(runIds: string[], key: string | undefined, maxResults: number | undefined): Promise<RunMetric[]> {
    this.checkRunIds(runIds, "GetMetricHistoryBulk");
    if (key === undefined) throw invalidParameter("GetMetricHistoryBulk request must specify a metric_key.");
    const limit = validateMaxResults(maxResults, HISTORY_LIMITS.bulkDefault, HISTORY_LIMITS.bulkDefault);
    return this.runs.metricHistoryBulk([...new Set(runIds)], key, limit);
  }

  async metricHistoryInterval(runIds: string[], key: string, startStep: number | undefined, endStep: number | undefined, maxResults: number | undefined): Promise<RunMetric[]> {
    if (runIds.length > HISTORY_LIMITS.bulkRunIds) {
      throw invalidParameter(`GetMetricHistoryBulkInterval request must specify at most ${HISTORY_LIMITS.bulkRunIds} run_ids. Received ${runIds.length} run_ids. See the API docs for more information about request parameters.`);
    }
    this.checkRunIds(runIds, "GetMetricHistoryBulkInterval");
    if (maxResults !== undefined && (maxResults < 1 || maxResults > HISTORY_LIMITS.intervalMax)) {
      throw invalidParameter(`max_results must be between 1 and ${HISTORY_LIMITS.intervalMax}. See the API docs for more information about request parameters.`);
    }
    const perRun = validateMaxResults(maxResults, HISTORY_LIMITS.intervalDefault, HISTORY_LIMITS.intervalMax);
    if (startStep !== undefined && endStep !== undefined && startStep > endStep) {
      throw invalidParameter(`end_step must be greater than start_step. Found start_step=${startStep} and end_step=${endStep}.`);
    }
    if ((startStep === undefined) !== (endStep === undefined)) {
      throw invalidParameter("If either start step or end step are specified, both must be specified.");
    }
    // Runs in the order asked (a repeated id answers twice), as MLflow does.
    const out: RunMetric[] = [];
    for (const id of runIds) out.push(...(await this.runs.sampledMetricHistory(id, key, startStep, endStep, perRun)));
    return out;
  }
}

/** Last value wins for a repeated key. */
function dedupeTags(tags: readonly KeyValue[]): KeyValue[] {
  const m = new Map<string, string>();
  for (const t of tags) {
    m.delete(t.key);
    m.set(t.key, t.value);
  }
  return [...m].map(([key, value]) => ({ key, value }));
}
