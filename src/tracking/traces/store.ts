import type { SqlDriver, SqlExecutor, SqlValue } from "../../store/index.js";
import type { TraceState, WireAssessment } from "../../wire/index.js";
import type { CompiledTraceSearch } from "./search-table.js";
import type { SpanRow } from "./spans.js";

/** A trace's info as the service works with it. */
export interface TraceRecord {
  traceId: string;
  experimentId: string;
  timestampMs: number;
  executionMs: number | null;
  state: TraceState;
  clientRequestId: string | null;
  requestPreview: string | null;
  responsePreview: string | null;
  tags: Record<string, string>;
  metadata: Record<string, string>;
  assessments: WireAssessment[];
}

interface InfoRow {
  request_id: string;
  experiment_id: number | string;
  timestamp_ms: number | string;
  execution_time_ms: number | string | null;
  status: string;
  client_request_id: string | null;
  request_preview: string | null;
  response_preview: string | null;
}

export type InfoFields = Omit<TraceRecord, "tags" | "metadata" | "assessments">;

export interface AssessmentRow {
  assessmentId: string;
  traceId: string;
  name: string;
  type: "feedback" | "expectation";
  value: string | null;
  numericValue: number | null;
  valid: boolean;
  createdMs: number;
  body: WireAssessment;
}

const INFO_COLUMNS = "t.request_id, t.experiment_id, t.timestamp_ms, t.execution_time_ms, t.status, t.client_request_id, t.request_preview, t.response_preview";

function placeholders(n: number): string {
  return Array.from({ length: n }, () => "?").join(", ");
}

function toFields(r: InfoRow): InfoFields {
  return {
    traceId: r.request_id,
    experimentId: String(r.experiment_id),
    timestampMs: Number(r.timestamp_ms),
    executionMs: r.execution_time_ms === null ? null : Number(r.execution_time_ms),
    state: r.status as TraceState,
    clientRequestId: r.client_request_id,
    requestPreview: r.request_preview,
    responsePreview: r.response_preview,
  };
}

/** All SQL of traces, written once for SQLite and PostgreSQL. */
export class TraceStore {
  constructor(readonly db: SqlDriver) {}

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.transaction(fn);
  }

  /** Inserts a trace row unless one exists; true when this call created it. */
  async insertInfo(ex: SqlExecutor, f: InfoFields): Promise<boolean> {
    const res = await ex.run(
      "INSERT INTO trace_info (request_id, experiment_id, timestamp_ms, execution_time_ms, status, client_request_id, request_preview, response_preview) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id) DO NOTHING",
      [f.traceId, Number(f.experimentId), f.timestampMs, f.executionMs, f.state, f.clientRequestId, f.requestPreview, f.responsePreview],
    );
    return res.changes > 0;
  }

  async updateInfo(ex: SqlExecutor, f: InfoFields): Promise<void> {
    await ex.run(
      "UPDATE trace_info SET experiment_id = ?, timestamp_ms = ?, execution_time_ms = ?, status = ?, client_request_id = ?, request_preview = ?, response_preview = ? WHERE request_id = ?",
      [Number(f.experimentId), f.timestampMs, f.executionMs, f.state, f.clientRequestId, f.requestPreview, f.responsePreview, f.traceId],
    );
  }

  async setTags(ex: SqlExecutor, traceId: string, tags: Record<string, string>, table: "trace_tags" | "trace_request_metadata" = "trace_tags"): Promise<void> {
    const entries = Object.entries(tags);
    if (entries.length === 0) return;
    await ex.runMany(
      `INSERT INTO ${table} (request_id, key, value) VALUES (?, ?, ?) ON CONFLICT (request_id, key) DO UPDATE SET value = excluded.value`,
      entries.map(([k, v]) => [traceId, k, v]),
    );
  }

  async deleteTag(traceId: string, key: string): Promise<number> {
    return (await this.db.run("DELETE FROM trace_tags WHERE request_id = ? AND key = ?", [traceId, key])).changes;
  }

  async upsertSpans(ex: SqlExecutor, experimentId: string, rows: readonly SpanRow[]): Promise<void> {
    if (rows.length === 0) return;
    await ex.runMany(
      "INSERT INTO spans (trace_id, experiment_id, span_id, parent_span_id, name, type, status, start_time_unix_nano, end_time_unix_nano, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) " +
        "ON CONFLICT (trace_id, span_id) DO UPDATE SET parent_span_id = excluded.parent_span_id, name = excluded.name, type = excluded.type, status = excluded.status, " +
        "start_time_unix_nano = excluded.start_time_unix_nano, end_time_unix_nano = excluded.end_time_unix_nano, content = excluded.content",
      rows.map((r) => [r.traceId, Number(experimentId), r.spanId, r.parentSpanId, r.name, r.type, r.status, r.startNs, r.endNs, r.content]),
    );
  }

  async infoFields(ex: SqlExecutor, ids: readonly string[]): Promise<Map<string, InfoFields>> {
    const out = new Map<string, InfoFields>();
    if (ids.length === 0) return out;
    const rows = await ex.all<InfoRow>(`SELECT ${INFO_COLUMNS} FROM trace_info t WHERE t.request_id IN (${placeholders(ids.length)})`, ids as string[]);
    for (const r of rows) out.set(r.request_id, toFields(r));
    return out;
  }

  async metadataValue(ex: SqlExecutor, traceId: string, key: string): Promise<string | undefined> {
    const row = await ex.get<{ value: string | null }>("SELECT value FROM trace_request_metadata WHERE request_id = ? AND key = ?", [traceId, key]);
    return row ? (row.value ?? "") : undefined;
  }

  private async keyValues(ex: SqlExecutor, table: string, ids: string[]): Promise<Map<string, Record<string, string>>> {
    const out = new Map<string, Record<string, string>>();
    if (ids.length === 0) return out;
    const rows = await ex.all<{ request_id: string; key: string; value: string | null }>(
      `SELECT request_id, key, value FROM ${table} WHERE request_id IN (${placeholders(ids.length)}) ORDER BY key`,
      ids,
    );
    for (const r of rows) {
      let m = out.get(r.request_id);
      if (!m) out.set(r.request_id, (m = {}));
      m[r.key] = r.value ?? "";
    }
    return out;
  }

  /** Full records (tags, metadata, assessments) of the given traces, in the given order; missing ones are left out. */
  async records(ids: readonly string[], ex: SqlExecutor = this.db): Promise<TraceRecord[]> {
    if (ids.length === 0) return [];
    const list = [...ids];
    const [fields, tags, metadata, assessments] = await Promise.all([
      this.infoFields(ex, list),
      this.keyValues(ex, "trace_tags", list),
      this.keyValues(ex, "trace_request_metadata", list),
      this.assessmentsOf(ex, list),
    ]);
    const out: TraceRecord[] = [];
    for (const id of list) {
      const f = fields.get(id);
      if (!f) continue;
      out.push({ ...f, tags: tags.get(id) ?? {}, metadata: metadata.get(id) ?? {}, assessments: (assessments.get(id) ?? []).map((a) => a.body) });
    }
    return out;
  }

  async spanContents(traceId: string): Promise<string[]> {
    const rows = await this.db.all<{ content: string }>(
      "SELECT content FROM spans WHERE trace_id = ? ORDER BY start_time_unix_nano, span_id",
      [traceId],
    );
    return rows.map((r) => r.content);
  }

  async search(experimentIds: readonly string[], q: CompiledTraceSearch, limit: number, offset: number): Promise<string[]> {
    if (experimentIds.length === 0) return [];
    const rows = await this.db.all<{ request_id: string }>(
      `SELECT t.request_id FROM trace_info t WHERE t.experiment_id IN (${placeholders(experimentIds.length)}) AND ${q.where} ORDER BY ${q.order} LIMIT ? OFFSET ?`,
      [...experimentIds.map(Number), ...q.params, ...q.orderParams, limit, offset],
    );
    return rows.map((r) => r.request_id);
  }

  async count(experimentIds: readonly string[], where: string, params: readonly SqlValue[]): Promise<number> {
    if (experimentIds.length === 0) return 0;
    const row = await this.db.get<{ n: number | string }>(
      `SELECT COUNT(*) AS n FROM trace_info t WHERE t.experiment_id IN (${placeholders(experimentIds.length)}) AND ${where}`,
      [...experimentIds.map(Number), ...params],
    );
    return Number(row?.n ?? 0);
  }

  /** Rows for metrics: the numeric value of each trace matching the filter (no value for COUNT). */
  async traceValues(
    experimentIds: readonly string[],
    expr: string,
    dimensions: readonly string[],
    where: string,
    params: readonly SqlValue[],
  ): Promise<{ v: number | null; ts: number; dims: (string | null)[] }[]> {
    if (experimentIds.length === 0) return [];
    const dimCols = dimensions.map((d, i) => `, ${d} AS d${i}`).join("");
    const rows = await this.db.all<Record<string, number | string | null>>(
      `SELECT ${expr} AS v, t.timestamp_ms AS ts${dimCols} FROM trace_info t WHERE t.experiment_id IN (${placeholders(experimentIds.length)}) AND ${where}`,
      [...experimentIds.map(Number), ...params],
    );
    return rows.map((r) => ({
      v: r.v === null || r.v === undefined ? null : Number(r.v),
      ts: Number(r.ts),
      dims: dimensions.map((_, i) => (r[`d${i}`] === null || r[`d${i}`] === undefined ? null : String(r[`d${i}`]))),
    }));
  }

  async deleteTraces(experimentId: string, opts: { maxTimestampMs?: number; maxTraces?: number; traceIds?: string[] }): Promise<number> {
    return this.db.transaction(async (tx) => {
      let ids: string[];
      if (opts.traceIds && opts.traceIds.length > 0) {
        const rows = await tx.all<{ request_id: string }>(
          `SELECT request_id FROM trace_info WHERE experiment_id = ? AND request_id IN (${placeholders(opts.traceIds.length)})`,
          [Number(experimentId), ...opts.traceIds],
        );
        ids = rows.map((r) => r.request_id);
      } else {
        const params: SqlValue[] = [Number(experimentId)];
        let sql = "SELECT request_id FROM trace_info WHERE experiment_id = ?";
        if (opts.maxTimestampMs !== undefined) {
          sql += " AND timestamp_ms <= ?";
          params.push(opts.maxTimestampMs);
        }
        sql += " ORDER BY timestamp_ms ASC, request_id";
        if (opts.maxTraces !== undefined) {
          sql += " LIMIT ?";
          params.push(opts.maxTraces);
        }
        ids = (await tx.all<{ request_id: string }>(sql, params)).map((r) => r.request_id);
      }
      for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500);
        await tx.run(`DELETE FROM trace_info WHERE request_id IN (${placeholders(chunk.length)})`, chunk);
        await tx.run(`DELETE FROM trace_run_links WHERE request_id IN (${placeholders(chunk.length)})`, chunk);
      }
      return ids.length;
    });
  }

  async linkToRun(traceIds: readonly string[], runId: string): Promise<void> {
    await this.db.runMany(
      "INSERT INTO trace_run_links (request_id, run_id) VALUES (?, ?) ON CONFLICT (request_id, run_id) DO NOTHING",
      traceIds.map((id) => [id, runId]),
    );
  }

  async existing(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.db.all<{ request_id: string }>(`SELECT request_id FROM trace_info WHERE request_id IN (${placeholders(ids.length)})`, ids as string[]);
    return new Set(rows.map((r) => r.request_id));
  }

  // ---- assessments ---------------------------------------------------------

  private async assessmentsOf(ex: SqlExecutor, ids: string[]): Promise<Map<string, AssessmentRow[]>> {
    const out = new Map<string, AssessmentRow[]>();
    if (ids.length === 0) return out;
    const rows = await ex.all<{ assessment_id: string; trace_id: string; name: string; assessment_type: string; value: string | null; numeric_value: number | null; valid: number; created_timestamp: number | string; body: string }>(
      `SELECT * FROM assessments WHERE trace_id IN (${placeholders(ids.length)}) ORDER BY created_timestamp, assessment_id`,
      ids,
    );
    for (const r of rows) {
      let list = out.get(r.trace_id);
      if (!list) out.set(r.trace_id, (list = []));
      list.push({
        assessmentId: r.assessment_id,
        traceId: r.trace_id,
        name: r.name,
        type: r.assessment_type as "feedback" | "expectation",
        value: r.value,
        numericValue: r.numeric_value,
        valid: Number(r.valid) === 1,
        createdMs: Number(r.created_timestamp),
        body: JSON.parse(r.body) as WireAssessment,
      });
    }
    return out;
  }

  async assessment(traceId: string, assessmentId: string, ex: SqlExecutor = this.db): Promise<AssessmentRow | undefined> {
    const list = (await this.assessmentsOf(ex, [traceId])).get(traceId) ?? [];
    return list.find((a) => a.assessmentId === assessmentId);
  }

  async putAssessment(a: AssessmentRow, ex: SqlExecutor = this.db): Promise<void> {
    await ex.run(
      "INSERT INTO assessments (assessment_id, trace_id, name, assessment_type, value, numeric_value, valid, created_timestamp, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) " +
        "ON CONFLICT (assessment_id) DO UPDATE SET name = excluded.name, assessment_type = excluded.assessment_type, value = excluded.value, numeric_value = excluded.numeric_value, valid = excluded.valid, body = excluded.body",
      [a.assessmentId, a.traceId, a.name, a.type, a.value, a.numericValue, a.valid ? 1 : 0, a.createdMs, JSON.stringify(a.body)],
    );
  }

  async deleteAssessment(traceId: string, assessmentId: string, ex: SqlExecutor = this.db): Promise<number> {
    return (await ex.run("DELETE FROM assessments WHERE trace_id = ? AND assessment_id = ?", [traceId, assessmentId])).changes;
  }

  async invalidateAssessment(assessmentId: string, ex: SqlExecutor = this.db): Promise<void> {
    const row = await ex.get<{ body: string }>("SELECT body FROM assessments WHERE assessment_id = ?", [assessmentId]);
    if (!row) return;
    const body = JSON.parse(row.body) as WireAssessment;
    body.valid = false;
    await ex.run("UPDATE assessments SET valid = 0, body = ? WHERE assessment_id = ?", [JSON.stringify(body), assessmentId]);
  }
}
