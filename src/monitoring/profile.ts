/**
 * Reference profiles: per column, what the drift tests need and nothing of
 * the raw rows. A numerical column keeps its sorted distinct values with
 * their counts (typed arrays); a categorical one its category counts. Built in
 * one pass over the columns, stored once (JSON, typed arrays in base64) as an
 * artifact of the model version, read back by every monitor.
 */
import { invalidParameter } from "../errors.js";
import type { ColumnBuilder, Table } from "./columns.js";
import { distMean, distOf, distStd, foldSorted, type Dist } from "./dist.js";

export type ColumnKind = "numerical" | "categorical";

/** Evidently's limit: an integer column with at most this many distinct values is categorical. */
export const INTEGER_CARDINALITY_LIMIT = 10;

export interface NumericalProfile {
  kind: "numerical";
  /** Rows with a finite value. */
  count: number;
  missing: number;
  /** Rows whose value was not a number (counted, not tested). */
  invalid: number;
  invalidExample?: string;
  dist: Dist;
  min: number;
  max: number;
  mean: number;
  std: number;
  /** True when the distinct values were thinned to quantiles to bound the profile's size. */
  approximate?: boolean;
}

export interface CategoricalProfile {
  kind: "categorical";
  count: number;
  missing: number;
  invalid: 0;
  categories: Map<string, number>;
}

export type ColumnProfile = NumericalProfile | CategoricalProfile;

export interface Profile {
  rows: number;
  columns: Map<string, ColumnProfile>;
  createdAt: number;
  /** Where the data came from (a file, a run's dataset, a log window). */
  source?: string;
}

export interface ProfileOptions {
  /** Force a column's kind; otherwise it is inferred as Evidently infers it. */
  kinds?: Record<string, ColumnKind>;
  /** Only these columns. */
  columns?: string[];
  /** Numerical columns with more distinct values than this are stored as this many equal-mass quantiles (default: no limit). */
  maxDistinct?: number;
}

/** The kind a column has by its values: text → categorical; integers with few values → categorical; numbers → numerical. */
export function inferKind(b: ColumnBuilder): ColumnKind {
  if (b.textRows > b.numericRows) return "categorical";
  if (b.numericRows === 0) return "categorical";
  if (!b.fractional) {
    const distinct = new Set<number>();
    const xs = b.values();
    for (let i = 0; i < xs.length && distinct.size <= INTEGER_CARDINALITY_LIMIT; i++) if (xs[i] === xs[i]) distinct.add(xs[i]!);
    if (distinct.size <= INTEGER_CARDINALITY_LIMIT) return "categorical";
  }
  return "numerical";
}

/** A number as a category name: `1`, `2.5` (as Python prints floats that are integers in an integer column). */
function numberKey(x: number): string {
  return String(x);
}

/** Profiles one column as the given kind. */
export function profileColumn(b: ColumnBuilder, kind: ColumnKind, maxDistinct?: number): ColumnProfile {
  if (kind === "categorical") {
    const categories = new Map(b.text);
    const xs = b.values();
    if (b.numericRows > 0) {
      const d = distOf(xs);
      for (let i = 0; i < d.values.length; i++) {
        const k = numberKey(d.values[i]!);
        categories.set(k, (categories.get(k) ?? 0) + d.counts[i]!);
      }
    }
    return { kind, count: b.numericRows + b.textRows, missing: b.missing, invalid: 0, categories };
  }
  let dist = distOf(b.values());
  let approximate: boolean | undefined;
  if (maxDistinct && dist.values.length > maxDistinct) {
    dist = thin(dist, maxDistinct);
    approximate = true;
  }
  const invalidExample = b.text.size ? b.text.keys().next().value : undefined;
  const p: NumericalProfile = {
    kind,
    count: dist.n,
    missing: b.missing,
    invalid: b.textRows,
    dist,
    min: dist.n ? dist.values[0]! : 0,
    max: dist.n ? dist.values[dist.values.length - 1]! : 0,
    mean: dist.n ? distMean(dist) : 0,
    std: dist.n ? distStd(dist) : 0,
  };
  if (invalidExample !== undefined) p.invalidExample = invalidExample;
  if (approximate) p.approximate = true;
  return p;
}

/** Keeps `k` equal-mass quantile points of a distribution (each carrying n/k of the mass). */
function thin(d: Dist, k: number): Dist {
  const values = new Float64Array(k);
  const step = d.n / k;
  let c = 0;
  let i = 0;
  for (let q = 0; q < k; q++) {
    const target = (q + 0.5) * step;
    while (i < d.values.length - 1 && c + d.counts[i]! <= target) c += d.counts[i++]!;
    values[q] = d.values[i]!;
  }
  const folded = foldSorted(values);
  for (let j = 0; j < folded.counts.length; j++) folded.counts[j]! *= step;
  folded.n = d.n;
  return folded;
}

/**
 * Profiles a table in one pass per column.
 *
 * @example
 * ```ts
 * const profile = buildProfile(readTableFile("train.csv"), { kinds: { zip: "categorical" } });
 * ```
 */
export function buildProfile(table: Table, opts: ProfileOptions = {}): Profile {
  const columns = new Map<string, ColumnProfile>();
  const wanted = opts.columns ? new Set(opts.columns) : undefined;
  if (wanted) for (const c of wanted) if (!table.columns.includes(c)) throw invalidParameter(`Column '${c}' is not in the data (it has ${table.columns.join(", ")})`);
  for (const b of table.data) {
    if (wanted && !wanted.has(b.name)) continue;
    const kind = opts.kinds?.[b.name] ?? inferKind(b);
    columns.set(b.name, profileColumn(b, kind, opts.maxDistinct));
  }
  return { rows: table.rows, columns, createdAt: Date.now() };
}

/** Profiles a current table with the kinds the reference decided. */
export function profileLike(table: Table, reference: Profile): Profile {
  const columns = new Map<string, ColumnProfile>();
  const byName = new Map(table.data.map((b) => [b.name, b]));
  for (const [name, ref] of reference.columns) {
    const b = byName.get(name);
    if (b) columns.set(name, profileColumn(b, ref.kind));
  }
  // columns the reference lacks are profiled too, so a report can name them
  for (const b of table.data) if (!reference.columns.has(b.name)) columns.set(b.name, profileColumn(b, inferKind(b)));
  return { rows: table.rows, columns, createdAt: Date.now() };
}

// ---- serialisation ----------------------------------------------------------

export const PROFILE_FORMAT = "mloop-reference-profile";

function b64(a: Float64Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");
}

function unb64(s: string): Float64Array {
  const buf = Buffer.from(s, "base64");
  const out = new Float64Array(buf.length / 8);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

/** The profile as JSON text (format `mloop-reference-profile`, version 1). */
export function serializeProfile(p: Profile): string {
  const columns: Record<string, unknown> = {};
  for (const [name, c] of p.columns) {
    if (c.kind === "categorical") {
      columns[name] = { kind: c.kind, count: c.count, missing: c.missing, categories: Object.fromEntries(c.categories) };
    } else {
      columns[name] = {
        kind: c.kind,
        count: c.count,
        missing: c.missing,
        invalid: c.invalid,
        min: c.min,
        max: c.max,
        mean: c.mean,
        std: c.std,
        approximate: c.approximate ?? false,
        values: b64(c.dist.values),
        counts: b64(c.dist.counts),
      };
    }
  }
  return JSON.stringify({ format: PROFILE_FORMAT, version: 1, rows: p.rows, created_at: p.createdAt, source: p.source ?? null, columns });
}

/** Reads a profile back; throws INVALID_PARAMETER_VALUE on anything else. */
export function parseProfile(text: string): Profile {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw invalidParameter("The reference profile is not valid JSON");
  }
  if (!v || v.format !== PROFILE_FORMAT || v.version !== 1 || typeof v.columns !== "object" || v.columns === null) {
    throw invalidParameter(`Not a reference profile (expected format '${PROFILE_FORMAT}', version 1)`);
  }
  const columns = new Map<string, ColumnProfile>();
  for (const [name, raw] of Object.entries(v.columns as Record<string, Record<string, unknown>>)) {
    if (raw.kind === "categorical") {
      columns.set(name, { kind: "categorical", count: Number(raw.count), missing: Number(raw.missing), invalid: 0, categories: new Map(Object.entries(raw.categories as Record<string, number>)) });
    } else if (raw.kind === "numerical") {
      const values = unb64(String(raw.values));
      const counts = unb64(String(raw.counts));
      let n = 0;
      for (const c of counts) n += c;
      const p: NumericalProfile = {
        kind: "numerical",
        count: Number(raw.count),
        missing: Number(raw.missing),
        invalid: Number(raw.invalid ?? 0),
        dist: { values, counts, n },
        min: Number(raw.min),
        max: Number(raw.max),
        mean: Number(raw.mean),
        std: Number(raw.std),
      };
      if (raw.approximate) p.approximate = true;
      columns.set(name, p);
    } else throw invalidParameter(`Reference profile column '${name}' has an unknown kind`);
  }
  const out: Profile = { rows: Number(v.rows), columns, createdAt: Number(v.created_at) };
  if (typeof v.source === "string") out.source = v.source;
  return out;
}
