import { invalidParameter } from "../errors.js";
import {
  NUMERIC_OPS,
  SET_OPS,
  STRING_OPS,
  checkDistinct,
  clauseError,
  compileFilter,
  parseIdentifier,
  parseOrderBy,
  unknownAttribute,
  type Comparator,
  type Field,
  type Identifier,
  type SearchTable,
} from "../search/index.js";
import type { Dialect } from "../store/index.js";
import type { SqlQuery } from "./sql.js";
import { LOGGED_MODEL_STATUSES, type LoggedModelStatus } from "../wire/index.js";

/**
 * What registered models (`rm`), model versions (`mv`) and logged models
 * (`lm`) let MLflow's search language name. The grammar and the comparison
 * SQL are `src/search/`'s; the stores add their own conditions (deleted
 * versions, experiments, datasets, the auth scope).
 */

type RegistryEntity = "attribute" | "tag" | "param" | "metric";

const REGISTRY_PREFIXES: Readonly<Record<string, RegistryEntity>> = {
  attribute: "attribute",
  attributes: "attribute",
  attr: "attribute",
  tag: "tag",
  tags: "tag",
  param: "param",
  params: "param",
  metric: "metric",
  metrics: "metric",
};

const TEXT_OPS: readonly Comparator[] = [...STRING_OPS, ...SET_OPS];
const text = (sql: string): Field => ({ kind: "column", sql, type: "string", ops: TEXT_OPS });
const number = (sql: string): Field => ({ kind: "column", sql, type: "number", ops: NUMERIC_OPS, coerce: true });

/**
 * A key-value child table. `!=` means "has no such value", so entities
 * without the key match too: MLflow clients rely on it (they add
 * `tags.mlflow.prompt.is_prompt != 'true'` to every model search).
 */
function keyValue(from: string, key: string, value: string, label: string): Field {
  return { kind: "exists", from, fromParams: [key], value, type: "string", ops: TEXT_OPS, notEqual: "absent-too", label };
}

function refuse(id: Identifier, sentence: string): never {
  throw clauseError(id, `invalid search expression type '${id.entity}s'. ${sentence}`);
}

/**
 * `name ASC`, `attributes.last_updated_timestamp DESC`, `timestamp` (MLflow's
 * alias of `creation_timestamp`): each clause a key of `columns`, none twice.
 */
function registryOrder(orderBy: readonly string[] | undefined, columns: Record<string, string>): { key: string; term: string }[] {
  const valid = Object.keys(columns);
  const terms = (orderBy ?? []).map((raw) => {
    let parsed;
    try {
      parsed = parseOrderBy(raw, REGISTRY_PREFIXES);
    } catch {
      parsed = undefined;
    }
    const key = parsed?.identifier.key === "timestamp" ? "creation_timestamp" : parsed?.identifier.key;
    if (!parsed || parsed.identifier.entity !== "attribute" || !key || !columns[key]) {
      throw invalidParameter(`Invalid order_by clause '${raw}'. Valid keys are ${valid.join(", ")}, optionally followed by ASC or DESC.`);
    }
    return { key, term: `${columns[key]} ${parsed.ascending ? "ASC" : "DESC"}` };
  });
  checkDistinct(terms, (t) => t.key, orderBy ?? []);
  return terms;
}

// ---------------------------------------------------------------- registered models

export const REGISTERED_MODEL_SEARCH: SearchTable<RegistryEntity> = {
  prefixes: REGISTRY_PREFIXES,
  field(id) {
    if (id.entity === "tag") return keyValue("registered_model_tags t WHERE t.name = rm.name AND t.key = ?", id.key, "t.value", "tags");
    if (id.entity !== "attribute") refuse(id, "Registered models can be filtered on name and tags.");
    if (id.key !== "name") throw unknownAttribute(id, ["name"]);
    return text("rm.name");
  },
};

const REGISTERED_MODEL_ORDER = { name: "rm.name", creation_timestamp: "rm.creation_time", last_updated_timestamp: "rm.last_updated_time" };

/** A registered-model search as SQL over `rm`; ties broken by name. */
export function compileRegisteredModelSearch(filter: string | undefined, orderBy: readonly string[] | undefined, dialect: Dialect): SqlQuery {
  const { where, params } = compileFilter(REGISTERED_MODEL_SEARCH, filter, dialect);
  const order = registryOrder(orderBy, REGISTERED_MODEL_ORDER);
  const terms = order.map((o) => o.term);
  if (!order.some((o) => o.key === "name")) terms.push("rm.name ASC");
  return { where, params, order: terms.join(", ") };
}

// ---------------------------------------------------------------- model versions

const VERSION_ATTRIBUTES: Record<string, Field> = {
  name: text("mv.name"),
  version_number: number("mv.version"),
  version: number("mv.version"),
  run_id: text("mv.run_id"),
  source_path: text("mv.source"),
  source: text("mv.source"),
  model_id: text("mv.model_id"),
  current_stage: text("mv.current_stage"),
};

export const MODEL_VERSION_SEARCH: SearchTable<RegistryEntity> = {
  prefixes: REGISTRY_PREFIXES,
  field(id) {
    if (id.entity === "tag") return keyValue("model_version_tags t WHERE t.name = mv.name AND t.version = mv.version AND t.key = ?", id.key, "t.value", "tags");
    if (id.entity !== "attribute") refuse(id, "Model versions can be filtered on attributes and tags.");
    const field = VERSION_ATTRIBUTES[id.key];
    if (!field) throw unknownAttribute(id, ["name", "version_number", "run_id", "source_path", "model_id", "current_stage"]);
    return field;
  },
};

const MODEL_VERSION_ORDER = { name: "mv.name", version_number: "mv.version", creation_timestamp: "mv.creation_time", last_updated_timestamp: "mv.last_updated_time" };

/** A model-version search as SQL over `mv`; ties broken by name, then newest version first. */
export function compileModelVersionSearch(filter: string | undefined, orderBy: readonly string[] | undefined, dialect: Dialect): SqlQuery {
  const { where, params } = compileFilter(MODEL_VERSION_SEARCH, filter, dialect);
  const order = registryOrder(orderBy, MODEL_VERSION_ORDER);
  const terms = order.map((o) => o.term);
  if (!order.some((o) => o.key === "name")) terms.push("mv.name ASC");
  if (!order.some((o) => o.key === "version_number")) terms.push("mv.version DESC");
  return { where, params, order: terms.join(", ") };
}

// ---------------------------------------------------------------- logged models

/** `status = 'READY'` (or `'LOGGED_MODEL_READY'`), compared as the stored enum number. */
const loggedModelStatus: Field = {
  kind: "custom",
  ops: [...NUMERIC_OPS, ...TEXT_OPS],
  compile(c, w) {
    const raw = c.value.kind === "string" ? c.value.value : c.value.kind === "number" ? c.value.text : c.value.kind === "list" ? c.value.values.join(",") : "";
    const idx = LOGGED_MODEL_STATUSES.indexOf(raw.toUpperCase().replace(/^(?!LOGGED_MODEL_)/, "LOGGED_MODEL_") as LoggedModelStatus);
    if (idx < 0 || c.value.kind !== "string" || (c.comparator !== "=" && c.comparator !== "!=")) throw invalidParameter(`Invalid status filter '${raw}'`);
    return w.number("lm.status", c.comparator, idx);
  },
};

const LOGGED_MODEL_ATTRIBUTES: Record<string, Field> = {
  name: text("lm.name"),
  model_id: text("lm.model_id"),
  model_type: text("lm.model_type"),
  source_run_id: text("lm.source_run_id"),
  status: loggedModelStatus,
  creation_timestamp: number("lm.creation_timestamp_ms"),
  creation_time: number("lm.creation_timestamp_ms"),
  last_updated_timestamp: number("lm.last_updated_timestamp_ms"),
};

export const LOGGED_MODEL_SEARCH: SearchTable<RegistryEntity> = {
  prefixes: REGISTRY_PREFIXES,
  field(id) {
    if (id.entity === "tag") return keyValue("logged_model_tags x WHERE x.model_id = lm.model_id AND x.key = ?", id.key, "x.value", "tags");
    if (id.entity === "param") return keyValue("logged_model_params x WHERE x.model_id = lm.model_id AND x.key = ?", id.key, "x.value", "params");
    if (id.entity === "metric") throw invalidParameter(`Filtering logged models on metrics is not supported: '${id.text}'`);
    const field = LOGGED_MODEL_ATTRIBUTES[id.key];
    if (!field) throw unknownAttribute(id, Object.keys(LOGGED_MODEL_ATTRIBUTES));
    return field;
  },
};

const LOGGED_MODEL_ORDER: Record<string, string> = {
  name: "lm.name",
  model_id: "lm.model_id",
  creation_timestamp: "lm.creation_timestamp_ms",
  creation_time: "lm.creation_timestamp_ms",
  last_updated_timestamp: "lm.last_updated_timestamp_ms",
  experiment_id: "lm.experiment_id",
  model_type: "lm.model_type",
  status: "lm.status",
};

/** A logged-model filter and order (`{ field_name, ascending }` entries) as SQL over `lm`; newest first, then by id. */
export function compileLoggedModelSearch(filter: string | undefined, order: readonly { field: string; ascending: boolean }[], dialect: Dialect): SqlQuery {
  const { where, params } = compileFilter(LOGGED_MODEL_SEARCH, filter, dialect);
  const columns = order.map((o) => {
    let id;
    try {
      id = parseIdentifier(o.field, REGISTRY_PREFIXES);
    } catch {
      id = undefined;
    }
    const col = id?.entity === "attribute" ? LOGGED_MODEL_ORDER[id.key] : undefined;
    if (!col) throw invalidParameter(`Invalid order_by field '${o.field}' for logged models. Valid fields: ${Object.keys(LOGGED_MODEL_ORDER).join(", ")}`);
    return { col, term: `${col} ${o.ascending ? "ASC" : "DESC"}` };
  });
  const terms = columns.map((c) => c.term);
  if (!columns.some((c) => c.col === "lm.creation_timestamp_ms")) terms.push("lm.creation_timestamp_ms DESC");
  terms.push("lm.model_id ASC");
  return { where, params, order: terms.join(", ") };
}
