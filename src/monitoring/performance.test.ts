/** Live-performance metrics against scikit-learn (from the compat venv), and the alert rules' hysteresis. */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { AlertEvaluator, parseAlertRule, runAlertCommand } from "./alerts.js";
import { performanceReport, predictedRow, type JoinedRow } from "./performance.js";
import { normal, rng } from "./testdata/random.js";

const PYTHON = path.resolve(import.meta.dirname, "../../.venv/bin/python");

function joined(pred: (number | string)[], y: (number | string)[], score?: number[]): JoinedRow[] {
  return pred.map((p, i) => ({ predicted: score ? { label: p, score: score[i]! } : { label: p }, label: y[i]!, predictedAtMs: 1000 * i, labelledAtMs: 1000 * i + 5000 }));
}

describe.skipIf(!fs.existsSync(PYTHON))("performance metrics match scikit-learn", () => {
  it("binary (with ROC AUC and tied scores), multiclass (macro) and regression", () => {
    const r = rng(21);
    const n = 300;
    const y = Array.from({ length: n }, () => (r() < 0.4 ? 1 : 0));
    const score = y.map((t) => Math.round((t ? 0.6 : 0.4) + normal(r, 0, 0.2) * 10) / 10); // rounded: ties
    const pred = score.map((s) => (s >= 0.5 ? 1 : 0));
    const ym = Array.from({ length: n }, () => ["cat", "dog", "eel"][Math.floor(r() * 3)]!);
    const pm = ym.map((t) => (r() < 0.7 ? t : ["cat", "dog", "eel"][Math.floor(r() * 3)]!));
    const yr = Array.from({ length: n }, () => normal(r, 10, 3));
    const pr = yr.map((t) => t + normal(r, 0.5, 1));
    const cases = [
      { task: "binary", y, pred, score },
      { task: "multiclass", y: ym, pred: pm },
      { task: "regression", y: yr, pred: pr },
    ];
    const want = JSON.parse(execFileSync(PYTHON, [path.join(import.meta.dirname, "testdata/sklearn_metrics.py")], { input: JSON.stringify(cases) }).toString()) as Record<string, number>[];
    const got = [performanceReport(joined(pred, y, score)), performanceReport(joined(pm, ym)), performanceReport(joined(pr, yr))];
    got.forEach((g, i) => {
      for (const [k, v] of Object.entries(want[i]!)) expect(g.metrics[k], `${cases[i]!.task} ${k}`).toBeCloseTo(v, 9);
    });
    expect(got[0]!.task).toBe("classification");
    expect(got[2]!.task).toBe("regression");
    expect(got[0]!.labelled_rows).toBe(n);
    expect(got[0]!.label_delay_median_s).toBe(5);
  });
});

describe("predictions and labels", () => {
  it("reads the shapes models answer with", () => {
    expect(predictedRow({ output_label: 2, i0: 0.1, i1: 0.2, i2: 0.7 })).toEqual({ label: 2 });
    expect(predictedRow({ output_label: 1, i0: 0.3, i1: 0.7 })).toEqual({ label: 1, score: 0.7 });
    expect(predictedRow([0.2, 0.8])).toEqual({ label: 1, score: 0.8 });
    expect(predictedRow({ prediction: "spam", probability: [0.1, 0.9] })).toEqual({ label: "spam", score: 0.9 });
    expect(predictedRow(3.5)).toEqual({ label: 3.5 });
    expect(predictedRow(null)).toEqual({ label: null });
  });

  it("no labels: an empty report with a note, no NaN", () => {
    const rep = performanceReport([]);
    expect(rep).toMatchObject({ labelled_rows: 0, metrics: {}, label_delay_median_s: null });
    expect(rep.issues).toEqual(["no labelled rows in this window"]);
  });
});

describe("alerts", () => {
  it("fire once per crossing, re-arm past the clear level, and resolve", () => {
    const ev = new AlertEvaluator([parseAlertRule("accuracy<0.8,clear=0.85"), parseAlertRule("drift_share>=0.5")]);
    const w = (seq: number) => ({ seq, start_ms: seq, end_ms: seq + 1 });
    const states = [
      { accuracy: 0.9, drift_share: 0.1 },
      { accuracy: 0.7, drift_share: 0.6 }, // both fire
      { accuracy: 0.82, drift_share: 0.7 }, // accuracy between threshold and clear: still firing, no event
      { accuracy: 0.75, drift_share: 0.4 }, // drift resolves
      { accuracy: 0.9, drift_share: 0.5 }, // accuracy resolves, drift fires again
    ].map((v, i) => ev.evaluate(v, w(i + 1), "m").map((e) => `${e.window.seq} ${e.metric} ${e.state}`));
    expect(states).toEqual([[], ["2 accuracy fired", "2 drift_share fired"], [], ["4 drift_share resolved"], ["5 accuracy resolved", "5 drift_share fired"]]);
  });

  it("refuses malformed rules and a clear level on the wrong side", () => {
    expect(() => parseAlertRule("accuracy less than 0.8")).toThrow(/METRIC OP VALUE/);
    expect(() => parseAlertRule("accuracy<0.8,clear=0.7")).toThrow(/healthy side/);
  });

  it("a command gets the event as JSON on stdin and in its environment", async () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "mloop-alert-")), "event.json");
    const [event] = new AlertEvaluator([parseAlertRule("error_rate>0.05")]).evaluate({ error_rate: 0.2 }, { seq: 7, start_ms: 0, end_ms: 1 }, "m");
    const code = await runAlertCommand(`cat > ${out} && test "$MLOOP_ALERT_STATE" = fired && test "$MLOOP_ALERT_WINDOW" = 7`, event!);
    expect(code).toBe(0);
    expect(JSON.parse(fs.readFileSync(out, "utf8"))).toMatchObject({ rule: "error_rate>0.05", value: 0.2, state: "fired", window: { seq: 7 } });
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
  });
});
