import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LocalPredictionSink } from "../serving/index.js";
import { liveStats, percentile } from "./live.js";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe("live statistics of the served versions, from the prediction log", () => {
  it("nearest-rank percentiles", () => {
    expect(percentile([], 0.95)).toBeNull();
    expect(percentile([7], 0.95)).toBe(7);
    expect(percentile(Array.from({ length: 100 }, (_, i) => 100 - i), 0.95)).toBe(95);
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2);
  });

  it("p95 latency per version over answered requests, without shadow copies or errors", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-live-"));
    dirs.push(dir);
    const sink = new LocalPredictionSink(dir);
    const t0 = Date.now();
    let n = 0;
    const write = (version: string, role: string, status: number, latencyMs: number, timestampMs = t0) =>
      sink.write({ requestId: `r${n++}`, timestampMs, model: "m", version, role, status, latencyMs, inputs: '{"columns":["x"],"data":[[1]]}', predictions: status === 200 ? "[0]" : undefined });
    for (let i = 1; i <= 100; i++) await write("1", "champion", 200, i); // p95 = 95
    for (let i = 1; i <= 20; i++) await write("2", "challenger", 200, 100 + i); // p95 = 119
    await write("2", "challenger", 503, 9999); // an error: counted as an error, not a latency
    await write("2", "shadow", 200, 50_000); // a shadow copy: left out
    await write("1", "champion", 200, 70_000, t0 - 60_000); // before the canary started: left out
    await sink.close();
    const stats = liveStats(dir, t0 - 1);
    expect(stats.get("1")).toMatchObject({ requests: 100, errors: 0, latencyP95Ms: 95 });
    expect(stats.get("2")).toMatchObject({ requests: 21, errors: 1, latencyP95Ms: 119 });
    expect(stats.get("2")!.errorRate).toBeCloseTo(1 / 21);
  });
});
