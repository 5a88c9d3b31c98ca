/**
 * Drift per column and for the dataset, choosing the test the way Evidently's
 * DataDriftPreset does by default (legacy/calculations/stattests/registry.py):
 *
 * - reference of at most 1000 rows: numerical columns with more than 5 distinct
 *   values (reference and current together) → two-sample Kolmogorov–Smirnov;
 *   3–5 values → chi-square; 1–2 values → proportion Z-test; categorical →
 *   chi-square, or the Z-test when binary;
 * - larger references: numerical with more than 5 values → Wasserstein distance
 *   normed by the reference's standard deviation; otherwise Jensen–Shannon.
 *
 * Thresholds: p-value 0.05 (drift when p ≤ 0.05 for KS, p < 0.05 for
 * chi-square and Z), distance 0.1 (drift when ≥ 0.1); the dataset drifts when
 * the share of drifted columns reaches 0.5. Missing and non-finite values are
 * left out of the tests and reported.
 */
import { invalidParameter } from "../errors.js";
import type { ColumnProfile, Profile } from "./profile.js";
import {
  chi2Contingency,
  chiSquareGof,
  histogram,
  jensenShannon,
  klDivergence,
  ksTwoSample,
  proportionZTest,
  psi,
  sturgesEdges,
  unionSize,
  wasserstein,
  distStd,
  type Dist,
} from "./stats.js";

export const DRIFT_METHODS = ["ks", "chisquare", "chi2_contingency", "z", "wasserstein", "jensenshannon", "psi", "kl"] as const;
export type DriftMethod = (typeof DRIFT_METHODS)[number];

const IS_P_VALUE: Record<DriftMethod, boolean> = { ks: true, chisquare: true, chi2_contingency: true, z: true, wasserstein: false, jensenshannon: false, psi: false, kl: false };
const DEFAULT_THRESHOLD: Record<DriftMethod, number> = { ks: 0.05, chisquare: 0.05, chi2_contingency: 0.05, z: 0.05, wasserstein: 0.1, jensenshannon: 0.1, psi: 0.1, kl: 0.1 };
const METHOD_NAME: Record<DriftMethod, string> = {
  ks: "K-S p_value",
  chisquare: "chi-square p_value",
  chi2_contingency: "chi-square contingency p_value",
  z: "Z-test p_value",
  wasserstein: "Wasserstein distance (normed)",
  jensenshannon: "Jensen-Shannon distance",
  psi: "PSI",
  kl: "Kullback-Leibler divergence",
};

/** Evidently's rule: at most this many reference rows is a "small" reference. */
export const SMALL_REFERENCE_ROWS = 1000;

export interface DriftOptions {
  /** One method for every column. */
  method?: DriftMethod;
  /** A method per column (wins over `method`). */
  perColumnMethod?: Record<string, DriftMethod>;
  /** One threshold for every column (otherwise each method's default). */
  threshold?: number;
  perColumnThreshold?: Record<string, number>;
  /** Share of drifted columns at which the dataset drifts (0.5). */
  driftShare?: number;
  /** Bins of the distribution plots in the HTML report (numerical columns). */
  plotBins?: number;
}

export interface SideSummary {
  rows: number;
  count: number;
  missing: number;
  missing_share: number;
  invalid: number;
  distinct: number;
  /** numerical: min, max, mean, std; categorical: none. */
  min?: number;
  max?: number;
  mean?: number;
  std?: number;
}

export interface ColumnDrift {
  column: string;
  kind: "numerical" | "categorical";
  /** The test, or null when the column could not be tested. */
  method: DriftMethod | null;
  method_name: string | null;
  /** The value compared with the threshold: a p-value or a distance. */
  drift_score: number | null;
  /** The test statistic (KS D, chi-square, z; equals the score for distances); null when infinite. */
  statistic: number | null;
  stattest_threshold: number | null;
  drift_detected: boolean;
  tested: boolean;
  reference: SideSummary;
  current: SideSummary;
  /** Categories in the current data the reference never saw. */
  new_categories?: string[];
  /** Reference categories absent from the current data. */
  missing_categories?: string[];
  /** What kept the column from being tested, or what to know about the result. */
  issues: string[];
  /** Distribution plot data: bins (edges or category names) and the share of each side in each. */
  plot: { kind: "histogram"; edges: number[]; reference: number[]; current: number[] } | { kind: "bars"; categories: string[]; reference: number[]; current: number[] };
}

export interface DriftReport {
  dataset_drift: boolean;
  drift_share: number;
  number_of_columns: number;
  number_of_tested_columns: number;
  number_of_drifted_columns: number;
  share_of_drifted_columns: number;
  reference_rows: number;
  current_rows: number;
  columns: ColumnDrift[];
  issues: string[];
}

/** The method Evidently's preset picks for a column. */
export function defaultMethod(kind: "numerical" | "categorical", referenceCount: number, distinct: number): DriftMethod {
  if (referenceCount <= SMALL_REFERENCE_ROWS) {
    if (kind === "numerical" && distinct > 5) return "ks";
    return distinct > 2 ? "chisquare" : "z";
  }
  if (kind === "numerical" && distinct > 5) return "wasserstein";
  return "jensenshannon";
}

/** Counts by key for either kind (numbers keyed by their value). */
function countsOf(c: ColumnProfile): Map<string | number, number> {
  if (c.kind === "categorical") return c.categories;
  const m = new Map<string | number, number>();
  for (let i = 0; i < c.dist.values.length; i++) m.set(c.dist.values[i]!, c.dist.counts[i]!);
  return m;
}

function distinctUnion(ref: ColumnProfile, cur: ColumnProfile): number {
  if (ref.kind === "numerical" && cur.kind === "numerical") return unionSize(ref.dist, cur.dist);
  const keys = new Set<string | number>(countsOf(ref).keys());
  for (const k of countsOf(cur).keys()) keys.add(k);
  return keys.size;
}

function compareKeys(a: string | number, b: string | number): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  const na = Number(a);
  const nb = Number(b);
  if (a !== "" && b !== "" && Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

/** Shares per bin of both sides as Evidently's `get_binned_data` makes them (`fillZeroes` for PSI and KL). */
function binnedShares(ref: ColumnProfile, cur: ColumnProfile, fillZeroes: boolean): { ref: Float64Array; cur: Float64Array } {
  let r: Float64Array;
  let c: Float64Array;
  if (ref.kind === "numerical" && cur.kind === "numerical" && ref.dist.values.length > 20) {
    const min = Math.min(ref.dist.values[0]!, cur.dist.values[0]!);
    const max = Math.max(ref.dist.values[ref.dist.values.length - 1]!, cur.dist.values[cur.dist.values.length - 1]!);
    const edges = sturgesEdges(min, max, ref.dist.n + cur.dist.n);
    r = histogram(ref.dist, edges).map((x) => x / ref.count);
    c = histogram(cur.dist, edges).map((x) => x / cur.count);
  } else {
    const rc = countsOf(ref);
    const cc = countsOf(cur);
    const keys = new Set<string | number>([...rc.keys(), ...cc.keys()]);
    r = new Float64Array(keys.size);
    c = new Float64Array(keys.size);
    let i = 0;
    for (const k of keys) {
      r[i] = (rc.get(k) ?? 0) / ref.count;
      c[i] = (cc.get(k) ?? 0) / cur.count;
      i++;
    }
  }
  if (fillZeroes) {
    fill(r);
    fill(c);
  }
  return { ref: r, cur: c };
}

function fill(a: Float64Array): void {
  let min = Infinity;
  for (const x of a) if (x !== 0 && x < min) min = x;
  if (min === Infinity) return;
  const v = min <= 0.0001 ? min / 10 ** 6 : 0.0001;
  for (let i = 0; i < a.length; i++) if (a[i] === 0) a[i] = v;
}

/** Runs one test on two column profiles with values on both sides. */
export function runTest(method: DriftMethod, ref: ColumnProfile, cur: ColumnProfile): { score: number; statistic: number } {
  switch (method) {
    case "ks": {
      if (ref.kind !== "numerical" || cur.kind !== "numerical") throw invalidParameter("The K-S test needs a numerical column");
      const r = ksTwoSample(ref.dist, cur.dist);
      return { score: r.pValue, statistic: r.statistic };
    }
    case "wasserstein": {
      if (ref.kind !== "numerical" || cur.kind !== "numerical") throw invalidParameter("The Wasserstein distance needs a numerical column");
      const d = wasserstein(ref.dist, cur.dist) / Math.max(distStd(ref.dist), 0.001);
      return { score: d, statistic: d };
    }
    case "chisquare": {
      const rc = countsOf(ref);
      const cc = countsOf(cur);
      const keys = [...new Set<string | number>([...rc.keys(), ...cc.keys()])];
      const k = cur.count / ref.count;
      const exp = keys.map((key) => (rc.get(key) ?? 0) * k);
      const obs = keys.map((key) => cc.get(key) ?? 0);
      const r = chiSquareGof(obs, exp);
      return { score: r.pValue, statistic: r.statistic };
    }
    case "chi2_contingency": {
      // reference and current counts as a 2×k table (scipy's chi2_contingency, Yates-corrected at 2×2)
      const rc = countsOf(ref);
      const cc = countsOf(cur);
      const keys = [...new Set<string | number>([...rc.keys(), ...cc.keys()])];
      const r = chi2Contingency(
        keys.map((key) => rc.get(key) ?? 0),
        keys.map((key) => cc.get(key) ?? 0),
      );
      return { score: r.pValue, statistic: r.statistic };
    }
    case "z": {
      const rc = countsOf(ref);
      const cc = countsOf(cur);
      if (rc.size === 1 && cc.size === 1 && [...rc.keys()][0] === [...cc.keys()][0]) return { score: 1, statistic: 0 };
      const first = [...new Set<string | number>([...rc.keys(), ...cc.keys()])].sort(compareKeys)[0]!;
      const r = proportionZTest(ref.count - (rc.get(first) ?? 0), ref.count, cur.count - (cc.get(first) ?? 0), cur.count);
      return { score: r.pValue, statistic: r.statistic };
    }
    case "jensenshannon": {
      const b = binnedShares(ref, cur, false);
      const d = jensenShannon(b.ref, b.cur);
      return { score: d, statistic: d };
    }
    case "psi": {
      const b = binnedShares(ref, cur, true);
      const d = psi(b.ref, b.cur);
      return { score: d, statistic: d };
    }
    case "kl": {
      const b = binnedShares(ref, cur, true);
      const d = klDivergence(b.ref, b.cur);
      return { score: d, statistic: d };
    }
  }
}

function summary(c: ColumnProfile | undefined, rows: number): SideSummary {
  if (!c) return { rows, count: 0, missing: rows, missing_share: rows ? 1 : 0, invalid: 0, distinct: 0 };
  const total = c.count + c.missing + c.invalid;
  const s: SideSummary = {
    rows,
    count: c.count,
    missing: c.missing,
    missing_share: total ? c.missing / total : 0,
    invalid: c.invalid,
    distinct: c.kind === "numerical" ? c.dist.values.length : c.categories.size,
  };
  if (c.kind === "numerical" && c.count > 0) Object.assign(s, { min: c.min, max: c.max, mean: c.mean, std: c.std });
  return s;
}

function plotOf(ref: ColumnProfile, cur: ColumnProfile | undefined, bins: number): ColumnDrift["plot"] {
  if (ref.kind === "numerical") {
    const dists: Dist[] = [ref.dist];
    if (cur?.kind === "numerical" && cur.count > 0) dists.push(cur.dist);
    const live = dists.filter((d) => d.n > 0);
    if (live.length === 0) return { kind: "histogram", edges: [], reference: [], current: [] };
    const min = Math.min(...live.map((d) => d.values[0]!));
    const max = Math.max(...live.map((d) => d.values[d.values.length - 1]!));
    const edges = new Float64Array(bins + 1);
    const lo = min === max ? min - 0.5 : min;
    const hi = min === max ? max + 0.5 : max;
    for (let i = 0; i <= bins; i++) edges[i] = lo + ((hi - lo) * i) / bins;
    edges[bins] = hi;
    const share = (d: Dist | undefined) => (d && d.n > 0 ? [...histogram(d, edges)].map((x) => x / d.n) : new Array<number>(bins).fill(0));
    return { kind: "histogram", edges: [...edges], reference: share(ref.dist), current: share(cur?.kind === "numerical" ? cur.dist : undefined) };
  }
  const rc = ref.categories;
  const cc = cur?.kind === "categorical" ? cur.categories : new Map<string, number>();
  const keys = [...new Set([...rc.keys(), ...cc.keys()])].sort((a, b) => (rc.get(b) ?? 0) + (cc.get(b) ?? 0) - ((rc.get(a) ?? 0) + (cc.get(a) ?? 0))).slice(0, 30);
  const rn = ref.count || 1;
  const cn = cur?.count || 1;
  return { kind: "bars", categories: keys, reference: keys.map((k) => (rc.get(k) ?? 0) / rn), current: keys.map((k) => (cc.get(k) ?? 0) / cn) };
}

/** A finite number for the report, or null. */
function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/** Drift of one column; never throws on data, reports instead. */
export function columnDrift(name: string, ref: ColumnProfile, cur: ColumnProfile | undefined, refRows: number, curRows: number, opts: DriftOptions = {}): ColumnDrift {
  const issues: string[] = [];
  const out: ColumnDrift = {
    column: name,
    kind: ref.kind,
    method: null,
    method_name: null,
    drift_score: null,
    statistic: null,
    stattest_threshold: null,
    drift_detected: false,
    tested: false,
    reference: summary(ref, refRows),
    current: summary(cur, curRows),
    issues,
    plot: plotOf(ref, cur, opts.plotBins ?? 20),
  };
  if (!cur) {
    issues.push("the column is missing from the current data");
    return out;
  }
  if (cur.kind !== ref.kind) {
    issues.push(`the column is ${ref.kind} in the reference but ${cur.kind} in the current data`);
    return out;
  }
  if (cur.invalid > 0) issues.push(`${cur.invalid} current value(s) are not numbers${cur.kind === "numerical" && cur.invalidExample ? ` (e.g. '${cur.invalidExample}')` : ""}; left out of the test`);
  if (ref.invalid > 0) issues.push(`${ref.invalid} reference value(s) are not numbers; left out of the test`);
  if (cur.missing > 0) issues.push(`${cur.missing} current value(s) missing (${((cur.missing / (cur.count + cur.missing + cur.invalid)) * 100).toFixed(1)}%); left out of the test`);
  if (ref.count === 0) {
    issues.push("the reference has no values in this column");
    return out;
  }
  if (cur.count === 0) {
    issues.push(curRows === 0 ? "the current data (window) is empty" : "the current data has no values in this column");
    return out;
  }
  if (out.reference.distinct === 1) issues.push("the column is constant in the reference");
  if (ref.kind === "categorical" && cur.kind === "categorical") {
    const fresh = [...cur.categories.keys()].filter((k) => !ref.categories.has(k));
    const gone = [...ref.categories.keys()].filter((k) => !cur.categories.has(k));
    if (fresh.length) {
      out.new_categories = fresh.slice(0, 100);
      issues.push(`${fresh.length} new categor${fresh.length === 1 ? "y" : "ies"} in the current data: ${fresh.slice(0, 5).map((s) => `'${s}'`).join(", ")}${fresh.length > 5 ? ", …" : ""}`);
    }
    if (gone.length) out.missing_categories = gone.slice(0, 100);
  }
  const method = opts.perColumnMethod?.[name] ?? opts.method ?? defaultMethod(ref.kind, ref.count, distinctUnion(ref, cur));
  if ((method === "ks" || method === "wasserstein") && ref.kind !== "numerical") {
    issues.push(`the ${method} test needs a numerical column`);
    return out;
  }
  const threshold = opts.perColumnThreshold?.[name] ?? opts.threshold ?? DEFAULT_THRESHOLD[method];
  const { score, statistic } = runTest(method, ref, cur);
  out.method = method;
  out.method_name = METHOD_NAME[method];
  out.stattest_threshold = threshold;
  out.tested = Number.isFinite(score);
  out.drift_score = finite(score);
  out.statistic = finite(statistic);
  if (!out.tested) {
    issues.push("the statistic is not finite (the distributions share no values)");
    out.drift_score = null;
    out.drift_detected = true;
    out.tested = true;
    return out;
  }
  if (statistic === Infinity) issues.push("the statistic is infinite: the current data has values the reference never had");
  if (IS_P_VALUE[method]) out.drift_detected = method === "ks" ? score <= threshold : score < threshold;
  else out.drift_detected = score >= threshold;
  return out;
}

/**
 * The drift report of a current profile against a reference profile.
 *
 * @example
 * ```ts
 * const report = driftReport(buildProfile(ref), profileLike(cur, refProfile));
 * if (report.dataset_drift) console.log(report.share_of_drifted_columns);
 * ```
 */
export function driftReport(reference: Profile, current: Profile, opts: DriftOptions = {}): DriftReport {
  const issues: string[] = [];
  for (const m of [opts.method, ...Object.values(opts.perColumnMethod ?? {})]) {
    if (m !== undefined && !DRIFT_METHODS.includes(m)) throw invalidParameter(`Unknown drift method '${m}' (one of ${DRIFT_METHODS.join(", ")})`);
  }
  const driftShare = opts.driftShare ?? 0.5;
  if (!(driftShare > 0 && driftShare <= 1)) throw invalidParameter("drift_share must be in (0, 1]");
  const columns: ColumnDrift[] = [];
  for (const [name, ref] of reference.columns) columns.push(columnDrift(name, ref, current.columns.get(name), reference.rows, current.rows, opts));
  const extra = [...current.columns.keys()].filter((c) => !reference.columns.has(c));
  if (extra.length) issues.push(`the current data has column(s) the reference does not: ${extra.join(", ")}; not tested`);
  if (current.rows === 0) issues.push("the current data (window) is empty: nothing was tested");
  const tested = columns.filter((c) => c.tested);
  const drifted = tested.filter((c) => c.drift_detected).length;
  const share = tested.length ? drifted / tested.length : 0;
  return {
    dataset_drift: tested.length > 0 && share >= driftShare,
    drift_share: driftShare,
    number_of_columns: columns.length,
    number_of_tested_columns: tested.length,
    number_of_drifted_columns: drifted,
    share_of_drifted_columns: share,
    reference_rows: reference.rows,
    current_rows: current.rows,
    columns,
    issues,
  };
}
