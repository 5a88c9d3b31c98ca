/**
 * Numerical samples as sorted distinct values with counts (typed arrays), and
 * the radix sort that makes them; what profiles hold and the drift tests read.
 * No statistics library here, so the profiling workers load little.
 */

/** A numerical sample as its sorted distinct values and how often each occurs. */
export interface Dist {
  values: Float64Array;
  counts: Float64Array;
  /** Total count (sum of `counts`). */
  n: number;
}

/**
 * The finite values of `xs` as sorted distinct values with counts (-0 and 0
 * are one value). Numbers written with few decimals over a modest range (what
 * CSV files mostly hold) take a counting sort on their scaled integers, which
 * yields the distinct values and counts directly; any other sample is sorted
 * by {@link sortFloat64} and folded.
 */
export function distOf(xs: ArrayLike<number>): Dist {
  let finite = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    if (x - x === 0) {
      finite++;
      if (x < min) min = x;
      if (x > max) max = x;
    }
  }
  if (finite >= RADIX_MIN) {
    const d = decimalDist(xs, finite, min, max);
    if (d) return d;
  }
  const sorted = new Float64Array(finite);
  let k = 0;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    if (x - x === 0) sorted[k++] = x === 0 ? 0 : x;
  }
  sortFloat64(sorted);
  return foldSorted(sorted);
}

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8];

/**
 * Counting sort for decimal data: finds the fewest decimals k (at most 8)
 * that the first values have, and when the range in steps of 10^-k is at most
 * four times the sample size, counts each value at its scaled integer
 * `round(x·10^k)`, checking that `integer / 10^k` gives back exactly `x` (so
 * the distinct values are the sample's own doubles). Null when a value fails
 * the check or the range is too wide: the caller sorts instead.
 */
function decimalDist(xs: ArrayLike<number>, finite: number, min: number, max: number): Dist | null {
  let decimals = 0;
  for (let i = 0, seen = 0; i < xs.length && seen < 256; i++) {
    const x = xs[i]!;
    if (x - x !== 0) continue;
    seen++;
    while (decimals < POW10.length && Math.round(x * POW10[decimals]!) / POW10[decimals]! !== x) decimals++;
    if (decimals === POW10.length) return null;
  }
  const scale = POW10[decimals]!;
  const lo = Math.round(min * scale);
  const hi = Math.round(max * scale);
  if (!(Math.abs(lo) < 2 ** 52 && Math.abs(hi) < 2 ** 52)) return null;
  const range = hi - lo + 1;
  if (range > Math.max(65536, 4 * finite) || range > 2 ** 26) return null;
  const counts = new Uint32Array(range);
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    if (x - x !== 0) continue;
    const v = Math.round(x * scale);
    if (v / scale !== x) return null;
    counts[v - lo]!++;
  }
  let distinct = 0;
  for (let i = 0; i < range; i++) if (counts[i] !== 0) distinct++;
  const out: Dist = { values: new Float64Array(distinct), counts: new Float64Array(distinct), n: finite };
  for (let i = 0, j = 0; i < range; i++) {
    const c = counts[i]!;
    if (c === 0) continue;
    out.values[j] = (lo + i) / scale || 0;
    out.counts[j++] = c;
  }
  return out;
}

const RADIX_MIN = 4096;

/**
 * Sorts finite doubles in place: an LSD radix sort on the IEEE-754 bits made
 * order-preserving (sign bit set for positives, all bits flipped for
 * negatives), four 16-bit passes, a pass skipped when every key shares its
 * digit. About three times faster than `Float64Array.prototype.sort` on a
 * million values; small arrays use the built-in sort.
 */
export function sortFloat64(a: Float64Array): void {
  const n = a.length;
  if (n < RADIX_MIN) {
    a.sort();
    return;
  }
  const u = new Uint32Array(a.buffer, a.byteOffset, n * 2);
  // one pass: make the keys order-preserving and count all four digits
  const count = new Uint32Array(4 * 65536);
  for (let i = 0; i < n; i++) {
    let lo = u[2 * i]!;
    let hi = u[2 * i + 1]!;
    if (hi & 0x80000000) {
      hi = ~hi >>> 0;
      lo = ~lo >>> 0;
      u[2 * i] = lo;
    } else hi = (hi | 0x80000000) >>> 0;
    u[2 * i + 1] = hi;
    count[lo & 0xffff]!++;
    count[65536 + (lo >>> 16)]!++;
    count[131072 + (hi & 0xffff)]!++;
    count[196608 + (hi >>> 16)]!++;
  }
  let src: Uint32Array = u;
  let dst: Uint32Array = new Uint32Array(n * 2);
  for (let pass = 0; pass < 4; pass++) {
    const word = pass >> 1;
    const shift = (pass & 1) * 16;
    const base = pass * 65536;
    if (count[base + ((src[word]! >>> shift) & 0xffff)] === n) continue; // every key has this digit
    let sum = 0;
    for (let d = 0; d < 65536; d++) {
      const c = count[base + d]!;
      count[base + d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const lo = src[2 * i]!;
      const hi = src[2 * i + 1]!;
      const j = count[base + (((word ? hi : lo) >>> shift) & 0xffff)]!++;
      dst[2 * j] = lo;
      dst[2 * j + 1] = hi;
    }
    const t = src;
    src = dst;
    dst = t;
  }
  if (src !== u) u.set(src);
  for (let i = 0; i < n; i++) {
    const hi = u[2 * i + 1]!;
    if (hi & 0x80000000) u[2 * i + 1] = hi & 0x7fffffff;
    else {
      u[2 * i + 1] = ~hi;
      u[2 * i] = ~u[2 * i]!;
    }
  }
}

/** Folds an already sorted array of finite numbers into a {@link Dist}. */
export function foldSorted(sorted: Float64Array): Dist {
  const n = sorted.length;
  let u = 0;
  for (let i = 0; i < n; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) u++;
  const values = new Float64Array(u);
  const counts = new Float64Array(u);
  let j = -1;
  for (let i = 0; i < n; i++) {
    if (i === 0 || sorted[i] !== sorted[i - 1]) values[++j] = sorted[i]!;
    counts[j]!++;
  }
  return { values, counts, n };
}

/** Number of distinct values in the union of two distributions. */
export function unionSize(a: Dist, b: Dist): number {
  let i = 0;
  let j = 0;
  let u = 0;
  while (i < a.values.length || j < b.values.length) {
    const va = i < a.values.length ? a.values[i]! : Infinity;
    const vb = j < b.values.length ? b.values[j]! : Infinity;
    if (va <= vb) i++;
    if (vb <= va) j++;
    u++;
  }
  return u;
}

export function distMean(d: Dist): number {
  let s = 0;
  for (let i = 0; i < d.values.length; i++) s += d.values[i]! * d.counts[i]!;
  return s / d.n;
}

/** Population standard deviation (numpy's `np.std`, ddof 0), two-pass. */
export function distStd(d: Dist): number {
  const m = distMean(d);
  let s = 0;
  for (let i = 0; i < d.values.length; i++) {
    const dev = d.values[i]! - m;
    s += dev * dev * d.counts[i]!;
  }
  return Math.sqrt(s / d.n);
}

/** The value at quantile q (0..1) with linear interpolation, as numpy's default. */
export function distQuantile(d: Dist, q: number): number {
  if (d.n === 0) return 0;
  const pos = q * (d.n - 1);
  const lo = Math.floor(pos);
  const at = (rank: number) => {
    let c = 0;
    for (let i = 0; i < d.values.length; i++) {
      c += d.counts[i]!;
      if (rank < c) return d.values[i]!;
    }
    return d.values[d.values.length - 1]!;
  };
  const a = at(lo);
  return lo + 1 < d.n ? a + (at(lo + 1) - a) * (pos - lo) : a;
}

