import { invalidParameter, type MlflowError } from "../errors.js";

/**
 * MLflow's search language, read once for every entity: a filter is
 * comparisons joined by `AND` (`metrics.acc > 0.9 and params.lr = '0.1'`),
 * an order_by clause is one identifier and an optional `ASC`/`DESC`. The
 * parser knows the syntax only; which prefixes, keys, comparators and value
 * types an entity accepts is its search table's business (see compile.ts).
 */

// ---------------------------------------------------------------- syntax tree

export type Comparator = "=" | "!=" | ">" | ">=" | "<" | "<=" | "LIKE" | "ILIKE" | "IN" | "NOT IN" | "IS NULL" | "IS NOT NULL";

/** `prefix.key`, or a bare key (entity `attribute`). */
export interface Identifier<E extends string = string> {
  entity: E | "attribute";
  key: string;
  /** The identifier as written, for messages. */
  text: string;
  pos: number;
}

export type Value =
  | { kind: "number"; value: number; text: string; pos: number }
  | { kind: "string"; value: string; pos: number }
  | { kind: "list"; values: string[]; pos: number }
  | { kind: "none"; pos: number };

export interface Comparison<E extends string = string> {
  identifier: Identifier<E>;
  comparator: Comparator;
  value: Value;
}

export interface OrderTerm<E extends string = string> {
  identifier: Identifier<E>;
  ascending: boolean;
  /** The clause as written. */
  text: string;
}

/** Prefix as written (lower-cased) → the entity it names, e.g. `{ metrics: "metric", metric: "metric" }`. */
export type Prefixes<E extends string = string> = Readonly<Record<string, E>>;

// ---------------------------------------------------------------- tokens

type TokenKind = "word" | "ident" | "string" | "number" | "op" | "dot" | "lparen" | "rparen" | "comma" | "end";

export interface Token {
  kind: TokenKind;
  /** Unquoted text (for strings and quoted identifiers, the content). */
  text: string;
  /** For quoted tokens: which quote delimited it. */
  quote?: "'" | '"' | "`";
  pos: number;
  end: number;
}

function syntaxError(source: string, pos: number, problem: string, what: string): MlflowError {
  const near = source.slice(pos, pos + 20);
  const where = pos >= source.length ? "at the end" : `at position ${pos} (near '${near}')`;
  return invalidParameter(`Invalid ${what} '${source.length > 500 ? `${source.slice(0, 500)}…` : source}': ${problem} ${where}`);
}

const WORD = /[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*/y;
const KEY_PART = /[A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*/y;
const NUMBER = /[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y;
const WORD_START = /[A-Za-z_]/;
const DIGIT = /\d/;
const SPACE = /\s/;

/**
 * Splits a filter into tokens; a character outside the grammar is an error
 * naming its position. Quoted text: `''` (or `""`) and a backslash before the
 * quote stand for the quote, `\\` for one backslash; any other backslash is
 * itself (Windows paths in `source_path` survive).
 */
export function tokenize(source: string, what = "filter"): Token[] {
  // PostgreSQL's text cannot hold NUL: refused here, a search never becomes a 500 there.
  const nul = source.indexOf("\u0000");
  if (nul >= 0) throw syntaxError(source, nul, "NUL characters are not allowed", what);
  const out: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const ch = source[i]!;
    if (SPACE.test(ch)) {
      i++;
      continue;
    }
    const start = i;
    if (ch === "'" || ch === '"' || ch === "`") {
      let text = "";
      i++;
      for (;;) {
        if (i >= source.length) throw syntaxError(source, start, `unterminated quoted text starting with ${ch}`, what);
        const c = source[i]!;
        if (c === "\\" && ch !== "`" && (source[i + 1] === ch || source[i + 1] === "\\")) {
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
      out.push({ kind: ch === "`" ? "ident" : "string", text, quote: ch, pos: start, end: i });
      continue;
    }
    const last = out[out.length - 1];
    // Right after a dot, a key part may start with a digit (`tags.2fa`, `tags.v1.0`).
    const keyPart = last?.kind === "dot" && last.end === i && DIGIT.test(ch);
    if (WORD_START.test(ch) || keyPart) {
      (keyPart ? KEY_PART : WORD).lastIndex = i;
      (keyPart ? KEY_PART : WORD).exec(source);
      i = (keyPart ? KEY_PART : WORD).lastIndex;
      out.push({ kind: "word", text: source.slice(start, i), pos: start, end: i });
      continue;
    }
    let num: RegExpExecArray | null = null;
    if (DIGIT.test(ch) || ch === "-" || ch === "+" || ch === ".") {
      NUMBER.lastIndex = i;
      num = NUMBER.exec(source);
    }
    // A sign right after an operand is not part of a number (`a-1` is no comparison either way).
    if (num && (DIGIT.test(ch) || !isOperandEnd(out))) {
      i += num[0].length;
      out.push({ kind: "number", text: num[0], pos: start, end: i });
      continue;
    }
    const two = source.slice(i, i + 2);
    if (two === "!=" || two === ">=" || two === "<=" || two === "<>" || two === "==") {
      out.push({ kind: "op", text: two === "<>" ? "!=" : two === "==" ? "=" : two, pos: start, end: i + 2 });
      i += 2;
      continue;
    }
    if (ch === "=" || ch === ">" || ch === "<") {
      out.push({ kind: "op", text: ch, pos: start, end: i + 1 });
      i++;
      continue;
    }
    if (ch === "." || ch === "(" || ch === ")" || ch === ",") {
      out.push({ kind: ch === "." ? "dot" : ch === "(" ? "lparen" : ch === ")" ? "rparen" : "comma", text: ch, pos: start, end: i + 1 });
      i++;
      continue;
    }
    throw syntaxError(source, start, `unexpected character '${ch}'`, what);
  }
  out.push({ kind: "end", text: "", pos: source.length, end: source.length });
  return out;
}

/** True when the previous token ends an operand, so a following sign or dot is not part of a number. */
function isOperandEnd(tokens: Token[]): boolean {
  const last = tokens[tokens.length - 1];
  return !!last && (last.kind === "word" || last.kind === "ident" || last.kind === "number" || last.kind === "rparen");
}

// ---------------------------------------------------------------- parser

class Parser<E extends string> {
  private i = 0;
  constructor(
    private readonly source: string,
    private readonly tokens: Token[],
    private readonly what: string,
    private readonly prefixes: Prefixes<E>,
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

  parseFilter(): Comparison<E>[] {
    const clauses = [this.parseComparison()];
    while (!this.atEnd()) {
      const t = this.next();
      if (this.isWord(t, "AND")) clauses.push(this.parseComparison());
      else if (this.isWord(t, "OR")) throw this.fail(t, "'OR' is not supported; only 'AND' joins conditions");
      else throw this.fail(t, `expected 'AND' but found '${t.text}'`);
    }
    return clauses;
  }

  /** `key`, `` `key` ``, `"key"`, `prefix.key`, `` `prefix`.key ``; keys may be dotted (`metrics.val.loss`). */
  parseIdentifier(): Identifier<E> {
    const t = this.next();
    const quoted = t.kind === "ident" || (t.kind === "string" && t.quote === '"');
    if (!quoted && t.kind !== "word") {
      throw this.fail(t, t.kind === "end" ? "expected an identifier such as metrics.<name>" : `expected an identifier but found '${t.text}'`);
    }
    if (this.peek().kind === "dot" && this.peek().pos === t.end) {
      const entity = this.prefixes[t.text.toLowerCase()];
      if (!entity) {
        throw this.fail(t, `invalid entity type '${t.text}'; valid values are ${[...new Set(Object.values(this.prefixes))].join(", ")}`);
      }
      this.next();
      const key = this.parseKey();
      return { entity, key, text: this.source.slice(t.pos, this.tokens[this.i - 1]!.end), pos: t.pos };
    }
    return { entity: "attribute", key: t.text, text: this.source.slice(t.pos, t.end), pos: t.pos };
  }

  /** A key after `prefix.`: quoted, or parts joined by dots without spaces; a part may be quoted. */
  private parseKey(): string {
    const first = this.next();
    if (first.kind === "ident" || first.kind === "string") return first.text;
    if (first.kind !== "word" && first.kind !== "number") {
      throw this.fail(first, first.kind === "end" ? "expected a key name" : `expected a key name but found '${first.text}'`);
    }
    let key = first.text;
    let end = first.end;
    while (this.peek().kind === "dot" && this.peek().pos === end) {
      this.next();
      const part = this.next();
      const ok = part.kind === "word" || part.kind === "number" || part.kind === "ident" || part.kind === "string";
      if (!ok || part.pos !== end + 1) throw this.fail(part, "expected a key part right after '.'");
      key += `.${part.text}`;
      end = part.end;
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

  parseComparison(): Comparison<E> {
    const identifier = this.parseIdentifier();
    const comparator = this.parseComparator();
    return { identifier, comparator, value: this.parseValue(comparator) };
  }

  parseOrder(): OrderTerm<E> {
    const identifier = this.parseIdentifier();
    let ascending = true;
    const t = this.peek();
    if (this.isWord(t, "ASC") || this.isWord(t, "DESC")) ascending = this.next().text.toUpperCase() === "ASC";
    if (!this.atEnd()) throw this.fail(this.peek(), `expected ASC, DESC or the end of the clause but found '${this.peek().text}'`);
    return { identifier, ascending, text: this.source };
  }

  parseLoneIdentifier(): Identifier<E> {
    const id = this.parseIdentifier();
    if (!this.atEnd()) throw this.fail(this.peek(), `expected the end of the field name but found '${this.peek().text}'`);
    return id;
  }
}

/** Parses a filter into AND-ed comparisons; an empty or blank filter has none. */
export function parseFilter<E extends string>(filter: string | undefined, prefixes: Prefixes<E>): Comparison<E>[] {
  if (filter === undefined || filter === null || filter.trim() === "") return [];
  return new Parser(filter, tokenize(filter), "filter", prefixes).parseFilter();
}

/** Parses one order_by clause: `metrics.acc DESC`, `` tags.`my tag` ``, `start_time`. */
export function parseOrderBy<E extends string>(clause: string, prefixes: Prefixes<E>): OrderTerm<E> {
  if (typeof clause !== "string" || clause.trim() === "") throw invalidParameter(`Invalid order_by clause '${String(clause)}': it is empty`);
  return new Parser(clause, tokenize(clause, "order_by clause"), "order_by clause", prefixes).parseOrder();
}

/** Parses a field name alone (a logged-model order_by's `field_name`). */
export function parseIdentifier<E extends string>(text: string, prefixes: Prefixes<E>): Identifier<E> {
  return new Parser(text, tokenize(text, "field name"), "field name", prefixes).parseLoneIdentifier();
}
