/**
 * The drift statistics, on sorted distributions held in typed arrays. Each
 * one computes what scipy computes (ks_2samp, chisquare, wasserstein_distance,
 * jensenshannon, entropy) in the same order of floating-point operations where
 * that matters; tests compare with scipy to 1e-6. The special functions come
 * from @stdlib; the loops are ours.
 */
import { createRequire } from "node:module";
import type { Dist } from "./dist.js";

// The special functions are loaded on first use: loading them costs ~35 ms, and the
// batch report's default tests (Wasserstein, Jensen–Shannon) never call them.
const require = createRequire(import.meta.url);
let special: { erfc: typeof import("@stdlib/math-base-special-erfc"); gammainc: typeof import("@stdlib/math-base-special-gammainc"); gammaln: typeof import("@stdlib/math-base-special-gammaln") } | undefined;
function fns(): NonNullable<typeof special> {
  return (special ??= {
    erfc: require("@stdlib/math-base-special-erfc") as typeof import("@stdlib/math-base-special-erfc"),
    gammainc: require("@stdlib/math-base-special-gammainc") as typeof import("@stdlib/math-base-special-gammainc"),
    gammaln: require("@stdlib/math-base-special-gammaln") as typeof import("@stdlib/math-base-special-gammaln"),
  });
}

export { distOf, foldSorted, sortFloat64, unionSize, distMean, distStd, distQuantile, type Dist } from "./dist.js";

/** Rounds half to even, as numpy's `np.round`. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** The KS statistic: the largest distance between the two empirical CDFs. */
export function ksStatistic(a: Dist, b: Dist): number {
  let i = 0;
  let j = 0;
  let ca = 0;
  let cb = 0;
  let maxS = 0;
  let minS = 0;
  while (i < a.values.length || j < b.values.length) {
    const va = i < a.values.length ? a.values[i]! : Infinity;
    const vb = j < b.values.length ? b.values[j]! : Infinity;
    const v = va < vb ? va : vb;
    if (va === v) ca += a.counts[i++]!;
    if (vb === v) cb += b.counts[j++]!;
    const diff = ca / a.n - cb / b.n;
    if (diff > maxS) maxS = diff;
    if (-diff > minS) minS = -diff;
  }
  return Math.min(1, minS > maxS ? minS : maxS);
}

export interface TestResult {
  statistic: number;
  pValue: number;
}

/**
 * Two-sample Kolmogorov–Smirnov test, two-sided, as `scipy.stats.ks_2samp`
 * with `method="auto"`: exact when both samples have at most 10,000 values,
 * otherwise (or when the exact sum overflows) the exact distribution of the
 * one-sample statistic at the effective size `round(mn/(m+n))`.
 */
export function ksTwoSample(a: Dist, b: Dist): TestResult {
  const n1 = a.n;
  const n2 = b.n;
  let d = ksStatistic(a, b);
  if (Math.max(n1, n2) <= 10000) {
    const g = gcd(n1, n2);
    const lcm = (n1 / g) * n2;
    const h = roundHalfEven(d * lcm);
    d = h / lcm;
    if (h === 0) return { statistic: d, pValue: 1 };
    const p = n1 === n2 ? probOutsideSquare(n1, h) : outerProbInside(n1, n2, g, h);
    if (Number.isFinite(p) && p >= 0 && p <= 1) return { statistic: d, pValue: p };
  }
  const m = Math.max(n1, n2);
  const n = Math.min(n1, n2);
  const en = (m * n) / (m + n);
  return { statistic: d, pValue: clip01(kolmogorovSf(roundHalfEven(en), d)) };
}

/** P(D_{n,n} ≥ h/n): Horner-like sum of the reflection terms. */
function probOutsideSquare(n: number, h: number): number {
  let P = 0;
  for (let k = Math.floor(n / h); k >= 0; k--) {
    let p1 = 1;
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1);
    P = p1 * (1 - P);
  }
  return 2 * P;
}

/**
 * The share of lattice paths from (0,0) to (m,n) that leave the band
 * |x/m − y/n| < h/lcm(m,n), one column at a time over a sliding window,
 * normalised as it goes (each entry is a probability, not a count).
 */
function outerProbInside(m0: number, n0: number, g: number, h: number): number {
  const m = Math.max(m0, n0);
  const n = Math.min(m0, n0);
  const mg = m / g;
  const ng = n / g;
  let minj = 0;
  let maxj = Math.min(Math.ceil(h / mg), n + 1);
  let curlen = maxj - minj;
  const lenA = Math.min(2 * maxj + 2, n + 1);
  const A = new Float64Array(Math.max(lenA, n + 2)).fill(1);
  for (let j = minj; j < maxj; j++) A[j] = 0;
  for (let i = 1; i <= m; i++) {
    const lastminj = minj;
    const lastlen = curlen;
    minj = Math.min(Math.max(Math.floor((ng * i - h) / mg) + 1, 0), n);
    maxj = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxj <= minj) return 1;
    let val = minj === 0 ? 0 : 1;
    for (let jj = 0; jj < maxj - minj; jj++) {
      const j = jj + minj;
      val = (A[jj + minj - lastminj]! * i + val * j) / (i + j);
      A[jj] = val;
    }
    curlen = maxj - minj;
    if (lastlen > curlen) A.fill(1, maxj - minj, maxj - minj + (lastlen - curlen));
  }
  return A[maxj - minj - 1]!;
}

function clip01(p: number): number {
  return p < 0 ? 0 : p > 1 ? 1 : p;
}

const STIRLING = [-2.955065359477124183e-2, 6.4102564102564102564e-3, -1.9175269175269175269e-3, 8.4175084175084175084e-4, -5.952380952380952381e-4, 7.9365079365079365079e-4, -2.7777777777777777778e-3, 8.3333333333333333333e-2];

function logNFactorialDivNPowN(n: number): number {
  const rn = 1 / n;
  let poly = 0;
  for (const c of STIRLING) poly = poly * (rn / n) + c;
  return Math.log(n) / 2 - n + Math.log(2 * Math.PI) / 2 + rn * poly;
}

/**
 * Survival function of the two-sided one-sample Kolmogorov statistic D_n
 * (scipy's `kstwo.sf`), choosing the method by region as Simard & L'Ecuyer
 * (2011) do: Ruben–Gambino at the ends, the exact one-sided Smirnov sum where
 * it equals the two-sided tail, the Durbin matrix (Marsaglia–Tsang–Wang) for
 * small n·d, Pelz–Good beyond.
 */
export function kolmogorovSf(n: number, x: number): number {
  if (!(n > 0) || !Number.isInteger(n)) return NaN;
  if (x >= 1) return 0;
  if (x <= 0) return 1;
  const t = n * x;
  if (t <= 1) {
    if (t <= 0.5) return 1;
    let prob: number;
    if (n <= 140) {
      prob = 1;
      for (let i = 1; i <= n; i++) prob *= i * (1 / n) * (2 * t - 1);
    } else prob = Math.exp(logNFactorialDivNPowN(n) + n * Math.log(2 * t - 1));
    return clip01(1 - prob);
  }
  if (t >= n - 1) return clip01(2 * (1 - x) ** n);
  if (x >= 0.5) return clip01(2 * smirnovSf(n, x));
  const nx2 = t * x;
  if (n <= 140) {
    // scipy uses Pomeranz's recursion up to n·x² = 4; the Durbin matrix is exact there too.
    if (nx2 <= 4) return clip01(1 - durbinCdf(n, x));
    return clip01(2 * smirnovSf(n, x));
  }
  if (nx2 >= 370) return 0;
  if (nx2 >= 2.2) return clip01(2 * smirnovSf(n, x));
  const cdf = n <= 100000 && n * x ** 1.5 <= 1.4 ? durbinCdf(n, x) : pelzGoodCdf(n, x);
  return clip01(1 - cdf);
}

/** P(D⁺_n ≥ x), the exact Birnbaum–Tingey sum, each term in logs (all terms are positive). */
export function smirnovSf(n: number, x: number): number {
  if (x <= 0) return 1;
  if (x >= 1) return 0;
  const jmax = Math.floor(n * (1 - x));
  const { gammaln } = fns();
  const lgn1 = gammaln(n + 1);
  let sum = 0;
  for (let j = 0; j <= jmax; j++) {
    const base1 = 1 - x - j / n;
    const base2 = x + j / n;
    if (base1 <= 0 && n - j > 0) continue;
    const lt = lgn1 - gammaln(j + 1) - gammaln(n - j + 1) + (n - j > 0 ? (n - j) * Math.log(base1) : 0) + (j - 1) * Math.log(base2);
    sum += Math.exp(lt);
  }
  return x * sum;
}

const E128 = 2 ** 128;
const EM128 = 2 ** -128;

/** P(D_n ≤ d) by the Durbin matrix, as Marsaglia, Tsang and Wang (2003) compute it. */
function durbinCdf(n: number, d: number): number {
  if (d >= 1) return 1;
  const nd = n * d;
  if (nd <= 0.5) return 0;
  const k = Math.ceil(nd);
  const h = k - nd;
  const m = 2 * k - 1;
  let H: Float64Array<ArrayBuffer> = new Float64Array(m * m);
  const v = new Float64Array(m);
  const w = new Float64Array(m);
  let fac = 1;
  for (let j = 1; j <= m; j++) {
    v[j - 1] = 1 - h ** j;
    w[j - 1] = fac;
    fac /= j;
    v[j - 1]! *= fac;
  }
  const tt = Math.max(2 * h - 1, 0) ** m - 2 * h ** m;
  v[m - 1] = (1 + tt) * fac;
  for (let i = 1; i < m; i++) for (let r = i - 1; r < m; r++) H[r * m + i] = w[r - (i - 1)]!;
  for (let r = 0; r < m; r++) H[r * m] = v[r]!;
  for (let c = 0; c < m; c++) H[(m - 1) * m + c] = v[m - 1 - c]!;
  let P: Float64Array<ArrayBuffer> = new Float64Array(m * m);
  for (let i = 0; i < m; i++) P[i * m + i] = 1;
  let nn = n;
  let expnt = 0;
  let hexpnt = 0;
  while (nn > 0) {
    if (nn % 2) {
      P = matmul(P, H, m);
      expnt += hexpnt;
    }
    H = matmul(H, H, m);
    hexpnt *= 2;
    if (Math.abs(H[(k - 1) * m + (k - 1)]!) > E128) {
      for (let i = 0; i < H.length; i++) H[i]! /= E128;
      hexpnt += 128;
    }
    nn = Math.floor(nn / 2);
  }
  let p = P[(k - 1) * m + (k - 1)]!;
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n;
    if (Math.abs(p) < EM128) {
      p *= E128;
      expnt -= 128;
    }
  }
  if (expnt !== 0) p *= 2 ** expnt;
  return clip01(p);
}

function matmul(a: Float64Array, b: Float64Array, m: number): Float64Array<ArrayBuffer> {
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let l = 0; l < m; l++) {
      const ail = a[i * m + l]!;
      if (ail === 0) continue;
      const row = l * m;
      const o = i * m;
      for (let j = 0; j < m; j++) out[o + j]! += ail * b[row + j]!;
    }
  }
  return out;
}

/** The Pelz–Good asymptotic series for P(D_n ≤ x). */
function pelzGoodCdf(n: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const PI2 = Math.PI ** 2;
  const PI4 = Math.PI ** 4;
  const PI6 = Math.PI ** 6;
  const z = Math.sqrt(n) * x;
  const z2 = z * z;
  const z4 = z2 * z2;
  const z6 = z4 * z2;
  const qlog = -PI2 / 8 / z2;
  if (qlog < -708) return 0;
  let q = Math.exp(qlog);
  const k1a = -z2;
  const k1b = PI2 / 4;
  const k2a = 6 * z6 + 2 * z4;
  const k2b = ((2 * z4 - 5 * z2) * PI2) / 4;
  const k2c = (PI4 * (1 - 2 * z2)) / 16;
  const k3d = (PI6 * (5 - 30 * z2)) / 64;
  const k3c = (PI4 * (-60 * z2 + 212 * z4)) / 16;
  const k3b = (PI2 * (135 * z4 - 96 * z6)) / 4;
  const k3a = -30 * z6 - 90 * z ** 8;
  const K = [0, 0, 0, 0];
  const maxk = Math.ceil((16 * z) / Math.PI);
  for (let k = maxk; k > 0; k--) {
    const m = 2 * k - 1;
    const m2 = m * m;
    const m4 = m2 * m2;
    const m6 = m4 * m2;
    const qp = q ** (8 * k);
    const c = [1, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6];
    for (let i = 0; i < 4; i++) K[i] = K[i]! * qp + c[i]!;
  }
  const SQRT2PI = Math.sqrt(2 * Math.PI);
  const div = [z, 6 * z4, 72 * z ** 7, 6480 * z ** 10];
  for (let i = 0; i < 4; i++) K[i] = (K[i]! * q * SQRT2PI) / div[i]!;
  q = Math.exp(-PI2 / 2 / z2);
  let k2extra = 0;
  let k3extra = 0;
  const s3z = Math.sqrt(3) * z;
  for (let k = maxk; k > 0; k--) {
    const k2 = k * k;
    const qp = q ** k2;
    k2extra += k2 * qp;
    const kpi = Math.PI * k;
    k3extra += (s3z + kpi) * (s3z - kpi) * k2 * qp;
  }
  K[2]! += (k2extra * PI2 * SQRT2PI) / (-36 * z ** 3);
  K[3]! += (k3extra * PI2 * SQRT2PI) / (216 * z6);
  let sum = 0;
  for (let i = 0; i < 4; i++) sum += K[i]! / n ** (i / 2);
  return sum;
}

/** Upper tail of the chi-square distribution with `df` degrees of freedom. */
export function chiSquareSf(x: number, df: number): number {
  if (!(x > 0)) return 1;
  if (x === Infinity) return 0;
  return fns().gammainc(x / 2, df / 2, true, true);
}

/** Upper tail of the standard normal distribution. */
export function normalSf(z: number): number {
  return 0.5 * fns().erfc(z / Math.SQRT2);
}

/**
 * Pearson's goodness-of-fit test of observed against expected counts
 * (`scipy.stats.chisquare(f_obs, f_exp)`); an expected 0 with an observed
 * count gives an infinite statistic and p = 0.
 */
export function chiSquareGof(observed: ArrayLike<number>, expected: ArrayLike<number>): TestResult {
  let stat = 0;
  for (let i = 0; i < observed.length; i++) {
    const o = observed[i]!;
    const e = expected[i]!;
    if (e === 0) {
      if (o !== 0) stat = Infinity;
      continue;
    }
    stat += ((o - e) * (o - e)) / e;
  }
  const df = observed.length - 1;
  if (df < 1) return { statistic: 0, pValue: 1 };
  return { statistic: stat, pValue: chiSquareSf(stat, df) };
}

/** A chi-square test of independence on a contingency table: the statistic, the p-value and the degrees of freedom. */
export interface ContingencyResult extends TestResult {
  dof: number;
}

/**
 * Pearson's chi-square test of independence on the 2×k table of reference
 * counts against current counts, as `scipy.stats.chi2_contingency(table)`:
 * expected counts from the margins, dof = k − 1, and with one degree of
 * freedom (a 2×2 table) Yates' continuity correction, each observed count
 * moved towards its expected one by at most 0.5. A category with no count on
 * either side would give scipy a zero expected count (it raises); such
 * categories carry no information and are left out here. A table with one
 * category left (dof 0) is scipy's degenerate case: statistic 0, p = 1; so is
 * a side with no counts at all.
 */
export function chi2Contingency(reference: ArrayLike<number>, current: ArrayLike<number>, correction = true): ContingencyResult {
  const r: number[] = [];
  const c: number[] = [];
  let rn = 0;
  let cn = 0;
  for (let i = 0; i < reference.length; i++) {
    const a = reference[i]!;
    const b = current[i]!;
    if (a < 0 || b < 0 || !Number.isFinite(a) || !Number.isFinite(b)) throw new RangeError("contingency counts must be finite and non-negative");
    if (a + b === 0) continue;
    r.push(a);
    c.push(b);
    rn += a;
    cn += b;
  }
  const dof = r.length - 1;
  if (dof < 1 || rn === 0 || cn === 0) return { statistic: 0, pValue: 1, dof: Math.max(dof, 0) };
  const total = rn + cn;
  let stat = 0;
  const term = (o: number, e: number) => {
    if (dof === 1 && correction) {
      const diff = e - o;
      o += Math.sign(diff) * Math.min(0.5, Math.abs(diff));
    }
    return ((o - e) * (o - e)) / e;
  };
  for (let i = 0; i < r.length; i++) {
    const col = r[i]! + c[i]!;
    stat += term(r[i]!, (rn * col) / total) + term(c[i]!, (cn * col) / total);
  }
  return { statistic: stat, pValue: chiSquareSf(stat, dof), dof };
}

/**
 * Two-proportion Z-test, two-sided, on the share of rows that are not the
 * first category: `2·(1 − Φ(|z|))`, as Evidently computes it.
 */
export function proportionZTest(refOthers: number, refN: number, curOthers: number, curN: number): TestResult {
  const p1 = refOthers / refN;
  const p2 = curOthers / curN;
  const P = (p1 * refN + p2 * curN) / (refN + curN);
  const denom = Math.sqrt(P * (1 - P) * (1 / refN + 1 / curN));
  if (denom === 0) return { statistic: 0, pValue: 1 };
  const z = (p1 - p2) / denom;
  return { statistic: z, pValue: 2 * (1 - (1 - normalSf(Math.abs(z)))) };
}

/** First Wasserstein distance between two empirical distributions (`scipy.stats.wasserstein_distance`). */
export function wasserstein(a: Dist, b: Dist): number {
  let i = 0;
  let j = 0;
  let ca = 0;
  let cb = 0;
  let prev = NaN;
  let sum = 0;
  let lastDiff = 0;
  while (i < a.values.length || j < b.values.length) {
    const va = i < a.values.length ? a.values[i]! : Infinity;
    const vb = j < b.values.length ? b.values[j]! : Infinity;
    const v = va < vb ? va : vb;
    if (!Number.isNaN(prev)) sum += lastDiff * (v - prev);
    if (va === v) ca += a.counts[i++]!;
    if (vb === v) cb += b.counts[j++]!;
    lastDiff = Math.abs(ca / a.n - cb / b.n);
    prev = v;
  }
  return sum;
}

/** Relative entropy term `x·log(x/y)` as `scipy.special.rel_entr`. */
function relEntr(x: number, y: number): number {
  if (x > 0 && y > 0) return x * Math.log(x / y);
  if (x === 0 && y >= 0) return 0;
  return Infinity;
}

/** Jensen–Shannon distance (natural log), `scipy.spatial.distance.jensenshannon`. */
export function jensenShannon(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p.length; i++) {
    sp += p[i]!;
    sq += q[i]!;
  }
  let js = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]! / sp;
    const qi = q[i]! / sq;
    const m = (pi + qi) / 2;
    js += relEntr(pi, m) + relEntr(qi, m);
  }
  return Math.sqrt(Math.max(js, 0) / 2);
}

/** Kullback–Leibler divergence of q from p, both normalised first (`scipy.stats.entropy(p, q)`). */
export function klDivergence(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p.length; i++) {
    sp += p[i]!;
    sq += q[i]!;
  }
  let s = 0;
  for (let i = 0; i < p.length; i++) s += relEntr(p[i]! / sp, q[i]! / sq);
  return s;
}

/** Population stability index: Σ (r − c)·ln(r / c). */
export function psi(ref: ArrayLike<number>, cur: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < ref.length; i++) s += (ref[i]! - cur[i]!) * Math.log(ref[i]! / cur[i]!);
  return s;
}

/**
 * Bin edges for a histogram of the union of two samples by Sturges' rule,
 * as `numpy.histogram_bin_edges(x, "sturges")`.
 */
export function sturgesEdges(min: number, max: number, size: number): Float64Array {
  let first = min;
  let last = max;
  if (first === last) {
    first -= 0.5;
    last += 0.5;
  }
  const ptp = max - min;
  const width = ptp / (Math.log2(size) + 1);
  const bins = width ? Math.ceil((last - first) / width) : 1;
  const edges = new Float64Array(bins + 1);
  const step = (last - first) / bins;
  for (let i = 0; i <= bins; i++) edges[i] = i * step + first;
  edges[bins] = last;
  return edges;
}

/** Counts of a distribution in the bins `edges` (right edge inclusive in the last bin), as `numpy.histogram`. */
export function histogram(d: Dist, edges: Float64Array): Float64Array {
  const bins = edges.length - 1;
  const out = new Float64Array(bins);
  const first = edges[0]!;
  const last = edges[bins]!;
  const denom = last - first;
  for (let i = 0; i < d.values.length; i++) {
    const x = d.values[i]!;
    if (x < first || x > last) continue;
    let idx = Math.trunc(((x - first) / denom) * bins);
    if (idx === bins) idx--;
    if (x < edges[idx]!) idx--;
    else if (idx !== bins - 1 && x >= edges[idx + 1]!) idx++;
    out[idx]! += d.counts[i]!;
  }
  return out;
}
