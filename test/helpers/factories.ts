import type { TestApp } from "./app.js";

/**
 * Quick builders for tests that need experiments, runs and metrics in
 * place. They go through the HTTP API, so what they create is exactly what
 * a client would have created; each throws with the server's answer when a
 * call fails.
 */

let counter = 0;

/** A name no other call in this process returned. */
export function uniqueName(prefix = "exp"): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

async function ok<T = any>(t: TestApp, method: "GET" | "POST", url: string, body?: unknown): Promise<T> {
  const r = await t.call(method, url, body);
  if (r.status !== 200) throw new Error(`${method} ${url} failed with ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body as T;
}

/** Creates an experiment and returns its id. */
export async function createExperiment(t: TestApp, opts: { name?: string; tags?: Record<string, string>; artifactLocation?: string } = {}): Promise<string> {
  const body = await ok<{ experiment_id: string }>(t, "POST", "experiments/create", {
    name: opts.name ?? uniqueName(),
    artifact_location: opts.artifactLocation,
    tags: Object.entries(opts.tags ?? {}).map(([key, value]) => ({ key, value })),
  });
  return body.experiment_id;
}

export interface RunSpec {
  experimentId?: string;
  runName?: string;
  userId?: string;
  startTime?: number;
  tags?: Record<string, string>;
  params?: Record<string, string | number>;
  /** Latest values, logged at step 0 (or a history as an array of values, one per step). */
  metrics?: Record<string, number | number[]>;
  status?: "FINISHED" | "FAILED" | "KILLED";
}

/** Creates a run, logs its params, metrics and tags in batches, optionally ends it; returns the run id. */
export async function createRun(t: TestApp, spec: RunSpec = {}): Promise<string> {
  const created = await ok<{ run: { info: { run_id: string } } }>(t, "POST", "runs/create", {
    experiment_id: spec.experimentId ?? "0",
    run_name: spec.runName,
    user_id: spec.userId ?? "tester",
    start_time: spec.startTime ?? Date.now(),
    tags: Object.entries(spec.tags ?? {}).map(([key, value]) => ({ key, value })),
  });
  const runId = created.run.info.run_id;
  const params = Object.entries(spec.params ?? {}).map(([key, value]) => ({ key, value: String(value) }));
  const metrics: { key: string; value: number | string; timestamp: number; step: number }[] = [];
  const ts = spec.startTime ?? Date.now();
  for (const [key, v] of Object.entries(spec.metrics ?? {})) {
    const values = Array.isArray(v) ? v : [v];
    values.forEach((value, step) => metrics.push({ key, value: Number.isFinite(value) ? value : String(value), timestamp: ts + step, step }));
  }
  for (let i = 0; i < Math.max(metrics.length, params.length, 1); i += 1000) {
    const m = metrics.slice(i, i + 1000);
    const p = i === 0 ? params : [];
    if (m.length || p.length) await ok(t, "POST", "runs/log-batch", { run_id: runId, metrics: m, params: p });
  }
  if (spec.status) await ok(t, "POST", "runs/update", { run_id: runId, status: spec.status, end_time: ts + 1000 });
  return runId;
}

/** Logs `points` values of one metric (value = f(step)) in batches of 1000. */
export async function logMetricHistory(t: TestApp, runId: string, key: string, points: number, f: (step: number) => number = (s) => s): Promise<void> {
  const ts = Date.now();
  for (let start = 0; start < points; start += 1000) {
    const metrics = [];
    for (let step = start; step < Math.min(points, start + 1000); step++) {
      const value = f(step);
      metrics.push({ key, value: Number.isFinite(value) ? value : String(value), timestamp: ts + step, step });
    }
    await ok(t, "POST", "runs/log-batch", { run_id: runId, metrics });
  }
}

/** The run as `runs/get` returns it. */
export async function getRun(t: TestApp, runId: string): Promise<any> {
  return (await ok<{ run: unknown }>(t, "GET", `runs/get?run_id=${runId}`)).run;
}
