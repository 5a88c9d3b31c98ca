/**
 * The evaluation gate: the candidate and the champion scored on the same
 * held-out data in one evaluation run; the candidate must beat the champion
 * on the primary metric by the margin and stay within tolerance on every
 * guard metric. The verdict, its inputs and thresholds become tags.
 */
import type { GateSpec, MetricDirection } from "./spec.js";

export interface GateCheck {
  metric: string;
  role: "primary" | "guard";
  direction: MetricDirection;
  candidate: number | null;
  champion: number | null;
  /** primary: the margin to beat by; guard: the tolerance. */
  threshold: number;
  passed: boolean;
  reason: string;
}

export interface GateVerdict {
  passed: boolean;
  reason: string;
  checks: GateCheck[];
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(4).replace(/\.?0+$/, "");
}

/** Decides the gate from both models' metrics (same data, same run). */
export function decideGate(gate: GateSpec, candidate: Record<string, number>, champion: Record<string, number>): GateVerdict {
  const checks: GateCheck[] = [];
  const value = (m: Record<string, number>, k: string) => (typeof m[k] === "number" && Number.isFinite(m[k]) ? m[k] : null);
  {
    const c = value(candidate, gate.primaryMetric);
    const b = value(champion, gate.primaryMetric);
    let passed = false;
    let reason: string;
    if (c === null || b === null) reason = `${gate.primaryMetric} missing for the ${c === null ? "candidate" : "champion"}`;
    else {
      const gain = gate.direction === "higher" ? c - b : b - c;
      passed = gain >= gate.margin && gain > 0;
      reason = `${gate.primaryMetric} ${fmt(c)} vs champion ${fmt(b)}: ${gain >= 0 ? "better" : "worse"} by ${fmt(Math.abs(gain))}, ${passed ? "meets" : "misses"} the margin ${fmt(gate.margin)}`;
    }
    checks.push({ metric: gate.primaryMetric, role: "primary", direction: gate.direction, candidate: c, champion: b, threshold: gate.margin, passed, reason });
  }
  for (const g of gate.guards) {
    const c = value(candidate, g.metric);
    const b = value(champion, g.metric);
    let passed = false;
    let reason: string;
    if (c === null || b === null) reason = `${g.metric} missing for the ${c === null ? "candidate" : "champion"}`;
    else {
      const worse = g.direction === "higher" ? b - c : c - b;
      passed = worse <= g.tolerance;
      reason = `${g.metric} ${fmt(c)} vs champion ${fmt(b)}: ${worse > 0 ? `worse by ${fmt(worse)}` : "not worse"}, tolerance ${fmt(g.tolerance)}`;
    }
    checks.push({ metric: g.metric, role: "guard", direction: g.direction, candidate: c, champion: b, threshold: g.tolerance, passed, reason });
  }
  const failed = checks.filter((c) => !c.passed);
  return { passed: failed.length === 0, reason: failed.length === 0 ? `gate passed: ${checks[0]!.reason}` : `gate refused: ${failed.map((c) => c.reason).join("; ")}`, checks };
}

/** The verdict as tags (`mloop.gate.*`), for the candidate's model version and the evaluation run. */
export function gateTags(gate: GateSpec, verdict: GateVerdict, ids: { evaluationRunId: string; champion: string; candidate: string; data: string }): Record<string, string> {
  const tags: Record<string, string> = {
    "mloop.gate.verdict": verdict.passed ? "passed" : "refused",
    "mloop.gate.reason": verdict.reason.slice(0, 5000),
    "mloop.gate.primary_metric": gate.primaryMetric,
    "mloop.gate.direction": gate.direction,
    "mloop.gate.margin": String(gate.margin),
    "mloop.gate.evaluation_run_id": ids.evaluationRunId,
    "mloop.gate.champion_version": ids.champion,
    "mloop.gate.candidate_version": ids.candidate,
    "mloop.gate.data": ids.data,
  };
  for (const c of verdict.checks) {
    tags[`mloop.gate.${c.role === "primary" ? "primary" : `guard.${c.metric}`}`] = JSON.stringify({ candidate: c.candidate, champion: c.champion, threshold: c.threshold, passed: c.passed });
  }
  return tags;
}
