import { alreadyExists, invalidParameter, notFound } from "../errors.js";
import { isUniqueViolation, type Dialect, type SqlDriver, type SqlExecutor, type SqlValue } from "../store/index.js";
import type { Clause, OrderTerm } from "./filter.js";
import {
  DELETED_STAGE,
  LOGGED_MODEL_STATUSES,
  type KeyValue,
  type LoggedModel,
  type LoggedModelMetric,
  type LoggedModelStatus,
  type ModelVersion,
  type RegisteredModel,
  type Webhook,
  type WebhookEventName,
} from "./types.js";

interface RegisteredModelRow {
  name: string;
  creation_time: number;
  last_updated_time: number;
  description: string | null;
  user_id: string | null;
}

export interface ModelVersionRow {
  name: string;
  version: number;
  creation_time: number;
  last_updated_time: number;
  description: string | null;
  user_id: string | null;
  current_stage: string;
  source: string;
  storage_location: string | null;
  run_id: string | null;
  run_link: string | null;
  model_id: string | null;
  status: string;
  status_message: string | null;
}

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

interface WebhookRow {
  webhook_id: string;
  name: string;
  description: string | null;
  url: string;
  events: string;
  secret: string | null;
  status: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
}

export interface WebhookWithSecret extends Webhook {
  secret?: string;
}

export interface DeliveryRow {
  delivery_seq: number;
  delivery_id: string;
  webhook_id: string;
  order_key: string;
  payload: string;
  state: string;
  attempts: number;
  next_attempt_at: number;
}

export interface SqlQuery {
  where: string;
  params: SqlValue[];
  order: string;
}

const placeholders = (n: number): string => Array.from({ length: n }, () => "?").join(",");

function opt<T>(v: T | null | undefined): T | undefined {
  return v === null || v === undefined ? undefined : v;
}

/** LIKE is case-sensitive in MLflow; SQLite's LIKE is not, so it becomes GLOB there. */
function likeToGlob(pattern: string): string {
  let out = "";
  for (const c of pattern) {
    if (c === "%") out += "*";
    else if (c === "_") out += "?";
    else if (c === "*" || c === "?" || c === "[") out += `[${c}]`;
    else out += c;
  }
  return out;
}

/** One string comparison as SQL, written for the dialect. */
export function stringComparison(dialect: Dialect, column: string, op: Clause["op"], value: Clause["value"], what: string): { sql: string; params: SqlValue[] } {
  if (op === "IN" || op === "NOT IN") {
    if (!Array.isArray(value)) throw invalidParameter(`${op} on '${what}' needs a list of strings`);
    if (value.length === 0) return { sql: op === "IN" ? "1 = 0" : "1 = 1", params: [] };
    return { sql: `${column} ${op} (${placeholders(value.length)})`, params: value };
  }
  if (typeof value !== "string") throw invalidParameter(`Invalid value ${JSON.stringify(value)} for '${what}': expected a quoted string`);
  switch (op) {
    case "=":
    case "!=":
      return { sql: `${column} ${op} ?`, params: [value] };
    case "LIKE":
      return dialect === "sqlite" ? { sql: `${column} GLOB ?`, params: [likeToGlob(value)] } : { sql: `${column} LIKE ?`, params: [value] };
    case "ILIKE":
      return dialect === "sqlite" ? { sql: `LOWER(${column}) LIKE LOWER(?)`, params: [value] } : { sql: `${column} ILIKE ?`, params: [value] };
    default:
      throw invalidParameter(`Invalid comparator '${op}' for '${what}': use =, !=, LIKE or ILIKE`);
  }
}

/**
 * A tag (or param) comparison as an EXISTS test. `!=` means "has no such
 * value", so entities without the tag match too: MLflow clients rely on it
 * (they add `tags.mlflow.prompt.is_prompt != 'true'` to every model search).
 */
function tagComparison(dialect: Dialect, c: Clause, column = "t.value"): { exists: string; cmp: { sql: string; params: SqlValue[] } } {
  if (c.op === "!=") return { exists: "NOT EXISTS", cmp: stringComparison(dialect, column, "=", c.value, `${c.type}.${c.key}`) };
  return { exists: "EXISTS", cmp: stringComparison(dialect, column, c.op, c.value, `${c.type}.${c.key}`) };
}

function numericComparison(column: string, op: Clause["op"], value: Clause["value"], what: string): { sql: string; params: SqlValue[] } {
  if (!["=", "!=", "<", "<=", ">", ">="].includes(op)) throw invalidParameter(`Invalid comparator '${op}' for '${what}': use =, !=, <, <=, > or >=`);
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
  if (!Number.isFinite(n)) throw invalidParameter(`Invalid value ${JSON.stringify(value)} for '${what}': expected a number`);
  return { sql: `${column} ${op} ?`, params: [n] };
}

/**
 * All SQL of the registry and of logged models, written once for SQLite and
 * PostgreSQL against the {@link SqlDriver} seam.
 */
export class RegistryStore {
  constructor(readonly db: SqlDriver) {}

  get dialect(): Dialect {
    return this.db.dialect;
  }

  // ---- tracking entities this domain reads --------------------------------

  async getExperiment(id: string): Promise<{ experiment_id: string; artifact_location: string; lifecycle_stage: string } | undefined> {
    if (!/^\d{1,15}$/.test(id)) return undefined;
    const row = await this.db.get<{ experiment_id: number; artifact_location: string | null; lifecycle_stage: string }>(
      "SELECT experiment_id, artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = ?",
      [Number(id)],
    );
    return row ? { experiment_id: String(row.experiment_id), artifact_location: row.artifact_location ?? "", lifecycle_stage: row.lifecycle_stage } : undefined;
  }

  async getRun(runId: string): Promise<{ run_id: string; experiment_id: string; artifact_uri: string; lifecycle_stage: string } | undefined> {
    const row = await this.db.get<{ run_uuid: string; experiment_id: number; artifact_uri: string | null; lifecycle_stage: string }>(
      "SELECT run_uuid, experiment_id, artifact_uri, lifecycle_stage FROM runs WHERE run_uuid = ?",
      [runId],
    );
    return row ? { run_id: row.run_uuid, experiment_id: String(row.experiment_id), artifact_uri: row.artifact_uri ?? "", lifecycle_stage: row.lifecycle_stage } : undefined;
  }

  // ---- logged models -------------------------------------------------------

  async createLoggedModel(row: LoggedModelRow, params: KeyValue[], tags: KeyValue[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id, status_message)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)`,
        [row.model_id, row.experiment_id, row.name, row.artifact_location, row.creation_timestamp_ms, row.last_updated_timestamp_ms, row.status, row.model_type, row.source_run_id, row.status_message],
      );
      await this.upsertLoggedModelParams(tx, row.model_id, params);
      await this.upsertLoggedModelTags(tx, row.model_id, tags);
    });
  }

  private async upsertLoggedModelParams(ex: SqlExecutor, modelId: string, params: KeyValue[]): Promise<void> {
    if (params.length === 0) return;
    await ex.runMany(
      "INSERT INTO logged_model_params (model_id, key, value) VALUES (?, ?, ?) ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value",
      dedupe(params).map((p) => [modelId, p.key, p.value]),
    );
  }

  private async upsertLoggedModelTags(ex: SqlExecutor, modelId: string, tags: KeyValue[]): Promise<void> {
    if (tags.length === 0) return;
    await ex.runMany(
      "INSERT INTO logged_model_tags (model_id, key, value) VALUES (?, ?, ?) ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value",
      dedupe(tags).map((t) => [modelId, t.key, t.value]),
    );
  }

  async getLoggedModelRow(modelId: string, allowDeleted = false): Promise<LoggedModelRow | undefined> {
    return this.db.get<LoggedModelRow>(
      `SELECT * FROM logged_models WHERE model_id = ?${allowDeleted ? "" : " AND lifecycle_stage = 'active'"}`,
      [modelId],
    );
  }

  async getLoggedModel(modelId: string, allowDeleted = false): Promise<LoggedModel | undefined> {
    const row = await this.getLoggedModelRow(modelId, allowDeleted);
    return row ? (await this.hydrateLoggedModels([row]))[0] : undefined;
  }

  async hydrateLoggedModels(rows: LoggedModelRow[]): Promise<LoggedModel[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.model_id);
    const [tags, params, regs, metrics] = await Promise.all([
      this.db.all<{ model_id: string; key: string; value: string | null }>(`SELECT model_id, key, value FROM logged_model_tags WHERE model_id IN (${placeholders(ids.length)}) ORDER BY key`, ids),
      this.db.all<{ model_id: string; key: string; value: string }>(`SELECT model_id, key, value FROM logged_model_params WHERE model_id IN (${placeholders(ids.length)}) ORDER BY key`, ids),
      this.db.all<{ model_id: string; name: string; version: number }>(
        `SELECT model_id, name, version FROM model_versions WHERE model_id IN (${placeholders(ids.length)}) AND current_stage <> '${DELETED_STAGE}' ORDER BY name, version`,
        ids,
      ),
      this.db.all<LoggedModelMetricRow>(
        `SELECT model_id, metric_name, metric_timestamp_ms, metric_step, metric_value, is_nan, run_id, dataset_name, dataset_digest FROM logged_model_metrics
         WHERE model_id IN (${placeholders(ids.length)}) ORDER BY metric_name, metric_step, metric_timestamp_ms`,
        ids,
      ),
    ]);
    const group = <T extends { model_id: string }>(list: T[]) => {
      const m = new Map<string, T[]>();
      for (const r of list) {
        let l = m.get(r.model_id);
        if (!l) m.set(r.model_id, (l = []));
        l.push(r);
      }
      return m;
    };
    const tagsBy = group(tags);
    const paramsBy = group(params);
    const regsBy = group(regs);
    const metricsBy = group(metrics);
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
        registrations: (regsBy.get(r.model_id) ?? []).map((g) => ({ name: g.name, version: String(g.version) })),
      },
      data: { params: (paramsBy.get(r.model_id) ?? []).map((p) => ({ key: p.key, value: p.value })), metrics: (metricsBy.get(r.model_id) ?? []).map(loggedModelMetric) },
    }));
  }

  async finalizeLoggedModel(modelId: string, status: LoggedModelStatus, now: number): Promise<void> {
    await this.db.run("UPDATE logged_models SET status = ?, last_updated_timestamp_ms = ? WHERE model_id = ?", [LOGGED_MODEL_STATUSES.indexOf(status), now, modelId]);
  }

  async deleteLoggedModel(modelId: string, now: number): Promise<void> {
    await this.db.run("UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_timestamp_ms = ? WHERE model_id = ?", [now, modelId]);
  }

  async setLoggedModelTags(modelId: string, tags: KeyValue[], now: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.upsertLoggedModelTags(tx, modelId, tags);
      await tx.run("UPDATE logged_models SET last_updated_timestamp_ms = ? WHERE model_id = ?", [now, modelId]);
    });
  }

  async deleteLoggedModelTag(modelId: string, key: string): Promise<boolean> {
    const r = await this.db.run("DELETE FROM logged_model_tags WHERE model_id = ? AND key = ?", [modelId, key]);
    return r.changes > 0;
  }

  async logLoggedModelParams(modelId: string, params: KeyValue[]): Promise<void> {
    await this.db.transaction((tx) => this.upsertLoggedModelParams(tx, modelId, params));
  }

  /** Turns parsed logged-model filters and orderings into SQL on `lm`. */
  compileLoggedModelQuery(
    experimentIds: number[],
    clauses: Clause[],
    order: { field: string; ascending: boolean }[],
    datasets: { name: string; digest?: string }[] = [],
  ): SqlQuery {
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
        const cmp = a.numeric ? numericComparison(a.col, c.op, c.value, c.key) : stringComparison(this.dialect, a.col, c.op, c.value, c.key);
        where.push(cmp.sql);
        params.push(...cmp.params);
      } else if (c.type === "tags" || c.type === "params") {
        const table = c.type === "tags" ? "logged_model_tags" : "logged_model_params";
        const { exists, cmp } = tagComparison(this.dialect, c, "x.value");
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

  async searchLoggedModels(q: SqlQuery, limit: number, offset: number): Promise<LoggedModel[]> {
    const rows = await this.db.all<LoggedModelRow>(`SELECT lm.* FROM logged_models lm WHERE ${q.where} ORDER BY ${q.order} LIMIT ? OFFSET ?`, [...q.params, limit, offset]);
    return this.hydrateLoggedModels(rows);
  }

  // ---- registered models --------------------------------------------------

  async createRegisteredModel(name: string, description: string | undefined, tags: KeyValue[], now: number): Promise<void> {
    try {
      await this.db.transaction(async (tx) => {
        await tx.run("INSERT INTO registered_models (name, creation_time, last_updated_time, description) VALUES (?, ?, ?, ?)", [name, now, now, description ?? null]);
        if (tags.length) {
          await tx.runMany("INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?)", dedupe(tags).map((t) => [name, t.key, t.value]));
        }
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw alreadyExists(`Registered Model (name=${name}) already exists.`);
      throw err;
    }
  }

  private async registeredModelRow(ex: SqlExecutor, name: string): Promise<RegisteredModelRow> {
    const row = await ex.get<RegisteredModelRow>("SELECT * FROM registered_models WHERE name = ?", [name]);
    if (!row) throw notFound(`Registered Model with name=${name} not found`);
    return row;
  }

  async getRegisteredModel(name: string): Promise<RegisteredModel> {
    const row = await this.registeredModelRow(this.db, name);
    return (await this.hydrateRegisteredModels([row]))[0]!;
  }

  async requireRegisteredModel(name: string): Promise<void> {
    await this.registeredModelRow(this.db, name);
  }

  private async hydrateRegisteredModels(rows: RegisteredModelRow[]): Promise<RegisteredModel[]> {
    if (rows.length === 0) return [];
    const names = rows.map((r) => r.name);
    const ph = placeholders(names.length);
    const [tags, aliases, latest] = await Promise.all([
      this.db.all<{ name: string; key: string; value: string | null }>(`SELECT name, key, value FROM registered_model_tags WHERE name IN (${ph}) ORDER BY key`, names),
      this.db.all<{ name: string; alias: string; version: number }>(`SELECT name, alias, version FROM registered_model_aliases WHERE name IN (${ph}) ORDER BY alias`, names),
      this.db.all<ModelVersionRow>(
        `SELECT mv.* FROM model_versions mv JOIN (
           SELECT name, current_stage, MAX(version) AS version FROM model_versions
           WHERE name IN (${ph}) AND current_stage <> '${DELETED_STAGE}' GROUP BY name, current_stage
         ) l ON l.name = mv.name AND l.version = mv.version ORDER BY mv.version`,
        names,
      ),
    ]);
    const latestVersions = await this.hydrateVersions(latest, { tags: false });
    return rows.map((r) => ({
      name: r.name,
      creation_timestamp: Number(r.creation_time),
      last_updated_timestamp: Number(r.last_updated_time),
      user_id: opt(r.user_id),
      description: opt(r.description),
      latest_versions: latestVersions.filter((v) => v.name === r.name),
      tags: tags.filter((t) => t.name === r.name).map((t) => ({ key: t.key, value: t.value ?? "" })),
      aliases: aliases.filter((a) => a.name === r.name).map((a) => ({ alias: a.alias, version: String(a.version) })),
    }));
  }

  async renameRegisteredModel(name: string, newName: string, now: number): Promise<void> {
    try {
      await this.db.transaction(async (tx) => {
        await this.registeredModelRow(tx, name);
        // Children follow through ON UPDATE CASCADE.
        await tx.run("UPDATE registered_models SET name = ?, last_updated_time = ? WHERE name = ?", [newName, now, name]);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw alreadyExists(`Registered Model (name=${newName}) already exists.`);
      throw err;
    }
  }

  async updateRegisteredModel(name: string, description: string, now: number): Promise<void> {
    const r = await this.db.run("UPDATE registered_models SET description = ?, last_updated_time = ? WHERE name = ?", [description, now, name]);
    if (r.changes === 0) throw notFound(`Registered Model with name=${name} not found`);
  }

  async deleteRegisteredModel(name: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.registeredModelRow(tx, name);
      // Explicit child deletes: a store opened without FK enforcement stays clean too.
      await tx.run("DELETE FROM model_version_tags WHERE name = ?", [name]);
      await tx.run("DELETE FROM registered_model_aliases WHERE name = ?", [name]);
      await tx.run("DELETE FROM model_versions WHERE name = ?", [name]);
      await tx.run("DELETE FROM registered_model_tags WHERE name = ?", [name]);
      await tx.run("DELETE FROM registered_models WHERE name = ?", [name]);
    });
  }

  async setRegisteredModelTag(name: string, key: string, value: string, now: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.registeredModelRow(tx, name);
      await tx.run("INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?) ON CONFLICT (name, key) DO UPDATE SET value = excluded.value", [name, key, value]);
      await tx.run("UPDATE registered_models SET last_updated_time = ? WHERE name = ?", [now, name]);
    });
  }

  async deleteRegisteredModelTag(name: string, key: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.registeredModelRow(tx, name);
      const r = await tx.run("DELETE FROM registered_model_tags WHERE name = ? AND key = ?", [name, key]);
      if (r.changes === 0) throw notFound(`No tag with key=${key} on registered model ${name}`);
    });
  }

  compileRegisteredModelQuery(clauses: Clause[], order: OrderTerm[]): SqlQuery {
    const where: string[] = ["1 = 1"];
    const params: SqlValue[] = [];
    for (const c of clauses) {
      if (c.type === "attribute") {
        if (c.key !== "name") throw invalidParameter(`Invalid attribute key '${c.key}' specified. Valid keys are '{'name'}'`);
        const cmp = stringComparison(this.dialect, "rm.name", c.op, c.value, "name");
        where.push(cmp.sql);
        params.push(...cmp.params);
      } else if (c.type === "tags") {
        const { exists, cmp } = tagComparison(this.dialect, c);
        where.push(`${exists} (SELECT 1 FROM registered_model_tags t WHERE t.name = rm.name AND t.key = ? AND ${cmp.sql})`);
        params.push(c.key, ...cmp.params);
      } else {
        throw invalidParameter(`Invalid search expression type '${c.type}'. Registered models can be filtered on name and tags.`);
      }
    }
    const cols: Record<string, string> = { name: "rm.name", creation_timestamp: "rm.creation_time", last_updated_timestamp: "rm.last_updated_time" };
    const terms = order.map((o) => `${cols[o.key]} ${o.ascending ? "ASC" : "DESC"}`);
    if (!order.some((o) => o.key === "name")) terms.push("rm.name ASC");
    return { where: where.join(" AND "), params, order: terms.join(", ") };
  }

  async searchRegisteredModels(q: SqlQuery, limit: number, offset: number): Promise<RegisteredModel[]> {
    const rows = await this.db.all<RegisteredModelRow>(`SELECT rm.* FROM registered_models rm WHERE ${q.where} ORDER BY ${q.order} LIMIT ? OFFSET ?`, [...q.params, limit, offset]);
    return this.hydrateRegisteredModels(rows);
  }

  // ---- model versions -----------------------------------------------------

  async createModelVersion(
    v: Omit<ModelVersionRow, "version" | "creation_time" | "last_updated_time" | "current_stage" | "status" | "status_message" | "user_id">,
    tags: KeyValue[],
    now: number,
  ): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.db.transaction(async (tx) => {
          await this.registeredModelRow(tx, v.name);
          const max = await tx.get<{ m: number | null }>("SELECT MAX(version) AS m FROM model_versions WHERE name = ?", [v.name]);
          const version = Number(max?.m ?? 0) + 1;
          await tx.run(
            `INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, current_stage, source, storage_location, run_id, run_link, model_id, status)
             VALUES (?, ?, ?, ?, ?, 'None', ?, ?, ?, ?, ?, 'READY')`,
            [v.name, version, now, now, v.description, v.source, v.storage_location, v.run_id, v.run_link, v.model_id],
          );
          if (tags.length) {
            await tx.runMany("INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?)", dedupe(tags).map((t) => [v.name, version, t.key, t.value]));
          }
          await tx.run("UPDATE registered_models SET last_updated_time = ? WHERE name = ?", [now, v.name]);
          return version;
        });
      } catch (err) {
        // Two writers picked the same number (PostgreSQL): take the next one.
        if (isUniqueViolation(err) && attempt < 5) continue;
        throw err;
      }
    }
  }

  async modelVersionRow(name: string, version: number, ex: SqlExecutor = this.db): Promise<ModelVersionRow> {
    const row = await ex.get<ModelVersionRow>(`SELECT * FROM model_versions WHERE name = ? AND version = ? AND current_stage <> '${DELETED_STAGE}'`, [name, version]);
    if (!row) throw notFound(`Model Version (name=${name}, version=${version}) not found`);
    return row;
  }

  async getModelVersion(name: string, version: number): Promise<ModelVersion> {
    return (await this.hydrateVersions([await this.modelVersionRow(name, version)]))[0]!;
  }

  async hydrateVersions(rows: ModelVersionRow[], opts: { tags: boolean } = { tags: true }): Promise<ModelVersion[]> {
    if (rows.length === 0) return [];
    const names = [...new Set(rows.map((r) => r.name))];
    const key = (n: string, v: number | string) => `${n}\u0000${Number(v)}`;
    const aliasRows = await this.db.all<{ name: string; alias: string; version: number }>(
      `SELECT name, alias, version FROM registered_model_aliases WHERE name IN (${placeholders(names.length)}) ORDER BY alias`,
      names,
    );
    const aliases = new Map<string, string[]>();
    for (const a of aliasRows) {
      const k = key(a.name, a.version);
      let l = aliases.get(k);
      if (!l) aliases.set(k, (l = []));
      l.push(a.alias);
    }
    const tags = new Map<string, KeyValue[]>();
    if (opts.tags) {
      // Tags per (name, version) pair, fetched in chunks to stay under parameter limits.
      for (let i = 0; i < rows.length; i += 400) {
        const chunk = rows.slice(i, i + 400);
        const cond = chunk.map(() => "(name = ? AND version = ?)").join(" OR ");
        const trows = await this.db.all<{ name: string; version: number; key: string; value: string | null }>(
          `SELECT name, version, key, value FROM model_version_tags WHERE ${cond} ORDER BY key`,
          chunk.flatMap((r) => [r.name, Number(r.version)]),
        );
        for (const t of trows) {
          const k = key(t.name, t.version);
          let l = tags.get(k);
          if (!l) tags.set(k, (l = []));
          l.push({ key: t.key, value: t.value ?? "" });
        }
      }
    }
    return rows.map((r) => ({
      name: r.name,
      version: String(r.version),
      creation_timestamp: Number(r.creation_time),
      last_updated_timestamp: Number(r.last_updated_time),
      user_id: opt(r.user_id),
      current_stage: r.current_stage,
      description: opt(r.description),
      source: r.source,
      run_id: opt(r.run_id) || undefined,
      status: r.status as ModelVersion["status"],
      status_message: opt(r.status_message),
      tags: tags.get(key(r.name, r.version)) ?? [],
      run_link: opt(r.run_link) || undefined,
      aliases: aliases.get(key(r.name, r.version)) ?? [],
      model_id: opt(r.model_id) || undefined,
    }));
  }

  async updateModelVersion(name: string, version: number, description: string, now: number): Promise<void> {
    await this.modelVersionRow(name, version);
    await this.db.run("UPDATE model_versions SET description = ?, last_updated_time = ? WHERE name = ? AND version = ?", [description, now, name, version]);
  }

  async transitionStage(name: string, version: number, stage: string, archiveExisting: boolean, now: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.modelVersionRow(name, version, tx);
      if (archiveExisting && (stage === "Staging" || stage === "Production")) {
        await tx.run(
          "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = ? WHERE name = ? AND version <> ? AND current_stage = ?",
          [now, name, version, stage],
        );
      }
      await tx.run("UPDATE model_versions SET current_stage = ?, last_updated_time = ? WHERE name = ? AND version = ?", [stage, now, name, version]);
      await tx.run("UPDATE registered_models SET last_updated_time = ? WHERE name = ?", [now, name]);
    });
  }

  async deleteModelVersion(name: string, version: number, now: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.modelVersionRow(name, version, tx);
      await tx.run("DELETE FROM registered_model_aliases WHERE name = ? AND version = ?", [name, version]);
      await tx.run("DELETE FROM model_version_tags WHERE name = ? AND version = ?", [name, version]);
      await tx.run(
        `UPDATE model_versions SET current_stage = '${DELETED_STAGE}', description = NULL, run_link = NULL, last_updated_time = ? WHERE name = ? AND version = ?`,
        [now, name, version],
      );
      await tx.run("UPDATE registered_models SET last_updated_time = ? WHERE name = ?", [now, name]);
    });
  }

  async setModelVersionTag(name: string, version: number, key: string, value: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.modelVersionRow(name, version, tx);
      await tx.run(
        "INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?) ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
        [name, version, key, value],
      );
    });
  }

  async deleteModelVersionTag(name: string, version: number, key: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.modelVersionRow(name, version, tx);
      const r = await tx.run("DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?", [name, version, key]);
      if (r.changes === 0) throw notFound(`No tag with key=${key} on model version (name=${name}, version=${version})`);
    });
  }

  async latestVersions(name: string, stages: string[] | undefined): Promise<ModelVersion[]> {
    await this.registeredModelRow(this.db, name);
    const params: SqlValue[] = [name];
    let stageSql = `current_stage <> '${DELETED_STAGE}'`;
    if (stages && stages.length) {
      stageSql = `LOWER(current_stage) IN (${placeholders(stages.length)})`;
      params.push(...stages.map((s) => s.toLowerCase()));
    }
    const rows = await this.db.all<ModelVersionRow>(
      `SELECT mv.* FROM model_versions mv JOIN (
         SELECT current_stage, MAX(version) AS version FROM model_versions WHERE name = ? AND ${stageSql} GROUP BY current_stage
       ) l ON l.version = mv.version WHERE mv.name = ? ORDER BY mv.version`,
      [...params, name],
    );
    return this.hydrateVersions(rows);
  }

  compileModelVersionQuery(clauses: Clause[], order: OrderTerm[]): SqlQuery {
    const where: string[] = [`mv.current_stage <> '${DELETED_STAGE}'`];
    const params: SqlValue[] = [];
    for (const c of clauses) {
      if (c.type === "attribute") {
        const cols: Record<string, string> = { name: "mv.name", run_id: "mv.run_id", source_path: "mv.source", source: "mv.source", model_id: "mv.model_id", current_stage: "mv.current_stage" };
        if (c.key === "version_number" || c.key === "version") {
          const cmp = numericComparison("mv.version", c.op, c.value, c.key);
          where.push(cmp.sql);
          params.push(...cmp.params);
          continue;
        }
        const col = cols[c.key];
        if (!col) throw invalidParameter(`Invalid attribute key '${c.key}' specified. Valid keys are name, version_number, run_id, source_path, model_id`);
        const cmp = stringComparison(this.dialect, col, c.op, c.value, c.key);
        where.push(cmp.sql);
        params.push(...cmp.params);
      } else if (c.type === "tags") {
        const { exists, cmp } = tagComparison(this.dialect, c);
        where.push(`${exists} (SELECT 1 FROM model_version_tags t WHERE t.name = mv.name AND t.version = mv.version AND t.key = ? AND ${cmp.sql})`);
        params.push(c.key, ...cmp.params);
      } else {
        throw invalidParameter(`Invalid search expression type '${c.type}'. Model versions can be filtered on attributes and tags.`);
      }
    }
    const cols: Record<string, string> = { name: "mv.name", version_number: "mv.version", creation_timestamp: "mv.creation_time", last_updated_timestamp: "mv.last_updated_time" };
    const terms = order.map((o) => `${cols[o.key]} ${o.ascending ? "ASC" : "DESC"}`);
    if (!order.some((o) => o.key === "name")) terms.push("mv.name ASC");
    if (!order.some((o) => o.key === "version_number")) terms.push("mv.version DESC");
    return { where: where.join(" AND "), params, order: terms.join(", ") };
  }

  async searchModelVersions(q: SqlQuery, limit: number, offset: number): Promise<ModelVersion[]> {
    const rows = await this.db.all<ModelVersionRow>(`SELECT mv.* FROM model_versions mv WHERE ${q.where} ORDER BY ${q.order} LIMIT ? OFFSET ?`, [...q.params, limit, offset]);
    return this.hydrateVersions(rows);
  }

  // ---- aliases --------------------------------------------------------------

  async setAlias(name: string, alias: string, version: number, now: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.modelVersionRow(name, version, tx);
      await tx.run(
        "INSERT INTO registered_model_aliases (name, alias, version) VALUES (?, ?, ?) ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
        [name, alias, version],
      );
      await tx.run("UPDATE registered_models SET last_updated_time = ? WHERE name = ?", [now, name]);
    });
  }

  /** Removes an alias; false when the model had no such alias. */
  async deleteAlias(name: string, alias: string, now: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await this.registeredModelRow(tx, name);
      const r = await tx.run("DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?", [name, alias]);
      if (r.changes > 0) await tx.run("UPDATE registered_models SET last_updated_time = ? WHERE name = ?", [now, name]);
      return r.changes > 0;
    });
  }

  async versionByAlias(name: string, alias: string): Promise<number> {
    await this.registeredModelRow(this.db, name);
    const row = await this.db.get<{ version: number }>("SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?", [name, alias]);
    if (!row) throw notFound(`Registered model alias ${alias} not found.`);
    return Number(row.version);
  }

  // ---- webhooks -------------------------------------------------------------

  private toWebhook(r: WebhookRow): WebhookWithSecret {
    return {
      webhook_id: r.webhook_id,
      name: r.name,
      description: opt(r.description),
      url: r.url,
      events: JSON.parse(r.events) as WebhookEventName[],
      status: r.status as Webhook["status"],
      creation_timestamp: Number(r.creation_timestamp),
      last_updated_timestamp: Number(r.last_updated_timestamp),
      secret: opt(r.secret),
    };
  }

  async createWebhook(w: WebhookWithSecret): Promise<void> {
    await this.db.run(
      "INSERT INTO webhooks (webhook_id, name, description, url, events, secret, status, creation_timestamp, last_updated_timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      [w.webhook_id, w.name, w.description ?? null, w.url, JSON.stringify(w.events), w.secret ?? null, w.status, w.creation_timestamp, w.last_updated_timestamp],
    );
  }

  async getWebhook(id: string): Promise<WebhookWithSecret> {
    const row = await this.db.get<WebhookRow>("SELECT * FROM webhooks WHERE webhook_id = ?", [id]);
    if (!row) throw notFound(`Webhook with ID ${id} not found.`);
    return this.toWebhook(row);
  }

  async listWebhooks(limit: number, offset: number): Promise<WebhookWithSecret[]> {
    const rows = await this.db.all<WebhookRow>("SELECT * FROM webhooks ORDER BY creation_timestamp DESC, webhook_id LIMIT ? OFFSET ?", [limit, offset]);
    return rows.map((r) => this.toWebhook(r));
  }

  async activeWebhooks(): Promise<WebhookWithSecret[]> {
    const rows = await this.db.all<WebhookRow>("SELECT * FROM webhooks WHERE status = 'ACTIVE'");
    return rows.map((r) => this.toWebhook(r));
  }

  async updateWebhook(w: WebhookWithSecret): Promise<void> {
    await this.db.run(
      "UPDATE webhooks SET name = ?, description = ?, url = ?, events = ?, secret = ?, status = ?, last_updated_timestamp = ? WHERE webhook_id = ?",
      [w.name, w.description ?? null, w.url, JSON.stringify(w.events), w.secret ?? null, w.status, w.last_updated_timestamp, w.webhook_id],
    );
  }

  async deleteWebhook(id: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run("DELETE FROM webhook_deliveries WHERE webhook_id = ?", [id]);
      const r = await tx.run("DELETE FROM webhooks WHERE webhook_id = ?", [id]);
      if (r.changes === 0) throw notFound(`Webhook with ID ${id} not found.`);
    });
  }

  async enqueueDeliveries(rows: { delivery_id: string; webhook_id: string; order_key: string; payload: string }[], now: number): Promise<void> {
    if (rows.length === 0) return;
    await this.db.transaction((tx) =>
      tx.runMany(
        "INSERT INTO webhook_deliveries (delivery_id, webhook_id, order_key, payload, state, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)",
        rows.map((r) => [r.delivery_id, r.webhook_id, r.order_key, r.payload, now, now]),
      ),
    );
  }

  /** The head of every (webhook, model) queue: later events wait for earlier ones. */
  async queueHeads(): Promise<DeliveryRow[]> {
    return this.db.all<DeliveryRow>(
      `SELECT d.* FROM webhook_deliveries d WHERE d.state = 'pending' AND d.delivery_seq = (
         SELECT MIN(x.delivery_seq) FROM webhook_deliveries x WHERE x.state = 'pending' AND x.webhook_id = d.webhook_id AND x.order_key = d.order_key
       ) ORDER BY d.delivery_seq`,
    );
  }

  async finishDelivery(seq: number, state: "delivered" | "failed", attempts: number, error: string | null): Promise<void> {
    await this.db.run("UPDATE webhook_deliveries SET state = ?, attempts = ?, last_error = ? WHERE delivery_seq = ?", [state, attempts, error, seq]);
  }

  async retryDelivery(seq: number, attempts: number, nextAttemptAt: number, error: string): Promise<void> {
    await this.db.run("UPDATE webhook_deliveries SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE delivery_seq = ?", [attempts, nextAttemptAt, error, seq]);
  }
}

function dedupe(list: KeyValue[]): KeyValue[] {
  const m = new Map<string, string>();
  for (const kv of list) m.set(kv.key, kv.value);
  return [...m].map(([key, value]) => ({ key, value }));
}
