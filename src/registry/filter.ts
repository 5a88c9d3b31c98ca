import { invalidParameter } from "../errors.js";

/**
 * The registry's search language, as MLflow defines it for registered models,
 * model versions and logged models: comparisons joined by `AND`, e.g.
 * `name ILIKE '%fraud%' AND tags.team = 'risk'` or `run_id IN ('a', 'b')`.
 */
export type Comparator = "=" | "!=" | "<" | "<=" | ">" | ">=" | "LIKE" | "ILIKE" | "IN" | "NOT IN";

export interface Clause {
  /** `attribute` for plain keys, else the prefix (`tags`, `params`, `metrics`). */
  type: "attribute" | "tags" | "params" | "metrics";
  key: string;
  op: Comparator;
  value: string | number | string[];
}

type Token =
  | { t: "ident"; v: string }
  | { t: "string"; v: string }
  | { t: "number"; v: number }
  | { t: "op"; v: string }
  | { t: "lparen" }
  | { t: "rparen" }
  | { t: "comma" };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      let s = "";
      for (;;) {
        if (j >= src.length) throw invalidParameter(`Invalid filter '${src}': unterminated string`);
        if (src[j] === c) {
          if (src[j + 1] === c) {
            s += c;
            j += 2;
            continue;
          }
          break;
        }
        if (src[j] === "\\" && src[j + 1] === c) {
          s += c;
          j += 2;
          continue;
        }
        s += src[j];
        j++;
      }
      out.push({ t: "string", v: s });
      i = j + 1;
    } else if (c === "`") {
      const j = src.indexOf("`", i + 1);
      if (j < 0) throw invalidParameter(`Invalid filter '${src}': unterminated backtick`);
      // a quoted key continues the identifier before it (tags.`my key`)
      const prev = out[out.length - 1];
      if (prev && prev.t === "ident" && prev.v.endsWith(".")) prev.v += src.slice(i + 1, j);
      else out.push({ t: "ident", v: src.slice(i + 1, j) });
      i = j + 1;
    } else if (c === "(") {
      out.push({ t: "lparen" });
      i++;
    } else if (c === ")") {
      out.push({ t: "rparen" });
      i++;
    } else if (c === ",") {
      out.push({ t: "comma" });
      i++;
    } else if ("=!<>".includes(c)) {
      const two = src.slice(i, i + 2);
      if (two === "!=" || two === "<=" || two === ">=" || two === "==") {
        out.push({ t: "op", v: two === "==" ? "=" : two });
        i += 2;
      } else if (c === "!") {
        throw invalidParameter(`Invalid filter '${src}': unexpected '!'`);
      } else {
        out.push({ t: "op", v: c });
        i++;
      }
    } else if (/[-0-9.]/.test(c) && /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/.test(src.slice(i)) && !(out.length && out[out.length - 1]!.t === "ident" && !/\s/.test(src[i - 1] ?? " "))) {
      const m = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/.exec(src.slice(i))!;
      out.push({ t: "number", v: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_.\-]*/.exec(src.slice(i))!;
      out.push({ t: "ident", v: m[0] });
      i += m[0].length;
    } else {
      throw invalidParameter(`Invalid filter '${src}': unexpected character '${c}'`);
    }
  }
  return out;
}

/** Parses a filter into clauses; an empty filter is no clause. */
export function parseFilter(filter: string | undefined): Clause[] {
  if (!filter || !filter.trim()) return [];
  const toks = tokenize(filter);
  const clauses: Clause[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw invalidParameter(`Invalid filter '${filter}': ${why}`);
  };
  for (;;) {
    const id = toks[i++];
    if (!id || id.t !== "ident") fail("expected a key such as name or tags.<key>");
    const ident = (id as { v: string }).v;
    let type: Clause["type"] = "attribute";
    let key = ident;
    const dot = ident.indexOf(".");
    if (dot > 0) {
      const prefix = ident.slice(0, dot).toLowerCase();
      const map: Record<string, Clause["type"]> = { tags: "tags", tag: "tags", params: "params", param: "params", metrics: "metrics", metric: "metrics", attributes: "attribute", attribute: "attribute", attr: "attribute" };
      const t = map[prefix];
      if (!t) fail(`unknown key prefix '${prefix}'`);
      type = t!;
      key = ident.slice(dot + 1);
      if (!key) fail("empty key");
    }
    let opTok = toks[i++];
    let op: Comparator;
    if (opTok?.t === "op") op = opTok.v as Comparator;
    else if (opTok?.t === "ident" && /^(like|ilike|in)$/i.test(opTok.v)) op = opTok.v.toUpperCase() as Comparator;
    else if (opTok?.t === "ident" && /^not$/i.test(opTok.v) && toks[i]?.t === "ident" && /^in$/i.test((toks[i] as { v: string }).v)) {
      i++;
      op = "NOT IN";
    } else {
      op = fail("expected a comparator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN)");
    }
    let value: Clause["value"];
    if (op === "IN" || op === "NOT IN") {
      if (toks[i++]?.t !== "lparen") fail("IN needs a parenthesised list of strings");
      const list: string[] = [];
      for (;;) {
        const v = toks[i++];
        if (!v || v.t !== "string") fail("IN lists hold quoted strings");
        list.push((v as { v: string }).v);
        const sep = toks[i++];
        if (sep?.t === "rparen") break;
        if (sep?.t !== "comma") fail("expected ',' or ')' in an IN list");
      }
      value = list;
    } else {
      const v = toks[i++];
      if (!v || (v.t !== "string" && v.t !== "number")) fail("expected a quoted string or a number after the comparator");
      value = (v as { v: string | number }).v;
    }
    clauses.push({ type, key, op, value });
    const next = toks[i];
    if (!next) break;
    if (next.t === "ident" && /^and$/i.test(next.v)) {
      i++;
      continue;
    }
    fail(next.t === "ident" && /^or$/i.test(next.v) ? "OR is not supported" : "expected AND between comparisons");
  }
  return clauses;
}

export interface OrderTerm {
  key: string;
  ascending: boolean;
}

/** `name ASC`, `last_updated_timestamp DESC`, `version_number`. */
export function parseOrderBy(terms: string[] | undefined, valid: readonly string[]): OrderTerm[] {
  const out: OrderTerm[] = [];
  const seen = new Set<string>();
  for (const raw of terms ?? []) {
    const m = /^\s*(?:attributes?\.)?`?([A-Za-z_]+)`?\s*(ASC|DESC)?\s*$/i.exec(raw);
    let key = m?.[1];
    if (key === "timestamp") key = "creation_timestamp";
    if (!m || !key || !valid.includes(key)) {
      throw invalidParameter(`Invalid order_by clause '${raw}'. Valid keys are ${valid.join(", ")}, optionally followed by ASC or DESC.`);
    }
    if (seen.has(key)) throw invalidParameter(`\`order_by\` contains duplicate fields: ${JSON.stringify(terms)}`);
    seen.add(key);
    out.push({ key, ascending: (m[2] ?? "ASC").toUpperCase() === "ASC" });
  }
  return out;
}
