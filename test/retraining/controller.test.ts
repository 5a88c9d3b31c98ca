/**
 * The controller against a real tracking server (in-process, listening) over HTTP: a replica
 * without the lease does nothing; the one with it starts the run once, as a real `mloop run`
 * subprocess; a failed run is refused with its reason; stale writers are refused.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/api/app.js";
import { MloopClient } from "../../src/client/index.js";
import { loadServerConfig } from "../../src/config.js";
import { Controller, DeploymentStore, HttpDeploymentLog, isMovedOn, parseDeploymentSpec, requestRetraining } from "../../src/retraining/index.js";
import { buildScratchCli } from "../helpers/scratch-cli.js";
import { canStartRedis, startRedis } from "../scale/redis.js";
import { spawn } from "node:child_process";

describe("the deployment controller", () => {
  let dir: string;
  let app: FastifyInstance;
  let url: string;
  let cli: { bin: string; remove(): void };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-controller-"));
    const config = loadServerConfig({ backendStoreUri: `sqlite:///${path.join(dir, "mlruns.db")}`, artifactsDestination: path.join(dir, "artifacts") }, {}, dir);
    app = await buildApp(config, { logger: false });
    url = await app.listen({ host: "127.0.0.1", port: 0 });
    cli = buildScratchCli("controller");
    fs.mkdirSync(path.join(dir, "project"));
    fs.writeFileSync(path.join(dir, "project", "MLproject"), "name: failing\nentry_points:\n  main:\n    parameters:\n      data: {type: string}\n    command: \"echo training on {data}; exit 3\"\n");
    fs.writeFileSync(path.join(dir, "data.csv"), "a,label\n1,0\n");
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    cli?.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const spec = () =>
    parseDeploymentSpec(
      `name: ctl\nmodel: {name: m}\nretraining:\n  project: ./project\n  parameters: {data: "\${data}"}\ndata: {path: ./data.csv}\nevaluation: {data: ./data.csv}\n`,
      "deploy.yaml",
      dir,
    );

  it("moves only with the lease, starts one run, and refuses a failed one with its reason", async () => {
    const log = new HttpDeploymentLog(new MloopClient({ trackingUri: url }).http);
    const store = new DeploymentStore(app.db);
    const make = (holder: string) => new Controller({ spec: spec(), log, trackingUri: url, holder, stateDir: path.join(dir, `state-${holder}`), mloopCommand: [process.execPath, cli.bin] });
    const a = make("a");
    const b = make("b");
    expect((await a.apply()).state).toBe("serving");
    await requestRetraining(log, "ctl", "test");
    expect(await store.acquireLease("ctl", "retraining", "a", 60_000)).toBe(true);

    await b.tick();
    expect((await log.get("ctl")).state).toBe("drift_detected");
    expect(await new MloopClient({ trackingUri: url }).getExperimentByName("deploy-ctl")).toBeUndefined();

    await store.releaseLease("ctl", "retraining", "a");
    await b.tick();
    const d = await log.get("ctl");
    expect(d.state).toBe("retraining");
    const runId = d.context.run_id as string;
    expect(d.context.spawned_at).toBeTypeOf("number");
    // a, without the lease now, does nothing while b's run is going
    await a.tick();
    expect((await log.get("ctl")).revision).toBe(d.revision);

    const deadline = Date.now() + 60_000;
    while ((await log.get("ctl")).state === "retraining" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 300));
      await b.tick();
    }
    const events = await log.events("ctl");
    expect(events.map((e) => e.toState)).toEqual(["serving", "drift_detected", "retraining", "refused", "serving"]);
    expect(events[3]!.reason).toBe(`retraining run ${runId} ended FAILED`);
    expect(fs.readFileSync(path.join(dir, "state-b", `train-${runId}.log`), "utf8")).toMatch(/training on .*data\.csv/);
    expect(await store.leaseHolder("ctl", "retraining")).toBeUndefined();

    // Lasting drift right after that decision waits for the cooldown (300 s by default); without one it triggers.
    const drifted = { index: 7, driftShare: 0.9, accuracy: null, closedAtMs: Date.now() };
    expect(await b.onWindow(drifted)).toBe(false);
    expect((await log.get("ctl")).state).toBe("serving");
    const eager = new Controller({ spec: { ...spec(), monitor: { ...spec().monitor, cooldownSeconds: 0 } }, log, trackingUri: url, holder: "b", stateDir: path.join(dir, "state-b"), mloopCommand: [process.execPath, cli.bin] });
    expect(await eager.onWindow({ ...drifted, driftShare: 0.1 })).toBe(false);
    expect(await eager.onWindow(drifted)).toBe(true);
    const triggered = await log.events("ctl", { afterSeq: 5 });
    expect(triggered.map((e) => [e.toState, e.reason])[0]).toEqual(["drift_detected", "window 7: drift_share 0.900 >= 0.5"]);
    expect(triggered[1]!.toState).toBe("retraining");

    // A stale revision is refused over HTTP as MLflow's INVALID_STATE.
    const stale = await log.transition("ctl", 1, "drift_detected", "late").catch((e: unknown) => e);
    expect(isMovedOn(stale)).toBe(true);
  }, 90_000);

  it.skipIf(!canStartRedis())("retrains on the worker queue with the run it recorded (backend: queue)", async () => {
    const redis = await startRedis();
    const queueEnv = { ...process.env, MLOOP_REDIS_URL: redis.url, MLOOP_QUEUE_NAME: `loop-${process.pid}` };
    const worker = spawn(process.execPath, [cli.bin, "worker"], { env: queueEnv, stdio: ["ignore", "ignore", "pipe"] });
    try {
      let err = "";
      await new Promise<void>((resolve, reject) => {
        worker.stderr!.on("data", (d: Buffer) => {
          err += d.toString();
          if (err.includes("consuming queue")) resolve();
        });
        worker.once("exit", (code) => reject(new Error(`worker exited with ${code}: ${err}`)));
      });
      fs.mkdirSync(path.join(dir, "ok-project"), { recursive: true });
      fs.writeFileSync(path.join(dir, "ok-project", "MLproject"), "name: ok\nentry_points:\n  main:\n    parameters:\n      data: {type: string}\n    command: \"echo trained on {data}\"\n");
      const qspec = parseDeploymentSpec(
        `name: ctlq\nmodel: {name: m}\nretraining:\n  project: ./ok-project\n  backend: queue\n  parameters: {data: "\${data}"}\ndata: {path: ./data.csv}\nevaluation: {data: ./data.csv}\n`,
        "deploy.yaml",
        dir,
      );
      const log = new HttpDeploymentLog(new MloopClient({ trackingUri: url }).http);
      const c = new Controller({ spec: qspec, log, trackingUri: url, holder: "q", stateDir: path.join(dir, "state-q"), mloopCommand: [process.execPath, cli.bin], env: queueEnv });
      await c.apply();
      await requestRetraining(log, "ctlq");
      const deadline = Date.now() + 60_000;
      while (!["refused", "serving"].includes((await log.get("ctlq")).state) || (await log.events("ctlq")).length < 4) {
        if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(await log.events("ctlq"))}`);
        await c.tick();
        await new Promise((r) => setTimeout(r, 300));
      }
      const events = await log.events("ctlq");
      const runId = events[2]!.data.run_id as string;
      expect(events[3]!.reason).toBe(`retraining run ${runId} registered no version of m`);
      const run = await new MloopClient({ trackingUri: url }).getRun(runId);
      expect(run.info.status).toBe("FINISHED");
      expect(run.data.tags.find((t) => t.key === "mlflow.project.backend")?.value).toBe("queue");
    } finally {
      worker.kill("SIGTERM");
      await redis.stop();
    }
  }, 90_000);
});
