/** The Deployments page: the list, and a deployment's timeline with its links and the drift chart from its monitoring run. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { MloopClient } from "../../src/client/index.js";
import { DeploymentStore } from "../../src/retraining/index.js";
import { browserSkipReason, launchBrowser, screenshot, startServer, type RunningServer } from "./harness.js";

const skip = browserSkipReason();

describe.skipIf(skip !== undefined)(`deployments in Chromium${skip ? ` — skipped: ${skip}` : ""}`, () => {
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

  it("shows the timeline of decisions with links and the drift chart", async () => {
    const client = new MloopClient({ trackingUri: server.url });
    const exp = await client.createExperiment("mloop-monitoring");
    const monitor = await client.createRun({ experimentId: exp, runName: "monitor churn", tags: { "mloop.deployment": "churn" } });
    const ts = Date.now();
    await client.logBatch(monitor.info.run_id, {
      metrics: [0.25, 0.25, 0.75].flatMap((v, i) => [
        { key: "drift_share", value: v, timestamp: ts, step: i + 1 },
        { key: "accuracy", value: 0.8 - i * 0.1, timestamp: ts, step: i + 1 },
        { key: "drift_score.monthly_charges", value: 0.1 + i * 0.3, timestamp: ts, step: i + 1 },
        { key: "drift_score.tenure_months", value: 0.05 * i, timestamp: ts, step: i + 1 },
      ]),
    });
    const train = await client.createRun({ experimentId: exp, runName: "retrain-churn" });
    const store = new DeploymentStore(server.app.db);
    let d = await store.apply("churn", { model: { name: "churn", alias: "champion" } });
    d = await store.transition("churn", d.revision, "drift_detected", "window 3: drift_share 0.750 >= 0.5", { data: { window: 3, monitor_run_id: monitor.info.run_id } });
    d = await store.transition("churn", d.revision, "retraining", `retraining run ${train.info.run_id} started`, { data: { run_id: train.info.run_id } });
    d = await store.transition("churn", d.revision, "evaluating", "run registered version 2", { data: { candidate_version: "2", champion_version: "1" } });
    d = await store.transition("churn", d.revision, "refused", "gate refused: accuracy 0.48 vs champion 0.61: worse by 0.13, misses the margin 0.02", { data: { candidate_version: "2" } });

    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${server.url}/deployments`);
    await page.getByRole("link", { name: "churn", exact: true }).first().click();
    const timeline = page.locator("#timeline");
    await timeline.getByText("gate refused: accuracy 0.48").waitFor();
    const text = await timeline.innerText();
    expect(text).toContain("serving → drift detected");
    expect(text).toContain("evaluating → refused");
    expect(await page.locator("#deployment-state").innerText()).toMatch(/^refused since/);
    expect(await timeline.getByRole("link", { name: "retraining run" }).getAttribute("href")).toBe(`/runs/${train.info.run_id}`);
    expect(await timeline.getByRole("link", { name: "version 2" }).first().getAttribute("href")).toBe("/models/churn/versions/2");
    expect(await timeline.getByRole("link", { name: "monitoring window 3" }).getAttribute("href")).toBe(`/runs/${monitor.info.run_id}`);
    await page.locator("#drift-title").waitFor();
    await page.locator("section[aria-labelledby=drift-title] canvas").first().waitFor();
    const perFeature = page.locator("#feature-drift");
    await perFeature.locator("canvas").nth(1).waitFor();
    expect(await perFeature.innerText()).toMatch(/monthly_charges[\s\S]*tenure_months/);
    expect(await page.locator("#served").innerText()).toMatch(/champion @champion\s+not set\s+100%\s+serving/);
    await screenshot(page, "40-deployment-timeline");
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows the versions served with their shares during a canary", async () => {
    const store = new DeploymentStore(server.app.db);
    let d = await store.apply("fraud", { model: { name: "fraud", alias: "champion" }, rollout: { mode: "canary", share: 0.2, challengerAlias: "challenger" } });
    d = await store.transition("fraud", d.revision, "drift_detected", "manual: test");
    d = await store.transition("fraud", d.revision, "retraining", "started");
    d = await store.transition("fraud", d.revision, "evaluating", "run registered version 2", { context: { candidate_version: "2", champion_version: "1" } });
    d = await store.transition("fraud", d.revision, "canary", "gate passed; version 2 serves 20% as @challenger");

    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${server.url}/deployments/fraud`);
    const served = page.locator("#served");
    await served.getByText("challenger @challenger").waitFor();
    const text = await served.innerText();
    expect(text).toMatch(/champion @champion\s+version 1\s+80%\s+canary/);
    expect(text).toMatch(/challenger @challenger\s+version 2\s+20%\s+canary/);
    expect(await served.getByRole("link", { name: "version 2" }).getAttribute("href")).toBe("/models/fraud/versions/2");
    await screenshot(page, "41-deployment-canary-shares");
    expect(errors).toEqual([]);
    await page.close();
  });
});
