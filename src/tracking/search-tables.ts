import { invalidParameter } from "../errors.js";
import {
  NULL_OPS,
  NUMERIC_OPS,
  SET_OPS,
  STRING_OPS,
  clauseError,
  compileClauses,
  compileFilter,
  parseOrderBy,
  unknownAttribute,
  type Field,
  type OrderTerm,
  type SearchTable,
} from "../search/index.js";
import type { Dialect, SqlValue } from "../store/index.js";
import type { ExperimentQueryCompiler } from "./experiments.js";

/**
 * What runs and experiments let MLflow's search language name (SQL over
 * `runs r` and `experiments e`), and how a run search is planned: the
 * grammar and the comparison SQL are `src/search/`'s.
 */

// ---------------------------------------------------------------- runs

type RunEntity = "metric" | "param" | "tag" | "attribute" | "dataset";

const RUN_PREFIXES: Readonly<Record<string, RunEntity>> = {
  metric: "metric",
  metrics: "metric",
  param: "param",
  params: "param",
  parameter: "param",
  parameters: "param",
  tag: "tag",
  tags: "tag",
  attribute: "attribute",
  attributes: "attribute",
  attr: "attribute",
  run: "attribute",
  dataset: "dataset",
  datasets: "dataset",
};

/** Run attributes users may search and sort on, mapped to columns of `runs r`. */
const RUN_STRING_ATTRIBUTES: Record<string, string> = {
  run_id: "r.run_uuid",
  run_name: "r.name",
  status: "r.status",
  user_id: "r.user_id",
  artifact_uri: "r.artifact_uri",
  lifecycle_stage: "r.lifecycle_stage",
};
const RUN_NUMERIC_ATTRIBUTES: Record<string, string> = {
  start_time: "r.start_time",
  end_time: "r.end_time",
  created: "r.start_time",
};
/** MLflow's spellings from the UI (`SearchUtils.translate_key_alias`). */
const RUN_ATTRIBUTE_ALIASES: Record<string, string> = { "run name": "run_name", "Run name": "run_name", "Run Name": "run_name", Created: "created" };
const DATASET_FIELDS = ["name", "digest", "context"] as const;

const runAttribute = (key: string): string => RUN_ATTRIBUTE_ALIASES[key] ?? key;

function keyValueTable(table: "params" | "tags", key: string): Field {
  return { kind: "exists", from: `${table} fx WHERE fx.run_uuid = r.run_uuid AND fx.key = ?`, fromParams: [key], value: "fx.value", type: "string", ops: [...STRING_OPS, ...NULL_OPS], label: table };
}

function datasetField(field: (typeof DATASET_FIELDS)[number]): Field {
  const column = field === "context" ? "dt.value" : `dd.${field}`;
  const join =
    field === "context"
      ? "JOIN input_tags dt ON dt.input_uuid = di.input_uuid AND dt.name = 'mlflow.data.context'"
      : "JOIN datasets dd ON dd.dataset_uuid = di.source_id";
  return {
    kind: "custom",
    ops: [...STRING_OPS, ...SET_OPS],
    label: "datasets",
    compile: (c, w) => {
      const cmp = c.value.kind === "list" ? w.string(column, c.comparator, c.value.values) : w.string(column, c.comparator, w.stringValue(c));
      return `EXISTS (SELECT 1 FROM inputs di ${join} WHERE di.destination_type = 'RUN' AND di.destination_id = r.run_uuid AND di.source_type = 'DATASET' AND ${cmp})`;
    },
  };
}

/** The run search table: `metrics.`, `params.`, `tags.`, `datasets.` and run attributes. */
export const RUN_SEARCH: SearchTable<RunEntity> = {
  prefixes: RUN_PREFIXES,
  field(id) {
    switch (id.entity) {
      case "metric":
        return {
          kind: "exists",
          from: "latest_metrics fm WHERE fm.run_uuid = r.run_uuid AND fm.key = ? AND fm.is_nan = 0",
          fromParams: [id.key],
          value: "fm.value",
          type: "number",
          ops: NUMERIC_OPS,
          label: "metrics",
        };
      case "param":
        return keyValueTable("params", id.key);
      case "tag":
        return keyValueTable("tags", id.key);
      case "dataset": {
        const field = DATASET_FIELDS.find((f) => f === id.key);
        if (!field) throw clauseError(id, `invalid dataset key '${id.key}'; valid keys are ${DATASET_FIELDS.map((f) => `'${f}'`).join(", ")}`);
        return datasetField(field);
      }
      case "attribute": {
        const name = runAttribute(id.key);
        const numeric = RUN_NUMERIC_ATTRIBUTES[name];
        if (numeric) return { kind: "column", sql: numeric, type: "number", ops: NUMERIC_OPS };
        const column = RUN_STRING_ATTRIBUTES[name];
        if (!column) throw unknownAttribute(id, [...Object.keys(RUN_STRING_ATTRIBUTES), ...Object.keys(RUN_NUMERIC_ATTRIBUTES)]);
        return { kind: "column", sql: column, type: "string", ops: [...STRING_OPS, ...SET_OPS] };
      }
    }
  },
};

/**
 * One slice of a run search's result, in order. A search ordered by a
 * metric, param or tag is split into slices (runs with a value, then NaN,
 * then runs without the key) so the first slice can walk the `(key, value)`
 * index in order and stop after one page instead of sorting every run.
 * Parameters are bound in the order `fromParams`, `whereParams`.
 */
export interface RunSearchSegment {
  /** FROM clause (tables and joins); `runs r` is always present. */
  from: string;
  fromParams: SqlValue[];
  /** Conditions of this slice and of the filter. */
  where: string;
  whereParams: SqlValue[];
  order: string;
}

export interface CompiledRunSearch {
  segments: RunSearchSegment[];
}

interface OrderTerms {
  joins: string[];
  joinParams: SqlValue[];
  terms: string[];
  usesStartTime: boolean;
}

/** Order terms for a clause other than the keyed first one, through a LEFT JOIN. */
function compileRunOrder(o: OrderTerm<RunEntity>, n: number, out: OrderTerms): void {
  const dir = o.ascending ? "ASC" : "DESC";
  const { entity, key } = o.identifier;
  if (entity === "metric") {
    const a = `om${n}`;
    out.joins.push(`LEFT JOIN latest_metrics ${a} ON ${a}.run_uuid = r.run_uuid AND ${a}.key = ?`);
    out.joinParams.push(key);
    // Like MLflow: numbers first (in the requested direction), then NaN, then runs without the metric.
    out.terms.push(`CASE WHEN ${a}.is_nan = 1 THEN 1 WHEN ${a}.value IS NULL THEN 2 ELSE 0 END`, `${a}.value ${dir}`);
    return;
  }
  if (entity === "param" || entity === "tag") {
    const a = `o${entity[0]}${n}`;
    out.joins.push(`LEFT JOIN ${entity === "param" ? "params" : "tags"} ${a} ON ${a}.run_uuid = r.run_uuid AND ${a}.key = ?`);
    out.joinParams.push(key);
    out.terms.push(`CASE WHEN ${a}.value IS NULL THEN 1 ELSE 0 END`, `${a}.value ${dir}`);
    return;
  }
  if (entity === "dataset") throw invalidParameter(`Invalid order_by clause '${o.text}': ordering by datasets is not supported`);
  const name = runAttribute(key);
  const column = RUN_NUMERIC_ATTRIBUTES[name] ?? RUN_STRING_ATTRIBUTES[name] ?? (name === "experiment_id" ? "r.experiment_id" : undefined);
  if (!column) throw invalidParameter(`Invalid order_by clause '${o.text}': '${key}' is not a run attribute you can order by`);
  out.terms.push(`CASE WHEN ${column} IS NULL THEN 1 ELSE 0 END`, `${column} ${dir}`);
  out.usesStartTime ||= column === "r.start_time";
}

/**
 * Compiles a run filter and order_by list for `runs r` into ordered
 * segments (see {@link RunSearchSegment}); the store adds the experiment
 * and lifecycle conditions and pages across the segments.
 */
export function compileRunSearch(filter: string | undefined, orderBy: readonly string[] | undefined, dialect: Dialect): CompiledRunSearch {
  // Equality tests usually reject the most runs, so they are checked first (AND commutes; the
  // database evaluates the EXISTS tests in the order written for each candidate run).
  const all = compileClauses(RUN_SEARCH, filter, dialect);
  const compiled = [...all.filter((c) => c.comparison.comparator === "="), ...all.filter((c) => c.comparison.comparator !== "=")];
  const conditions = compiled.map((c) => c.sql);
  const filterParams: SqlValue[] = compiled.flatMap((c) => c.params);
  const clauses = (orderBy ?? []).map((raw) => parseOrderBy(raw, RUN_PREFIXES));
  const first = clauses[0];
  const keyedEntity = first?.identifier.entity;
  const keyed = keyedEntity === "metric" || keyedEntity === "param" || keyedEntity === "tag" ? first : undefined;

  const rest: OrderTerms = { joins: [], joinParams: [], terms: [], usesStartTime: false };
  clauses.forEach((c, n) => {
    if (c !== keyed) compileRunOrder(c, n, rest);
  });
  const tail = [...rest.terms, ...(rest.usesStartTime ? [] : ["r.start_time DESC"]), "r.run_uuid ASC"];
  const joins = rest.joins.join(" ");
  const where = (extra: string[]) => [...extra, ...conditions].join(" AND ") || "1 = 1";

  if (!keyed) {
    return { segments: [{ from: `runs r ${joins}`, fromParams: rest.joinParams, where: where([]), whereParams: filterParams, order: tail.join(", ") }] };
  }
  const key = keyed.identifier.key;
  const dir = keyed.ascending ? "ASC" : "DESC";
  const isMetric = keyed.identifier.entity === "metric";
  const table = isMetric ? "latest_metrics" : keyed.identifier.entity === "param" ? "params" : "tags";
  // CROSS JOIN keeps the keyed table as the outer loop on SQLite, so rows arrive in index order.
  const from = `${table} k0 CROSS JOIN runs r ${joins}`;
  const segments: RunSearchSegment[] = [];
  const valued = isMetric ? ["k0.key = ?", "k0.is_nan = 0", "r.run_uuid = k0.run_uuid"] : ["k0.key = ?", "r.run_uuid = k0.run_uuid"];
  segments.push({ from, fromParams: rest.joinParams, where: where(valued), whereParams: [key, ...filterParams], order: [`k0.value ${dir}`, ...tail].join(", ") });
  if (isMetric) {
    segments.push({ from, fromParams: rest.joinParams, where: where(["k0.key = ?", "k0.is_nan = 1", "r.run_uuid = k0.run_uuid"]), whereParams: [key, ...filterParams], order: tail.join(", ") });
  }
  segments.push({
    from: `runs r ${joins}`,
    fromParams: rest.joinParams,
    where: where([`NOT EXISTS (SELECT 1 FROM ${table} kx WHERE kx.run_uuid = r.run_uuid AND kx.key = ?)`]),
    whereParams: [key, ...filterParams],
    order: tail.join(", "),
  });
  return { segments };
}

// ---------------------------------------------------------------- experiments

type ExperimentEntity = "tag" | "attribute";

const EXPERIMENT_PREFIXES: Readonly<Record<string, ExperimentEntity>> = {
  tag: "tag",
  tags: "tag",
  attribute: "attribute",
  attributes: "attribute",
  attr: "attribute",
};
const EXPERIMENT_STRING_ATTRIBUTES: Record<string, string> = { name: "e.name" };
const EXPERIMENT_NUMERIC_ATTRIBUTES: Record<string, string> = {
  creation_time: "e.creation_time",
  last_update_time: "e.last_update_time",
  experiment_id: "e.experiment_id",
};

/** The experiment search table: `tags.` and the name, id and time attributes. */
export const EXPERIMENT_SEARCH: SearchTable<ExperimentEntity> = {
  prefixes: EXPERIMENT_PREFIXES,
  field(id) {
    if (id.entity === "tag") {
      return {
        kind: "exists",
        from: "experiment_tags ft WHERE ft.experiment_id = e.experiment_id AND ft.key = ?",
        fromParams: [id.key],
        value: "ft.value",
        type: "string",
        ops: [...STRING_OPS, ...NULL_OPS],
        label: "tags",
      };
    }
    const numeric = EXPERIMENT_NUMERIC_ATTRIBUTES[id.key];
    if (numeric) return { kind: "column", sql: numeric, type: "number", ops: NUMERIC_OPS };
    const column = EXPERIMENT_STRING_ATTRIBUTES[id.key];
    if (!column) throw unknownAttribute(id, [...Object.keys(EXPERIMENT_STRING_ATTRIBUTES), ...Object.keys(EXPERIMENT_NUMERIC_ATTRIBUTES)]);
    return { kind: "column", sql: column, type: "string", ops: [...STRING_OPS, ...SET_OPS] };
  },
};

/** Compiles an experiment filter and order_by list for `experiments e`. */
export function compileExperimentQuery(filter: string | undefined, orderBy: readonly string[] | undefined, dialect: Dialect): { where: string; params: SqlValue[]; order: string } {
  const { where, params } = compileFilter(EXPERIMENT_SEARCH, filter, dialect);
  const terms: string[] = [];
  let hasId = false;
  for (const raw of orderBy ?? []) {
    const o = parseOrderBy(raw, EXPERIMENT_PREFIXES);
    const key = o.identifier.key;
    const column = o.identifier.entity === "attribute" ? (EXPERIMENT_STRING_ATTRIBUTES[key] ?? EXPERIMENT_NUMERIC_ATTRIBUTES[key]) : undefined;
    if (!column) {
      throw invalidParameter(`Invalid order_by clause '${raw}': experiments can be ordered by name, experiment_id, creation_time or last_update_time`);
    }
    terms.push(`${column} ${o.ascending ? "ASC" : "DESC"}`);
    hasId ||= column === "e.experiment_id";
  }
  if (terms.length === 0) terms.push("e.creation_time DESC");
  if (!hasId) terms.push("e.experiment_id ASC");
  return { where, params, order: terms.join(", ") };
}

/** The experiment compiler for one dialect, in the shape {@link ExperimentService} takes. */
export function experimentCompiler(dialect: Dialect): ExperimentQueryCompiler {
  return (filter, orderBy) => {
    const q = compileExperimentQuery(filter, orderBy, dialect);
    return { where: q.where, params: q.params as (string | number)[], order: q.order };
  };
}
