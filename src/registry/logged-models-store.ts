import { invalidParameter } from "../errors.js";
import type { SqlDriver, SqlExecutor, SqlValue } from "../store/index.js";
import type { Clause } from "./filter.js";
import { dedupe, groupBy, numericComparison, opt, placeholders, stringComparison, tagComparison, type SqlQuery } from "./sql.js";
import { LOGGED_MODEL_STATUSES, type KeyValue, type LoggedModel, type LoggedModelMetric, type LoggedModelStatus } from "../wire/index.js";

interface LoggedModelMetricRow {
  model_id: string;
  metric_name: string;
  metric_timestamp_ms: number | string;
  metric_step: number | string;
  metric_value: number;
  is_nan: number;
  run_id: string;
  dataset_name: string;
  dataset_digest: string;
}

function loggedModelMetric(r: LoggedModelMetricRow): LoggedModelMetric {
  const value = Number(r.is_nan) ? "NaN" : Number(r.metric_value);
  return {
    key: r.metric_name,
    value: value === Infinity ? "Infinity" : value === -Infinity ? "-Infinity" : value,
    timestamp: Number(r.metric_timestamp_ms),
    step: Number(r.metric_step),
    model_id: r.model_id,
    run_id: r.run_id,
    ...(r.dataset_name ? { dataset_name: r.dataset_name } : {}),
    ...(r.dataset_digest ? { dataset_digest: r.dataset_digest } : {}),
  };
}

export interface LoggedModelRow {
  model_id: string;
  experiment_id: number;
  name: string;
  artifact_location: string;
  creation_timestamp_ms: number;
  last_updated_timestamp_ms: number;
  status: number;
  lifecycle_stage: string;
  model_type: string | null;
  source_run_id: string | null;
  status_message: string | null;
}

/**
 * The SQL of MLflow 3 logged models, their params and tags (`logged_models`,
 * `logged_model_params`, `logged_model_tags`). A model's registrations are
 * model versions: the service adds them from the model-version store, so
 * `info.registrations` is empty in what this store returns.
 */
export class LoggedModelStore {
  constructor(readonly db: SqlDriver) {}

  async create(row: LoggedModelRow, params: KeyValue[], tags: KeyValue[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id, status_message)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)`,
        [row.model_id, row.experiment_id, row.name, row.artifact_location, row.creation_timestamp_ms, row.last_updated_timestamp_ms, row.status, row.model_type, row.source_run_id, row.status_message],
      );
      await this.upsertParams(tx, row.model_id, params);
      await this.upsertTags(tx, row.model_id, tags);
    });
  }

  private async upsertParams(ex: SqlExecutor, modelId: string, params: KeyValue[]): Promise<void> {
    if (params.length === 0) return;
    await ex.runMany(
      "INSERT INTO logged_model_params (model_id, key, value) VALUES (?, ?, ?) ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value",
      dedupe(params).map((p) => [modelId, p.key, p.value]),
    );
  }

  private async upsertTags(ex: SqlExecutor, modelId: string, tags: KeyValue[]): Promise<void> {
    if (tags.length === 0) return;
    await ex.runMany(
      "INSERT INTO logged_model_tags (model_id, key, value) VALUES (?, ?, ?) ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value",
      dedupe(tags).map((t) => [modelId, t.key, t.value]),
    );
  }

  /** The model's row, or undefined; deleted models only with `allowDeleted`. */
  async row(modelId: string, allowDeleted = false): Promise<LoggedModelRow | undefined> {
    return this.db.get<LoggedModelRow>(`SELECT * FROM logged_models WHERE model_id = ?${allowDeleted ? "" : " AND lifecycle_stage = 'active'"}`, [modelId]);
  }

  async get(modelId: string, allowDeleted = false): Promise<LoggedModel | undefined> {
    const row = await this.row(modelId, allowDeleted);
    return row ? (await this.hydrate([row]))[0] : undefined;
  }

  private async hydrate(rows: LoggedModelRow[]): Promise<LoggedModel[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.model_id);
    const [tags, params, metrics] = await Promise.all([
      this.db.all<{ model_id: string; key: string; value: string | null }>(`SELECT model_id, key, value FROM logged_model_tags WHERE model_id IN (${placeholders(ids.length)}) ORDER BY key`, ids),
      this.db.all<{ model_id: string; key: string; value: string }>(`SELECT model_id, key, value FROM logged_model_params WHERE model_id IN (${placeholders(ids.length)}) ORDER BY key`, ids),
      // Metrics logged with this model's id (by the tracking store, `logged_model_metrics`).
      this.db.all<LoggedModelMetricRow>(
        `SELECT model_id, metric_name, metric_timestamp_ms, metric_step, metric_value, is_nan, run_id, dataset_name, dataset_digest FROM logged_model_metrics
         WHERE model_id IN (${placeholders(ids.length)}) ORDER BY metric_name, metric_step, metric_timestamp_ms`,
        ids,
      ),
    ]);
    const tagsBy = groupBy(tags, (t) => t.model_id);
    const paramsBy = groupBy(params, (p) => p.model_id);
    const metricsBy = groupBy(metrics, (m) => m.model_id);
    return rows.map((r) => ({
      info: {
        model_id: r.model_id,
        experiment_id: String(r.experiment_id),
        name: r.name,
        creation_timestamp_ms: Number(r.creation_timestamp_ms),
        last_updated_timestamp_ms: Number(r.last_updated_timestamp_ms),
        artifact_uri: r.artifact_location,
        status: LOGGED_MODEL_STATUSES[Number(r.status)] ?? "LOGGED_MODEL_STATUS_UNSPECIFIED",
        model_type: opt(r.model_type),
        source_run_id: opt(r.source_run_id),
        status_message: opt(r.status_message),
        tags: (tagsBy.get(r.model_id) ?? []).map((t) => ({ key: t.key, value: t.value ?? "" })),
        registrations: [],
      },
      data: { params: (paramsBy.get(r.model_id) ?? []).map((p) => ({ key: p.key, value: p.value })), metrics: (metricsBy.get(r.model_id) ?? []).map(loggedModelMetric) },
    }));
  }

  async finalize(modelId: string, status: LoggedModelStatus, now: number): Promise<void> {
    await this.db.run("UPDATE logged_models SET status = ?, last_updated_timestamp_ms = ? WHERE model_id = ?", [LOGGED_MODEL_STATUSES.indexOf(status), now, modelId]);
  }

  /** Marks the model deleted; its row stays for `get(id, true)`. */
  async delete(modelId: string, now: number): Promise<void> {
    await this.db.run("UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_timestamp_ms = ? WHERE model_id = ?", [now, modelId]);
  }

  async setTags(modelId: string, tags: KeyValue[], now: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.upsertTags(tx, modelId, tags);
      await tx.run("UPDATE logged_models SET last_updated_timestamp_ms = ? WHERE model_id = ?", [now, modelId]);
    });
  }

  /** Removes a tag; false when the model had no such tag. */
  async deleteTag(modelId: string, key: string): Promise<boolean> {
    const r = await this.db.run("DELETE FROM logged_model_tags WHERE model_id = ? AND key = ?", [modelId, key]);
    return r.changes > 0;
  }

  async logParams(modelId: string, params: KeyValue[]): Promise<void> {
    await this.db.transaction((tx) => this.upsertParams(tx, modelId, params));
  }

  /** Turns parsed logged-model filters and orderings into SQL on `lm`. */
  compileSearch(
    experimentIds: number[],
    clauses: Clause[],
    order: { field: string; ascending: boolean }[],
    datasets: { name: string; digest?: string }[] = [],
  ): SqlQuery {
    const dialect = this.db.dialect;
    const where: string[] = [`lm.lifecycle_stage = 'active'`, `lm.experiment_id IN (${placeholders(experimentIds.length)})`];
    const params: SqlValue[] = [...experimentIds];
    // Models with a metric measured on one of the datasets (MLflow's `datasets` search field).
    if (datasets.length > 0) {
      const any = datasets.map((d) => (d.digest === undefined ? "x.dataset_name = ?" : "(x.dataset_name = ? AND x.dataset_digest = ?)"));
      where.push(`EXISTS (SELECT 1 FROM logged_model_metrics x WHERE x.model_id = lm.model_id AND (${any.join(" OR ")}))`);
      for (const d of datasets) params.push(...(d.digest === undefined ? [d.name] : [d.name, d.digest]));
    }
    const attrColumns: Record<string, { col: string; numeric: boolean }> = {
      name: { col: "lm.name", numeric: false },
      model_id: { col: "lm.model_id", numeric: false },
      model_type: { col: "lm.model_type", numeric: false },
      source_run_id: { col: "lm.source_run_id", numeric: false },
      status: { col: "lm.status", numeric: false },
      creation_timestamp: { col: "lm.creation_timestamp_ms", numeric: true },
      creation_time: { col: "lm.creation_timestamp_ms", numeric: true },
      last_updated_timestamp: { col: "lm.last_updated_timestamp_ms", numeric: true },
    };
    for (const c of clauses) {
      if (c.type === "attribute") {
        const a = attrColumns[c.key];
        if (!a) throw invalidParameter(`Invalid attribute key '${c.key}' in logged model filter. Valid keys: ${Object.keys(attrColumns).join(", ")}`);
        if (c.key === "status") {
          const idx = LOGGED_MODEL_STATUSES.indexOf(String(c.value).toUpperCase().replace(/^(?!LOGGED_MODEL_)/, "LOGGED_MODEL_") as LoggedModelStatus);
          if (idx < 0 || (c.op !== "=" && c.op !== "!=")) throw invalidParameter(`Invalid status filter '${String(c.value)}'`);
          where.push(`lm.status ${c.op} ?`);
          params.push(idx);
          continue;
        }
        const cmp = a.numeric ? numericComparison(a.col, c.op, c.value, c.key) : stringComparison(dialect, a.col, c.op, c.value, c.key);
        where.push(cmp.sql);
        params.push(...cmp.params);
      } else if (c.type === "tags" || c.type === "params") {
        const table = c.type === "tags" ? "logged_model_tags" : "logged_model_params";
        const { exists, cmp } = tagComparison(dialect, c, "x.value");
        where.push(`${exists} (SELECT 1 FROM ${table} x WHERE x.model_id = lm.model_id AND x.key = ? AND ${cmp.sql})`);
        params.push(c.key, ...cmp.params);
      } else {
        throw invalidParameter(`Filtering logged models on metrics is not supported: '${c.type}.${c.key}'`);
      }
    }
    const orderCols: Record<string, string> = {
      name: "lm.name",
      model_id: "lm.model_id",
      creation_timestamp: "lm.creation_timestamp_ms",
      creation_time: "lm.creation_timestamp_ms",
      last_updated_timestamp: "lm.last_updated_timestamp_ms",
      experiment_id: "lm.experiment_id",
      model_type: "lm.model_type",
      status: "lm.status",
    };
    const terms = order.map((o) => {
      const col = orderCols[o.field.replace(/^attributes?\./, "")];
      if (!col) throw invalidParameter(`Invalid order_by field '${o.field}' for logged models. Valid fields: ${Object.keys(orderCols).join(", ")}`);
      return `${col} ${o.ascending ? "ASC" : "DESC"}`;
    });
    if (!order.some((o) => /creation_time/.test(o.field))) terms.push("lm.creation_timestamp_ms DESC");
    terms.push("lm.model_id ASC");
    return { where: where.join(" AND "), params, order: terms.join(", ") };
  }

  async search(q: SqlQuery, limit: number, offset: number): Promise<LoggedModel[]> {
    const rows = await this.db.all<LoggedModelRow>(`SELECT lm.* FROM logged_models lm WHERE ${q.where} ORDER BY ${q.order} LIMIT ? OFFSET ?`, [...q.params, limit, offset]);
    return this.hydrate(rows);
  }
}
