import { invalidParameter } from "../../errors.js";
import { checkDistinct, clauseError, compileFilter, NUMERIC_OPS, parseOrderBy, type ClauseWriter, type Comparator, type Comparison, type Field, type SearchTable } from "../../search/index.js";
import type { Dialect, SqlValue } from "../../store/index.js";

/**
 * What MLflow's trace search (`SearchTraceUtils`) lets a filter name, as SQL
 * over `trace_info t`: `trace.status = 'OK'`, `trace.timestamp_ms > 1700000000000`,
 * `tags.env = 'prod'`, `metadata.mlflow.user = 'ann'`, `span.name = 'llm'`,
 * `span.attributes.model LIKE '%gpt%'`, `trace.text ILIKE '%refund%'`,
 * `feedback.quality >= 0.5`; order_by on attributes, tags and metadata. The
 * grammar and the comparisons are `src/search/`'s.
 */

type TraceEntity = "attribute" | "tag" | "metadata" | "span" | "feedback" | "expectation";

const TRACE_PREFIXES: Readonly<Record<string, TraceEntity>> = {
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

const STRING_OPS: readonly Comparator[] = ["=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"];
const KEY_VALUE_OPS: readonly Comparator[] = ["=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"];
const LIKE_OPS: readonly Comparator[] = ["LIKE", "ILIKE"];
const SPANS = "spans s WHERE s.trace_id = t.request_id";

function keyValue(table: "trace_tags" | "trace_request_metadata", key: string, label: string): Field {
  return { kind: "exists", from: `${table} kv WHERE kv.request_id = t.request_id AND kv.key = ?`, fromParams: [key], value: "kv.value", type: "string", ops: KEY_VALUE_OPS, coerce: true, label };
}

const inSpans = (value: string, ops: readonly Comparator[], label: string): Field => ({ kind: "exists", from: SPANS, fromParams: [], value, type: "string", ops, coerce: true, label });

/** A trace belongs to a run through its source-run metadata or a link-to-run. */
const runIdField: Field = {
  kind: "custom",
  ops: ["=", "!=", "IN", "NOT IN"],
  compile(c, w) {
    const positive = c.comparator === "!=" ? "=" : c.comparator === "NOT IN" ? "IN" : c.comparator;
    const value = c.value.kind === "list" ? c.value.values : w.stringValue(c, true);
    const inMeta = `EXISTS (SELECT 1 FROM trace_request_metadata kv WHERE kv.request_id = t.request_id AND kv.key = '${SOURCE_RUN_METADATA}' AND ${w.string("kv.value", positive, value)})`;
    const inLinks = `EXISTS (SELECT 1 FROM trace_run_links r WHERE r.request_id = t.request_id AND ${w.string("r.run_id", positive, value)})`;
    const either = `(${inMeta} OR ${inLinks})`;
    return positive === c.comparator ? either : `NOT ${either}`;
  },
};

/** As MLflow does: the attribute's key and the pattern are matched inside the stored span JSON. */
function spanAttributeField(name: string): Field {
  return {
    kind: "custom",
    ops: STRING_OPS,
    label: "span attributes",
    compile: (c, w) => `EXISTS (SELECT 1 FROM ${SPANS} AND ${w.string("s.content", c.comparator, `%"${name}"${w.stringValue(c, true)}%`)})`,
  };
}

function assessmentField(type: "feedback" | "expectation", name: string): Field {
  return {
    kind: "custom",
    ops: ["=", "!=", ">", ">=", "<", "<=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"],
    compile(c: Comparison, w: ClauseWriter) {
      w.params.push(type, name);
      const exists = "EXISTS (SELECT 1 FROM assessments a WHERE a.trace_id = t.request_id AND a.assessment_type = ? AND a.name = ? AND a.valid = 1";
      switch (c.comparator) {
        case "IS NULL":
          return `NOT ${exists})`;
        case "IS NOT NULL":
          return `${exists})`;
        case "=":
        case "!=": {
          // The value is stored as JSON: 'yes' matches "yes", 1 matches 1, true matches true.
          const raw = w.stringValue(c, true);
          const asJson = c.value.kind === "string" && !/^(true|false|null|-?\d+(\.\d+)?)$/.test(raw) ? JSON.stringify(raw) : raw;
          w.params.push(asJson, JSON.stringify(raw));
          const match = "(a.value = ? OR a.value = ?)";
          return `${exists} AND ${c.comparator === "=" ? match : `NOT ${match}`})`;
        }
        case "LIKE":
        case "ILIKE":
          return `${exists} AND ${w.string("a.value", c.comparator, w.stringValue(c, true))})`;
        default:
          return `${exists} AND ${w.number("a.numeric_value", c.comparator, w.numberValue(c, true))})`;
      }
    },
  };
}

/** The trace search table. */
export const TRACE_SEARCH: SearchTable<TraceEntity> = {
  prefixes: TRACE_PREFIXES,
  field(id) {
    const key = id.key;
    switch (id.entity) {
      case "tag":
        return keyValue("trace_tags", key, "tags");
      case "metadata":
        return keyValue("trace_request_metadata", key, "metadata");
      case "feedback":
      case "expectation":
        return assessmentField(id.entity, key);
      case "span": {
        const column = SPAN_COLUMNS[key];
        if (column) return inSpans(column, STRING_OPS, `span ${key}`);
        if (key === "content") return inSpans("s.content", LIKE_OPS, "span content");
        if (key.startsWith("attributes.")) return spanAttributeField(key.slice("attributes.".length));
        throw clauseError(id, "span filters support name, type, status, content and attributes.<key>");
      }
      case "attribute": {
        const numeric = NUMERIC_ATTRIBUTES[key];
        if (numeric) return { kind: "column", sql: numeric, type: "number", ops: NUMERIC_OPS, coerce: true };
        const column = STRING_ATTRIBUTES[key];
        if (column) return { kind: "column", sql: column, type: "string", ops: STRING_OPS, coerce: true };
        if (key === "name") return keyValue("trace_tags", TRACE_NAME_TAG, "the trace name");
        if (key === "run_id") return runIdField;
        if (key === "text") return inSpans("s.content", LIKE_OPS, "trace text");
        throw clauseError(id, `'${key}' is not a searchable trace attribute; use one of ${[...Object.keys(NUMERIC_ATTRIBUTES), ...Object.keys(STRING_ATTRIBUTES), "name", "run_id", "text"].join(", ")}`);
      }
    }
  },
};

export interface CompiledTraceSearch {
  where: string;
  params: SqlValue[];
  order: string;
  orderParams: SqlValue[];
}

/** Compiles a trace filter and order_by list to SQL over `trace_info t`. */
export function compileTraceSearch(filter: string | undefined, orderBy: readonly string[] | undefined, dialect: Dialect): CompiledTraceSearch {
  const { where, params } = compileFilter(TRACE_SEARCH, filter, dialect);
  const orderParams: SqlValue[] = [];
  const terms: string[] = [];
  const clauses = (orderBy ?? []).map((raw) => parseOrderBy(raw, TRACE_PREFIXES));
  const named = (entity: TraceEntity, key: string): { entity: TraceEntity; key: string } => (entity === "attribute" && key === "name" ? { entity: "tag", key: TRACE_NAME_TAG } : { entity, key });
  for (const o of clauses) {
    const { entity, key } = named(o.identifier.entity, o.identifier.key);
    let expr: string;
    if (entity === "attribute") {
      const col = ORDER_ATTRIBUTES[key];
      if (!col) throw invalidParameter(`Invalid order_by clause '${o.text}': '${key}' is not an attribute traces can be ordered by`);
      expr = col;
    } else if (entity === "tag" || entity === "metadata") {
      expr = `(SELECT kv.value FROM ${entity === "metadata" ? "trace_request_metadata" : "trace_tags"} kv WHERE kv.request_id = t.request_id AND kv.key = ?)`;
      // The expression appears twice below.
      orderParams.push(key, key);
    } else {
      throw invalidParameter(`Invalid order_by clause '${o.text}': traces can be ordered by attributes, tags and metadata`);
    }
    // NULLs last in either direction, as MLflow orders them.
    terms.push(`CASE WHEN ${expr} IS NULL THEN 1 ELSE 0 END`, `${expr} ${o.ascending ? "ASC" : "DESC"}`);
  }
  checkDistinct(clauses, (o) => {
    const n = named(o.identifier.entity, o.identifier.key);
    return `${n.entity}.${n.key}`;
  }, orderBy ?? []);
  terms.push("t.timestamp_ms DESC", "t.request_id ASC");
  return { where, params, order: terms.join(", "), orderParams };
}
