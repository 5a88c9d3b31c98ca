/**
 * Params and metrics files as DVC reads them: YAML, JSON, TOML (and CSV/TSV
 * for metrics), looked up by dotted key.
 */
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { parse as parseToml } from "smol-toml";
import { invalidParameter } from "../errors.js";

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Python's `str()` of a float: `1.0`, `0.1`, `1e-05`. */
export function pythonFloatText(x: number): string {
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return `${x}.0`;
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  const exp = x.toExponential();
  const m = exp.match(/^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/)!;
  const n = Number(m[4]);
  if (n < -4 || n >= 16) return `${m[1]}${m[2]}${m[3] ? `.${m[3]}` : ""}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  return String(x);
}

/**
 * YAML whose floats become the text Python prints for them (`1.0` stays `1.0`, `1e-5` is
 * `1e-05`): for `${}` interpolation, where DVC puts `str(value)` into commands and stage names.
 */
export function parseYamlForInterpolation(text: string): unknown {
  const doc = YAML.parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) throw doc.errors[0];
  YAML.visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value !== "number") return;
      const v = node.value;
      const isFloat = !Number.isInteger(v) || (node.minFractionDigits ?? 0) > 0 || node.format === "EXP" || /[.eE]|nan|inf/i.test(String(node.source ?? ""));
      if (isFloat) node.value = pythonFloatText(v);
    },
  });
  return doc.toJS();
}

/** Parses params/metrics text by the file's extension; `shown` names the file in errors. */
export function parseParamsText(text: string, shown: string, { forInterpolation = false } = {}): Record<string, unknown> {
  const ext = path.extname(shown).toLowerCase();
  let data: unknown;
  try {
    if (ext === ".json") data = JSON.parse(text);
    else if (ext === ".toml") data = plainToml(parseToml(text));
    else if (ext === ".csv" || ext === ".tsv") data = parseDelimited(text, ext === ".tsv" ? "\t" : ",");
    else data = forInterpolation ? parseYamlForInterpolation(text) : YAML.parse(text);
  } catch (err) {
    throw invalidParameter(`${shown} is not valid ${ext === ".json" ? "JSON" : ext === ".toml" ? "TOML" : ext === ".csv" || ext === ".tsv" ? "CSV" : "YAML"}: ${(err as Error).message.split("\n")[0]}`);
  }
  if (data === null || data === undefined) return {};
  if (Array.isArray(data)) return { ...data } as Record<string, unknown>;
  if (!isRecord(data)) throw invalidParameter(`${shown} must hold a dictionary of values`);
  return data;
}

/** TOML dates and big integers become plain values. */
function plainToml(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(plainToml);
  if (isRecord(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plainToml(x)]));
  return v;
}

function parseNumber(s: string): unknown {
  const t = s.trim();
  if (t !== "" && !Number.isNaN(Number(t))) return Number(t);
  return t;
}

/** A CSV metrics file: one row is a dictionary of columns; several rows a list of them, as DVC shows them. */
function parseDelimited(text: string, sep: string): unknown {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length === 0) return {};
  const header = lines[0]!.split(sep).map((h) => h.trim());
  const rows = lines.slice(1).map((l) => Object.fromEntries(l.split(sep).map((c, i) => [header[i] ?? `col${i}`, parseNumber(c)])));
  return rows.length === 1 ? rows[0] : rows;
}

/** Reads a params file (YAML, JSON or TOML). */
export function readParamsFile(abs: string, shown: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(abs, "utf8");
  } catch {
    throw invalidParameter(`${shown} does not exist`);
  }
  return parseParamsText(text, shown);
}

/** The value of a dotted key (`train.lr`), trying the longest literal key first as DVC does. */
export function getKey(data: Record<string, unknown>, key: string): { found: boolean; value?: unknown } {
  if (Object.prototype.hasOwnProperty.call(data, key)) return { found: true, value: data[key] };
  const parts = key.split(".");
  for (let i = parts.length - 1; i >= 1; i--) {
    const head = parts.slice(0, i).join(".");
    const v = data[head];
    if (isRecord(v)) {
      const r = getKey(v, parts.slice(i).join("."));
      if (r.found) return r;
    } else if (Array.isArray(v) && i === parts.length - 1 && /^\d+$/.test(parts[i]!)) {
      const idx = Number(parts[i]);
      if (idx < v.length) return { found: true, value: v[idx] };
    }
  }
  return { found: false };
}

/** Every leaf of a nested dictionary as `a.b.c` → value (lists kept whole), as `params diff` shows them. */
export function flatten(data: unknown, prefix = "", out: Record<string, unknown> = {}): Record<string, unknown> {
  if (isRecord(data)) {
    for (const [k, v] of Object.entries(data)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out[prefix] = data;
  }
  return out;
}

/** Deep equality with Python's rules for what DVC compares (1 == 1.0). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && sameValue(a[k], b[k]));
  }
  return false;
}
