/**
 * The links the real `mlflow` client prints (`View run … at: http://host:port/#/experiments/1/runs/<id>`)
 * and MLflow's other hash routes (experiments, models, model versions) open the same page in
 * mloop's UI, and the runs table shows the experiment's metrics and params as columns by default.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { MloopClient } from "../../src/client/index.js";
import { browserSkipReason, launchBrowser, startServer, type RunningServer } from "./harness.js";

const PYTHON = path.resolve(import.meta.dirname, "../../.venv/bin/python");
const skip = browserSkipReason() ?? (fs.existsSync(PYTHON) ? undefined : `no mlflow client at ${PYTHON}`);

describe.skipIf(skip !== undefined)(`MLflow's links and default columns in Chromium${skip ? ` — skipped: ${skip}` : ""}`, () => {
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let printed: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    server = await startServer();
    // The real client logs two runs and prints its links, as a user sees them (in a child: the server runs in this process).
    const out = await promisify(execFile)(
      PYTHON,
      [
        "-c",
        `import mlflow
mlflow.set_tracking_uri(${JSON.stringify(server.url)})
mlflow.set_experiment("links")
for lr, acc in ((0.1, 0.9), (0.01, 0.8)):
    with mlflow.start_run(run_name=f"lr-{lr}"):
        mlflow.log_params({"lr": lr, "optimizer": "adam"})
        mlflow.log_metrics({"accuracy": acc, "loss": 1 - acc})
`,
      ],
      { encoding: "utf8", env: { ...process.env, MLFLOW_TRACKING_URI: server.url, PYTHONUNBUFFERED: "1" }, timeout: 90_000 },
    );
    printed = out.stdout + out.stderr;
    browser = await launchBrowser();
    page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    page.on("pageerror", (err) => pageErrors.push(err.message));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("opens the run and experiment links the mlflow client printed", async () => {
    const runLinks = [...printed.matchAll(/View run (\S+) at: (\S+)/g)].map((m) => ({ name: m[1]!, url: m[2]! }));
    expect(runLinks.map((l) => l.name)).toEqual(["lr-0.1", "lr-0.01"]);
    const link = runLinks[0]!;
    expect(link.url).toMatch(new RegExp(`^${server.url}/#/experiments/\\d+/runs/[0-9a-f]{32}$`));
    const [, experimentId, runId] = /#\/experiments\/(\d+)\/runs\/([0-9a-f]+)/.exec(link.url)!;

    await page.goto(link.url);
    await page.getByRole("heading", { name: "lr-0.1" }).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/experiments/${experimentId}/runs/${runId}`);
    await page.getByRole("heading", { name: "Parameters (2)" }).waitFor();
    // Back does not bounce to the hash.
    expect(new URL(page.url()).hash).toBe("");

    const experimentLink = /View experiment at: (\S+)/.exec(printed)![1]!;
    expect(experimentLink).toBe(`${server.url}/#/experiments/${experimentId}`);
    await page.goto(experimentLink);
    await page.getByRole("heading", { name: "links" }).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/experiments/${experimentId}`);

    // MLflow's run tabs land on the run page's matching tab.
    await page.goto(`${server.url}/#/experiments/${experimentId}/runs/${runId}/artifacts`);
    await page.waitForURL(`${server.url}/experiments/${experimentId}/runs/${runId}?tab=artifacts`);
    // A hash changed in place (a link inside another app) is followed too.
    await page.evaluate(() => (window.location.hash = "#/experiments"));
    await page.getByRole("heading", { name: "Experiments" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/");
  });

  it("opens MLflow's registered model, model version and compare-runs routes", async () => {
    const client = new MloopClient({ trackingUri: server.url });
    const exp = await client.getExperimentByName("links");
    const runs = (await client.searchRuns({ experimentIds: [exp!.experiment_id] })).items;
    const runId = runs[0]!.info.run_id;
    const name = "churn model (v2)";
    await client.http.post("registered-models/create", { name });
    await client.http.post("model-versions/create", { name, source: `runs:/${runId}/model`, run_id: runId });

    await page.goto(`${server.url}/#/models`);
    await page.getByRole("heading", { name: "Registered models" }).waitFor();
    await page.goto(`${server.url}/#/models/${encodeURIComponent(name)}`);
    await page.getByRole("heading", { name, exact: true }).waitFor();
    await page.goto(`${server.url}/#/models/${encodeURIComponent(name)}/versions/1`);
    await page.getByRole("heading", { name: `${name} version 1` }).waitFor();

    const ids = runs.map((r) => r.info.run_id);
    await page.goto(`${server.url}/#/compare-runs?runs=${encodeURIComponent(JSON.stringify(ids))}&experiments=${encodeURIComponent(JSON.stringify([exp!.experiment_id]))}`);
    await page.getByRole("heading", { name: "Comparing 2 runs" }).waitFor();
  });

  it("shows the experiment's metrics and params as columns until the user picks others", async () => {
    const client = new MloopClient({ trackingUri: server.url });
    const exp = await client.getExperimentByName("links");
    await page.goto(`${server.url}/experiments/${exp!.experiment_id}`);
    await page.locator("[data-run-id]").first().waitFor();
    for (const label of ["metrics accuracy", "metrics loss", "params lr", "params optimizer"]) {
      await page.getByRole("button", { name: `Sort by ${label}` }).waitFor();
    }
    // The values are in the rows.
    const row = page.locator('[data-run-id]', { hasText: "lr-0.01" });
    await expect.poll(async () => (await row.textContent()) ?? "").toMatch(/0\.8.*0\.01.*adam|0\.01.*adam/);
    expect(new URL(page.url()).searchParams.get("cols")).toBeNull();

    // A choice replaces the defaults, and "none" stays none.
    await page.getByRole("button", { name: /^Columns/ }).click();
    await page.getByRole("dialog", { name: "Choose columns" }).getByRole("button", { name: "Remove all columns" }).click();
    await page.keyboard.press("Escape");
    await page.getByRole("button", { name: "Sort by metrics accuracy" }).waitFor({ state: "detached" });
    await page.goto(`${server.url}/experiments/${exp!.experiment_id}`);
    await page.locator("[data-run-id]").first().waitFor();
    expect(await page.getByRole("button", { name: "Sort by metrics accuracy" }).count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });
});
