/** The model version page shows the lineage chain `mloop lineage` walks: stage runs, commit, data md5s. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { MloopClient, RegistryClient } from "../../src/client/index.js";
import { browserSkipReason, launchBrowser, screenshot, startServer, type RunningServer } from "./harness.js";

const skip = browserSkipReason();

describe.skipIf(skip !== undefined)(`model version lineage in Chromium${skip ? ` — skipped: ${skip}` : ""}`, () => {
  let server: RunningServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("walks from the version's run to the stage that produced its input", async () => {
    const client = new MloopClient({ trackingUri: server.url });
    const exp = await client.createExperiment("pipe");
    const commit = "0123456789abcdef0123456789abcdef01234567";
    const tags = { "mlflow.source.git.commit": commit, "mlflow.source.git.dirty": "false" };
    const ds = (name: string, digest: string, context: string) => ({ tags: [{ key: "mlflow.data.context", value: context }], dataset: { name, digest, source_type: "local", source: "{}" } });
    const prepare = await client.createRun({ experimentId: exp, runName: "prepare", tags: { ...tags, "mloop.pipeline.stage": "prepare" } });
    await client.logInputs(prepare.info.run_id, [ds("data/raw.csv", "f69f5b72bc79a92dc70c63c9aa142e36", "input"), ds("features", "939c7041bcee18e8fc04f84731bec7f7.dir", "output")]);
    await client.updateRun(prepare.info.run_id, { status: "FINISHED", endTime: Date.now() });
    const train = await client.createRun({ experimentId: exp, runName: "train", tags: { ...tags, "mloop.pipeline.stage": "train" } });
    await client.logInputs(train.info.run_id, [ds("features", "939c7041bcee18e8fc04f84731bec7f7.dir", "input"), ds("model.bin", "3fb153da82671f90762776c67c360c22", "output")]);
    await client.updateRun(train.info.run_id, { status: "FINISHED", endTime: Date.now() });
    const registry = new RegistryClient({ trackingUri: server.url });
    await registry.createRegisteredModel("clf");
    await registry.createModelVersion("clf", `${train.info.artifact_uri}/model`, { runId: train.info.run_id });

    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${server.url}/models/clf/versions/1`);
    const section = page.locator("#lineage");
    await section.getByText("← stage prepare").waitFor();
    const text = await section.innerText();
    expect(text).toContain(commit);
    expect(text).toContain("data/raw.csv");
    expect(text).toContain("f69f5b72bc79");
    expect(text).toContain("(data)");
    await screenshot(page, "30-model-version-lineage");
    expect(errors).toEqual([]);
    await page.close();
  });
});
