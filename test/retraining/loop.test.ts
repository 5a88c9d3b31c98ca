/**
 * The closed loop end to end on examples/churn-loop, with real processes: `mloop server`,
 * `mloop run` training with the real mlflow client, `mloop deploy apply` (serving, monitor,
 * controller in one process), the evaluation gate in Python. Case 1: traffic shifts, drift is
 * detected, a retraining run starts on the labelled traffic, the gate passes, the canary runs,
 * @champion moves to version 2 and the server answers from it. Case 2: a candidate trained on
 * corrupted labels is refused and the champion stays. Case 3: a canary worse on live labelled
 * traffic is rolled back; so is one whose live error rate rises. Case 5: a controller SIGKILLed
 * during retraining resumes the same run.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildScratchCli } from "../helpers/scratch-cli.js";
import { freePort, startServerProcess, type ServerProcess } from "../reliability/harness.js";

const REPO = path.resolve(import.meta.dirname, "../..");
const EXAMPLE = path.join(REPO, "examples", "churn-loop");
const PYTHON = path.join(REPO, ".venv", "bin", "python");
const FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract_months"];

function env(trackingUri: string): NodeJS.ProcessEnv {
  const e = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MLOOP_") && k !== "MLFLOW_TRACKING_URI"));
  return { ...e, PATH: `${path.join(REPO, ".venv", "bin")}:${process.env.PATH}`, MLFLOW_TRACKING_URI: trackingUri, GIT_PYTHON_REFRESH: "quiet" };
}

function readCsv(file: string): { header: string[]; rows: number[][] } {
  const [head, ...lines] = fs.readFileSync(file, "utf8").trim().split("\n");
  return { header: head!.split(","), rows: lines.map((l) => l.split(",").map(Number)) };
}

async function api(base: string, method: "GET" | "POST", route: string, body?: unknown): Promise<{ status: number; body: any }> {
  const url = `${base}${route.startsWith("/") ? route : `/api/2.0/mlflow/${route}`}`;
  const res = await fetch(url, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }) });
  return { status: res.status, body: await res.json() };
}

async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>, output: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; deploy output:\n${output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.skipIf(!fs.existsSync(PYTHON))("the closed loop on examples/churn-loop", () => {
  let dir: string;
  let cli: { bin: string; remove(): void };
  let server: ServerProcess;
  const children: ChildProcess[] = [];

  function mloop(args: string[], trackingUri: string): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [cli.bin, ...args], { cwd: dir, env: env(trackingUri), encoding: "utf8", timeout: 120_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** Trains and registers version 1 of `model` on the old world, @champion -> 1. */
  function trainChampion(model: string): void {
    const r = mloop(["run", path.join(EXAMPLE, "train"), "-P", `data=${path.join(dir, "data", "train.csv")}`, "-P", `model_name=${model}`, "--env-manager", "local", "--experiment-name", "churn-train"], server.url);
    expect(r.status, r.stderr).toBe(0);
  }

  /** The example's spec with this test's paths and model. */
  function writeSpec(name: string, model: string, edit: (s: string) => string = (s) => s): string {
    let text = fs.readFileSync(path.join(EXAMPLE, "deploy.yaml"), "utf8");
    text = text
      .replace("name: churn\n", `name: ${name}\n`)
      .replace("  name: churn\n", `  name: ${model}\n`)
      .replace("model_name: churn", `model_name: ${model}`)
      .replace("./train", path.join(EXAMPLE, "train"))
      .replaceAll("./work/data", path.join(dir, "data"))
      .replace("./work/predictions", path.join(dir, `predictions-${name}`));
    const file = path.join(dir, `${name}.yaml`);
    fs.writeFileSync(file, edit(text));
    return file;
  }

  async function apply(spec: string): Promise<{ url: string; output: () => string; child: ChildProcess }> {
    const port = await freePort();
    const child = spawn(process.execPath, [cli.bin, "deploy", "apply", spec, "--port", String(port), "--python", PYTHON, "--interval", "0.5"], { cwd: dir, env: env(server.url), stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const url = `http://127.0.0.1:${port}`;
    await waitFor("deploy apply to serve", 120_000, async () => {
      if (child.exitCode !== null) throw new Error(`deploy apply exited ${child.exitCode}: ${out}`);
      return fetch(`${url}/ping`).then((r) => (r.ok ? true : undefined), () => undefined);
    }, () => out);
    return { url, output: () => out, child };
  }

  async function deployment(name: string): Promise<{ deployment: any; events: any[] }> {
    const d = await api(server.url, "GET", `/api/2.0/mloop/deployments/get?name=${name}`);
    const e = await api(server.url, "GET", `/api/2.0/mloop/deployments/events/list?name=${name}`);
    return { deployment: d.body.deployment, events: e.body.events };
  }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-loop-"));
    const gen = spawnSync(PYTHON, [path.join(EXAMPLE, "make_data.py"), path.join(dir, "data")], { encoding: "utf8" });
    if (gen.status !== 0) throw new Error(gen.stderr);
    cli = buildScratchCli("loop");
    server = await startServerProcess(cli.bin, dir);
  }, 120_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await server?.stop();
    cli?.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("detects drift, retrains on the labelled traffic, gates, canaries and promotes version 2", async () => {
    trainChampion("churn");
    expect((await api(server.url, "POST", "registered-models/alias", { name: "churn", alias: "champion", version: "1" })).status).toBe(200);
    const d = await apply(writeSpec("churn", "churn"));

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
    const before = readCsv(path.join(dir, "data", "traffic_before.csv"));
    for (let i = 0; i < before.rows.length; i += 20) await send(before.rows.slice(i, i + 20).map((r) => r.slice(0, 4)));
    await new Promise((r) => setTimeout(r, 1500));
    expect((await deployment("churn")).deployment.state).toBe("serving");

    const after = readCsv(path.join(dir, "data", "traffic_after.csv"));
    let i = 0;
    const answeredBy = new Set<string>();
    const final = await waitFor("promotion", 150_000, async () => {
      const chunk = after.rows.slice(i % after.rows.length, (i % after.rows.length) + 20);
      i += 20;
      answeredBy.add(await send(chunk.map((r) => r.slice(0, 4)), chunk.map((r) => r[4]!)));
      const s = await deployment("churn");
      if (s.events.some((e) => e.to_state === "refused" || e.to_state === "rolled_back")) throw new Error(`not promoted: ${JSON.stringify(s.events, null, 1)}\n${d.output().slice(-3000)}`);
      return s.events.some((e) => e.to_state === "promoted") && s.deployment.state === "serving" ? s : undefined;
    }, d.output);

    const states = final.events.map((e: any) => e.to_state);
    expect(states).toEqual(["serving", "drift_detected", "retraining", "evaluating", "canary", "promoted", "serving"]);
    const [, drift, retrain, evaluating, canary, promoted] = final.events;
    expect(drift.reason).toMatch(/^window \d+: drift_share [\d.]+ >= 0.5$/);
    // The trigger names the monitoring run and the window (its step) that caused it.
    const history = (await api(server.url, "GET", `metrics/get-history?run_id=${drift.data.monitor_run_id}&metric_key=drift_share`)).body.metrics;
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
    expect((await api(server.url, "GET", "registered-models/alias?name=churn&alias=champion")).body.model_version.version).toBe("2");
    expect((await api(server.url, "GET", "registered-models/alias?name=churn&alias=previous")).body.model_version.version).toBe("1");
    const now = await fetch(`${d.url}/invocations`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ dataframe_split: { columns: FEATURES, data: [after.rows[0]!.slice(0, 4)] } }) });
    expect(now.headers.get("x-mloop-model-version")).toBe("2");

    // The chain back: version 2 → its training run (trigger, data) → the data file; the gate's record on the version and the evaluation run.
    const mv = (await api(server.url, "GET", "model-versions/get?name=churn&version=2")).body.model_version;
    const tags = Object.fromEntries(mv.tags.map((t: any) => [t.key, t.value]));
    expect(tags["mloop.gate.verdict"]).toBe("passed");
    expect(tags["mloop.gate.champion_version"]).toBe("1");
    expect(mv.run_id).toBe(retrain.data.run_id);
    const run = (await api(server.url, "GET", `runs/get?run_id=${mv.run_id}`)).body.run;
    const runTags = Object.fromEntries(run.data.tags.map((t: any) => [t.key, t.value]));
    expect(JSON.parse(runTags["mloop.deployment.trigger"])).toMatchObject({ kind: "drift", window: drift.data.window });
    expect(runTags["mlflow.source.git.commit"]).toMatch(/^[0-9a-f]{40}$/);
    const dataFile = runTags["mloop.deployment.data"];
    expect(fs.readFileSync(dataFile, "utf8").split("\n")[0]).toBe([...FEATURES, "churned"].join(","));
    expect(JSON.parse(run.inputs.dataset_inputs[0].dataset.source).uri).toBe(dataFile);
    const evalRun = (await api(server.url, "GET", `runs/get?run_id=${tags["mloop.gate.evaluation_run_id"]}`)).body.run;
    const metrics = Object.fromEntries(evalRun.data.metrics.map((m: any) => [m.key, m.value]));
    expect(metrics["candidate.accuracy"]).toBe(canary.data.candidate.accuracy);
    expect(metrics["champion.accuracy"]).toBe(canary.data.champion.accuracy);
    expect(evalRun.data.tags.find((t: any) => t.key === "mloop.gate.verdict").value).toBe("passed");

    // The CLI reads it back; a manual rollback moves @champion back to 1.
    const listed = mloop(["deploy", "history", "churn"], server.url);
    expect(listed.status).toBe(0);
    expect(listed.stdout).toMatch(/canary → promoted/);
    const rb = mloop(["deploy", "rollback", "churn"], server.url);
    expect(rb.stdout.trim()).toBe("churn: @champion moved from version 2 back to 1");
    expect((await api(server.url, "GET", "registered-models/alias?name=churn&alias=champion")).body.model_version.version).toBe("1");
    expect((await deployment("churn")).events.slice(-2).map((e: any) => e.to_state)).toEqual(["rolled_back", "serving"]);
    d.child.kill("SIGTERM");
  }, 240_000);

  it("refuses a worse candidate, records why, and keeps the champion", async () => {
    trainChampion("churn-bad");
    expect((await api(server.url, "POST", "registered-models/alias", { name: "churn-bad", alias: "champion", version: "1" })).status).toBe(200);
    const spec = writeSpec("churn-bad", "churn-bad", (s) =>
      s.replace("    model_name: churn-bad\n", "    model_name: churn-bad\n    label_noise: 0.5\n").replace("data:\n  from_log:\n    label_column: churned\n", `data:\n  path: ${path.join(dir, "data", "traffic_after.csv")}\n`),
    );
    const d = await apply(spec);
    const r = mloop(["deploy", "retrain", "churn-bad", "--reason", "try a noisy model"], server.url);
    expect(r.status, r.stderr).toBe(0);
    const final = await waitFor("refusal", 120_000, async () => {
      const s = await deployment("churn-bad");
      return s.events.some((e) => e.to_state === "refused") && s.deployment.state === "serving" ? s : undefined;
    }, d.output);
    expect(final.events.map((e: any) => e.to_state)).toEqual(["serving", "drift_detected", "retraining", "evaluating", "refused", "serving"]);
    const refused = final.events[4];
    expect(final.events[1].reason).toBe("manual: try a noisy model");
    expect(refused.reason).toMatch(/^gate refused: accuracy [\d.]+ vs champion [\d.]+: worse by/);
    expect(refused.data.candidate.accuracy).toBeLessThan(refused.data.champion.accuracy);
    expect((await api(server.url, "GET", "registered-models/alias?name=churn-bad&alias=champion")).body.model_version.version).toBe("1");
    const mv = (await api(server.url, "GET", "model-versions/get?name=churn-bad&version=2")).body.model_version;
    const tags = Object.fromEntries(mv.tags.map((t: any) => [t.key, t.value]));
    expect(tags["mloop.gate.verdict"]).toBe("refused");
    expect(JSON.parse(tags["mloop.gate.primary"])).toMatchObject({ threshold: 0.02, passed: false });
    const status = mloop(["deploy", "status", "churn-bad"], server.url);
    expect(status.stdout).toMatch(/^churn-bad: serving/);
    d.child.kill("SIGTERM");

    // Errors: one line and a non-zero exit from the CLI, MLflow's error JSON with a 4xx from the API.
    const missing = mloop(["deploy", "status", "nope"], server.url);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect(missing.stderr).toMatch(/Deployment 'nope' does not exist/);
    const bad = await api(server.url, "POST", "/api/2.0/mloop/deployments/transition", { name: "churn-bad", revision: 1, to_state: "promoted", reason: "x" });
    expect(bad.status).toBe(400);
    expect(bad.body.error_code).toBe("INVALID_STATE");
    const badSpec = path.join(dir, "bad.yaml");
    fs.writeFileSync(badSpec, "name: x\nmodel:\n  name: m\n  colour: red\n");
    const applied = mloop(["deploy", "apply", badSpec], server.url);
    expect(applied.status).not.toBe(0);
    expect(applied.stderr.trim()).toBe(`mloop: ${badSpec}:4: model.colour: unknown field (expected one of name, alias)`);
  }, 200_000);

  it("rolls a canary back when its live accuracy falls behind the champion's", async () => {
    trainChampion("churn-rb");
    expect((await api(server.url, "POST", "registered-models/alias", { name: "churn-rb", alias: "champion", version: "1" })).status).toBe(200);
    // The candidate learns the shifted world and passes the gate on its holdout; during the canary the world
    // shifts back, and on live traffic (labelled) it is worse than the champion.
    const spec = writeSpec("churn-rb", "churn-rb", (s) =>
      s
        .replace("data:\n  from_log:\n    label_column: churned\n", `data:\n  path: ${path.join(dir, "data", "traffic_after.csv")}\n`)
        .replace("duration_s: 5", "duration_s: 60"),
    );
    const d = await apply(spec);
    expect(mloop(["deploy", "retrain", "churn-rb", "--reason", "new season"], server.url).status).toBe(0);
    await waitFor("the canary", 90_000, async () => ((await deployment("churn-rb")).deployment.state === "canary" ? true : undefined), d.output);
    const before = readCsv(path.join(dir, "data", "traffic_before.csv"));
    let i = 0;
    const final = await waitFor("the rollback", 90_000, async () => {
      const chunk = before.rows.slice(i % before.rows.length, (i % before.rows.length) + 20);
      i += 20;
      const res = await fetch(`${d.url}/invocations`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ dataframe_split: { columns: FEATURES, data: chunk.map((r) => r.slice(0, 4)) } }) });
      expect(res.status).toBe(200);
      await fetch(`${d.url}/feedback`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ request_id: res.headers.get("x-request-id"), label: chunk.map((r) => r[4]) }) });
      const s = await deployment("churn-rb");
      if (s.events.some((e) => e.to_state === "promoted")) throw new Error(`promoted: ${JSON.stringify(s.events)}`);
      return s.events.some((e) => e.to_state === "rolled_back") && s.deployment.state === "serving" ? s : undefined;
    }, d.output);
    expect(final.events.map((e: any) => e.to_state)).toEqual(["serving", "drift_detected", "retraining", "evaluating", "canary", "rolled_back", "serving"]);
    const rolledBack = final.events[5];
    expect(rolledBack.reason).toMatch(/^canary accuracy [\d.]+ vs champion [\d.]+: worse by more than 0.05$/);
    expect(rolledBack.data.candidate.accuracy).toBeLessThan(rolledBack.data.champion.accuracy - 0.05);
    expect((await api(server.url, "GET", "registered-models/alias?name=churn-rb&alias=champion")).body.model_version.version).toBe("1");
    expect((await api(server.url, "GET", "registered-models/alias?name=churn-rb&alias=challenger")).body.model_version.version).toBe("1");
    const mv = (await api(server.url, "GET", "model-versions/get?name=churn-rb&version=2")).body.model_version;
    expect(mv.tags.find((t: any) => t.key === "mloop.rollout.verdict").value).toMatch(/^rolled back: canary accuracy/);
    d.child.kill("SIGTERM");
  }, 200_000);

  it("rolls a canary back when its live error rate rises", async () => {
    trainChampion("churn-err");
    expect((await api(server.url, "POST", "registered-models/alias", { name: "churn-err", alias: "champion", version: "1" })).status).toBe(200);
    // Without the imputer the candidate passes the gate (the holdout has no gaps) and fails on live rows with a missing value.
    const spec = writeSpec("churn-err", "churn-err", (s) =>
      s
        .replace("    model_name: churn-err\n", "    model_name: churn-err\n    impute: 0\n")
        .replace("data:\n  from_log:\n    label_column: churned\n", `data:\n  path: ${path.join(dir, "data", "traffic_after.csv")}\n`)
        .replace("duration_s: 5", "duration_s: 60"),
    );
    const d = await apply(spec);
    expect(mloop(["deploy", "retrain", "churn-err"], server.url).status).toBe(0);
    await waitFor("the canary", 90_000, async () => ((await deployment("churn-err")).deployment.state === "canary" ? true : undefined), d.output);
    const after = readCsv(path.join(dir, "data", "traffic_after.csv"));
    let i = 0;
    const statuses = new Map<string, number[]>();
    const final = await waitFor("the rollback", 90_000, async () => {
      const rows: (number | null)[][] = after.rows.slice(i % 1000, (i % 1000) + 10).map((r) => r.slice(0, 4));
      if ((i / 10) % 2 === 0) rows[0]![1] = null;
      i += 10;
      const res = await fetch(`${d.url}/invocations`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ dataframe_split: { columns: FEATURES, data: rows } }) });
      const v = res.headers.get("x-mloop-model-version") ?? "?";
      statuses.set(v, [...(statuses.get(v) ?? []), res.status]);
      const s = await deployment("churn-err");
      if (s.events.some((e) => e.to_state === "promoted")) throw new Error(`promoted: ${JSON.stringify(s.events)}`);
      return s.events.some((e) => e.to_state === "rolled_back") && s.deployment.state === "serving" ? s : undefined;
    }, d.output);
    expect(final.events.map((e: any) => e.to_state)).toEqual(["serving", "drift_detected", "retraining", "evaluating", "canary", "rolled_back", "serving"]);
    const rolledBack = final.events[5];
    expect(rolledBack.reason).toMatch(/^canary error rate [\d.]+ vs champion 0.000: worse by more than 0.02$/);
    expect(statuses.get("1")!.every((s) => s === 200)).toBe(true);
    expect(statuses.get("2")!.some((s) => s !== 200)).toBe(true);
    expect((await api(server.url, "GET", "registered-models/alias?name=churn-err&alias=champion")).body.model_version.version).toBe("1");
    d.child.kill("SIGTERM");
  }, 200_000);

  it("resumes after a SIGKILL in the middle of retraining without starting a second run", async () => {
    trainChampion("churn-kill");
    expect((await api(server.url, "POST", "registered-models/alias", { name: "churn-kill", alias: "champion", version: "1" })).status).toBe(200);
    const spec = writeSpec("churn-kill", "churn-kill", (s) =>
      s.replace("    model_name: churn-kill\n", "    model_name: churn-kill\n    label_noise: 0.5\n").replace("data:\n  from_log:\n    label_column: churned\n", `data:\n  path: ${path.join(dir, "data", "traffic_after.csv")}\n`),
    );
    const first = await apply(spec);
    expect(mloop(["deploy", "retrain", "churn-kill"], server.url).status).toBe(0);
    const during = await waitFor("retraining", 60_000, async () => {
      const s = await deployment("churn-kill");
      return s.deployment.state === "retraining" ? s : undefined;
    }, first.output);
    first.child.kill("SIGKILL");
    await new Promise<void>((resolve) => (first.child.exitCode !== null || first.child.signalCode !== null ? resolve() : first.child.once("exit", () => resolve())));
    const runId = during.deployment.context.run_id as string;
    expect((await api(server.url, "GET", `runs/get?run_id=${runId}`)).body.run.info.status).toBe("RUNNING");

    const second = await apply(spec);
    const final = await waitFor("the same final state after the restart", 120_000, async () => {
      const s = await deployment("churn-kill");
      return s.events.some((e) => e.to_state === "refused") && s.deployment.state === "serving" ? s : undefined;
    }, second.output);
    expect(final.events.map((e: any) => e.to_state)).toEqual(["serving", "drift_detected", "retraining", "evaluating", "refused", "serving"]);
    expect(final.events[3].data.run_id).toBe(runId);
    const exp = (await api(server.url, "GET", "experiments/get-by-name?experiment_name=deploy-churn-kill")).body.experiment;
    const runs = (await api(server.url, "POST", "runs/search", { experiment_ids: [exp.experiment_id], filter: "tags.`mloop.deployment` = 'churn-kill'" })).body.runs;
    expect(runs.filter((r: any) => r.info.run_name.startsWith("retrain-")).map((r: any) => r.info.run_id)).toEqual([runId]);
    second.child.kill("SIGTERM");
  }, 200_000);
});
