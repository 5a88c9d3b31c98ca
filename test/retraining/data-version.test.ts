/**
 * A data version as the fresh-data source (`data.version`: a `.dvc` file written by a real
 * `mloop data add`): the retraining run (a real `mloop run`) receives the tracked file's path and
 * records its md5; a file changed since `mloop data add`, or missing, is refused with the reason.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/api/app.js";
import { MloopClient } from "../../src/client/index.js";
import { loadServerConfig } from "../../src/config.js";
import { readDvcFile } from "../../src/data/index.js";
import { Controller, HttpDeploymentLog, parseDeploymentSpec, requestRetraining, SpecError } from "../../src/retraining/index.js";
import { buildScratchCli } from "../helpers/scratch-cli.js";

describe("a data version as the fresh data", () => {
  let dir: string;
  let app: FastifyInstance;
  let url: string;
  let cli: { bin: string; remove(): void };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-dataversion-"));
    const config = loadServerConfig({ backendStoreUri: `sqlite:///${path.join(dir, "mlruns.db")}`, artifactsDestination: path.join(dir, "artifacts") }, {}, dir);
    app = await buildApp(config, { logger: false });
    url = await app.listen({ host: "127.0.0.1", port: 0 });
    cli = buildScratchCli("dataversion");
    fs.mkdirSync(path.join(dir, "project"));
    fs.writeFileSync(path.join(dir, "project", "MLproject"), "name: ok\nentry_points:\n  main:\n    parameters:\n      data: {type: string}\n    command: \"echo trained on {data}\"\n");
    fs.mkdirSync(path.join(dir, "data"));
    fs.writeFileSync(path.join(dir, "data", "base.csv"), "a,label\n1,0\n2,1\n3,0\n");
    fs.writeFileSync(path.join(dir, "holdout.csv"), "a,label\n1,0\n");
    const mloop = (...args: string[]) => execFileSync(process.execPath, [cli.bin, ...args], { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    mloop("data", "init", "--no-scm");
    mloop("data", "add", "data/base.csv");
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    cli?.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const spec = () =>
    parseDeploymentSpec(
      `name: dv\nmodel: {name: m}\nretraining:\n  project: ./project\n  parameters: {data: "\${data}"}\ndata: {version: ./data/base.csv.dvc}\nevaluation: {data: ./holdout.csv}\nmonitor: {cooldown_s: 0}\n`,
      "deploy.yaml",
      dir,
    );

  async function retrain(c: Controller, log: HttpDeploymentLog, afterSeq: number) {
    await requestRetraining(log, "dv", "new data version");
    const deadline = Date.now() + 45_000;
    for (;;) {
      await c.tick();
      const events = await log.events("dv", { afterSeq });
      if (events.some((e) => e.toState === "refused") && (await log.get("dv")).state === "serving") return events;
      if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(events)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  it("trains on the version's file and records its md5; refuses a changed or missing file", async () => {
    const md5 = readDvcFile(path.join(dir, "data", "base.csv.dvc")).outs[0]!.md5!;
    const file = path.join(dir, "data", "base.csv");
    const client = new MloopClient({ trackingUri: url });
    const log = new HttpDeploymentLog(client.http);
    const c = new Controller({ spec: spec(), log, trackingUri: url, holder: "dv", stateDir: path.join(dir, "state"), mloopCommand: [process.execPath, cli.bin] });
    await c.apply();

    const first = await retrain(c, log, 1);
    const started = first.find((e) => e.toState === "retraining")!;
    const runId = started.data.run_id as string;
    expect(started.data.data_version_md5).toBe(md5);
    expect(first.find((e) => e.toState === "refused")!.reason).toBe(`retraining run ${runId} registered no version of m`);
    const run = await client.getRun(runId);
    expect(run.info.status).toBe("FINISHED");
    expect(run.data.params?.find((p) => p.key === "data")?.value).toBe(file);
    const tag = (k: string) => run.data.tags?.find((t) => t.key === k)?.value;
    expect(tag("mloop.deployment.data")).toBe(file);
    expect(tag("mloop.deployment.data_version")).toBe(path.join(dir, "data", "base.csv.dvc"));
    expect(tag("mloop.deployment.data_version_md5")).toBe(md5);
    expect(tag("mloop.deployment.data_md5")).toBe(md5);
    expect(run.inputs?.dataset_inputs?.[0]?.dataset.digest).toBe(md5.slice(0, 8));
    expect(fs.readFileSync(path.join(dir, "state", `train-${runId}.log`), "utf8")).toContain(`trained on ${file}`);

    // Changed since `mloop data add`: refused before any run starts, with both md5s.
    fs.appendFileSync(file, "4,1\n");
    const seq = (await log.events("dv")).at(-1)!.seq;
    const changed = await retrain(c, log, seq);
    expect(changed.map((e) => e.toState)).toEqual(["drift_detected", "refused", "serving"]);
    expect(changed[1]!.reason).toMatch(new RegExp(`^data version \\./data/base\\.csv\\.dvc: data/base\\.csv has md5 [0-9a-f]{32}, not the version's ${md5} \\(changed since mloop data add`));
    expect(changed[1]!.data.error).toBeTypeOf("string");

    // Missing from the workspace.
    fs.rmSync(file);
    const missing = await retrain(c, log, changed.at(-1)!.seq);
    expect(missing[1]!.reason).toMatch(/^data version \.\/data\/base\.csv\.dvc: data\/base\.csv is missing from the workspace \(run mloop data checkout base\.csv\.dvc/);
    const runs = await client.searchRuns({ experimentIds: [(await client.getExperimentByName("deploy-dv"))!.experiment_id] });
    expect(runs.items.length).toBe(1);
  }, 60_000);

  it("validates data.version with its line and field", () => {
    const bad = (data: string) => () => parseDeploymentSpec(`name: dv\nmodel: {name: m}\nretraining: {project: ./project}\ndata:\n  ${data}\nevaluation: {data: ./holdout.csv}\n`, "deploy.yaml", dir);
    expect(bad("version: ./data/base.csv")).toThrow(new SpecError("deploy.yaml:5: data.version: must be a .dvc file (written by mloop data add), got './data/base.csv'"));
    expect(bad("{version: ./data/base.csv.dvc, path: ./data/base.csv}")).toThrow(/^deploy\.yaml:5: data\.version: names the data itself: give path or version, not both$/);
    expect(bad("version: 3")).toThrow(/^deploy\.yaml:5: data\.version: must be a \.dvc file/);
  });
});
