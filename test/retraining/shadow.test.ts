/**
 * Shadow rollout (`rollout.mode: shadow`) end to end on examples/churn-loop, with real
 * processes (`mloop server`, `mloop deploy apply`, `mloop run` training with the real mlflow
 * client, the Python evaluation): the gate-passing candidate scores a copy of every request
 * while the champion answers all of them. Clients only ever get the champion's answers and
 * version; the challenger's outputs are in the prediction log as shadow records of the same
 * request ids; the shadow's live record against the champion's decides: a better candidate is
 * promoted, one whose shadow copies fail is rolled back, and every decision is an event.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readPredictionLog } from "../../src/serving/index.js";
import { LoopWorld, PYTHON, api, gappyChunk, readCsv, score, untilRolledBack, waitFor } from "./harness.js";

/** The example's spec in shadow mode, retrained (manually) on the shifted traffic. */
function shadowSpec(s: string, extra = ""): string {
  return s
    .replace("data:\n  from_log:\n    label_column: churned\n", "data:\n  path: DATA\n")
    .replace("  mode: canary\n", "  mode: shadow\n")
    .replace("    model_name: ", `${extra}    model_name: `);
}

describe.skipIf(!fs.existsSync(PYTHON))("shadow rollout on examples/churn-loop", () => {
  const w = new LoopWorld("shadow");
  beforeAll(() => w.start(), 300_000);
  afterAll(() => w.stop());

  const logOf = (name: string) => readPredictionLog(path.join(w.dir, `predictions-${name}`)).predictions as { request_id: string; role: string; version: string; status: number; predictions: unknown }[];

  it("the champion answers every request while the candidate is shadowed, then the better candidate is promoted", async () => {
    await w.trainChampion("churn-sh");
    // The gate on probabilities: roc_auc must improve, log_loss (lower is better) may not get worse by more than 0.05.
    const spec = w.writeSpec("churn-sh", "churn-sh", (s) =>
      shadowSpec(s)
        .replace("DATA", w.data("traffic_after.csv"))
        .replace("primary_metric: accuracy", "primary_metric: roc_auc")
        .replace("{metric: f1, tolerance: 0.05, direction: higher}", "{metric: log_loss, tolerance: 0.05}"),
    );
    const d = await w.apply(spec);
    const after = readCsv(w.data("traffic_after.csv"));
    const chunks = Array.from({ length: 5 }, (_, k) => after.rows.slice(k * 20, k * 20 + 20));
    // What the champion answers alone (100 rows: less than a monitoring window, no drift trigger).
    const alone: unknown[] = [];
    for (const c of chunks) {
      const r = await score(d.url, c.map((row) => row.slice(0, 4)));
      expect([r.status, r.version]).toEqual([200, "1"]);
      alone.push(r.predictions);
    }
    expect(w.mloop(["deploy", "retrain", "churn-sh", "--reason", "new season"]).status).toBe(0);
    await waitFor("the shadow", 400_000, async () => ((await w.deployment("churn-sh")).deployment.state === "canary" ? true : undefined), d.output);
    const status = (await (await fetch(`${d.url}/status`)).json()) as any;
    expect(status.policy.mode).toBe("shadow");
    expect(status.models.map((m: any) => [m.role, m.version, m.share])).toEqual([["champion", "1", 1], ["challenger", "2", 0]]);

    const during: { requestId: string; version: string; predictions: unknown; k: number }[] = [];
    let i = 0;
    const final = await waitFor("the promotion", 120_000, async () => {
      const s = await w.deployment("churn-sh");
      if (s.deployment.state === "canary") {
        const k = i++ % chunks.length;
        const r = await score(d.url, chunks[k]!.map((row) => row.slice(0, 4)), chunks[k]!.map((row) => row[4]!));
        expect(r.status).toBe(200);
        during.push({ ...r, k });
      }
      if (s.events.some((e) => e.to_state === "rolled_back")) throw new Error(`rolled back: ${JSON.stringify(s.events, null, 1)}\n${d.output().slice(-3000)}`);
      return s.events.some((e) => e.to_state === "promoted") && s.deployment.state === "serving" ? s : undefined;
    }, d.output);

    expect(final.events.map((e: any) => e.to_state)).toEqual(["serving", "drift_detected", "retraining", "evaluating", "canary", "promoted", "serving"]);
    const [, , , , canary, promoted] = final.events;
    expect(canary.reason).toMatch(/^gate passed: roc_auc [\d.]+ vs champion [\d.]+: better by [\d.]+, meets the margin 0.02; version 2 scores a shadow copy of every request as @challenger for 5 s \(the champion answers all\)$/);
    expect(canary.data).toMatchObject({ mode: "shadow", share: 0, alias: "challenger" });
    expect(canary.data.checks.map((c: any) => [c.metric, c.direction, c.passed])).toEqual([["roc_auc", "higher", true], ["log_loss", "lower", true]]);
    // Both models' probability metrics are in the one evaluation run, named as mlflow.models.evaluate names them.
    const evalRun = (await api(w.server.url, "GET", `runs/get?run_id=${canary.data.evaluation_run_id}`)).body.run;
    const metrics = Object.fromEntries(evalRun.data.metrics.map((m: any) => [m.key, m.value]));
    for (const role of ["candidate", "champion"]) for (const m of ["roc_auc", "log_loss", "accuracy"]) expect(metrics[`${role}.${m}`]).toBe(canary.data[role][m]);
    expect(metrics["candidate.roc_auc"]).toBeGreaterThan(metrics["champion.roc_auc"] + 0.02);
    expect(promoted.reason).toMatch(/^shadow held for \d+ s over \d+ shadowed requests \(error rate 0.000, accuracy [\d.]+\); @champion moved from version 1 to 2, @previous = 1$/);
    expect(promoted.data).toMatchObject({ mode: "shadow", alias: "champion", from_version: "1", to_version: "2" });
    // The decision compared the shadow copies' live record (labelled through the answered requests' ids) with the champion's.
    expect(promoted.data.candidate.requests).toBeGreaterThanOrEqual(5);
    expect(promoted.data.candidate.labelled).toBeGreaterThanOrEqual(5);
    expect(promoted.data.candidate.accuracy).toBeGreaterThan(promoted.data.champion.accuracy);

    // Every shadowed request was answered by the champion (its version, its predictions); the challenger's outputs
    // are logged as shadow records of the same request ids, and they are not what the clients got.
    const log = logOf("churn-sh");
    const shadows = new Map(log.filter((r) => r.role === "shadow").map((r) => [r.request_id, r]));
    const copied = during.filter((r) => shadows.has(r.requestId));
    expect(copied.length).toBeGreaterThanOrEqual(5);
    for (const r of copied) {
      expect(r.version).toBe("1");
      expect(r.predictions).toEqual(alone[r.k]);
      expect(shadows.get(r.requestId)).toMatchObject({ version: "2", status: 200 });
      expect(log.find((x) => x.request_id === r.requestId && x.role !== "shadow")).toMatchObject({ role: "champion", version: "1" });
    }
    expect(copied.some((r) => JSON.stringify(shadows.get(r.requestId)!.predictions) !== JSON.stringify(r.predictions))).toBe(true);
    // Version 2 answers only once it is the champion: the versions clients saw go 1…1 then 2…2.
    const seen = during.map((r) => r.version).join("");
    expect(seen).toMatch(/^1+2*$/);

    expect((await api(w.server.url, "GET", "registered-models/alias?name=churn-sh&alias=champion")).body.model_version.version).toBe("2");
    expect((await api(w.server.url, "GET", "registered-models/alias?name=churn-sh&alias=previous")).body.model_version.version).toBe("1");
    const now = await score(d.url, chunks[0]!.map((row) => row.slice(0, 4)));
    expect(now.version).toBe("2");
    expect((await (await fetch(`${d.url}/status`)).json() as any).policy.mode).toBe("canary");
    d.child.kill("SIGTERM");
  }, 600_000);

  it("rolls back a candidate whose shadow copies fail, while every client request is answered by the champion", async () => {
    await w.trainChampion("churn-shx");
    // Without the imputer the candidate passes the gate (the holdout has no gaps) and fails on rows with a missing value.
    const spec = w.writeSpec("churn-shx", "churn-shx", (s) => shadowSpec(s, "    impute: 0\n").replace("DATA", w.data("traffic_after.csv")).replace("duration_s: 5", "duration_s: 60"));
    const d = await w.apply(spec);
    expect(w.mloop(["deploy", "retrain", "churn-shx"]).status).toBe(0);
    await waitFor("the shadow", 400_000, async () => ((await w.deployment("churn-shx")).deployment.state === "canary" ? true : undefined), d.output);
    const after = readCsv(w.data("traffic_after.csv"));
    let n = 0;
    const answers: { status: number; version: string }[] = [];
    const final = await untilRolledBack(w, "churn-shx", async () => void answers.push(await score(d.url, gappyChunk(after.rows, n++))), d.output);
    expect(final.events.map((e: any) => e.to_state)).toEqual(["serving", "drift_detected", "retraining", "evaluating", "canary", "rolled_back", "serving"]);
    const rolledBack = final.events[5];
    expect(rolledBack.reason).toMatch(/^shadow error rate [\d.]+ vs champion 0.000: worse by more than 0.02$/);
    expect(rolledBack.data).toMatchObject({ mode: "shadow", candidate_version: "2", champion_version: "1" });
    expect(rolledBack.data.candidate.errors).toBeGreaterThan(0);
    // The failing copies never reached a client: every answer was the champion's 200.
    expect(answers.length).toBeGreaterThan(0);
    expect(answers.every((a) => a.status === 200 && a.version === "1")).toBe(true);
    expect(logOf("churn-shx").some((r) => r.role === "shadow" && r.version === "2" && r.status !== 200)).toBe(true);
    expect((await api(w.server.url, "GET", "registered-models/alias?name=churn-shx&alias=champion")).body.model_version.version).toBe("1");
    const mv = (await api(w.server.url, "GET", "model-versions/get?name=churn-shx&version=2")).body.model_version;
    expect(mv.tags.find((t: any) => t.key === "mloop.rollout.verdict").value).toMatch(/^rolled back: shadow error rate/);
    d.child.kill("SIGTERM");
  }, 600_000);
});
