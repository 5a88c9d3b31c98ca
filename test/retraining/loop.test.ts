/**
 * The closed loop end to end on examples/churn-loop, with real processes: `mloop server`,
 * `mloop run` training with the real mlflow client, `mloop deploy apply` (serving, monitor,
 * controller in one process), the evaluation gate in Python. Case 1: traffic shifts, drift is
 * detected, a retraining run starts on the labelled traffic, the gate passes, the canary runs,
 * @champion moves to version 2 and the server answers from it. Case 2: a candidate trained on
 * corrupted labels is refused and the champion stays. Case 3: a canary worse on live labelled
 * traffic is rolled back; so is one whose live error rate rises. Case 5: a controller SIGKILLed
 * during retraining resumes the same run.
 *
 * With MLOOP_TEST_POSTGRES_URL set (scripts/test-all.sh's PostgreSQL pass), the tracking server
 * stores everything (the deployments, their events and leases too) in PostgreSQL, and the
 * promotion and the SIGKILL cases run.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_POSTGRES_URL } from "../helpers/pg.js";
import { FEATURES, LoopWorld, PYTHON, api, gappyChunk, readCsv, score, untilRolledBack, waitFor } from "./harness.js";

/** The cases the PostgreSQL pass leaves to the SQLite one (the store is the same seam; they add time, not coverage of it). */
const sqliteOnly = TEST_POSTGRES_URL ? it.skip : it;

describe.skipIf(!fs.existsSync(PYTHON))(`the closed loop on examples/churn-loop${TEST_POSTGRES_URL ? " (PostgreSQL store)" : ""}`, () => {
  const w = new LoopWorld("loop", TEST_POSTGRES_URL);
  beforeAll(() => w.start(), 300_000);
  afterAll(() => w.stop());

  it("detects drift, retrains on the labelled traffic, gates, canaries and promotes version 2", async () => {
    await w.trainChampion("churn");
    const d = await w.apply(w.writeSpec("churn", "churn"));

    const send = async (rows: number[][], labels?: number[]) => {
      const res = await fetch(`${d.url}/invocations`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ dataframe_split: { columns: FEATURES, data: rows } }) });
      expect(res.status).toBe(200);
      const version = res.headers.get("x-mloop-model-version")!;
      if (labels) {
        const fb = await fetch(`${d.url}/feedback`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ request_id: res.headers.get("x-request-id"), label: labels }) });
        expect(fb.status).toBe(200);
      }
      return version;
    };
    const before = readCsv(w.data("traffic_before.csv"));
    for (let i = 0; i < before.rows.length; i += 20) await send(before.rows.slice(i, i + 20).map((r) => r.slice(0, 4)));
    await new Promise((r) => setTimeout(r, 1500));
    expect((await w.deployment("churn")).deployment.state).toBe("serving");

    const after = readCsv(w.data("traffic_after.csv"));
    let i = 0;
    const answeredBy = new Set<string>();
    const final = await waitFor("promotion", 360_000, async () => {
      const chunk = after.rows.slice(i % after.rows.length, (i % after.rows.length) + 20);
      i += 20;
      answeredBy.add(await send(chunk.map((r) => r.slice(0, 4)), chunk.map((r) => r[4]!)));
      const s = await w.deployment("churn");
      if (s.events.some((e) => e.to_state === "refused" || e.to_state === "rolled_back")) throw new Error(`not promoted: ${JSON.stringify(s.events, null, 1)}\n${d.output().slice(-3000)}`);
      return s.events.some((e) => e.to_state === "promoted") && s.deployment.state === "serving" ? s : undefined;
    }, d.output);

    const states = final.events.map((e: any) => e.to_state);
    expect(states).toEqual(["serving", "drift_detected", "retraining", "evaluating", "canary", "promoted", "serving"]);
    const [, drift, retrain, evaluating, canary, promoted] = final.events;
    expect(drift.reason).toMatch(/^window \d+: drift_share [\d.]+ >= 0.5$/);
    // The trigger names the monitoring run and the window (its step) that caused it.
    const history = (await api(w.server.url, "GET", `metrics/get-history?run_id=${drift.data.monitor_run_id}&metric_key=drift_share`)).body.metrics;
    expect(history.find((m: any) => m.step === drift.data.window).value).toBe(drift.data.drift_share);
    const latency = retrain.data.trigger_latency_ms as number;
    process.stderr.write(`closed loop: drift window closed → retraining run started in ${latency} ms\n`);
    expect(latency).toBeGreaterThanOrEqual(0);
    expect(latency).toBeLessThan(5000);
    expect(evaluating.data.candidate_version).toBe("2");
    expect(canary.reason).toMatch(/^gate passed: accuracy/);
    expect(canary.data.candidate.accuracy).toBeGreaterThan(canary.data.champion.accuracy + 0.02);
    expect(promoted.data).toMatchObject({ alias: "champion", from_version: "1", to_version: "2", previous_alias: "previous" });
    expect(answeredBy.has("2")).toBe(true);

    // The alias moved, @previous kept the old champion, and the server answers from version 2.
    expect((await api(w.server.url, "GET", "registered-models/alias?name=churn&alias=champion")).body.model_version.version).toBe("2");
    expect((await api(w.server.url, "GET", "registered-models/alias?name=churn&alias=previous")).body.model_version.version).toBe("1");
    const now = await fetch(`${d.url}/invocations`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ dataframe_split: { columns: FEATURES, data: [after.rows[0]!.slice(0, 4)] } }) });
    expect(now.headers.get("x-mloop-model-version")).toBe("2");

    // The chain back: version 2 → its training run (trigger, data) → the data file; the gate's record on the version and the evaluation run.
    const mv = (await api(w.server.url, "GET", "model-versions/get?name=churn&version=2")).body.model_version;
    const tags = Object.fromEntries(mv.tags.map((t: any) => [t.key, t.value]));
    expect(tags["mloop.gate.verdict"]).toBe("passed");
    expect(tags["mloop.gate.champion_version"]).toBe("1");
    expect(mv.run_id).toBe(retrain.data.run_id);
    const run = (await api(w.server.url, "GET", `runs/get?run_id=${mv.run_id}`)).body.run;
    const runTags = Object.fromEntries(run.data.tags.map((t: any) => [t.key, t.value]));
    expect(JSON.parse(runTags["mloop.deployment.trigger"])).toMatchObject({ kind: "drift", window: drift.data.window });
    expect(runTags["mlflow.source.git.commit"]).toMatch(/^[0-9a-f]{40}$/);
    const dataFile = runTags["mloop.deployment.data"];
    expect(fs.readFileSync(dataFile, "utf8").split("\n")[0]).toBe([...FEATURES, "churned"].join(","));
    expect(JSON.parse(run.inputs.dataset_inputs[0].dataset.source).uri).toBe(dataFile);
    const evalRun = (await api(w.server.url, "GET", `runs/get?run_id=${tags["mloop.gate.evaluation_run_id"]}`)).body.run;
    const metrics = Object.fromEntries(evalRun.data.metrics.map((m: any) => [m.key, m.value]));
    expect(metrics["candidate.accuracy"]).toBe(canary.data.candidate.accuracy);
    expect(metrics["champion.accuracy"]).toBe(canary.data.champion.accuracy);
    expect(evalRun.data.tags.find((t: any) => t.key === "mloop.gate.verdict").value).toBe("passed");

    // The CLI reads it back; a manual rollback moves @champion back to 1.
    const listed = w.mloop(["deploy", "history", "churn"]);
    expect(listed.status).toBe(0);
    expect(listed.stdout).toMatch(/canary → promoted/);
    const rb = w.mloop(["deploy", "rollback", "churn"]);
    expect(rb.stdout.trim()).toBe("churn: @champion moved from version 2 back to 1");
    expect((await api(w.server.url, "GET", "registered-models/alias?name=churn&alias=champion")).body.model_version.version).toBe("1");
    expect((await w.deployment("churn")).events.slice(-2).map((e: any) => e.to_state)).toEqual(["rolled_back", "serving"]);
    d.child.kill("SIGTERM");
  }, 540_000);

  sqliteOnly("refuses a worse candidate, records why, and keeps the champion", async () => {
    await w.trainChampion("churn-bad");
    const spec = w.writeSpec("churn-bad", "churn-bad", (s) =>
      s.replace("    model_name: churn-bad\n", "    model_name: churn-bad\n    label_noise: 0.5\n").replace("data:\n  from_log:\n    label_column: churned\n", `data:\n  path: ${w.data("traffic_after.csv")}\n`),
    );
    const d = await w.apply(spec);
    const r = w.mloop(["deploy", "retrain", "churn-bad", "--reason", "try a noisy model"]);
    expect(r.status, r.stderr).toBe(0);
    const final = await waitFor("refusal", 120_000, async () => {
      const s = await w.deployment("churn-bad");
      return s.events.some((e) => e.to_state === "refused") && s.deployment.state === "serving" ? s : undefined;
    }, d.output);
    expect(final.events.map((e: any) => e.to_state)).toEqual(["serving", "drift_detected", "retraining", "evaluating", "refused", "serving"]);
    const refused = final.events[4];
    expect(final.events[1].reason).toBe("manual: try a noisy model");
    expect(refused.reason).toMatch(/^gate refused: accuracy [\d.]+ vs champion [\d.]+: worse by/);
    expect(refused.data.candidate.accuracy).toBeLessThan(refused.data.champion.accuracy);
    expect((await api(w.server.url, "GET", "registered-models/alias?name=churn-bad&alias=champion")).body.model_version.version).toBe("1");
    const mv = (await api(w.server.url, "GET", "model-versions/get?name=churn-bad&version=2")).body.model_version;
    const tags = Object.fromEntries(mv.tags.map((t: any) => [t.key, t.value]));
    expect(tags["mloop.gate.verdict"]).toBe("refused");
    expect(JSON.parse(tags["mloop.gate.primary"])).toMatchObject({ threshold: 0.02, passed: false });
    const status = w.mloop(["deploy", "status", "churn-bad"]);
    expect(status.stdout).toMatch(/^churn-bad: serving/);
    d.child.kill("SIGTERM");

    // Errors: one line and a non-zero exit from the CLI, MLflow's error JSON with a 4xx from the API.
    const missing = w.mloop(["deploy", "status", "nope"]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect(missing.stderr).toMatch(/Deployment 'nope' does not exist/);
    const bad = await api(w.server.url, "POST", "/api/2.0/mloop/deployments/transition", { name: "churn-bad", revision: 1, to_state: "promoted", reason: "x" });
    expect(bad.status).toBe(400);
    expect(bad.body.error_code).toBe("INVALID_STATE");
    const badSpec = path.join(w.dir, "bad.yaml");
    fs.writeFileSync(badSpec, "name: x\nmodel:\n  name: m\n  colour: red\n");
    const applied = w.mloop(["deploy", "apply", badSpec]);
    expect(applied.status).not.toBe(0);
    expect(applied.stderr.trim()).toBe(`mloop: ${badSpec}:4: model.colour: unknown field (expected one of name, alias)`);
  }, 200_000);

  sqliteOnly("rolls a canary back when its live accuracy falls behind the champion's", async () => {
    await w.trainChampion("churn-rb");
    // The candidate learns the shifted world and passes the gate on its holdout; during the canary the world
    // shifts back, and on live traffic (labelled) it is worse than the champion.
    const spec = w.writeSpec("churn-rb", "churn-rb", (s) =>
      s
        .replace("data:\n  from_log:\n    label_column: churned\n", `data:\n  path: ${w.data("traffic_after.csv")}\n`)
        .replace("duration_s: 5", "duration_s: 60"),
    );
    const d = await w.apply(spec);
    expect(w.mloop(["deploy", "retrain", "churn-rb", "--reason", "new season"]).status).toBe(0);
    await waitFor("the canary", 90_000, async () => ((await w.deployment("churn-rb")).deployment.state === "canary" ? true : undefined), d.output);
    const before = readCsv(w.data("traffic_before.csv"));
    let i = 0;
    const final = await waitFor("the rollback", 90_000, async () => {
      const chunk = before.rows.slice(i % before.rows.length, (i % before.rows.length) + 20);
      i += 20;
      const res = await fetch(`${d.url}/invocations`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ dataframe_split: { columns: FEATURES, data: chunk.map((r) => r.slice(0, 4)) } }) });
      expect(res.status).toBe(200);
      await fetch(`${d.url}/feedback`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ request_id: res.headers.get("x-request-id"), label: chunk.map((r) => r[4]) }) });
      const s = await w.deployment("churn-rb");
      if (s.events.some((e) => e.to_state === "promoted")) throw new Error(`promoted: ${JSON.stringify(s.events)}`);
      return s.events.some((e) => e.to_state === "rolled_back") && s.deployment.state === "serving" ? s : undefined;
    }, d.output);
    expect(final.events.map((e: any) => e.to_state)).toEqual(["serving", "drift_detected", "retraining", "evaluating", "canary", "rolled_back", "serving"]);
    const rolledBack = final.events[5];
    expect(rolledBack.reason).toMatch(/^canary accuracy [\d.]+ vs champion [\d.]+: worse by more than 0.05$/);
    expect(rolledBack.data.candidate.accuracy).toBeLessThan(rolledBack.data.champion.accuracy - 0.05);
    expect((await api(w.server.url, "GET", "registered-models/alias?name=churn-rb&alias=champion")).body.model_version.version).toBe("1");
    expect((await api(w.server.url, "GET", "registered-models/alias?name=churn-rb&alias=challenger")).body.model_version.version).toBe("1");
    const mv = (await api(w.server.url, "GET", "model-versions/get?name=churn-rb&version=2")).body.model_version;
    expect(mv.tags.find((t: any) => t.key === "mloop.rollout.verdict").value).toMatch(/^rolled back: canary accuracy/);
    d.child.kill("SIGTERM");
  }, 200_000);

  sqliteOnly("rolls a canary back when its live error rate rises", async () => {
    await w.trainChampion("churn-err");
    // Without the imputer the candidate passes the gate (the holdout has no gaps) and fails on live rows with a missing value.
    const spec = w.writeSpec("churn-err", "churn-err", (s) =>
      s
        .replace("    model_name: churn-err\n", "    model_name: churn-err\n    impute: 0\n")
        .replace("data:\n  from_log:\n    label_column: churned\n", `data:\n  path: ${w.data("traffic_after.csv")}\n`)
        .replace("duration_s: 5", "duration_s: 60"),
    );
    const d = await w.apply(spec);
    expect(w.mloop(["deploy", "retrain", "churn-err"]).status).toBe(0);
    await waitFor("the canary", 90_000, async () => ((await w.deployment("churn-err")).deployment.state === "canary" ? true : undefined), d.output);
    const after = readCsv(w.data("traffic_after.csv"));
    let n = 0;
    const statuses = new Map<string, number[]>();
    const final = await untilRolledBack(w, "churn-err", async () => {
      const { version: v, status } = await score(d.url, gappyChunk(after.rows, n++));
      statuses.set(v, [...(statuses.get(v) ?? []), status]);
    }, d.output);
    expect(final.events.map((e: any) => e.to_state)).toEqual(["serving", "drift_detected", "retraining", "evaluating", "canary", "rolled_back", "serving"]);
    const rolledBack = final.events[5];
    expect(rolledBack.reason).toMatch(/^canary error rate [\d.]+ vs champion 0.000: worse by more than 0.02$/);
    expect(statuses.get("1")!.every((s) => s === 200)).toBe(true);
    expect(statuses.get("2")!.some((s) => s !== 200)).toBe(true);
    expect((await api(w.server.url, "GET", "registered-models/alias?name=churn-err&alias=champion")).body.model_version.version).toBe("1");
    d.child.kill("SIGTERM");
  }, 200_000);

  it("resumes after a SIGKILL in the middle of retraining without starting a second run", async () => {
    await w.trainChampion("churn-kill");
    const spec = w.writeSpec("churn-kill", "churn-kill", (s) =>
      s.replace("    model_name: churn-kill\n", "    model_name: churn-kill\n    label_noise: 0.5\n").replace("data:\n  from_log:\n    label_column: churned\n", `data:\n  path: ${w.data("traffic_after.csv")}\n`),
    );
    const first = await w.apply(spec);
    expect(w.mloop(["deploy", "retrain", "churn-kill"]).status).toBe(0);
    const during = await waitFor("retraining", 60_000, async () => {
      const s = await w.deployment("churn-kill");
      return s.deployment.state === "retraining" ? s : undefined;
    }, first.output);
    first.child.kill("SIGKILL");
    await new Promise<void>((resolve) => (first.child.exitCode !== null || first.child.signalCode !== null ? resolve() : first.child.once("exit", () => resolve())));
    const runId = during.deployment.context.run_id as string;
    expect((await api(w.server.url, "GET", `runs/get?run_id=${runId}`)).body.run.info.status).toBe("RUNNING");

    const second = await w.apply(spec);
    const final = await waitFor("the same final state after the restart", 300_000, async () => {
      const s = await w.deployment("churn-kill");
      return s.events.some((e) => e.to_state === "refused") && s.deployment.state === "serving" ? s : undefined;
    }, second.output);
    expect(final.events.map((e: any) => e.to_state)).toEqual(["serving", "drift_detected", "retraining", "evaluating", "refused", "serving"]);
    expect(final.events[3].data.run_id).toBe(runId);
    const exp = (await api(w.server.url, "GET", "experiments/get-by-name?experiment_name=deploy-churn-kill")).body.experiment;
    const runs = (await api(w.server.url, "POST", "runs/search", { experiment_ids: [exp.experiment_id], filter: "tags.`mloop.deployment` = 'churn-kill'" })).body.runs;
    expect(runs.filter((r: any) => r.info.run_name.startsWith("retrain-")).map((r: any) => r.info.run_id)).toEqual([runId]);
    second.child.kill("SIGTERM");
  }, 480_000);
});
