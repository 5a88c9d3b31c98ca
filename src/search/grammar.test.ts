import { describe, expect, it } from "vitest";
import { MlflowError } from "../errors.js";
import { LOGGED_MODEL_SEARCH, MODEL_VERSION_SEARCH, REGISTERED_MODEL_SEARCH } from "../registry/search-tables.js";
import type { Dialect } from "../store/index.js";
import { EXPERIMENT_SEARCH, RUN_SEARCH } from "../tracking/search-tables.js";
import { TRACE_SEARCH } from "../tracking/traces/search-table.js";
import { compileFilter, parseFilter, parseIdentifier, parseOrderBy, type SearchTable } from "./index.js";

/**
 * MLflow's search language, case by case (the edge cases of MLflow's search
 * docs and `search_utils.py`), through the one parser and compiler and every
 * entity's table.
 */

const TABLES: Record<string, SearchTable> = {
  runs: RUN_SEARCH,
  experiments: EXPERIMENT_SEARCH,
  "registered models": REGISTERED_MODEL_SEARCH,
  "model versions": MODEL_VERSION_SEARCH,
  "logged models": LOGGED_MODEL_SEARCH,
  traces: TRACE_SEARCH,
};

/** [filter, clauses as `entity:key comparator value`] on the run prefixes. */
const PARSES: [string, string[]][] = [
  ["", []],
  ["   ", []],
  ["metrics.rmse < 1 and params.model = 'tree'", ["metric:rmse < 1", "param:model = 'tree'"]],
  ["metrics.acc >= -1.5e-3 AND metrics.n != +2", ["metric:acc >= -0.0015", "metric:n != 2"]],
  ["metrics.acc > .5", ["metric:acc > 0.5"]],
  // every prefix alias
  ["metric.a = 1 and metrics.b = 1", ["metric:a = 1", "metric:b = 1"]],
  ["param.a = 'x' and params.b = 'x' and parameter.c = 'x' and parameters.d = 'x'", ["param:a = 'x'", "param:b = 'x'", "param:c = 'x'", "param:d = 'x'"]],
  ["tag.a = 'x' and tags.b = 'x'", ["tag:a = 'x'", "tag:b = 'x'"]],
  ["attribute.status = 'x' and attributes.status = 'x' and attr.status = 'x' and run.status = 'x' and status = 'x'", Array(5).fill("attribute:status = 'x'")],
  ["dataset.name = 'd' and datasets.digest = 'e'", ["dataset:name = 'd'", "dataset:digest = 'e'"]],
  ["METRICS.acc > 1", ["metric:acc > 1"]],
  // quoted identifiers: backticks, double quotes, a quoted prefix, dotted and hyphenated keys
  ["tags.`mlflow.source.git.commit` = 'abc'", ["tag:mlflow.source.git.commit = 'abc'"]],
  ['metrics."my metric" > 1', ["metric:my metric > 1"]],
  ["`metrics`.acc > 1", ["metric:acc > 1"]],
  ["`run name` = 'x'", ["attribute:run name = 'x'"]],
  ['"Run name" = \'x\'', ["attribute:Run name = 'x'"]],
  ["metrics.val.loss < 2 and tags.v1.0 = 'x' and tags.a.`b c` = 'y'", ["metric:val.loss < 2", "tag:v1.0 = 'x'", "tag:a.b c = 'y'"]],
  ["tags.my-tag = 'x' and tags.2fa = 'y' and metrics.1 > 0", ["tag:my-tag = 'x'", "tag:2fa = 'y'", "metric:1 > 0"]],
  // comparators, in any case; == and <> as MLflow's = and !=
  ["params.a like 'x%' and params.b ILike '%Y' and params.c == 'z' and params.d <> 'w'", ["param:a LIKE 'x%'", "param:b ILIKE '%Y'", "param:c = 'z'", "param:d != 'w'"]],
  ["run_id IN ('a', 'b') and status not in ('FAILED')", ["attribute:run_id IN [a,b]", "attribute:status NOT IN [FAILED]"]],
  ["tags.x IS NULL and params.y is not null", ["tag:x IS NULL", "param:y IS NOT NULL"]],
  // quoted values: both quote styles, doubled quotes, escaped quotes, backslashes kept
  [`params.a = "double" and params.b = 'it''s' and params.c = 'it\\'s' and params.d = 'C:\\models\\x' and params.e = 'a\\\\'`, ["param:a = 'double'", "param:b = 'it's'", "param:c = 'it's'", "param:d = 'C:\\models\\x'", "param:e = 'a\\'"]],
  ["attributes.start_time >= 1664067852747 and created > 0 and `Created` < 5", ["attribute:start_time >= 1664067852747", "attribute:created > 0", "attribute:Created < 5"]],
];

function show(filter: string): string[] {
  return parseFilter(filter, RUN_SEARCH.prefixes).map(({ identifier: id, comparator, value: v }) => {
    const value = v.kind === "number" ? String(v.value) : v.kind === "string" ? `'${v.value}'` : v.kind === "list" ? `[${v.values.join(",")}]` : "";
    return `${id.entity}:${id.key} ${comparator}${value ? ` ${value}` : ""}`;
  });
}

/** [table, filter, a part of the message]: each is MLflow's INVALID_PARAMETER_VALUE, HTTP 400. */
const REFUSALS: [string, string, string][] = [
  // syntax
  ["runs", "metrics.a > 1 or params.b = 'x'", "'OR' is not supported"],
  ["runs", "metrics.a > 1 and", "at the end"],
  ["runs", "metrics.a 1", "position 10 (near '1')"],
  ["runs", "metrics.a > 1 # 2", "unexpected character '#' at position 14"],
  ["runs", "params.a = 'open", "unterminated quoted text"],
  ["runs", "metrics.a >", "expected a value"],
  ["runs", "metrics. > 1", "expected a key name"],
  ["runs", "status IN 'a'", "expected '(' after IN"],
  ["runs", "status IN ()", "expected a quoted string in the list"],
  ["runs", "status IN ('a' 'b')", "expected ',' or ')'"],
  ["runs", "run_id NOT ('a')", "expected 'IN' after 'NOT'"],
  ["runs", "tags.a IS EMPTY", "expected 'NULL' or 'NOT NULL'"],
  ["runs", "tags.a = 'x' tags.b = 'y'", "expected 'AND'"],
  ["runs", "foo.bar = 'x'", "invalid entity type 'foo'"],
  ["runs", "(metrics.a > 1)", "expected an identifier"],
  ["registered models", "name = 'a\u0000b'", "NUL characters are not allowed"],
  ["traces", "tags.`k\u0000` = 'x'", "NUL characters are not allowed"],
  // what each entity allows
  ["runs", "attributes.nope = 'x'", "Invalid attribute key 'nope' specified"],
  ["runs", "datasets.size = 'x'", "invalid dataset key 'size'"],
  ["runs", "metrics.acc LIKE '%'", "Invalid comparator 'LIKE' for metrics"],
  ["runs", "metrics.acc IS NULL", "Invalid comparator 'IS NULL'"],
  ["runs", "params.lr > '0.1'", "Invalid comparator '>' for params"],
  ["runs", "start_time LIKE '1%'", "Invalid comparator 'LIKE' for attribute 'start_time'"],
  ["runs", "status > 'a'", "Invalid comparator '>'"],
  ["runs", "tags.t IN ('a')", "Invalid comparator 'IN' for tags"],
  // numeric vs string values
  ["runs", "metrics.acc > 'high'", "expected a numeric value but found 'high'"],
  ["runs", "start_time > '5'", "expected a numeric value"],
  ["runs", "params.lr = 0.1", "expected a quoted string value"],
  ["runs", "status = 1", "expected a quoted string value"],
  ["runs", "datasets.name = 1", "expected a quoted string value"],
  ["experiments", "metrics.a > 1", "invalid entity type 'metrics'"],
  ["experiments", "run_id = 'x'", "Invalid attribute key 'run_id'"],
  ["experiments", "creation_time > 'x'", "expected a numeric value"],
  ["registered models", "params.p = 'x'", "Registered models can be filtered on name and tags"],
  ["registered models", "run_id = 'x'", "Invalid attribute key 'run_id'"],
  ["registered models", "name > 'a'", "Invalid comparator '>'"],
  ["registered models", "tags.t IS NULL", "Invalid comparator 'IS NULL'"],
  ["registered models", "name = 1", "expected a quoted string value"],
  ["model versions", "metrics.acc > 1", "Model versions can be filtered on attributes and tags"],
  ["model versions", "version_number LIKE '1'", "Invalid comparator 'LIKE'"],
  ["model versions", "version_number > 'x'", "expected a numeric value"],
  ["model versions", "bogus = 'x'", "Invalid attribute key 'bogus'"],
  ["logged models", "metrics.acc > 1", "Filtering logged models on metrics is not supported"],
  ["logged models", "status = 'SHINY'", "Invalid status filter 'SHINY'"],
  ["logged models", "status > 'READY'", "Invalid status filter 'READY'"],
  ["logged models", "creation_timestamp > 'soon'", "expected a numeric value"],
  ["traces", "trace.bogus = 1", "'bogus' is not a searchable trace attribute"],
  ["traces", "span.bogus = 'x'", "span filters support name, type, status, content"],
  ["traces", "tags.a IN ('x')", "Invalid comparator 'IN' for tags"],
  ["traces", "trace.text = 'x'", "Invalid comparator '=' for trace text"],
  ["traces", "trace.timestamp_ms > 'soon'", "expected a numeric value"],
  ["traces", "feedback.q IN ('a')", "Invalid comparator 'IN'"],
];

/** [table, filter, dialect, SQL, parameters]. */
const COMPILES: [string, string, Dialect, string, unknown[]][] = [
  // MLflow's LIKE is case-sensitive with no escape character, on both engines
  ["runs", "params.p LIKE 'A%_*'", "sqlite", "EXISTS (SELECT 1 FROM params fx WHERE fx.run_uuid = r.run_uuid AND fx.key = ? AND fx.value GLOB ?)", ["p", "A*?[*]"]],
  ["runs", "params.p LIKE 'A%'", "postgres", "EXISTS (SELECT 1 FROM params fx WHERE fx.run_uuid = r.run_uuid AND fx.key = ? AND fx.value LIKE ? ESCAPE '')", ["p", "A%"]],
  ["runs", "run_name ILIKE 'a%'", "sqlite", "LOWER(r.name) LIKE LOWER(?)", ["a%"]],
  ["runs", "run_name ILIKE 'a%'", "postgres", "r.name ILIKE ? ESCAPE ''", ["a%"]],
  ["runs", "`Run Name` = 'x' AND Created > 5", "sqlite", "r.name = ? AND r.start_time > ?", ["x", 5]],
  ["runs", "metrics.acc > 0.9", "sqlite", "EXISTS (SELECT 1 FROM latest_metrics fm WHERE fm.run_uuid = r.run_uuid AND fm.key = ? AND fm.is_nan = 0 AND fm.value > ?)", ["acc", 0.9]],
  ["runs", "tags.t IS NULL", "sqlite", "NOT EXISTS (SELECT 1 FROM tags fx WHERE fx.run_uuid = r.run_uuid AND fx.key = ?)", ["t"]],
  ["runs", "params.p IS NOT NULL", "postgres", "EXISTS (SELECT 1 FROM params fx WHERE fx.run_uuid = r.run_uuid AND fx.key = ?)", ["p"]],
  // a run's `!=` on a tag needs the tag; the registry's matches models without it too
  ["runs", "tags.t != 'x'", "sqlite", "EXISTS (SELECT 1 FROM tags fx WHERE fx.run_uuid = r.run_uuid AND fx.key = ? AND fx.value != ?)", ["t", "x"]],
  ["registered models", "tags.t != 'x'", "sqlite", "NOT EXISTS (SELECT 1 FROM registered_model_tags t WHERE t.name = rm.name AND t.key = ? AND t.value = ?)", ["t", "x"]],
  ["runs", "attributes.run_id IN ('a', 'b') AND status NOT IN ('FAILED')", "postgres", "r.run_uuid IN (?, ?) AND r.status NOT IN (?)", ["a", "b", "FAILED"]],
  [
    "runs",
    "datasets.context IN ('train')",
    "sqlite",
    "EXISTS (SELECT 1 FROM inputs di JOIN input_tags dt ON dt.input_uuid = di.input_uuid AND dt.name = 'mlflow.data.context' WHERE di.destination_type = 'RUN' AND di.destination_id = r.run_uuid AND di.source_type = 'DATASET' AND dt.value IN (?))",
    ["train"],
  ],
  ["experiments", "name LIKE 'a%' and tags.team = 'x' and creation_time > 5", "sqlite", "e.name GLOB ? AND EXISTS (SELECT 1 FROM experiment_tags ft WHERE ft.experiment_id = e.experiment_id AND ft.key = ? AND ft.value = ?) AND e.creation_time > ?", ["a*", "team", "x", 5]],
  // numbers in quotes count for the registry's numeric attributes, numbers for the traces' strings
  ["model versions", "version_number = '2' and run_id = 'r'", "postgres", "mv.version = ? AND mv.run_id = ?", [2, "r"]],
  ["logged models", "status = 'READY' and params.alpha IN ('0.1')", "sqlite", "lm.status = ? AND EXISTS (SELECT 1 FROM logged_model_params x WHERE x.model_id = lm.model_id AND x.key = ? AND x.value IN (?))", [2, "alpha", "0.1"]],
  ["traces", "tags.n = 1 and trace.timestamp_ms > '10'", "sqlite", "EXISTS (SELECT 1 FROM trace_tags kv WHERE kv.request_id = t.request_id AND kv.key = ? AND kv.value = ?) AND t.timestamp_ms > ?", ["n", "1", 10]],
  ["traces", "span.name = 'llm'", "postgres", "EXISTS (SELECT 1 FROM spans s WHERE s.trace_id = t.request_id AND s.name = ?)", ["llm"]],
  // user text only as parameters
  ["runs", "params.`x'); DROP TABLE runs; --` = 'y'", "sqlite", "EXISTS (SELECT 1 FROM params fx WHERE fx.run_uuid = r.run_uuid AND fx.key = ? AND fx.value = ?)", ["x'); DROP TABLE runs; --", "y"]],
];

describe("search grammar", () => {
  it.each(PARSES)("parses %j", (filter, clauses) => {
    expect(show(filter)).toEqual(clauses);
  });

  it.each(REFUSALS)("%s: refuses %j with INVALID_PARAMETER_VALUE (400)", (table, filter, message) => {
    let err: unknown;
    try {
      compileFilter(TABLES[table]!, filter, "sqlite");
    } catch (e) {
      err = e;
    }
    expect(err, filter).toBeInstanceOf(MlflowError);
    expect((err as MlflowError).errorCode).toBe("INVALID_PARAMETER_VALUE");
    expect((err as MlflowError).status).toBe(400);
    expect((err as MlflowError).message).toContain(message);
  });

  it.each(COMPILES)("%s: compiles %j for %s", (table, filter, dialect, sql, params) => {
    expect(compileFilter(TABLES[table]!, filter, dialect)).toEqual({ where: sql, params });
  });

  it("parses order_by clauses and field names", () => {
    const p = RUN_SEARCH.prefixes;
    expect(parseOrderBy("metrics.`val acc` DESC", p)).toMatchObject({ identifier: { entity: "metric", key: "val acc" }, ascending: false });
    expect(parseOrderBy("start_time", p)).toMatchObject({ identifier: { entity: "attribute", key: "start_time" }, ascending: true });
    expect(parseOrderBy("tags.`a b` asc", p)).toMatchObject({ identifier: { entity: "tag", key: "a b" }, ascending: true, text: "tags.`a b` asc" });
    expect(parseIdentifier("attributes.creation_timestamp", p)).toMatchObject({ entity: "attribute", key: "creation_timestamp" });
    for (const bad of ["metrics.a SIDEWAYS", "metrics.a DESC extra", "", "  ", "foo.bar"]) {
      expect(() => parseOrderBy(bad, p), bad).toThrow(MlflowError);
    }
  });

  it("lists the valid prefixes of each entity when one is unknown", () => {
    expect(() => compileFilter(RUN_SEARCH, "x.y = 1", "sqlite")).toThrow("valid values are metric, param, tag, attribute, dataset");
    expect(() => compileFilter(TRACE_SEARCH, "x.y = 1", "sqlite")).toThrow("valid values are attribute, tag, metadata, span, feedback, expectation");
  });
});
