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
