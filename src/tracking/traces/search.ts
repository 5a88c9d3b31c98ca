import { invalidParameter } from "../../errors.js";
import type { Dialect, SqlValue } from "../../store/index.js";
import { likeToGlob, parseFilter, parseOrderBy, type Clause, type Comparator, type EntityType } from "../search.js";

/**
 * MLflow's trace search language (`SearchTraceUtils`): `trace.status = 'OK'`,
 * `trace.timestamp_ms > 1700000000000`, `tags.env = 'prod'`,
 * `metadata.mlflow.user = 'ann'`, `span.name = 'llm'`, `span.type = 'LLM'`,
 * `span.attributes.model LIKE '%gpt%'`, `trace.text ILIKE '%refund%'`,
 * `feedback.quality >= 0.5`, joined with AND; order_by on attributes, tags and
 * metadata. It reuses the tokenizer and parser of runs and experiments; what
 * is trace-specific is the field table below and how each field becomes SQL
 * over `trace_info t`. Moving it into a shared grammar module is a matter of
 * handing over this table.
 */

type TraceEntity = "attribute" | "tag" | "metadata" | "span" | "feedback" | "expectation";

const TRACE_ENTITIES: Record<string, TraceEntity> = {
  attribute: "attribute",
  attributes: "attribute",
  trace: "attribute",
  tag: "tag",
  tags: "tag",
  metadata: "metadata",
  request_metadata: "metadata",
  span: "span",
  feedback: "feedback",
  expectation: "expectation",
};
const ENTITIES = TRACE_ENTITIES as unknown as Record<string, EntityType>;

const NUMERIC_ATTRIBUTES: Record<string, string> = {
  timestamp: "t.timestamp_ms",
  timestamp_ms: "t.timestamp_ms",
  execution_time: "t.execution_time_ms",
  execution_time_ms: "t.execution_time_ms",
  end_time: "(t.timestamp_ms + COALESCE(t.execution_time_ms, 0))",
  end_time_ms: "(t.timestamp_ms + COALESCE(t.execution_time_ms, 0))",
};
const STRING_ATTRIBUTES: Record<string, string> = {
  request_id: "t.request_id",
  trace_id: "t.request_id",
  status: "t.status",
  state: "t.status",
  client_request_id: "t.client_request_id",
};
const ORDER_ATTRIBUTES: Record<string, string> = {
  ...NUMERIC_ATTRIBUTES,
  request_id: "t.request_id",
  status: "t.status",
  experiment_id: "t.experiment_id",
};
const SPAN_COLUMNS: Record<string, string> = { name: "s.name", type: "s.type", status: "s.status" };

export const TRACE_NAME_TAG = "mlflow.traceName";
export const SOURCE_RUN_METADATA = "mlflow.sourceRun";

const NUMERIC_OPS: readonly Comparator[] = ["=", "!=", ">", ">=", "<", "<="];
const STRING_OPS: readonly Comparator[] = ["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"];
const KEY_VALUE_OPS: readonly Comparator[] = ["=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"];
const LIKE_OPS: readonly Comparator[] = ["LIKE", "ILIKE"];

function fail(c: Clause, problem: string): never {
  const id = c.identifier;
  throw invalidParameter(`Invalid filter on '${id.type}.${id.key}': ${problem}`);
}

function need(c: Clause, allowed: readonly Comparator[]): void {
  if (!allowed.includes(c.comparator)) {
    fail(c, `comparator '${c.comparator}' is not supported; use one of ${allowed.join(", ")}`);
  }
}

function stringOf(c: Clause): string {
  if (c.value.kind === "string") return c.value.value;
  if (c.value.kind === "number") return c.value.text;
  return fail(c, "expected a quoted string value");
}

function numberOf(c: Clause): number {
  if (c.value.kind === "number") return c.value.value;
  if (c.value.kind === "string" && c.value.value.trim() !== "" && !Number.isNaN(Number(c.value.value))) return Number(c.value.value);
  return fail(c, "expected a numeric value");
}

/** `column op ?` for strings, with MLflow's case-sensitive LIKE on both engines. */
function compare(dialect: Dialect, column: string, c: Clause, params: SqlValue[]): string {
  const op = c.comparator;
  if (op === "IN" || op === "NOT IN") {
    if (c.value.kind !== "list") fail(c, "expected a list of quoted strings");
    const values = c.value.values;
    if (values.length === 0) return op === "IN" ? "1 = 0" : "1 = 1";
    params.push(...values);
    return `${column} ${op} (${values.map(() => "?").join(", ")})`;
  }
  const value = stringOf(c);
  if (op === "LIKE") {
    if (dialect === "sqlite") {
      params.push(likeToGlob(value));
      return `${column} GLOB ?`;
    }
    params.push(value);
    return `${column} LIKE ? ESCAPE ''`;
  }
  if (op === "ILIKE") {
    params.push(value);
    return dialect === "sqlite" ? `LOWER(${column}) LIKE LOWER(?)` : `${column} ILIKE ? ESCAPE ''`;
  }
  params.push(value);
  return `${column} ${op} ?`;
}

function keyValue(dialect: Dialect, table: "trace_tags" | "trace_request_metadata", c: Clause, params: SqlValue[]): string {
  need(c, KEY_VALUE_OPS);
  params.push(c.identifier.key);
  const exists = `EXISTS (SELECT 1 FROM ${table} kv WHERE kv.request_id = t.request_id AND kv.key = ?`;
  if (c.comparator === "IS NULL") return `NOT ${exists})`;
  if (c.comparator === "IS NOT NULL") return `${exists})`;
  return `${exists} AND ${compare(dialect, "kv.value", c, params)})`;
}

function spanClause(dialect: Dialect, c: Clause, params: SqlValue[]): string {
  const key = c.identifier.key;
  const exists = "EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.request_id AND ";
  const column = SPAN_COLUMNS[key];
  if (column) {
    need(c, STRING_OPS);
    return `${exists}${compare(dialect, column, c, params)})`;
  }
  if (key === "content") {
    need(c, LIKE_OPS);
    return `${exists}${compare(dialect, "s.content", c, params)})`;
  }
  if (key.startsWith("attributes.")) {
    // As MLflow does: the attribute's key and the pattern are matched inside the stored span JSON.
    need(c, STRING_OPS);
    const name = key.slice("attributes.".length).replace(/^`(.*)`$/, "$1");
    const pattern = { ...c, value: { kind: "string" as const, value: `%"${name}"${stringOf(c)}%`, pos: c.value.pos } };
    return `${exists}${compare(dialect, "s.content", pattern, params)})`;
  }
  return fail(c, "span filters support name, type, status, content and attributes.<key>");
}

function assessmentClause(dialect: Dialect, type: "feedback" | "expectation", c: Clause, params: SqlValue[]): string {
  params.push(type, c.identifier.key);
  const exists = "EXISTS (SELECT 1 FROM assessments a WHERE a.trace_id = t.request_id AND a.assessment_type = ? AND a.name = ? AND a.valid = 1";
  switch (c.comparator) {
    case "IS NULL":
      return `NOT ${exists})`;
    case "IS NOT NULL":
      return `${exists})`;
    case ">":
    case ">=":
    case "<":
    case "<=":
      params.push(numberOf(c));
      return `${exists} AND a.numeric_value ${c.comparator} ?)`;
    case "=":
    case "!=": {
      // The value is stored as JSON: 'yes' matches "yes", 1 matches 1, true matches true.
      const raw = stringOf(c);
      const asJson = c.value.kind === "string" && !/^(true|false|null|-?\d+(\.\d+)?)$/.test(raw) ? JSON.stringify(raw) : raw;
      params.push(asJson, JSON.stringify(raw));
      const match = "(a.value = ? OR a.value = ?)";
      return `${exists} AND ${c.comparator === "=" ? match : `NOT ${match}`})`;
    }
    case "LIKE":
    case "ILIKE":
      return `${exists} AND ${compare(dialect, "a.value", c, params)})`;
    default:
      return fail(c, `comparator '${c.comparator}' is not supported`);
  }
}

function attributeClause(dialect: Dialect, c: Clause, params: SqlValue[]): string {
  const key = c.identifier.key;
  const numeric = NUMERIC_ATTRIBUTES[key];
  if (numeric) {
    need(c, NUMERIC_OPS);
    params.push(numberOf(c));
    return `${numeric} ${c.comparator} ?`;
  }
  const column = STRING_ATTRIBUTES[key];
  if (column) {
    need(c, STRING_OPS);
    return compare(dialect, column, c, params);
  }
  if (key === "name") {
    return keyValue(dialect, "trace_tags", { ...c, identifier: { ...c.identifier, key: TRACE_NAME_TAG } }, params);
  }
  if (key === "run_id") {
    need(c, ["=", "!=", "IN", "NOT IN"]);
    // A trace belongs to a run through its source-run metadata or a link-to-run.
    const m: SqlValue[] = [];
    const inMeta = `EXISTS (SELECT 1 FROM trace_request_metadata kv WHERE kv.request_id = t.request_id AND kv.key = '${SOURCE_RUN_METADATA}' AND ${compare(dialect, "kv.value", { ...c, comparator: c.comparator === "!=" ? "=" : c.comparator === "NOT IN" ? "IN" : c.comparator }, m)})`;
    const l: SqlValue[] = [];
    const inLinks = `EXISTS (SELECT 1 FROM trace_run_links r WHERE r.request_id = t.request_id AND ${compare(dialect, "r.run_id", { ...c, comparator: c.comparator === "!=" ? "=" : c.comparator === "NOT IN" ? "IN" : c.comparator }, l)})`;
    params.push(...m, ...l);
    const either = `(${inMeta} OR ${inLinks})`;
    return c.comparator === "=" || c.comparator === "IN" ? either : `NOT ${either}`;
  }
  if (key === "text") {
    need(c, LIKE_OPS);
    return `EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.request_id AND ${compare(dialect, "s.content", c, params)})`;
  }
  return fail(c, `'${key}' is not a searchable trace attribute; use one of ${[...Object.keys(NUMERIC_ATTRIBUTES), ...Object.keys(STRING_ATTRIBUTES), "name", "run_id", "text"].join(", ")}`);
}

export interface CompiledTraceSearch {
  where: string;
  params: SqlValue[];
  order: string;
  orderParams: SqlValue[];
}

/** Compiles a trace filter and order_by list to SQL over `trace_info t`. */
export function compileTraceSearch(filter: string | undefined, orderBy: readonly string[] | undefined, dialect: Dialect): CompiledTraceSearch {
  const params: SqlValue[] = [];
  const parts: string[] = [];
  for (const c of parseFilter(filter, ENTITIES)) {
    const type = c.identifier.type as TraceEntity;
    if (type === "attribute") parts.push(attributeClause(dialect, c, params));
    else if (type === "tag") parts.push(keyValue(dialect, "trace_tags", c, params));
    else if (type === "metadata") parts.push(keyValue(dialect, "trace_request_metadata", c, params));
    else if (type === "span") parts.push(spanClause(dialect, c, params));
    else parts.push(assessmentClause(dialect, type, c, params));
  }
  const orderParams: SqlValue[] = [];
  const terms: string[] = [];
  const seen = new Set<string>();
  for (const raw of orderBy ?? []) {
    const o = parseOrderBy(raw, ENTITIES);
    const type = o.identifier.type as TraceEntity;
    let key = o.identifier.key;
    let expr: string;
    if (type === "attribute" && key !== "name") {
      const col = ORDER_ATTRIBUTES[key];
      if (!col) throw invalidParameter(`Invalid order_by clause '${raw}': '${key}' is not an attribute traces can be ordered by`);
      expr = col;
    } else if (type === "tag" || type === "metadata" || type === "attribute") {
      const table = type === "metadata" ? "trace_request_metadata" : "trace_tags";
      if (type === "attribute") key = TRACE_NAME_TAG;
      orderParams.push(key);
      expr = `(SELECT kv.value FROM ${table} kv WHERE kv.request_id = t.request_id AND kv.key = ?)`;
    } else {
      throw invalidParameter(`Invalid order_by clause '${raw}': traces can be ordered by attributes, tags and metadata`);
    }
    const id = `${type}.${key}`;
    if (seen.has(id)) throw invalidParameter(`\`order_by\` contains duplicate fields: ${JSON.stringify(orderBy)}`);
    seen.add(id);
    // NULLs last in either direction, as MLflow orders them.
    terms.push(`CASE WHEN ${expr} IS NULL THEN 1 ELSE 0 END`, `${expr} ${o.ascending ? "ASC" : "DESC"}`);
    if (expr.includes("?")) orderParams.push(key);
  }
  terms.push("t.timestamp_ms DESC", "t.request_id ASC");
  return { where: parts.length ? parts.join(" AND ") : "1 = 1", params, order: terms.join(", "), orderParams };
}
