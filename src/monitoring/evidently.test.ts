/**
 * Drift verdicts against the real Evidently (0.7.23, DataDriftPreset with its
 * defaults) on generated reference/current pairs: small and large references,
 * numerical and categorical columns, binary and few-valued columns, missing
 * values, new categories. Evidently needs pandas < 3, so it lives in a venv of
 * its own, `.venv-evidently`, made by `scripts/setup-python.sh` (which
 * `npm run test:all` runs first, so CI always has it) or `bench/monitoring/setup.sh`;
 * a bare `vitest run` without it skips this suite.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildProfile, driftReport, profileLike, readTableFile, type ColumnKind } from "./index.js";
import { normal, rng } from "./testdata/random.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const PYTHON = path.join(ROOT, ".venv-evidently/bin/python");
const SCRIPT = path.join(ROOT, "bench/monitoring/evidently_drift.py");

interface ColumnSpec {
  name: string;
  kind: ColumnKind;
  gen: (r: () => number, shifted: boolean) => string;
}

const num = (name: string, shift: number, scale = 1): ColumnSpec => ({ name, kind: "numerical", gen: (r, s) => String(normal(r, s ? shift : 0, s ? scale : 1)) });
const few = (name: string, values: number[], shiftedWeights: number[]): ColumnSpec => ({
  name,
  kind: "numerical",
  gen: (r, s) => {
    const w = s ? shiftedWeights : values.map(() => 1 / values.length);
    let u = r();
    for (let i = 0; i < values.length; i++) if ((u -= w[i]!) < 0) return `${values[i]}.5`;
    return `${values[values.length - 1]}.5`;
  },
});
const cat = (name: string, cats: string[], shiftedWeights?: number[], fresh?: string): ColumnSpec => ({
  name,
  kind: "categorical",
  gen: (r, s) => {
    if (s && fresh && r() < 0.1) return fresh;
    const w = s && shiftedWeights ? shiftedWeights : cats.map(() => 1 / cats.length);
    let u = r();
    for (let i = 0; i < cats.length; i++) if ((u -= w[i]!) < 0) return cats[i]!;
    return cats[cats.length - 1]!;
  },
});
const withMissing = (c: ColumnSpec, share: number): ColumnSpec => ({ ...c, gen: (r, s) => (r() < share ? "" : c.gen(r, s)) });

interface Scenario {
  name: string;
  refRows: number;
  curRows: number;
  columns: ColumnSpec[];
  /** Which columns are generated shifted in the current data. */
  shifted: string[];
}

const SCENARIOS: Scenario[] = [
  { name: "small, no shift", refRows: 300, curRows: 300, columns: [num("a", 0), num("b", 0), cat("c", ["x", "y", "z"])], shifted: [] },
  { name: "small, numerical shift", refRows: 500, curRows: 400, columns: [num("a", 0.6), num("b", 0), cat("c", ["x", "y", "z"])], shifted: ["a"] },
  { name: "small, categorical shift and a new category", refRows: 800, curRows: 500, columns: [num("a", 0), cat("c", ["x", "y", "z"], [0.6, 0.3, 0.1], "new"), cat("d", ["p", "q"], [0.8, 0.2])], shifted: ["c", "d"] },
  { name: "small, binary and few-valued numerical", refRows: 1000, curRows: 700, columns: [few("f", [1, 2, 3, 4], [0.4, 0.3, 0.2, 0.1]), few("g", [0, 1], [0.7, 0.3]), num("a", 0)], shifted: ["f", "g"] },
  { name: "small, missing values", refRows: 600, curRows: 600, columns: [withMissing(num("a", 0.4), 0.1), withMissing(cat("c", ["x", "y", "z", "w"], [0.4, 0.4, 0.1, 0.1]), 0.2), num("b", 0)], shifted: ["a", "c"] },
  { name: "tiny", refRows: 12, curRows: 9, columns: [num("a", 1.5), cat("c", ["x", "y", "z"]), num("b", 0)], shifted: ["a"] },
  { name: "large, no shift", refRows: 3000, curRows: 3000, columns: [num("a", 0), num("b", 0), cat("c", ["x", "y", "z", "w"])], shifted: [] },
  { name: "large, numerical shift (Wasserstein)", refRows: 5000, curRows: 4000, columns: [num("a", 0.3), num("b", 0.05), num("e", 0, 1.5), cat("c", ["x", "y"])], shifted: ["a", "b", "e"] },
  { name: "large, categorical shift (Jensen-Shannon)", refRows: 2000, curRows: 2500, columns: [cat("c", ["x", "y", "z"], [0.7, 0.2, 0.1], "new"), cat("d", ["p", "q"], [0.52, 0.48]), num("a", 0)], shifted: ["c", "d"] },
  { name: "large, few-valued numerical (Jensen-Shannon)", refRows: 1500, curRows: 1200, columns: [few("f", [1, 2, 3], [0.6, 0.3, 0.1]), num("a", 0.2), withMissing(num("b", 0), 0.05)], shifted: ["f", "a"] },
  { name: "large reference, small current", refRows: 4000, curRows: 150, columns: [num("a", 0.5), cat("c", ["x", "y", "z"], [0.5, 0.3, 0.2]), num("b", 0)], shifted: ["a", "c"] },
  { name: "boundary: 1001-row reference", refRows: 1001, curRows: 1001, columns: [num("a", 0.15), cat("c", ["x", "y", "z"])], shifted: ["a"] },
];

function writeCsv(file: string, columns: ColumnSpec[], rows: number, shifted: Set<string>, r: () => number): void {
  const lines = [columns.map((c) => c.name).join(",")];
  for (let i = 0; i < rows; i++) lines.push(columns.map((c) => c.gen(r, shifted.has(c.name))).join(","));
  fs.writeFileSync(file, lines.join("\n") + "\n");
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-evidently-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!fs.existsSync(PYTHON))("drift verdicts match Evidently's DataDriftPreset", () => {
  it(`on ${SCENARIOS.length} generated scenarios`, () => {
    const cases = SCENARIOS.map((s, i) => {
      const r = rng(100 + i);
      const reference = path.join(dir, `ref-${i}.csv`);
      const current = path.join(dir, `cur-${i}.csv`);
      writeCsv(reference, s.columns, s.refRows, new Set(), r);
      writeCsv(current, s.columns, s.curRows, new Set(s.shifted), r);
      return {
        reference,
        current,
        numerical: s.columns.filter((c) => c.kind === "numerical").map((c) => c.name),
        categorical: s.columns.filter((c) => c.kind === "categorical").map((c) => c.name),
      };
    });
    const evidently = JSON.parse(execFileSync(PYTHON, [SCRIPT, "--batch"], { input: JSON.stringify(cases), maxBuffer: 64 << 20 }).toString()) as {
      count: number;
      share: number;
      dataset_drift: boolean;
      columns: Record<string, { method: string; score: number; drift_detected: boolean }>;
    }[];
    let drifted = 0;
    cases.forEach((c, i) => {
      const kinds = Object.fromEntries([...c.numerical.map((n) => [n, "numerical"]), ...c.categorical.map((n) => [n, "categorical"])]) as Record<string, ColumnKind>;
      const ref = buildProfile(readTableFile(c.reference), { kinds });
      const report = driftReport(ref, profileLike(readTableFile(c.current), ref));
      const ev = evidently[i]!;
      const label = SCENARIOS[i]!.name;
      for (const col of report.columns) {
        const e = ev.columns[col.column]!;
        expect(col.method, `${label}: ${col.column} method`).toBe(e.method);
        expect(col.drift_detected, `${label}: ${col.column} verdict (mloop ${col.drift_score}, Evidently ${e.score})`).toBe(e.drift_detected);
        expect(Math.abs(col.drift_score! - e.score), `${label}: ${col.column} score ${col.drift_score} vs ${e.score}`).toBeLessThan(1e-6);
        if (col.drift_detected) drifted++;
      }
      expect(report.number_of_drifted_columns, label).toBe(ev.count);
      expect(report.dataset_drift, label).toBe(ev.dataset_drift);
    });
    expect(drifted).toBeGreaterThan(5); // the scenarios do exercise drift
  }, 120_000);
});
