/**
 * The statistics against scipy, run from the compat venv (.venv, which
 * scripts/setup-python.sh builds; scipy comes with scikit-learn there): every
 * statistic and p-value to 1e-6, on generated cases with ties, tiny samples,
 * unequal sizes, unseen categories and constant columns.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  chi2Contingency,
  chiSquareGof,
  distOf,
  distStd,
  histogram,
  jensenShannon,
  klDivergence,
  kolmogorovSf,
  ksTwoSample,
  proportionZTest,
  sturgesEdges,
  wasserstein,
} from "./stats.js";
import { tableFromSplit } from "./columns.js";
import { driftReport } from "./drift.js";
import { buildProfile, profileLike } from "./profile.js";
import { normal, rng } from "./testdata/random.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const PYTHON = path.join(ROOT, ".venv/bin/python");
const SCRIPT = path.join(import.meta.dirname, "testdata/scipy_stats.py");
const haveScipy = fs.existsSync(PYTHON);

interface Answer {
  statistic: number;
  p: number;
  d: number;
  std: number;
  edges: number[];
  counts: number[];
  dof: number;
}

function scipy(cases: unknown[]): Answer[] {
  const out = execFileSync(PYTHON, [SCRIPT], { input: JSON.stringify(cases), maxBuffer: 256 << 20 });
  return JSON.parse(out.toString()) as Answer[];
}

function sample(r: () => number, n: number, mu: number, sigma: number, round?: number): number[] {
  return Array.from({ length: n }, () => {
    const x = normal(r, mu, sigma);
    return round === undefined ? x : Math.round(x * round) / round;
  });
}

describe.skipIf(!haveScipy)("statistics match scipy", () => {
  it("two-sample Kolmogorov-Smirnov (exact and asymptotic, ties, tiny and unequal samples)", () => {
    const r = rng(1);
    const pairs: [number[], number[]][] = [
      [[1], [2]],
      [[1, 2, 3], [1, 2, 3]],
      [[0, 0, 0, 1], [0, 1, 1, 1, 1]],
      [sample(r, 5, 0, 1), sample(r, 7, 0.5, 1)],
      [sample(r, 30, 0, 1, 1), sample(r, 30, 0.3, 1, 1)], // heavy ties, equal sizes
      [sample(r, 100, 0, 1), sample(r, 100, 0.2, 1)],
      [sample(r, 200, 0, 1), sample(r, 317, 0.1, 1.2)],
      [sample(r, 1000, 0, 1, 10), sample(r, 700, 0.05, 1, 10)],
      [sample(r, 1000, 0, 1), sample(r, 10000, 0.02, 1)],
      [sample(r, 1000, 0, 1), sample(r, 12000, 0.0, 1)], // asymptotic: max > 10000
      [sample(r, 1000, 0, 1), sample(r, 12000, 0.1, 1)],
      [sample(r, 100, 0, 1), sample(r, 20000, 0.15, 1)], // asymptotic with n ≤ 140
      [sample(r, 50, 0, 1), sample(r, 15000, 1, 1)],
      [new Array(40).fill(3), new Array(25).fill(3)], // constant
      [new Array(40).fill(3), [...new Array(24).fill(3), 4]],
    ];
    const want = scipy(pairs.map(([a, b]) => ({ kind: "ks", a, b })));
    pairs.forEach(([a, b], i) => {
      const got = ksTwoSample(distOf(a), distOf(b));
      expect(got.statistic, `case ${i} D`).toBeCloseTo(want[i]!.statistic, 9);
      expect(Math.abs(got.pValue - want[i]!.p), `case ${i} p: ${got.pValue} vs ${want[i]!.p}`).toBeLessThan(1e-6);
    });
  });

  it("the Kolmogorov distribution's tail (kstwo.sf) across its regions", () => {
    const cases: { n: number; x: number }[] = [];
    for (const n of [1, 5, 40, 140, 141, 500, 1000, 5000]) for (const x of [0.001, 0.01, 0.03, 0.05, 0.08, 0.12, 0.2, 0.35, 0.6, 0.9]) cases.push({ n, x });
    const want = scipy(cases.map((c) => ({ kind: "kstwo", ...c })));
    cases.forEach((c, i) => expect(Math.abs(kolmogorovSf(c.n, c.x) - want[i]!.p), `n=${c.n} x=${c.x}`).toBeLessThan(1e-6));
  });

  it("chi-square goodness of fit, with an unseen category", () => {
    const cases = [
      { obs: [10, 20, 30], exp: [20, 20, 20] },
      { obs: [5, 5, 5, 6], exp: [5.25, 5.25, 5.25, 5.25] },
      { obs: [100, 0, 50], exp: [75, 50, 25] },
      { obs: [1, 2, 997], exp: [300, 300, 400] },
    ];
    const want = scipy(cases.map((c) => ({ kind: "chisquare", ...c })));
    cases.forEach((c, i) => {
      const got = chiSquareGof(c.obs, c.exp);
      expect(got.statistic).toBeCloseTo(want[i]!.statistic, 6);
      expect(Math.abs(got.pValue - want[i]!.p)).toBeLessThan(1e-6);
    });
    // an unseen category: scipy gives an infinite statistic and p = 0
    expect(chiSquareGof([3, 4, 5], [6, 6, 0])).toEqual({ statistic: Infinity, pValue: 0 });
  });

  it("chi-square test of independence (chi2_contingency): 2×2 with Yates' correction, unseen categories, tiny and large counts", () => {
    const r = rng(11);
    const counts = (k: number, n: number, skew: number) => {
      const c = new Array<number>(k).fill(0);
      for (let i = 0; i < n; i++) c[Math.min(k - 1, Math.floor(r() ** skew * k))]!++;
      return c;
    };
    const cases: { ref: number[]; cur: number[] }[] = [
      { ref: [10, 20], cur: [15, 15] }, // 2×2: Yates
      { ref: [1, 0], cur: [0, 1] }, // 2×2, tiny, a zero in every row
      { ref: [3, 1], cur: [3, 1] }, // 2×2, identical: the correction is capped at the difference
      { ref: [50, 50], cur: [50.4, 49.6] }, // differences below 0.5
      { ref: [40, 0], cur: [30, 5] }, // a category only the current data has (2×2)
      { ref: [12, 7, 0, 4], cur: [10, 9, 3, 0] }, // unseen and vanished categories
      { ref: [1, 1, 1], cur: [2, 0, 1] }, // tiny
      { ref: counts(5, 1000, 1), cur: counts(5, 800, 1.3) },
      { ref: counts(7, 100000, 1), cur: counts(7, 100000, 1.02) },
      { ref: counts(30, 500, 1.5), cur: counts(30, 600, 1.5) },
      { ref: [1000], cur: [10] }, // one category (constant column): dof 0
    ];
    const want = scipy(cases.map((c) => ({ kind: "chi2_contingency", ...c })));
    cases.forEach((c, i) => {
      const got = chi2Contingency(c.ref, c.cur);
      expect(got.dof, `case ${i} dof`).toBe(want[i]!.dof);
      expect(Math.abs(got.statistic - want[i]!.statistic), `case ${i} statistic ${got.statistic} vs ${want[i]!.statistic}`).toBeLessThan(1e-6 * Math.max(1, want[i]!.statistic));
      expect(Math.abs(got.pValue - want[i]!.p), `case ${i} p ${got.pValue} vs ${want[i]!.p}`).toBeLessThan(1e-6);
    });
    // a category with no count on either side is left out (scipy raises on its zero expected count)
    const withEmpty = scipy([{ kind: "chi2_contingency", ref: [12, 7, 4], cur: [10, 9, 0] }])[0]!;
    const got = chi2Contingency([12, 0, 7, 4], [10, 0, 9, 0]);
    expect(Math.abs(got.pValue - withEmpty.p)).toBeLessThan(1e-6);
    // degenerate tables are p = 1, never NaN: one side empty, nothing at all
    expect(chi2Contingency([0, 0], [3, 4])).toEqual({ statistic: 0, pValue: 1, dof: 1 });
    expect(chi2Contingency([], [])).toEqual({ statistic: 0, pValue: 1, dof: 0 });
  });

  it("chi2_contingency chosen per column in a drift report: the score is scipy's p-value; degenerate columns give p = 1, never NaN", () => {
    const r = rng(12);
    const pick = (xs: string[], skew: number) => xs[Math.min(xs.length - 1, Math.floor(r() ** skew * xs.length))]!;
    const ref = Array.from({ length: 300 }, () => [pick(["a", "b", "c"], 1), "same", pick(["yes", "no"], 1), Math.floor(r() * 4), pick(["x", "y"], 1)]);
    const cur = Array.from({ length: 120 }, (_, i) => [i % 10 === 0 ? "new" : pick(["a", "b", "c"], 1.4), "same", pick(["yes", "no"], 1.3), Math.floor(r() * 4), "x"]);
    const cols = ["cat", "constant", "binary", "few", "vanished"];
    const reference = buildProfile(tableFromSplit(cols, ref));
    const report = driftReport(reference, profileLike(tableFromSplit(cols, cur), reference), { method: "chi2_contingency" });
    const table = (j: number) => {
      const keys = [...new Set([...ref, ...cur].map((row) => String(row[j])))];
      return { ref: keys.map((k) => ref.filter((row) => String(row[j]) === k).length), cur: keys.map((k) => cur.filter((row) => String(row[j]) === k).length) };
    };
    const want = scipy(cols.map((_, j) => ({ kind: "chi2_contingency", ...table(j) })));
    cols.forEach((name, j) => {
      const c = report.columns.find((x) => x.column === name)!;
      expect(c.method).toBe("chi2_contingency");
      expect(c.tested).toBe(true);
      expect(Math.abs(c.drift_score! - want[j]!.p), `${name}: ${c.drift_score} vs ${want[j]!.p}`).toBeLessThan(1e-6);
      expect(c.drift_detected).toBe(want[j]!.p < 0.05);
    });
    expect(report.columns.find((x) => x.column === "constant")!.drift_score).toBe(1); // dof 0
    expect(JSON.stringify(report)).not.toMatch(/NaN|Infinity/);
  });

  it("Wasserstein distance and the reference's standard deviation", () => {
    const r = rng(7);
    const pairs: [number[], number[]][] = [
      [[0, 1, 3], [5, 6, 8]],
      [sample(r, 50, 0, 1, 2), sample(r, 80, 0.5, 2, 2)],
      [sample(r, 2000, 0, 1), sample(r, 3000, 0.1, 1)],
      [new Array(10).fill(1), [1, 2, 3]],
    ];
    const want = scipy(pairs.map(([a, b]) => ({ kind: "wasserstein", a, b })));
    pairs.forEach(([a, b], i) => {
      expect(wasserstein(distOf(a), distOf(b))).toBeCloseTo(want[i]!.d, 9);
      expect(distStd(distOf(a))).toBeCloseTo(want[i]!.std, 9);
    });
  });

  it("Jensen-Shannon distance and KL divergence", () => {
    const cases = [
      { p: [0.2, 0.3, 0.5], q: [0.1, 0.1, 0.8] },
      { p: [1, 0, 0], q: [0, 0.5, 0.5] },
      { p: [0.25, 0.25, 0.25, 0.25], q: [0.25, 0.25, 0.25, 0.25] },
      { p: [3, 5, 0, 2], q: [1, 1, 1, 7] },
    ];
    const want = scipy(cases.map((c) => ({ kind: "jensenshannon", ...c })));
    cases.forEach((c, i) => expect(jensenShannon(c.p, c.q)).toBeCloseTo(want[i]!.d, 9));
    const kl = [{ p: [0.2, 0.3, 0.5], q: [0.1, 0.1, 0.8] }, { p: [0.0001, 0.5, 0.4999], q: [0.3, 0.3, 0.4] }];
    const wantKl = scipy(kl.map((c) => ({ kind: "entropy", ...c })));
    kl.forEach((c, i) => expect(klDivergence(c.p, c.q)).toBeCloseTo(wantKl[i]!.d, 9));
  });

  it("proportion Z-test and Sturges histograms", () => {
    const z = proportionZTest(30, 100, 45, 120);
    const [want] = scipy([{ kind: "norm_sf", z: z.statistic }]);
    expect(Math.abs(z.pValue - want!.p)).toBeLessThan(1e-9);
    const r = rng(3);
    const a = [...sample(r, 500, 0, 1), 4, -4, 0];
    const [h] = scipy([{ kind: "histogram", a }]);
    const d = distOf(a);
    const edges = sturgesEdges(d.values[0]!, d.values[d.values.length - 1]!, a.length);
    expect([...edges].length).toBe(h!.edges.length);
    [...edges].forEach((e, i) => expect(e).toBeCloseTo(h!.edges[i]!, 12));
    expect([...histogram(d, edges)]).toEqual(h!.counts);
  });
});
