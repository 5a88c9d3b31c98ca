import { invalidParameter, type MlflowError } from "../errors.js";
import type { Dialect, SqlValue } from "../store/index.js";
import { parseFilter, type Comparator, type Comparison, type Identifier, type Prefixes } from "./grammar.js";

/**
 * The one compiler from the syntax tree to SQL. An entity describes its
 * searchable fields in a {@link SearchTable}; this module checks each
 * comparison against its field (comparator, value type) and writes the SQL
 * for the dialect. User text only ever reaches the database as a bound
 * parameter: keys and values are `?`, column names come from the tables.
 */

export const NUMERIC_OPS: readonly Comparator[] = ["=", "!=", ">", ">=", "<", "<="];
export const STRING_OPS: readonly Comparator[] = ["=", "!=", "LIKE", "ILIKE"];
export const SET_OPS: readonly Comparator[] = ["IN", "NOT IN"];
export const NULL_OPS: readonly Comparator[] = ["IS NULL", "IS NOT NULL"];

/**
 * A searchable field.
 *
 * - `column`: a column (or expression) of the searched row, `col op ?`.
 * - `exists`: a key-value child table, `EXISTS (SELECT 1 FROM <from> AND value op ?)`,
 *   where `from` ends in the key test (its `?`s bound to `fromParams`). `IS NULL` is
 *   "has no such key". `notEqual: "absent-too"` makes `!=` mean "has no such value",
 *   so rows without the key match as well (the registry's tags, as MLflow clients expect).
 * - `custom`: writes its own SQL (datasets, spans, assessments, enum columns).
 */
export type Field =
  | { kind: "column"; sql: string; type: "string" | "number"; ops: readonly Comparator[]; coerce?: boolean; label?: string }
  | {
      kind: "exists";
      from: string;
      fromParams: SqlValue[];
      value: string;
      type: "string" | "number";
      ops: readonly Comparator[];
      notEqual?: "value" | "absent-too";
      coerce?: boolean;
      label?: string;
    }
  | { kind: "custom"; ops: readonly Comparator[]; label?: string; compile: (c: Comparison, q: ClauseWriter) => string };

/** What a custom field's compiler gets: the dialect, the parameter list, and the shared comparisons. */
export interface ClauseWriter {
  dialect: Dialect;
  params: SqlValue[];
  /** `column op ?` for a string value or an IN list, with MLflow's case-sensitive LIKE on both engines. */
  string(column: string, op: Comparator, value: string | readonly string[]): string;
  /** `column op ?` for a number. */
  number(column: string, op: Comparator, value: number): string;
  /** The comparison's value as a string; numbers as written when `coerce` (traces accept `tags.n = 1`). */
  stringValue(c: Comparison, coerce?: boolean): string;
  numberValue(c: Comparison, coerce?: boolean): number;
  fail(c: Comparison, problem: string): MlflowError;
}

/** An entity's search: its prefixes and how each identifier becomes a {@link Field}. */
export interface SearchTable<E extends string = string> {
  prefixes: Prefixes<E>;
  /** The field an identifier names; throws an INVALID_PARAMETER_VALUE error (see {@link clauseError}) when there is none. */
  field(id: Identifier<E>): Field;
}

/** `Invalid filter clause at position 4 ('tags.x'): <problem>` */
export function clauseError(id: Identifier, problem: string): MlflowError {
  return invalidParameter(`Invalid filter clause at position ${id.pos} ('${id.text}'): ${problem}`);
}

/** MLflow's error for an attribute key the entity does not have, listing the ones it has. */
export function unknownAttribute(id: Identifier, valid: Iterable<string>): MlflowError {
  return invalidParameter(`Invalid attribute key '${id.key}' specified. Valid keys are ${[...valid].map((k) => `'${k}'`).join(", ")}`);
}

/** Converts a LIKE pattern to a GLOB pattern: `%` → `*`, `_` → `?`, GLOB's own specials made literal. */
export function likeToGlob(pattern: string): string {
  let out = "";
  for (const ch of pattern) {
    if (ch === "%") out += "*";
    else if (ch === "_") out += "?";
    else if (ch === "*" || ch === "?" || ch === "[") out += `[${ch}]`;
    else out += ch;
  }
  return out;
}

/**
 * A string comparison for the dialect. MLflow's LIKE is case-sensitive and has
 * no escape character: SQLite's LIKE is case-insensitive, so it becomes GLOB
 * there; PostgreSQL's LIKE treats `\` as an escape unless told `ESCAPE ''`.
 */
export function stringComparison(dialect: Dialect, column: string, op: Comparator, value: string | readonly string[], params: SqlValue[]): string {
  if (op === "IN" || op === "NOT IN") {
    const values = typeof value === "string" ? [value] : value;
    if (values.length === 0) return op === "IN" ? "1 = 0" : "1 = 1";
    params.push(...values);
    return `${column} ${op} (${values.map(() => "?").join(", ")})`;
  }
  if (typeof value !== "string") throw new Error(`a list for comparator ${op}`);
  switch (op) {
    case "LIKE":
      if (dialect === "sqlite") {
        params.push(likeToGlob(value));
        return `${column} GLOB ?`;
      }
      params.push(value);
      return `${column} LIKE ? ESCAPE ''`;
    case "ILIKE":
      params.push(value);
      return dialect === "sqlite" ? `LOWER(${column}) LIKE LOWER(?)` : `${column} ILIKE ? ESCAPE ''`;
    case "=":
    case "!=":
    case "<":
    case "<=":
    case ">":
    case ">=":
      params.push(value);
      return `${column} ${op} ?`;
    default:
      throw new Error(`unexpected comparator ${op}`);
  }
}

class Writer implements ClauseWriter {
  constructor(
    readonly dialect: Dialect,
    readonly params: SqlValue[],
  ) {}
  string(column: string, op: Comparator, value: string | readonly string[]): string {
    return stringComparison(this.dialect, column, op, value, this.params);
  }
  number(column: string, op: Comparator, value: number): string {
    this.params.push(value);
    return `${column} ${op} ?`;
  }
  stringValue(c: Comparison, coerce = false): string {
    if (c.value.kind === "string") return c.value.value;
    if (c.value.kind === "number" && coerce) return c.value.text;
    throw this.fail(c, `expected a quoted string value (single or double quotes)${c.value.kind === "number" ? ` but found ${c.value.text}` : ""}`);
  }
  numberValue(c: Comparison, coerce = false): number {
    if (c.value.kind === "number") return c.value.value;
    if (c.value.kind === "string" && coerce && c.value.value.trim() !== "" && Number.isFinite(Number(c.value.value))) return Number(c.value.value);
    if (c.value.kind === "string") throw this.fail(c, `expected a numeric value but found '${c.value.value}'`);
    throw this.fail(c, "expected a numeric value");
  }
  fail(c: Comparison, problem: string): MlflowError {
    return clauseError(c.identifier, problem);
  }
}

function describeField(f: Field, id: Identifier): string {
  return f.label ?? (id.entity === "attribute" ? `attribute '${id.key}'` : `${id.entity}s`);
}

/** Compiles one comparison against its field, pushing its parameters. */
export function compileComparison(field: Field, c: Comparison, w: ClauseWriter): string {
  if (!field.ops.includes(c.comparator)) {
    const id = c.identifier;
    throw invalidParameter(`Invalid comparator '${c.comparator}' for ${describeField(field, id)} in filter clause at position ${id.pos} ('${id.text}'): use one of ${field.ops.join(", ")}`);
  }
  if (field.kind === "custom") return field.compile(c, w);
  const op = c.comparator;
  const operand = (column: string): string => {
    if (c.value.kind === "list") return w.string(column, op, c.value.values);
    return field.type === "number" ? w.number(column, op, w.numberValue(c, field.coerce)) : w.string(column, op, w.stringValue(c, field.coerce));
  };
  if (field.kind === "column") return operand(field.sql);
  const subquery = (cond?: () => string): string => {
    w.params.push(...field.fromParams);
    return `(SELECT 1 FROM ${field.from}${cond ? ` AND ${cond()}` : ""})`;
  };
  if (op === "IS NULL") return `NOT EXISTS ${subquery()}`;
  if (op === "IS NOT NULL") return `EXISTS ${subquery()}`;
  if (op === "!=" && field.notEqual === "absent-too") {
    return `NOT EXISTS ${subquery(() => (field.type === "number" ? w.number(field.value, "=", w.numberValue(c, field.coerce)) : w.string(field.value, "=", w.stringValue(c, field.coerce))))}`;
  }
  return `EXISTS ${subquery(() => operand(field.value))}`;
}

export interface CompiledClause<E extends string = string> {
  sql: string;
  params: SqlValue[];
  comparison: Comparison<E>;
}

/** Each comparison of a filter compiled on its own (for callers that reorder them). */
export function compileClauses<E extends string>(table: SearchTable<E>, filter: string | undefined, dialect: Dialect): CompiledClause<E>[] {
  return parseFilter(filter, table.prefixes).map((comparison) => {
    const params: SqlValue[] = [];
    const sql = compileComparison(table.field(comparison.identifier), comparison, new Writer(dialect, params));
    return { sql, params, comparison };
  });
}

/** A filter as one SQL condition (`1 = 1` when empty) and its parameters. */
export function compileFilter<E extends string>(table: SearchTable<E>, filter: string | undefined, dialect: Dialect): { where: string; params: SqlValue[] } {
  const params: SqlValue[] = [];
  const w = new Writer(dialect, params);
  const parts = parseFilter(filter, table.prefixes).map((c) => compileComparison(table.field(c.identifier), c, w));
  return { where: parts.length ? parts.join(" AND ") : "1 = 1", params };
}

/** MLflow's error for an order_by list naming one field twice. */
export function duplicateOrderFields(orderBy: readonly unknown[]): MlflowError {
  return invalidParameter(`\`order_by\` contains duplicate fields: ${JSON.stringify(orderBy)}`);
}

/** Refuses a list of order terms that names one field twice (by `keyOf`). */
export function checkDistinct<T>(terms: readonly T[], keyOf: (t: T) => string, orderBy: readonly unknown[]): void {
  const seen = new Set<string>();
  for (const t of terms) {
    const k = keyOf(t);
    if (seen.has(k)) throw duplicateOrderFields(orderBy);
    seen.add(k);
  }
}
