/**
 * `metrics show|diff`, `params diff` and `gate`: the metrics files of a
 * pipeline (stage `metrics:` and top-level `metrics:`; JSON, YAML, TOML, CSV)
 * and the params its stages read, at two revisions, compared as DVC compares them.
 */
import { invalidParameter } from "../errors.js";
import { flatten, getKey, parseParamsText, sameValue } from "./params.js";
import type { Revision } from "./revisions.js";
import { DEFAULT_PARAMS_FILE, type Pipeline } from "./spec.js";

/** path → flattened key → value. */
export type Values = Record<string, Record<string, unknown>>;

export function metricsFiles(p: Pipeline | undefined): string[] {
  if (!p) return [];
  const files = [...p.stages.flatMap((s) => s.outs.filter((o) => o.kind === "metrics").map((o) => o.rel)), ...p.metrics];
  return [...new Set(files)];
}

/** The metrics of a revision: every metrics file that exists there, flattened. */
export function readMetrics(rev: Revision): Values {
  const out: Values = {};
  for (const f of metricsFiles(rev.pipeline)) {
    const text = rev.read(f);
    if (text === undefined) continue;
    try {
      out[f] = flatten(parseParamsText(text, f));
    } catch {
      continue;
    }
  }
  return out;
}

/** The params the stages read (and top-level `params:` files), by file and key. */
export function readParams(rev: Revision): Values {
  const out: Values = {};
  const p = rev.pipeline;
  if (!p) return out;
  const wanted = new Map<string, Set<string> | "all">();
  for (const s of p.stages) {
    for (const ps of s.params) {
      if (ps.keys.length === 0) wanted.set(ps.rel, "all");
      else if (wanted.get(ps.rel) !== "all") {
        const set = (wanted.get(ps.rel) as Set<string> | undefined) ?? new Set<string>();
        ps.keys.forEach((k) => set.add(k));
        wanted.set(ps.rel, set);
      }
    }
  }
  for (const f of p.params) wanted.set(f, "all");
  if (wanted.size === 0 && rev.read(DEFAULT_PARAMS_FILE) !== undefined) wanted.set(DEFAULT_PARAMS_FILE, "all");
  for (const [file, keys] of wanted) {
    const text = rev.read(file);
    if (text === undefined) continue;
    let data: Record<string, unknown>;
    try {
      data = parseParamsText(text, file);
    } catch {
      continue;
    }
    if (keys === "all") out[file] = flatten(data);
    else {
      const kv: Record<string, unknown> = {};
      for (const k of keys) {
        const r = getKey(data, k);
        if (!r.found) continue;
        if (typeof r.value === "object" && r.value !== null && !Array.isArray(r.value)) Object.assign(kv, flatten(r.value, k));
        else kv[k] = r.value;
      }
      out[file] = kv;
    }
  }
  return out;
}

export interface DiffRow {
  path: string;
  key: string;
  old?: unknown;
  new?: unknown;
  /** new − old, for numbers. */
  change?: number;
}

/** Rows for every key in either revision; `all` keeps unchanged ones. */
export function diffValues(a: Values, b: Values, all = false): DiffRow[] {
  const rows: DiffRow[] = [];
  const files = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const f of files) {
    const ka = a[f] ?? {};
    const kb = b[f] ?? {};
    for (const k of [...new Set([...Object.keys(ka), ...Object.keys(kb)])].sort()) {
      const o = ka[k];
      const n = kb[k];
      const same = k in ka && k in kb && sameValue(o, n);
      if (same && !all) continue;
      rows.push({ path: f, key: k, ...(k in ka ? { old: o } : {}), ...(k in kb ? { new: n } : {}), ...(typeof o === "number" && typeof n === "number" ? { change: round(n - o) } : {}) });
    }
  }
  return rows;
}

function round(x: number): number {
  return Number.parseFloat(x.toPrecision(12));
}

export function show(v: unknown): string {
  if (v === undefined) return "-";
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}

/** A metric by `key` or `path:key` in a revision's metrics; fails when absent or ambiguous. */
export function findMetric(values: Values, name: string, where: string): { path: string; key: string; value: number } | undefined {
  const colon = name.lastIndexOf(":");
  const candidates: { path: string; key: string; value: unknown }[] = [];
  for (const [f, kv] of Object.entries(values)) {
    if (colon > 0 && name.slice(0, colon) === f) {
      const k = name.slice(colon + 1);
      if (k in kv) candidates.push({ path: f, key: k, value: kv[k] });
    } else if (name in kv) candidates.push({ path: f, key: name, value: kv[name] });
  }
  if (candidates.length === 0) return undefined;
  if (candidates.length > 1) throw invalidParameter(`metric '${name}' is in several files (${candidates.map((c) => c.path).join(", ")}) in ${where}: name it as <file>:${name}`);
  const c = candidates[0]!;
  if (typeof c.value !== "number") throw invalidParameter(`metric '${name}' in ${c.path} (${where}) is not a number: ${show(c.value)}`);
  return { path: c.path, key: c.key, value: c.value };
}

export interface GateOptions {
  metric: string;
  min?: number;
  max?: number;
  /** Compare with the metric at this revision. */
  notWorseThan?: string;
  tolerance?: number;
  /** Smaller is better (loss, error); default larger is better. */
  lowerIsBetter?: boolean;
}

export interface GateResult {
  ok: boolean;
  /** One line: why it failed, or what passed. */
  message: string;
  value: number;
  baseValue?: number;
}

/** Judges the workspace metric against the bounds and the base revision's value. */
export function judge(current: Values, base: Values | undefined, opts: GateOptions, baseName?: string): GateResult {
  const found = findMetric(current, opts.metric, "the workspace");
  if (!found) throw invalidParameter(`metric '${opts.metric}' is not in any metrics file of the workspace (${Object.keys(current).join(", ") || "no metrics files"})`);
  const v = found.value;
  const fails: string[] = [];
  if (opts.min !== undefined && v < opts.min) fails.push(`${opts.metric} is ${v}, below the minimum ${opts.min}`);
  if (opts.max !== undefined && v > opts.max) fails.push(`${opts.metric} is ${v}, above the maximum ${opts.max}`);
  let baseValue: number | undefined;
  if (base) {
    const b = findMetric(base, opts.metric, baseName ?? "the base");
    if (!b) throw invalidParameter(`metric '${opts.metric}' is not in any metrics file at ${baseName}`);
    baseValue = b.value;
    const tol = opts.tolerance ?? 0;
    const worse = opts.lowerIsBetter ? v > b.value + tol : v < b.value - tol;
    if (worse) fails.push(`${opts.metric} got worse: ${v} in the workspace against ${b.value} at ${baseName} (${opts.lowerIsBetter ? "lower" : "higher"} is better, tolerance ${tol})`);
  }
  if (fails.length) return { ok: false, message: fails.join("; "), value: v, baseValue };
  return { ok: true, message: `${opts.metric} = ${v}${baseValue !== undefined ? ` (${baseName}: ${baseValue})` : ""}: the gate passes`, value: v, baseValue };
}
