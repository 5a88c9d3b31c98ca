import type { FastifyRequest } from "fastify";
import { invalidParameter, missingParameter, wrongTypeParameter } from "../errors.js";

/**
 * Request input the way MLflow reads it: the query string for GET, the JSON
 * body otherwise. Typed getters raise INVALID_PARAMETER_VALUE with MLflow's
 * wording when a field is missing or of the wrong type.
 */
export type Input = Record<string, unknown>;

export function input(req: FastifyRequest): Input {
  const src = req.method === "GET" || req.method === "HEAD" ? req.query : req.body;
  if (src === undefined || src === null) return {};
  if (typeof src !== "object" || Array.isArray(src)) {
    throw invalidParameter("Request body must be a JSON object");
  }
  return src as Input;
}

function first(v: unknown): unknown {
  return Array.isArray(v) && v.length === 1 ? v[0] : v;
}

export function optString(inp: Input, name: string): string | undefined {
  const v = first(inp[name]);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") {
    throw wrongTypeParameter(name, v, writtenAsFloat(inp, name));
  }
  return v;
}

/**
 * The text each parsed JSON body came from, so that an error message can tell whether a number
 * was written as a float (`9.0`, `1e3`): JSON.parse makes those integers, MLflow (Python) keeps
 * them floats and echoes them so. Only error messages read it, so nothing is scanned otherwise.
 */
const rawBodies = new WeakMap<object, string>();

/** `"key": number` anywhere in a JSON text (keys as written, escapes and all). */
const NUMBER_FIELD = /"((?:[^"\\]|\\.)*)"\s*:\s*(-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)/g;

/** Keeps the text a parsed JSON object body came from (for {@link writtenAsFloat}). */
export function rememberRawBody(body: unknown, raw: string): void {
  if (body && typeof body === "object" && !Array.isArray(body)) rawBodies.set(body, raw);
}

/** Whether the top-level field `name` of a JSON body holds a number written as a float; the last literal wins, as in JSON.parse. */
function writtenAsFloat(inp: Input, name: string): boolean {
  const raw = rawBodies.get(inp);
  if (raw === undefined) return false;
  let float = false;
  for (const m of raw.matchAll(NUMBER_FIELD)) if (m[1] === name) float = /[.eE]/.test(m[2]!);
  return float;
}

export function reqString(inp: Input, name: string): string {
  const v = optString(inp, name);
  if (v === undefined || v === "") {
    throw missingParameter(name);
  }
  return v;
}

export function optInt(inp: Input, name: string): number | undefined {
  const v = first(inp[name]);
  if (v === undefined || v === null || v === "") return undefined;
  const n = typeof v === "number" ? v : typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw wrongTypeParameter(name, v);
  }
  return n;
}

export function reqInt(inp: Input, name: string): number {
  const v = optInt(inp, name);
  if (v === undefined) {
    throw missingParameter(name);
  }
  return v;
}

export function optNumber(inp: Input, name: string): number | undefined {
  const v = first(inp[name]);
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v === "number") return v;
  if (typeof v === "string") {
    const t = v.trim();
    if (t === "NaN") return NaN;
    if (t === "Infinity" || t === "inf") return Infinity;
    if (t === "-Infinity" || t === "-inf") return -Infinity;
    const n = Number(t);
    if (t !== "" && !Number.isNaN(n)) return n;
  }
  throw wrongTypeParameter(name, v);
}

export function optBool(inp: Input, name: string): boolean | undefined {
  const v = first(inp[name]);
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v === "boolean") return v;
  if (v === "true" || v === "True") return true;
  if (v === "false" || v === "False") return false;
  throw wrongTypeParameter(name, v);
}

/** A repeated field: `?a=1&a=2` in a query, an array in JSON. */
export function optStringList(inp: Input, name: string): string[] | undefined {
  const v = inp[name];
  if (v === undefined || v === null) return undefined;
  const arr = Array.isArray(v) ? v : [v];
  for (const item of arr) {
    if (typeof item !== "string") {
      throw wrongTypeParameter(name, v);
    }
  }
  return arr as string[];
}

export function optArray(inp: Input, name: string): unknown[] | undefined {
  const v = inp[name];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) {
    throw wrongTypeParameter(name, v);
  }
  return v;
}

/** Key/value tag objects, `[{key, value}]`. */
export function optTags(inp: Input, name = "tags"): { key: string; value: string }[] | undefined {
  const arr = optArray(inp, name);
  if (!arr) return undefined;
  return arr.map((t) => {
    if (!t || typeof t !== "object") throw invalidParameter(`Invalid value for parameter '${name}': each tag must be an object`);
    const o = t as Input;
    const key = optString(o, "key");
    if (key === undefined) throw invalidParameter(`Missing value for required parameter 'key' in '${name}'`);
    const raw = o.value;
    const value = raw === undefined || raw === null ? "" : typeof raw === "string" ? raw : String(raw);
    return { key, value };
  });
}

/** MLflow's `_assert_intlike`: a number, or text Python's `int()` reads; absent is fine. */
export function checkIntLike(inp: Input, name: string): void {
  const v = first(inp[name]);
  if (v === undefined || v === null) return;
  const ok = typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v)) || (typeof v === "string" && /^\s*[+-]?\d+(_\d+)*\s*$/.test(v));
  if (!ok) throw wrongTypeParameter(name, v);
}

/** MLflow's `_assert_floatlike`: a number, or text Python's `float()` reads; absent is fine. */
export function checkFloatLike(inp: Input, name: string): void {
  const v = first(inp[name]);
  if (v === undefined || v === null) return;
  const ok =
    typeof v === "number" ||
    typeof v === "boolean" ||
    (typeof v === "string" && /^\s*[+-]?((\d+(_\d+)*)?\.?\d*(_\d+)*([eE][+-]?\d+)?|inf(inity)?|nan)\s*$/i.test(v) && /\d|inf|nan/i.test(v));
  if (!ok) throw wrongTypeParameter(name, v);
}

/** Each entry of a list field has the named fields: `Missing value for required parameter 'metrics[0].timestamp'`. */
export function requireEntryFields(list: unknown[] | undefined, name: string, fields: string[]): void {
  list?.forEach((entry, i) => {
    const o = entry && typeof entry === "object" && !Array.isArray(entry) ? (entry as Input) : {};
    for (const field of fields) {
      const v = o[field];
      if (v === undefined || v === null || v === "") {
        throw invalidParameter(`Missing value for required parameter '${name}[${i}].${field}'. See the API docs for more information about request parameters.`);
      }
    }
  });
}
