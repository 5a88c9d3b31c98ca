import { describe, expect, it } from "vitest";
import { decideGate, gateTags, type GateSpec } from "./index.js";

const gate: GateSpec = { primaryMetric: "accuracy", direction: "higher", margin: 0.02, guards: [{ metric: "latency_ms", tolerance: 1, direction: "lower" }] };

describe("evaluation gate", () => {
  it("passes a candidate that beats the champion by the margin within the guards", () => {
    const v = decideGate(gate, { accuracy: 0.9, latency_ms: 2.5 }, { accuracy: 0.85, latency_ms: 2 });
    expect(v.passed).toBe(true);
    expect(v.reason).toMatch(/^gate passed: accuracy 0\.9 vs champion 0\.85: better by 0\.05, meets the margin 0\.02$/);
  });

  it("refuses a candidate better by less than the margin", () => {
    const v = decideGate(gate, { accuracy: 0.86, latency_ms: 2 }, { accuracy: 0.85, latency_ms: 2 });
    expect(v.passed).toBe(false);
    expect(v.reason).toMatch(/misses the margin 0\.02/);
  });

  it("refuses an equal candidate even with a zero margin", () => {
    expect(decideGate({ ...gate, margin: 0, guards: [] }, { accuracy: 0.85 }, { accuracy: 0.85 }).passed).toBe(false);
  });

  it("refuses a candidate that breaks a guard, and names it", () => {
    const v = decideGate(gate, { accuracy: 0.95, latency_ms: 4 }, { accuracy: 0.85, latency_ms: 2 });
    expect(v.passed).toBe(false);
    expect(v.reason).toBe("gate refused: latency_ms 4 vs champion 2: worse by 2, tolerance 1");
  });

  it("reads lower-is-better primary metrics", () => {
    const g: GateSpec = { primaryMetric: "log_loss", direction: "lower", margin: 0.1, guards: [] };
    expect(decideGate(g, { log_loss: 0.3 }, { log_loss: 0.5 }).passed).toBe(true);
    expect(decideGate(g, { log_loss: 0.45 }, { log_loss: 0.5 }).passed).toBe(false);
  });

  it("refuses when a metric is missing", () => {
    const v = decideGate(gate, { latency_ms: 1 }, { accuracy: 0.8, latency_ms: 1 });
    expect(v.passed).toBe(false);
    expect(v.reason).toMatch(/accuracy missing for the candidate/);
  });

  it("records inputs, thresholds and verdict as tags", () => {
    const v = decideGate(gate, { accuracy: 0.9, latency_ms: 2.5 }, { accuracy: 0.85, latency_ms: 2 });
    const tags = gateTags(gate, v, { evaluationRunId: "r1", champion: "1", candidate: "2", data: "/d.csv" });
    expect(tags["mloop.gate.verdict"]).toBe("passed");
    expect(JSON.parse(tags["mloop.gate.primary"]!)).toEqual({ candidate: 0.9, champion: 0.85, threshold: 0.02, passed: true });
    expect(JSON.parse(tags["mloop.gate.guard.latency_ms"]!)).toEqual({ candidate: 2.5, champion: 2, threshold: 1, passed: true });
    expect(tags["mloop.gate.evaluation_run_id"]).toBe("r1");
  });
});
