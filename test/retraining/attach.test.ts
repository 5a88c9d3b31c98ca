/**
 * `mloop deploy apply SPEC --attach URL`: the monitor and the controller attached to a separately
 * started `mloop serve` (its alias polling off, so only the controller's calls move it). The
 * controller reads the server's prediction log, sets the canary through the server's
 * `POST /traffic` and makes it re-read the aliases it moves through `POST /webhooks/registry`:
 * drift → retraining → gate → canary → promotion, and the running server answers from version 2.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../reliability/harness.js";
import { LoopWorld, PYTHON, api, env, readCsv, score, waitFor } from "./harness.js";

const TOKEN = "attach-test-token";

describe.skipIf(!fs.existsSync(PYTHON))("a controller attached to a running mloop serve", () => {
  const w = new LoopWorld("attach");
  beforeAll(() => w.start(), 300_000);
  afterAll(() => w.stop());

  it("drives the running server through drift, retraining, the gate and the canary to version 2", async () => {
    await w.trainChampion("churn-at");
    expect((await api(w.server.url, "POST", "registered-models/alias", { name: "churn-at", alias: "challenger", version: "1" })).status).toBe(200);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const servedLog = path.join(w.dir, "served-log");
    const serve = w.spawn([
      "serve", "models:/churn-at@champion", "--challenger", "models:/churn-at@challenger", "--port", String(port), "--log-dir", servedLog,
      "--poll-interval", "0", "--control-token", TOKEN, "--python", PYTHON, "--workers", "1",
    ]);
    await w.pinged(url, serve);
    const status = async () => (await (await fetch(`${url}/status`)).json()) as any;
    expect((await status()).policy).toMatchObject({ mode: "canary", challenger_share: 0.1 });

    // The traffic route: the token, and MLflow's error JSON with a 4xx on bad input.
    const post = (body: unknown, token?: string) =>
      fetch(`${url}/traffic`, { method: "POST", headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
    const noToken = await post({ mode: "canary", share: 0.5 });
    expect([noToken.status, ((await noToken.json()) as any).error_code]).toEqual([401, "UNAUTHENTICATED"]);
    const badShare = await post({ mode: "canary", share: 2 }, TOKEN);
    expect(badShare.status).toBe(400);
    expect(await badShare.json()).toEqual({ error_code: "INVALID_PARAMETER_VALUE", message: "'share' must be a number between 0 and 1 in canary mode, got 2" });
    expect((await post({ mode: "blue" }, TOKEN)).status).toBe(400);

    // A spec whose challenger the server does not serve is refused in one line.
    const other = w.writeSpec("other-at", "churn-at", (t) => t.replace("  max_accuracy_drop: 0.05\n", "  max_accuracy_drop: 0.05\n  challenger_alias: candidate\n"));
    const refused = spawnSync(process.execPath, [w.bin, "deploy", "apply", other, "--attach", url], { cwd: w.dir, env: env(w.server.url), encoding: "utf8", timeout: 60_000 });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    expect(refused.stderr.trim()).toMatch(/has the challenger models:\/churn-at@challenger, not models:\/churn-at@candidate \(start it with --challenger models:\/churn-at@candidate\)$/);

    const spec = w.writeSpec("churn-at", "churn-at");
    const ctl = w.spawn(["deploy", "apply", spec, "--attach", url, "--control-token", TOKEN, "--python", PYTHON, "--interval", "0.5"]);
    await waitFor("the controller to attach", 60_000, async () => {
      if (ctl.child.exitCode !== null) throw new Error(`deploy apply exited ${ctl.child.exitCode}: ${ctl.output()}`);
      return ctl.output().includes(`serving churn-at version 1 at ${url}; prediction log ${servedLog}`) ? true : undefined;
    }, ctl.output);
    // Attached, the controller owns the split: the champion answers all until a canary.
    expect((await status()).policy).toMatchObject({ mode: "canary", challenger_share: 0 });
    const output = () => `${ctl.output()}\n--- mloop serve:\n${serve.output()}`;

    const before = readCsv(w.data("traffic_before.csv"));
    for (let i = 0; i < before.rows.length; i += 20) expect((await score(url, before.rows.slice(i, i + 20).map((r) => r.slice(0, 4)))).version).toBe("1");
    const after = readCsv(w.data("traffic_after.csv"));
    let i = 0;
    const answeredBy = new Set<string>();
    const shares = new Set<number>();
    const final = await waitFor("promotion", 480_000, async () => {
      const chunk = after.rows.slice(i % after.rows.length, (i % after.rows.length) + 20);
      i += 20;
      const r = await score(url, chunk.map((row) => row.slice(0, 4)), chunk.map((row) => row[4]!));
      expect(r.status).toBe(200);
      answeredBy.add(r.version);
      shares.add((await status()).policy.challenger_share);
      const s = await w.deployment("churn-at");
      if (s.events.some((e) => e.to_state === "refused" || e.to_state === "rolled_back")) throw new Error(`not promoted: ${JSON.stringify(s.events, null, 1)}\n${output().slice(-3000)}`);
      return s.events.some((e) => e.to_state === "promoted") && s.deployment.state === "serving" ? s : undefined;
    }, output);

    expect(final.events.map((e: any) => e.to_state)).toEqual(["serving", "drift_detected", "retraining", "evaluating", "canary", "promoted", "serving"]);
    const [, drift, retrain, , canary, promoted] = final.events;
    expect(drift.reason).toMatch(/^window \d+: drift_share [\d.]+ >= 0.5$/);
    // The retraining data came from the attached server's log (its labelled traffic).
    expect(retrain.data.data).toMatch(new RegExp(`^${servedLog}/deploy/fresh-`));
    expect(canary.data).toMatchObject({ mode: "canary", share: 0.5 });
    expect(promoted.data).toMatchObject({ alias: "champion", from_version: "1", to_version: "2" });
    // The canary's share was set on the running server (and taken back), and version 2 answered some of its requests.
    expect(shares.has(0.5)).toBe(true);
    expect(answeredBy.has("2")).toBe(true);

    // The running server (no alias polling) answers from version 2 now, the champion alone.
    const now = await status();
    expect(now.policy).toMatchObject({ mode: "canary", challenger_share: 0 });
    expect(now.models.find((m: any) => m.role === "champion").version).toBe("2");
    expect((await score(url, [after.rows[0]!.slice(0, 4)])).version).toBe("2");
    expect((await api(w.server.url, "GET", "registered-models/alias?name=churn-at&alias=previous")).body.model_version.version).toBe("1");
    expect(ctl.output()).toMatch(/traffic at http:\/\/127\.0\.0\.1:\d+: canary 50%/);
    ctl.child.kill("SIGTERM");
    serve.child.kill("SIGTERM");
  }, 900_000);
});
