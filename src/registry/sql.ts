import { invalidParameter } from "../errors.js";
import type { Dialect, SqlValue } from "../store/index.js";
import type { Clause } from "./filter.js";
import type { KeyValue } from "../wire/index.js";

/**
 * What the registry's stores share: search clauses compiled to SQL for the
 * dialect, and the small row helpers every store uses.
 */
export interface SqlQuery {
  where: string;
  params: SqlValue[];
  order: string;
}

export interface SqlFragment {
  sql: string;
  params: SqlValue[];
}

export const placeholders = (n: number): string => Array.from({ length: n }, () => "?").join(",");

/** NULL columns become absent fields, as MLflow's JSON leaves them out. */
export function opt<T>(v: T | null | undefined): T | undefined {
  return v === null || v === undefined ? undefined : v;
}

/** The last value wins when a request names a key twice. */
export function dedupe(list: KeyValue[]): KeyValue[] {
  const m = new Map<string, string>();
  for (const kv of list) m.set(kv.key, kv.value);
  return [...m].map(([key, value]) => ({ key, value }));
}

/** Rows grouped by a key, in their order. */
export function groupBy<T>(list: readonly T[], key: (row: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const r of list) {
    const k = key(r);
    let l = m.get(k);
    if (!l) m.set(k, (l = []));
    l.push(r);
  }
  return m;
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
export function stringComparison(dialect: Dialect, column: string, op: Clause["op"], value: Clause["value"], what: string): SqlFragment {
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
export function tagComparison(dialect: Dialect, c: Clause, column = "t.value"): { exists: string; cmp: SqlFragment } {
  if (c.op === "!=") return { exists: "NOT EXISTS", cmp: stringComparison(dialect, column, "=", c.value, `${c.type}.${c.key}`) };
  return { exists: "EXISTS", cmp: stringComparison(dialect, column, c.op, c.value, `${c.type}.${c.key}`) };
}

export function numericComparison(column: string, op: Clause["op"], value: Clause["value"], what: string): SqlFragment {
  if (!["=", "!=", "<", "<=", ">", ">="].includes(op)) throw invalidParameter(`Invalid comparator '${op}' for '${what}': use =, !=, <, <=, > or >=`);
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
  if (!Number.isFinite(n)) throw invalidParameter(`Invalid value ${JSON.stringify(value)} for '${what}': expected a number`);
  return { sql: `${column} ${op} ?`, params: [n] };
}
