import { invalidParameter, type MlflowError } from "../errors.js";
import type { Dialect, SqlValue } from "../store/index.js";
import type { ExperimentQueryCompiler } from "./experiments.js";

/**
 * MLflow's search language: filter strings (`metrics.acc > 0.9 and
 * params.lr = '0.1'`) and order_by clauses (`metrics.acc DESC`), tokenized,
 * parsed into clauses, checked against what each entity allows, and
 * compiled to parameterized SQL. User text only ever reaches the database
 * as a bound parameter.
 */

// ---------------------------------------------------------------- tokens

export type TokenKind = "word" | "ident" | "string" | "number" | "op" | "dot" | "lparen" | "rparen" | "comma" | "end";

export interface Token {
  kind: TokenKind;
  /** Unquoted text (for strings and quoted identifiers, the content). */
  text: string;
  /** For "string" tokens: which quote delimited it. */
  quote?: "'" | '"' | "`";
  pos: number;
}

function syntaxError(source: string, pos: number, problem: string, what = "filter"): MlflowError {
  const near = source.slice(pos, pos + 20);
  const where = pos >= source.length ? "at the end" : `at position ${pos} (near '${near}')`;
  return invalidParameter(`Invalid ${what} '${source.length > 500 ? `${source.slice(0, 500)}…` : source}': ${problem} ${where}`);
}

const WORD_START = /[A-Za-z_]/;
const WORD_CHAR = /[A-Za-z0-9_]/;

/** Splits a filter into tokens; any character outside the grammar is an error naming its position. */
export function tokenize(source: string, what = "filter"): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const ch = source[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const start = i;
    if (ch === "'" || ch === '"' || ch === "`") {
      // SQL-style quoting: a doubled quote stands for itself; a backslash escapes the next character.
      let text = "";
      i++;
      for (;;) {
        if (i >= source.length) throw syntaxError(source, start, `unterminated quoted text starting with ${ch}`, what);
        const c = source[i]!;
        if (c === "\\" && i + 1 < source.length && ch !== "`") {
          text += source[i + 1];
          i += 2;
          continue;
        }
        if (c === ch) {
          if (source[i + 1] === ch) {
            text += ch;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += c;
        i++;
      }
      out.push({ kind: ch === "`" ? "ident" : "string", text, quote: ch, pos: start });
      continue;
    }
    if (WORD_START.test(ch)) {
      while (i < source.length && WORD_CHAR.test(source[i]!)) i++;
      out.push({ kind: "word", text: source.slice(start, i), pos: start });
      continue;
    }
    const num = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(source.slice(i));
    if (num && (/\d/.test(ch) || !isOperandEnd(out))) {
      i += num[0].length;
      out.push({ kind: "number", text: num[0], pos: start });
      continue;
    }
    const two = source.slice(i, i + 2);
    if (two === "!=" || two === ">=" || two === "<=" || two === "<>") {
      out.push({ kind: "op", text: two === "<>" ? "!=" : two, pos: start });
      i += 2;
      continue;
    }
    if (ch === "=" || ch === ">" || ch === "<") {
      out.push({ kind: "op", text: ch, pos: start });
      i++;
      continue;
    }
    if (ch === "." || ch === "(" || ch === ")" || ch === ",") {
      out.push({ kind: ch === "." ? "dot" : ch === "(" ? "lparen" : ch === ")" ? "rparen" : "comma", text: ch, pos: start });
      i++;
      continue;
    }
    throw syntaxError(source, start, `unexpected character '${ch}'`, what);
  }
  out.push({ kind: "end", text: "", pos: source.length });
  return out;
}

/** True when the previous token ends an operand, so a following sign is not part of a number. */
function isOperandEnd(tokens: Token[]): boolean {
  const last = tokens[tokens.length - 1];
  return !!last && (last.kind === "word" || last.kind === "ident" || last.kind === "number" || last.kind === "rparen");
}

// ---------------------------------------------------------------- syntax tree

export type EntityType = "metric" | "param" | "tag" | "attribute" | "dataset";
export type Comparator = "=" | "!=" | ">" | ">=" | "<" | "<=" | "LIKE" | "ILIKE" | "IN" | "NOT IN" | "IS NULL" | "IS NOT NULL";

export interface Identifier {
  type: EntityType;
  key: string;
  pos: number;
}

export type Value =
  | { kind: "number"; value: number; text: string; pos: number }
  | { kind: "string"; value: string; pos: number }
  | { kind: "list"; values: string[]; pos: number }
  | { kind: "none"; pos: number };

export interface Clause {
  identifier: Identifier;
  comparator: Comparator;
  value: Value;
}

export interface OrderClause {
  identifier: Identifier;
  ascending: boolean;
}

const ENTITY_ALIASES: Record<string, EntityType> = {
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

class Parser {
  private i = 0;
  constructor(
    private readonly source: string,
    private readonly tokens: Token[],
    private readonly what: string,
    private readonly entities: Record<string, EntityType>,
  ) {}

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)]!;
  }
  private next(): Token {
    const t = this.peek();
    if (this.i < this.tokens.length - 1) this.i++;
    return t;
  }
  private isWord(t: Token, w: string): boolean {
    return t.kind === "word" && t.text.toUpperCase() === w;
  }
  fail(t: Token, problem: string): MlflowError {
    return syntaxError(this.source, t.pos, problem, this.what);
  }

  atEnd(): boolean {
    return this.peek().kind === "end";
  }

  parseFilter(): Clause[] {
    const clauses: Clause[] = [this.parseClause()];
    while (!this.atEnd()) {
      const t = this.next();
      if (this.isWord(t, "AND")) {
        clauses.push(this.parseClause());
      } else if (this.isWord(t, "OR")) {
        throw this.fail(t, "'OR' is not supported; only 'AND' joins conditions");
      } else {
        throw this.fail(t, `expected 'AND' but found '${t.text}'`);
      }
    }
    return clauses;
  }

  parseIdentifier(): Identifier {
    const t = this.next();
    if (t.kind === "ident" || (t.kind === "string" && t.quote === '"')) {
      return { type: "attribute", key: t.text, pos: t.pos };
    }
    if (t.kind !== "word") throw this.fail(t, t.kind === "end" ? "expected an identifier such as metrics.<name>" : `expected an identifier but found '${t.text}'`);
    const entity = this.entities[t.text.toLowerCase()];
    if (entity && this.peek().kind === "dot") {
      this.next();
      return { type: entity, key: this.parseKey(), pos: t.pos };
    }
    if (this.peek().kind === "dot") {
      throw this.fail(t, `invalid entity type '${t.text}'; use one of ${[...new Set(Object.values(this.entities))].map((e) => `${e}s`).join(", ")}`);
    }
    return { type: "attribute", key: t.text, pos: t.pos };
  }

  /** A key after `entity.`: quoted, or word/number parts joined by dots without spaces (`metrics.val.loss`). */
  private parseKey(): string {
    const t = this.next();
    if (t.kind === "ident" || (t.kind === "string" && t.quote === '"')) return t.text;
    if (t.kind !== "word" && !(t.kind === "number" && /^\d[\d.]*$/.test(t.text))) {
      throw this.fail(t, t.kind === "end" ? "expected a key name" : `expected a key name but found '${t.text}'`);
    }
    let key = t.text;
    while (this.peek().kind === "dot" && this.peek().pos === t.pos + key.length) {
      this.next();
      const part = this.next();
      if ((part.kind !== "word" && part.kind !== "number") || part.pos !== t.pos + key.length + 1) {
        throw this.fail(part, "expected a key part right after '.'");
      }
      key += `.${part.text}`;
    }
    return key;
  }

  private parseComparator(): Comparator {
    const t = this.next();
    if (t.kind === "op") return t.text as Comparator;
    if (t.kind === "word") {
      const w = t.text.toUpperCase();
      if (w === "LIKE" || w === "ILIKE" || w === "IN") return w;
      if (w === "NOT") {
        const n = this.next();
        if (this.isWord(n, "IN")) return "NOT IN";
        throw this.fail(n, "expected 'IN' after 'NOT'");
      }
      if (w === "IS") {
        const n = this.next();
        if (this.isWord(n, "NULL")) return "IS NULL";
        if (this.isWord(n, "NOT")) {
          const m = this.next();
          if (this.isWord(m, "NULL")) return "IS NOT NULL";
          throw this.fail(m, "expected 'NULL' after 'IS NOT'");
        }
        throw this.fail(n, "expected 'NULL' or 'NOT NULL' after 'IS'");
      }
    }
    throw this.fail(t, t.kind === "end" ? "expected a comparator (=, !=, >, >=, <, <=, LIKE, ILIKE, IN, NOT IN, IS NULL)" : `expected a comparator but found '${t.text}'`);
  }

  private parseValue(comparator: Comparator): Value {
    const start = this.peek();
    if (comparator === "IS NULL" || comparator === "IS NOT NULL") return { kind: "none", pos: start.pos };
    if (comparator === "IN" || comparator === "NOT IN") {
      const open = this.next();
      if (open.kind !== "lparen") throw this.fail(open, `expected '(' after ${comparator}`);
      const values: string[] = [];
      for (;;) {
        const v = this.next();
        if (v.kind !== "string") throw this.fail(v, "expected a quoted string in the list");
        values.push(v.text);
        const sep = this.next();
        if (sep.kind === "rparen") break;
        if (sep.kind !== "comma") throw this.fail(sep, "expected ',' or ')' in the list");
      }
      return { kind: "list", values, pos: open.pos };
    }
    const t = this.next();
    if (t.kind === "number") return { kind: "number", value: Number(t.text), text: t.text, pos: t.pos };
    if (t.kind === "string") return { kind: "string", value: t.text, pos: t.pos };
    throw this.fail(t, t.kind === "end" ? "expected a value" : `expected a number or a quoted string but found '${t.text}'`);
  }

  parseClause(): Clause {
    const identifier = this.parseIdentifier();
    const comparator = this.parseComparator();
    const value = this.parseValue(comparator);
    return { identifier, comparator, value };
  }

  parseOrder(): OrderClause {
    const identifier = this.parseIdentifier();
    let ascending = true;
    const t = this.peek();
    if (this.isWord(t, "ASC") || this.isWord(t, "DESC")) {
      ascending = this.next().text.toUpperCase() === "ASC";
    }
    if (!this.atEnd()) throw this.fail(this.peek(), `expected ASC, DESC or the end of the clause but found '${this.peek().text}'`);
    return { identifier, ascending };
  }
}

/** Parses a filter string into AND-ed clauses (an empty filter has none). */
export function parseFilter(filter: string | undefined, entities: Record<string, EntityType> = ENTITY_ALIASES): Clause[] {
  if (filter === undefined || filter.trim() === "") return [];
  return new Parser(filter, tokenize(filter), "filter", entities).parseFilter();
}

export function parseOrderBy(clause: string, entities: Record<string, EntityType> = ENTITY_ALIASES): OrderClause {
  if (clause.trim() === "") throw invalidParameter(`Invalid order_by clause '${clause}': it is empty`);
  return new Parser(clause, tokenize(clause, "order_by clause"), "order_by clause", entities).parseOrder();
}

// ---------------------------------------------------------------- runs

const NUMERIC_OPS: readonly Comparator[] = ["=", "!=", ">", ">=", "<", "<="];
const STRING_OPS: readonly Comparator[] = ["=", "!=", "LIKE", "ILIKE"];
const NULL_OPS: readonly Comparator[] = ["IS NULL", "IS NOT NULL"];
const SET_OPS: readonly Comparator[] = ["IN", "NOT IN"];

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
const RUN_ATTRIBUTE_ALIASES: Record<string, string> = { "run name": "run_name", "Run name": "run_name", Created: "created" };
const DATASET_FIELDS = ["name", "digest", "context"] as const;

function clauseError(c: Clause, problem: string): MlflowError {
  return invalidParameter(`Invalid filter clause at position ${c.identifier.pos} ('${describe(c.identifier)}'): ${problem}`);
}

function describe(id: Identifier): string {
  return `${id.type === "attribute" ? "attributes" : `${id.type}s`}.${id.key}`;
}

function requireComparator(c: Clause, allowed: readonly Comparator[], what: string): void {
  if (!allowed.includes(c.comparator)) {
    throw clauseError(c, `comparator '${c.comparator}' is not supported for ${what}; use one of ${allowed.join(", ")}`);
  }
}

function requireString(c: Clause): string {
  if (c.value.kind !== "string") {
    throw clauseError(c, `expected a quoted string value (single or double quotes)${c.value.kind === "number" ? ` but found ${c.value.text}` : ""}`);
  }
  return c.value.value;
}

function requireNumber(c: Clause): number {
  if (c.value.kind === "number") return c.value.value;
  if (c.value.kind === "string") throw clauseError(c, `expected a numeric value but found '${c.value.value}'`);
  throw clauseError(c, "expected a numeric value");
}

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

/** Builds a comparison of `column` with a bound value, honouring each dialect's case rules for LIKE. */
function stringComparison(dialect: Dialect, column: string, op: Comparator, params: SqlValue[], value: string): string {
  switch (op) {
    case "=":
    case "!=":
      params.push(value);
      return `${column} ${op} ?`;
    case "LIKE":
      // MLflow's LIKE is case-sensitive; SQLite's is not, so use GLOB there.
      if (dialect === "sqlite") {
        params.push(likeToGlob(value));
        return `${column} GLOB ?`;
      }
      params.push(value);
      return `${column} LIKE ? ESCAPE ''`;
    case "ILIKE":
      params.push(value);
      return dialect === "sqlite" ? `LOWER(${column}) LIKE LOWER(?)` : `${column} ILIKE ? ESCAPE ''`;
    default:
      throw new Error(`unexpected comparator ${op}`);
  }
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

function setComparison(column: string, op: Comparator, params: SqlValue[], values: string[]): string {
  if (values.length === 0) return op === "IN" ? "1 = 0" : "1 = 1";
  params.push(...values);
  return `${column} ${op} (${values.map(() => "?").join(", ")})`;
}

function normaliseAttribute(key: string): string {
  return RUN_ATTRIBUTE_ALIASES[key] ?? key;
}

function compileRunClause(c: Clause, dialect: Dialect, params: SqlValue[]): string {
  const { type } = c.identifier;
  const key = c.identifier.key;
  if (type === "metric") {
    requireComparator(c, NUMERIC_OPS, "metrics");
    const v = requireNumber(c);
    params.push(key, v);
    return `EXISTS (SELECT 1 FROM latest_metrics fm WHERE fm.run_uuid = r.run_uuid AND fm.key = ? AND fm.is_nan = 0 AND fm.value ${c.comparator} ?)`;
  }
  if (type === "param" || type === "tag") {
    const table = type === "param" ? "params" : "tags";
    requireComparator(c, [...STRING_OPS, ...NULL_OPS], `${type}s`);
    if (c.comparator === "IS NULL" || c.comparator === "IS NOT NULL") {
      params.push(key);
      const exists = `EXISTS (SELECT 1 FROM ${table} fx WHERE fx.run_uuid = r.run_uuid AND fx.key = ?)`;
      return c.comparator === "IS NULL" ? `NOT ${exists}` : exists;
    }
    const value = requireString(c);
    params.push(key);
    const cmp = stringComparison(dialect, "fx.value", c.comparator, params, value);
    return `EXISTS (SELECT 1 FROM ${table} fx WHERE fx.run_uuid = r.run_uuid AND fx.key = ? AND ${cmp})`;
  }
  if (type === "dataset") {
    const field = key as (typeof DATASET_FIELDS)[number];
    if (!DATASET_FIELDS.includes(field)) {
      throw clauseError(c, `invalid dataset key '${key}'; valid keys are ${DATASET_FIELDS.map((f) => `'${f}'`).join(", ")}`);
    }
    requireComparator(c, [...STRING_OPS, ...SET_OPS], "datasets");
    const column = field === "context" ? "dt.value" : `dd.${field}`;
    const inner: SqlValue[] = [];
    const cmp =
      c.value.kind === "list"
        ? setComparison(column, c.comparator, inner, c.value.values)
        : stringComparison(dialect, column, c.comparator, inner, requireString(c));
    const join =
      field === "context"
        ? "JOIN input_tags dt ON dt.input_uuid = di.input_uuid AND dt.name = 'mlflow.data.context'"
        : "JOIN datasets dd ON dd.dataset_uuid = di.source_id";
    params.push(...inner);
    return `EXISTS (SELECT 1 FROM inputs di ${join} WHERE di.destination_type = 'RUN' AND di.destination_id = r.run_uuid AND di.source_type = 'DATASET' AND ${cmp})`;
  }
  const name = normaliseAttribute(key);
  const numeric = RUN_NUMERIC_ATTRIBUTES[name];
  if (numeric) {
    requireComparator(c, NUMERIC_OPS, `attribute '${key}'`);
    const v = requireNumber(c);
    params.push(v);
    return `${numeric} ${c.comparator} ?`;
  }
  const column = RUN_STRING_ATTRIBUTES[name];
  if (!column) {
    const valid = [...Object.keys(RUN_STRING_ATTRIBUTES), ...Object.keys(RUN_NUMERIC_ATTRIBUTES)].map((k) => `'${k}'`).join(", ");
    throw clauseError(c, `invalid attribute key '${key}'; valid keys are ${valid}`);
  }
  requireComparator(c, [...STRING_OPS, ...SET_OPS], `attribute '${key}'`);
  if (c.value.kind === "list") return setComparison(column, c.comparator, params, c.value.values);
  return stringComparison(dialect, column, c.comparator, params, requireString(c));
}

interface OrderTerms {
  joins: string[];
  joinParams: SqlValue[];
  terms: string[];
  usesStartTime: boolean;
}

/** Order terms for a clause other than the first, through a LEFT JOIN. */
function compileRunOrder(o: OrderClause, n: number, out: OrderTerms): void {
  const dir = o.ascending ? "ASC" : "DESC";
  const { type, key } = o.identifier;
  if (type === "metric") {
    const a = `om${n}`;
    out.joins.push(`LEFT JOIN latest_metrics ${a} ON ${a}.run_uuid = r.run_uuid AND ${a}.key = ?`);
    out.joinParams.push(key);
    // Like MLflow: numbers first (in the requested direction), then NaN, then runs without the metric.
    out.terms.push(`CASE WHEN ${a}.is_nan = 1 THEN 1 WHEN ${a}.value IS NULL THEN 2 ELSE 0 END`, `${a}.value ${dir}`);
    return;
  }
  if (type === "param" || type === "tag") {
    const a = `o${type[0]}${n}`;
    out.joins.push(`LEFT JOIN ${type === "param" ? "params" : "tags"} ${a} ON ${a}.run_uuid = r.run_uuid AND ${a}.key = ?`);
    out.joinParams.push(key);
    out.terms.push(`CASE WHEN ${a}.value IS NULL THEN 1 ELSE 0 END`, `${a}.value ${dir}`);
    return;
  }
  if (type === "dataset") throw invalidParameter(`Invalid order_by clause '${describe(o.identifier)}': ordering by datasets is not supported`);
  const name = normaliseAttribute(key);
  const column = RUN_NUMERIC_ATTRIBUTES[name] ?? RUN_STRING_ATTRIBUTES[name] ?? (name === "experiment_id" ? "r.experiment_id" : undefined);
  if (!column) {
    throw invalidParameter(`Invalid order_by clause '${key}': '${key}' is not a run attribute you can order by`);
  }
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
  const compiled = parseFilter(filter).map((c) => {
    const params: SqlValue[] = [];
    return { sql: compileRunClause(c, dialect, params), params, rank: c.comparator === "=" ? 0 : 1 };
  });
  compiled.sort((a, b) => a.rank - b.rank);
  const conditions = compiled.map((c) => c.sql);
  const filterParams: SqlValue[] = compiled.flatMap((c) => c.params);
  const clauses = (orderBy ?? []).map((raw) => parseOrderBy(raw));
  const first = clauses[0];
  const keyed = first && (first.identifier.type === "metric" || first.identifier.type === "param" || first.identifier.type === "tag") ? first : undefined;

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
  const table = keyed.identifier.type === "metric" ? "latest_metrics" : keyed.identifier.type === "param" ? "params" : "tags";
  // CROSS JOIN keeps the keyed table as the outer loop on SQLite, so rows arrive in index order.
  const from = `${table} k0 CROSS JOIN runs r ${joins}`;
  const segments: RunSearchSegment[] = [];
  const valued = keyed.identifier.type === "metric" ? ["k0.key = ?", "k0.is_nan = 0", "r.run_uuid = k0.run_uuid"] : ["k0.key = ?", "r.run_uuid = k0.run_uuid"];
  segments.push({ from, fromParams: rest.joinParams, where: where(valued), whereParams: [key, ...filterParams], order: [`k0.value ${dir}`, ...tail].join(", ") });
  if (keyed.identifier.type === "metric") {
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

const EXPERIMENT_ENTITIES: Record<string, EntityType> = {
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

function compileExperimentClause(c: Clause, dialect: Dialect, params: SqlValue[]): string {
  const key = c.identifier.key;
  if (c.identifier.type === "tag") {
    requireComparator(c, [...STRING_OPS, ...NULL_OPS], "tags");
    if (c.comparator === "IS NULL" || c.comparator === "IS NOT NULL") {
      params.push(key);
      const exists = "EXISTS (SELECT 1 FROM experiment_tags ft WHERE ft.experiment_id = e.experiment_id AND ft.key = ?)";
      return c.comparator === "IS NULL" ? `NOT ${exists}` : exists;
    }
    const value = requireString(c);
    params.push(key);
    const cmp = stringComparison(dialect, "ft.value", c.comparator, params, value);
    return `EXISTS (SELECT 1 FROM experiment_tags ft WHERE ft.experiment_id = e.experiment_id AND ft.key = ? AND ${cmp})`;
  }
  const numeric = EXPERIMENT_NUMERIC_ATTRIBUTES[key];
  if (numeric) {
    requireComparator(c, NUMERIC_OPS, `attribute '${key}'`);
    params.push(requireNumber(c));
    return `${numeric} ${c.comparator} ?`;
  }
  const column = EXPERIMENT_STRING_ATTRIBUTES[key];
  if (!column) {
    const valid = [...Object.keys(EXPERIMENT_STRING_ATTRIBUTES), ...Object.keys(EXPERIMENT_NUMERIC_ATTRIBUTES)].map((k) => `'${k}'`).join(", ");
    throw clauseError(c, `invalid attribute key '${key}'; valid keys are ${valid}`);
  }
  requireComparator(c, [...STRING_OPS, ...SET_OPS], `attribute '${key}'`);
  if (c.value.kind === "list") return setComparison(column, c.comparator, params, c.value.values);
  return stringComparison(dialect, column, c.comparator, params, requireString(c));
}

/** Compiles an experiment filter and order_by list for `experiments e`. */
export function compileExperimentQuery(filter: string | undefined, orderBy: readonly string[] | undefined, dialect: Dialect): { where: string; params: SqlValue[]; order: string } {
  const params: SqlValue[] = [];
  const conditions = parseFilter(filter, EXPERIMENT_ENTITIES).map((c) => compileExperimentClause(c, dialect, params));
  const terms: string[] = [];
  let hasId = false;
  for (const raw of orderBy ?? []) {
    const o = parseOrderBy(raw, EXPERIMENT_ENTITIES);
    const key = o.identifier.key;
    const column = o.identifier.type === "attribute" ? (EXPERIMENT_STRING_ATTRIBUTES[key] ?? EXPERIMENT_NUMERIC_ATTRIBUTES[key]) : undefined;
    if (!column) {
      throw invalidParameter(`Invalid order_by clause '${raw}': experiments can be ordered by name, experiment_id, creation_time or last_update_time`);
    }
    terms.push(`${column} ${o.ascending ? "ASC" : "DESC"}`);
    hasId ||= column === "e.experiment_id";
  }
  if (terms.length === 0) terms.push("e.creation_time DESC");
  if (!hasId) terms.push("e.experiment_id ASC");
  return { where: conditions.length ? conditions.join(" AND ") : "1 = 1", params, order: terms.join(", ") };
}

/** The experiment compiler for one dialect, in the shape {@link ExperimentService} takes. */
export function experimentCompiler(dialect: Dialect): ExperimentQueryCompiler {
  return (filter, orderBy) => {
    const q = compileExperimentQuery(filter, orderBy, dialect);
    return { where: q.where, params: q.params as (string | number)[], order: q.order };
  };
}

/** Kept for callers that compile for SQLite. */
export const compileExperimentSearch: ExperimentQueryCompiler = experimentCompiler("sqlite");
