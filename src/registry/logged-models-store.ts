import type { SqlDriver, SqlExecutor, SqlValue } from "../store/index.js";
import { compileLoggedModelSearch } from "./search-tables.js";
import { dedupe, groupBy, opt, placeholders, type SqlQuery } from "./sql.js";
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

  /**
   * A logged-model search as SQL on `lm` (`registry/search-tables.ts`): active
   * models of the experiments only, and with `datasets`, only models with a
   * metric measured on one of them (MLflow's `datasets` search field).
   */
  compileSearch(
    experimentIds: number[],
    filter: string | undefined,
    order: readonly { field: string; ascending: boolean }[],
    datasets: readonly { name: string; digest?: string }[] = [],
  ): SqlQuery {
    const where: string[] = [`lm.lifecycle_stage = 'active'`, `lm.experiment_id IN (${placeholders(experimentIds.length)})`];
    const params: SqlValue[] = [...experimentIds];
    if (datasets.length > 0) {
      const any = datasets.map((d) => (d.digest === undefined ? "x.dataset_name = ?" : "(x.dataset_name = ? AND x.dataset_digest = ?)"));
      where.push(`EXISTS (SELECT 1 FROM logged_model_metrics x WHERE x.model_id = lm.model_id AND (${any.join(" OR ")}))`);
      for (const d of datasets) params.push(...(d.digest === undefined ? [d.name] : [d.name, d.digest]));
    }
    const q = compileLoggedModelSearch(filter, order, this.db.dialect);
    if (q.where !== "1 = 1") where.push(q.where);
    return { where: where.join(" AND "), params: [...params, ...q.params], order: q.order };
  }

  async search(q: SqlQuery, limit: number, offset: number): Promise<LoggedModel[]> {
    const rows = await this.db.all<LoggedModelRow>(`SELECT lm.* FROM logged_models lm WHERE ${q.where} ORDER BY ${q.order} LIMIT ? OFFSET ?`, [...q.params, limit, offset]);
    return this.hydrate(rows);
  }
}
