import { randomBytes } from "node:crypto";
import { invalidParameter, MlflowError, notFound } from "../../errors.js";
import { offsetFromToken, encodePageToken } from "../../paging.js";
import type { SqlExecutor } from "../../store/index.js";
import type { TraceState, WireAssessment } from "../../wire/index.js";
import type { ExperimentService } from "../experiments.js";
import { joinUri } from "../experiments.js";
import type { OtlpExportRequest } from "./otlp.js";
import { dumps, fromPlain } from "./py-json.js";
import { compileTraceSearch, TRACE_NAME_TAG } from "./search-table.js";
import {
  attributeText,
  ingestSpan,
  preview,
  resourceValueText,
  SPAN_INPUTS_ATTRIBUTE,
  SPAN_OUTPUTS_ATTRIBUTE,
  TRACE_TAG_ATTRIBUTE_PREFIX,
  type IngestedSpan,
} from "./spans.js";
import type { AssessmentRow, InfoFields, TraceRecord, TraceStore } from "./store.js";

export const ARTIFACT_LOCATION_TAG = "mlflow.artifactLocation";
export const SPANS_LOCATION_TAG = "mlflow.trace.spansLocation";
export const TRACKING_STORE = "TRACKING_STORE";
export const INFO_FINALIZED_METADATA = "mlflow.trace.infoFinalized";
const TRACE_USER_METADATA = "mlflow.trace.user";
const MAX_TAG_KEY = 250;
const MAX_TAG_VALUE = 8000;
export const SEARCH_MAX_RESULTS = 500;

/** A trace info as a client sends it (v3 start, or v2 start/end). */
export interface TraceInfoInput {
  traceId: string;
  experimentId: string;
  requestTimeMs: number;
  executionMs: number | null;
  state: TraceState;
  clientRequestId: string | null;
  requestPreview: string | null;
  responsePreview: string | null;
  tags: Record<string, string>;
  metadata: Record<string, string>;
  assessments: WireAssessment[];
}

export interface TraceSearch {
  experimentIds: string[];
  filter?: string;
  maxResults?: number;
  orderBy?: string[];
  pageToken?: string;
}

function validateTag(key: string, value: string): void {
  if (key === "") throw invalidParameter("Missing value for required parameter 'key'.");
  if (key.length > MAX_TAG_KEY) throw invalidParameter(`Trace tag key '${key.slice(0, 50)}...' exceeds the maximum length of ${MAX_TAG_KEY}`);
  if (value.length > MAX_TAG_VALUE) throw invalidParameter(`Trace tag value for '${key}' exceeds the maximum length of ${MAX_TAG_VALUE}`);
}

/** MLflow keeps an expectation that is not a plain value (an object, a list) as JSON text in `serialized_value`. */
function normaliseExpectation<T extends Partial<WireAssessment>>(a: T): T {
  const v = a.expectation?.value;
  if (v === undefined || v === null || typeof v !== "object") return a;
  return { ...a, expectation: { serialized_value: { serialization_format: "JSON_FORMAT", value: dumps(fromPlain(v)) } } };
}

function newAssessmentId(): string {
  return `a-${randomBytes(16).toString("hex")}`;
}

/**
 * Traces: written by MLflow 3 clients (spans over OTLP, then the trace info
 * through `StartTraceV3`, in either order) and by any OpenTelemetry exporter;
 * read back by id, searched, tagged, linked to runs and assessed.
 */
export class TraceService {
  constructor(
    readonly store: TraceStore,
    private readonly experiments: ExperimentService,
    /** Throws RESOURCE_DOES_NOT_EXIST for an unknown run. */
    private readonly requireRun: (runId: string) => Promise<unknown>,
    private readonly now: () => number = Date.now,
  ) {}

  private async activeExperiment(id: string): Promise<{ artifactLocation: string }> {
    if (!/^\d+$/.test(id)) throw invalidParameter(`Invalid experiment ID '${id}'`);
    const exp = await this.experiments.get(id);
    if (exp.lifecycle_stage !== "active") {
      throw new MlflowError("INVALID_STATE", `The experiment ${id} must be in the 'active' state. Current state is ${exp.lifecycle_stage}.`);
    }
    return { artifactLocation: exp.artifact_location ?? "" };
  }

  private artifactLocation(root: string, traceId: string): string {
    return joinUri(root, "traces", traceId, "artifacts");
  }

  /** `StartTraceV3`: records a finished trace's info, merging with spans that may have arrived first. */
  async start(input: TraceInfoInput, finalize = true): Promise<TraceRecord> {
    if (!input.traceId) throw invalidParameter("Missing value for required parameter 'trace.trace_info.trace_id'.");
    const exp = await this.activeExperiment(input.experimentId);
    for (const [k, v] of Object.entries(input.tags)) validateTag(k, v);
    const fields: InfoFields = {
      traceId: input.traceId,
      experimentId: input.experimentId,
      timestampMs: input.requestTimeMs,
      executionMs: input.executionMs,
      state: input.state,
      clientRequestId: input.clientRequestId,
      requestPreview: input.requestPreview,
      responsePreview: input.responsePreview,
    };
    return this.store.transaction(async (tx) => {
      const created = await this.store.insertInfo(tx, fields);
      if (!created) {
        const old = (await this.store.infoFields(tx, [input.traceId])).get(input.traceId)!;
        await this.store.updateInfo(tx, {
          ...fields,
          requestPreview: fields.requestPreview ?? old.requestPreview,
          responsePreview: fields.responsePreview ?? old.responsePreview,
        });
      }
      await this.store.setTags(tx, input.traceId, { ...input.tags, [ARTIFACT_LOCATION_TAG]: this.artifactLocation(exp.artifactLocation, input.traceId) });
      // StartTraceV3 carries the finished trace's fields: later spans must not move them.
      const metadata = finalize ? { ...input.metadata, [INFO_FINALIZED_METADATA]: "true" } : input.metadata;
      await this.store.setTags(tx, input.traceId, metadata, "trace_request_metadata");
      for (const a of input.assessments) await this.store.putAssessment(this.assessmentRow({ ...a, trace_id: input.traceId }), tx);
      return (await this.store.records([input.traceId], tx))[0]!;
    });
  }

  /** The v2 `StartTrace`: a new trace id, in progress. */
  async startV2(experimentId: string, timestampMs: number, metadata: Record<string, string>, tags: Record<string, string>): Promise<TraceRecord> {
    return this.start({
      traceId: `tr-${randomBytes(16).toString("hex")}`,
      experimentId,
      requestTimeMs: timestampMs,
      executionMs: null,
      state: "IN_PROGRESS",
      clientRequestId: null,
      requestPreview: null,
      responsePreview: null,
      tags,
      metadata,
      assessments: [],
    }, false);
  }

  /** The v2 `EndTrace`: sets the end, the status, and merges metadata and tags. */
  async endV2(traceId: string, timestampMs: number, state: TraceState, metadata: Record<string, string>, tags: Record<string, string>): Promise<TraceRecord> {
    const rec = await this.getInfo(traceId);
    for (const [k, v] of Object.entries(tags)) validateTag(k, v);
    return this.store.transaction(async (tx) => {
      await this.store.updateInfo(tx, { ...rec, executionMs: Math.max(0, timestampMs - rec.timestampMs), state });
      await this.store.setTags(tx, traceId, tags);
      await this.store.setTags(tx, traceId, metadata, "trace_request_metadata");
      return (await this.store.records([traceId], tx))[0]!;
    });
  }

  /**
   * Stores the spans of an OTLP export request in the experiment, creating
   * each trace they belong to and updating its start, duration, status and
   * previews as MLflow's `log_spans` does. Returns the ids of traces whose
   * root span arrived.
   */
  async logSpans(experimentId: string, request: OtlpExportRequest): Promise<{ spans: number; completedTraceIds: string[] }> {
    const spans: IngestedSpan[] = [];
    for (const rs of request.resourceSpans ?? []) {
      const resource = rs.resource?.attributes ?? [];
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          try {
            spans.push(ingestSpan(s, resource));
          } catch {
            throw new MlflowError("INVALID_PARAMETER_VALUE", "Cannot convert OpenTelemetry span to MLflow span");
          }
        }
      }
    }
    if ((request.resourceSpans ?? []).length === 0) throw invalidParameter("Invalid OpenTelemetry format - no spans found");
    if (spans.length === 0) return { spans: 0, completedTraceIds: [] };
    const exp = await this.activeExperiment(experimentId);
    const byTrace = new Map<string, IngestedSpan[]>();
    for (const s of spans) {
      let list = byTrace.get(s.row.traceId);
      if (!list) byTrace.set(s.row.traceId, (list = []));
      list.push(s);
    }
    const completed: string[] = [];
    await this.store.transaction(async (tx) => {
      for (const [traceId, list] of byTrace) {
        if (await this.mergeTraceSpans(tx, experimentId, exp.artifactLocation, traceId, list)) completed.push(traceId);
      }
    });
    return { spans: spans.length, completedTraceIds: completed };
  }

  private async mergeTraceSpans(tx: SqlExecutor, experimentId: string, root: string, traceId: string, list: IngestedSpan[]): Promise<boolean> {
    let minStartNs = BigInt(list[0]!.row.startNs);
    let maxEndNs: bigint | null = null;
    for (const s of list) {
      const start = BigInt(s.row.startNs);
      if (start < minStartNs) minStartNs = start;
      if (s.row.endNs !== null) {
        const end = BigInt(s.row.endNs);
        if (maxEndNs === null || end > maxEndNs) maxEndNs = end;
      }
    }
    const minStartMs = Number(minStartNs / 1_000_000n);
    const maxEndMs = maxEndNs === null ? null : Number(maxEndNs / 1_000_000n);
    const rootSpan = list.find((s) => s.row.parentSpanId === null);
    const rootState: TraceState | null = rootSpan ? (rootSpan.row.status === "ERROR" ? "ERROR" : "OK") : null;

    const created = await this.store.insertInfo(tx, {
      traceId,
      experimentId,
      timestampMs: minStartMs,
      executionMs: maxEndMs === null ? null : maxEndMs - minStartMs,
      state: rootState ?? "IN_PROGRESS",
      clientRequestId: null,
      requestPreview: null,
      responsePreview: null,
    });
    if (created) await this.store.setTags(tx, traceId, { [ARTIFACT_LOCATION_TAG]: this.artifactLocation(root, traceId) });
    const info = (await this.store.infoFields(tx, [traceId])).get(traceId)!;
    const finalized = (await this.store.metadataValue(tx, traceId, INFO_FINALIZED_METADATA)) !== undefined;
    const next: InfoFields = { ...info };
    if (!finalized) {
      const oldEnd = info.executionMs === null ? null : info.timestampMs + info.executionMs;
      next.timestampMs = Math.min(info.timestampMs, minStartMs);
      const end = maxEndMs === null ? oldEnd : oldEnd === null ? maxEndMs : Math.max(oldEnd, maxEndMs);
      if (end !== null) next.executionMs = end - next.timestampMs;
    }
    if ((info.state === "IN_PROGRESS" || info.state === "STATE_UNSPECIFIED") && rootState) next.state = rootState;
    const tags: Record<string, string> = { [SPANS_LOCATION_TAG]: TRACKING_STORE };
    if (rootSpan) {
      if (next.requestPreview === null) next.requestPreview = preview(rootSpan.attributes.get(SPAN_INPUTS_ATTRIBUTE), "user");
      if (next.responsePreview === null) next.responsePreview = preview(rootSpan.attributes.get(SPAN_OUTPUTS_ATTRIBUTE), "assistant");
      for (const [k, v] of rootSpan.attributes) {
        if (!k.startsWith(TRACE_TAG_ATTRIBUTE_PREFIX)) continue;
        const key = k.slice(TRACE_TAG_ATTRIBUTE_PREFIX.length);
        const value = attributeText(v);
        if (key && key.length <= MAX_TAG_KEY && value.length <= MAX_TAG_VALUE) tags[key] = value;
      }
      const user = rootSpan.attributes.get("user.id");
      if (user !== undefined && (await this.store.metadataValue(tx, traceId, TRACE_USER_METADATA)) === undefined) {
        await this.store.setTags(tx, traceId, { [TRACE_USER_METADATA]: attributeText(user) }, "trace_request_metadata");
      }
    }
    const resource = list.find((s) => s.resource.length > 0)?.resource ?? [];
    for (const kv of resource) {
      if (kv.key.startsWith("telemetry.sdk.") || kv.key.startsWith("mlflow.")) continue;
      const value = resourceValueText(kv.value);
      if (kv.key.length <= MAX_TAG_KEY && value.length <= MAX_TAG_VALUE) tags[kv.key] = value;
    }
    await this.store.updateInfo(tx, next);
    await this.store.upsertSpans(tx, info.experimentId, list.map((s) => s.row));
    await this.store.setTags(tx, traceId, tags);
    return rootSpan !== undefined;
  }

  async getInfo(traceId: string): Promise<TraceRecord> {
    const rec = (await this.store.records([traceId]))[0];
    if (!rec) throw notFound(`Trace with ID ${traceId} is not found.`);
    return rec;
  }

  /** The trace and its stored spans (MLflow span dicts), or none when its spans live in the artifact store. */
  async get(traceId: string): Promise<{ info: TraceRecord; spans: string[] }> {
    const info = await this.getInfo(traceId);
    return { info, spans: await this.store.spanContents(traceId) };
  }

  async batchGet(traceIds: readonly string[]): Promise<{ info: TraceRecord; spans: string[] }[]> {
    const infos = await this.store.records(traceIds);
    return Promise.all(infos.map(async (info) => ({ info, spans: await this.store.spanContents(info.traceId) })));
  }

  async search(q: TraceSearch): Promise<{ traces: TraceRecord[]; nextPageToken?: string }> {
    const max = q.maxResults ?? 100;
    if (!Number.isInteger(max) || max < 1 || max > SEARCH_MAX_RESULTS) {
      throw invalidParameter(`Invalid value ${max} for parameter 'max_results' supplied. It must be at most ${SEARCH_MAX_RESULTS} and at least 1.`);
    }
    const compiled = compileTraceSearch(q.filter, q.orderBy, this.store.db.dialect);
    const offset = offsetFromToken(q.pageToken);
    const experimentIds = q.experimentIds.filter((id) => /^\d+$/.test(id));
    const ids = await this.store.search(experimentIds, compiled, max, offset);
    const traces = await this.store.records(ids);
    return ids.length === max ? { traces, nextPageToken: encodePageToken({ offset: offset + max }) } : { traces };
  }

  async setTag(traceId: string, key: string, value: string): Promise<void> {
    validateTag(key, value);
    await this.getInfo(traceId);
    await this.store.transaction((tx) => this.store.setTags(tx, traceId, { [key]: value }));
  }

  async deleteTag(traceId: string, key: string): Promise<void> {
    await this.getInfo(traceId);
    if ((await this.store.deleteTag(traceId, key)) === 0) {
      throw notFound(`No trace tag with key '${key}' for trace with ID '${traceId}'`);
    }
  }

  async delete(experimentId: string, opts: { maxTimestampMs?: number; maxTraces?: number; traceIds?: string[] }): Promise<number> {
    const byIds = opts.traceIds !== undefined && opts.traceIds.length > 0;
    if (byIds && (opts.maxTimestampMs !== undefined || opts.maxTraces !== undefined)) {
      throw invalidParameter("Only one of `max_timestamp_millis` and `trace_ids` can be specified.");
    }
    if (!byIds && opts.maxTimestampMs === undefined) {
      throw invalidParameter("Either `max_timestamp_millis` or `trace_ids` must be specified.");
    }
    if (opts.maxTraces !== undefined && opts.maxTraces <= 0) throw invalidParameter("`max_traces` must be a positive integer.");
    if (!/^\d+$/.test(experimentId)) return 0;
    return this.store.deleteTraces(experimentId, opts);
  }

  async linkToRun(traceIds: readonly string[], runId: string): Promise<void> {
    if (traceIds.length === 0) return;
    if (traceIds.length > 100) throw invalidParameter(`Cannot link more than 100 traces to a run in a single request. Provided ${traceIds.length} traces.`);
    await this.requireRun(runId);
    // As MLflow does, a link may name a trace that has not arrived yet (clients export asynchronously).
    await this.store.linkToRun(traceIds, runId);
  }

  // ---- assessments ----------------------------------------------------------

  private assessmentRow(a: WireAssessment, createdMs?: number): AssessmentRow {
    if (!a.assessment_name) throw invalidParameter("Missing value for required parameter 'assessment.assessment_name'.");
    const type = a.expectation !== undefined ? "expectation" : "feedback";
    const raw = type === "expectation" ? a.expectation?.value : a.feedback?.value;
    const value = raw === undefined ? (a.expectation?.serialized_value?.value ?? null) : JSON.stringify(raw);
    const numeric = typeof raw === "number" ? raw : typeof raw === "boolean" ? (raw ? 1 : 0) : null;
    return {
      assessmentId: a.assessment_id,
      traceId: a.trace_id,
      name: a.assessment_name,
      type,
      value,
      numericValue: numeric,
      valid: a.valid !== false,
      createdMs: createdMs ?? this.now(),
      body: a,
    };
  }

  async createAssessment(a: Omit<WireAssessment, "assessment_id"> & { assessment_id?: string }): Promise<WireAssessment> {
    await this.getInfo(a.trace_id);
    const nowIso = new Date(this.now()).toISOString();
    const body: WireAssessment = {
      ...normaliseExpectation(a),
      assessment_id: newAssessmentId(),
      create_time: a.create_time ?? nowIso,
      last_update_time: a.last_update_time ?? nowIso,
      valid: a.valid ?? true,
    };
    if (body.feedback === undefined && body.expectation === undefined) throw invalidParameter("An assessment must have either a feedback or an expectation value.");
    await this.store.transaction(async (tx) => {
      if (body.overrides) {
        const old = await this.store.assessment(a.trace_id, body.overrides, tx);
        if (!old) throw notFound(`Assessment with ID '${body.overrides}' not found for trace '${a.trace_id}'`);
        await this.store.invalidateAssessment(body.overrides, tx);
      }
      await this.store.putAssessment(this.assessmentRow(body), tx);
    });
    return body;
  }

  async getAssessment(traceId: string, assessmentId: string): Promise<WireAssessment> {
    const row = await this.store.assessment(traceId, assessmentId);
    if (!row) throw notFound(`Assessment with ID '${assessmentId}' not found for trace '${traceId}'`);
    return row.body;
  }

  /** Updates the fields named in the mask (`assessment_name`, `feedback`, `expectation`, `rationale`, `metadata`). */
  async updateAssessment(traceId: string, assessmentId: string, patch: Partial<WireAssessment>, mask: string[]): Promise<WireAssessment> {
    const row = await this.store.assessment(traceId, assessmentId);
    if (!row) throw notFound(`Assessment with ID '${assessmentId}' not found for trace '${traceId}'`);
    const body: WireAssessment = { ...row.body };
    for (const path of mask) {
      if (path === "assessment_name" && patch.assessment_name) body.assessment_name = patch.assessment_name;
      else if (path === "feedback") {
        if (body.expectation !== undefined) throw invalidParameter("Cannot change the type of an assessment from expectation to feedback.");
        body.feedback = patch.feedback;
      } else if (path === "expectation") {
        if (body.feedback !== undefined) throw invalidParameter("Cannot change the type of an assessment from feedback to expectation.");
        body.expectation = normaliseExpectation(patch).expectation;
      } else if (path === "rationale") body.rationale = patch.rationale;
      else if (path === "metadata") body.metadata = { ...(body.metadata ?? {}), ...(patch.metadata ?? {}) };
      else throw invalidParameter(`Invalid update mask path '${path}'`);
    }
    body.last_update_time = new Date(this.now()).toISOString();
    await this.store.putAssessment(this.assessmentRow(body, row.createdMs));
    return body;
  }

  /** Deletes an assessment; the one it overrode becomes valid again. */
  async deleteAssessment(traceId: string, assessmentId: string): Promise<void> {
    const row = await this.store.assessment(traceId, assessmentId);
    if (!row) return;
    await this.store.transaction(async (tx) => {
      await this.store.deleteAssessment(traceId, assessmentId, tx);
      const overridden = row.body.overrides ? await this.store.assessment(traceId, row.body.overrides, tx) : undefined;
      if (overridden) await this.store.putAssessment({ ...overridden, valid: true, body: { ...overridden.body, valid: true } }, tx);
    });
  }

  // ---- analytics --------------------------------------------------------------

  /** NPMI of two filters over the traces of the experiments (within a base filter), as MLflow computes it. */
  async filterCorrelation(experimentIds: string[], filter1: string, filter2: string, baseFilter?: string) {
    const ids = experimentIds.filter((id) => /^\d+$/.test(id));
    const dialect = this.store.db.dialect;
    const base = compileTraceSearch(baseFilter, [], dialect);
    const f1 = compileTraceSearch(filter1, [], dialect);
    const f2 = compileTraceSearch(filter2, [], dialect);
    const total = await this.store.count(ids, base.where, base.params);
    const n1 = await this.store.count(ids, `${base.where} AND ${f1.where}`, [...base.params, ...f1.params]);
    const n2 = await this.store.count(ids, `${base.where} AND ${f2.where}`, [...base.params, ...f2.params]);
    const joint = await this.store.count(ids, `${base.where} AND ${f1.where} AND ${f2.where}`, [...base.params, ...f1.params, ...f2.params]);
    return { ...npmi(joint, n1, n2, total), filter1_count: n1, filter2_count: n2, joint_count: joint, total_count: total };
  }

  /**
   * Trace metrics (`QueryTraceMetrics`, view TRACES): `trace_count` and
   * `latency` with COUNT/SUM/AVG/MIN/MAX/PERCENTILE, optionally per time bucket.
   */
  async traceMetrics(q: {
    experimentIds: string[];
    metricName: string;
    aggregations: { type: string; percentile?: number }[];
    dimensions?: string[];
    filters: string[];
    timeIntervalSeconds?: number;
    startTimeMs?: number;
    endTimeMs?: number;
  }): Promise<{ metric_name: string; dimensions: Record<string, string>; values: Record<string, number> }[]> {
    const exprs: Record<string, string> = { trace_count: "1", latency: "t.execution_time_ms" };
    const expr = exprs[q.metricName];
    if (!expr) throw invalidParameter(`Unsupported metric '${q.metricName}' for view type TRACES; use one of ${Object.keys(exprs).join(", ")}`);
    const where: string[] = [];
    const params: (string | number)[] = [];
    for (const f of q.filters) {
      const c = compileTraceSearch(f, [], this.store.db.dialect);
      where.push(c.where);
      params.push(...(c.params as (string | number)[]));
    }
    if (q.startTimeMs !== undefined) {
      where.push("t.timestamp_ms >= ?");
      params.push(q.startTimeMs);
    }
    if (q.endTimeMs !== undefined) {
      where.push("t.timestamp_ms < ?");
      params.push(q.endTimeMs);
    }
    const dimensionColumns: Record<string, string> = {
      trace_status: "t.status",
      trace_name: `(SELECT kv.value FROM trace_tags kv WHERE kv.request_id = t.request_id AND kv.key = '${TRACE_NAME_TAG}')`,
    };
    const dims = q.dimensions ?? [];
    for (const d of dims) {
      if (!dimensionColumns[d]) throw invalidParameter(`Unsupported dimension '${d}' for view type TRACES; use one of ${Object.keys(dimensionColumns).join(", ")}`);
    }
    const rows = await this.store.traceValues(
      q.experimentIds.filter((id) => /^\d+$/.test(id)),
      expr,
      dims.map((d) => dimensionColumns[d]!),
      where.length ? where.join(" AND ") : "1 = 1",
      params,
    );
    const buckets = new Map<string, { dimensions: Record<string, string>; values: number[] }>();
    const interval = q.timeIntervalSeconds ? q.timeIntervalSeconds * 1000 : undefined;
    for (const r of rows) {
      if (r.v === null) continue;
      const dimensions: Record<string, string> = {};
      if (interval) dimensions.time_bucket = new Date(Math.floor(r.ts / interval) * interval).toISOString();
      dims.forEach((d, i) => {
        dimensions[d] = r.dims[i] ?? "";
      });
      const key = JSON.stringify(Object.values(dimensions));
      let b = buckets.get(key);
      if (!b) buckets.set(key, (b = { dimensions, values: [] }));
      b.values.push(r.v);
    }
    const out = [];
    for (const [, { dimensions, values }] of [...buckets].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const sorted = [...values].sort((a, b) => a - b);
      const agg: Record<string, number> = {};
      for (const a of q.aggregations) {
        const sum = values.reduce((s, v) => s + v, 0);
        if (a.type === "COUNT") agg.COUNT = values.length;
        else if (a.type === "SUM") agg.SUM = sum;
        else if (a.type === "AVG") agg.AVG = sum / values.length;
        else if (a.type === "MIN") agg.MIN = sorted[0]!;
        else if (a.type === "MAX") agg.MAX = sorted[sorted.length - 1]!;
        else if (a.type === "PERCENTILE") {
          const p = a.percentile ?? 50;
          agg[`P${p}`] = percentile(sorted, p);
        } else throw invalidParameter(`Unsupported aggregation type '${a.type}'`);
      }
      out.push({ metric_name: q.metricName, dimensions, values: agg });
    }
    return out;
  }

  traceNameOf(rec: TraceRecord): string | undefined {
    return rec.tags[TRACE_NAME_TAG];
  }
}

/** Linear-interpolated percentile of sorted values (p in 0..100). */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 1) return sorted[0]!;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

/** Normalised pointwise mutual information, raw and with a Jeffreys prior (0.5 per cell). */
function npmi(joint: number, n1: number, n2: number, total: number): { npmi: number; npmi_smoothed: number } {
  const score = (j: number, a: number, b: number, n: number): number => {
    if (n <= 0 || a <= 0 || b <= 0) return NaN;
    if (j <= 0) return -1;
    const pj = j / n;
    if (pj >= 1) return 1;
    return Math.log(pj / ((a / n) * (b / n))) / -Math.log(pj);
  };
  const raw = score(joint, n1, n2, total);
  const smoothed = total > 0 ? score(joint + 0.5, n1 + 1, n2 + 1, total + 2) : NaN;
  return { npmi: raw, npmi_smoothed: smoothed };
}
