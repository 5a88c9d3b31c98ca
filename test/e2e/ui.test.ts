import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { browserSkipReason, launchBrowser, screenshot, startServer, type RunningServer } from "./harness.js";
import { seed, type Seeded } from "./fixtures.js";

const skip = browserSkipReason();

describe.skipIf(skip !== undefined)(`web UI in Chromium${skip ? ` — skipped: ${skip}` : ""}`, () => {
  let server: RunningServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let data: Seeded;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    server = await startServer();
    data = await seed(server.url, server.dir);
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    page = await context.newPage();
    page.on("pageerror", (err) => pageErrors.push(err.message));
    page.on("dialog", (d) => void d.accept());
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  const runNames = async () => page.locator('[role="rowgroup"] [role="row"][data-run-id] .run-link').allTextContents();

  it("lists experiments, searches them, creates, renames, deletes and restores one", async () => {
    await page.goto(server.url + "/");
    await page.getByRole("link", { name: "vision-classifier" }).waitFor();
    await expect(page.getByRole("link", { name: "tabular-churn" }).count()).resolves.toBe(1);
    await screenshot(page, "01-experiments");

    await page.getByLabel("Search experiments").fill("vision");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await page.waitForURL(/q=vision/);
    await page.getByRole("link", { name: "tabular-churn" }).waitFor({ state: "detached" });
    await expect(page.getByRole("link", { name: "vision-classifier" }).count()).resolves.toBe(1);

    await page.goto(server.url + "/");
    await page.getByLabel("New experiment name").fill("made-in-browser");
    await page.getByRole("button", { name: "Create" }).click();
    await page.waitForURL(/\/experiments\/\d+/);
    await page.getByRole("heading", { name: "made-in-browser" }).waitFor();

    await page.getByRole("link", { name: "Experiments" }).first().click();
    await page.getByRole("button", { name: "Rename made-in-browser" }).click();
    await page.getByLabel("New name for made-in-browser").fill("renamed-in-browser");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("link", { name: "renamed-in-browser" }).waitFor();
    await page.getByRole("button", { name: "Delete renamed-in-browser" }).click();
    await page.getByRole("link", { name: "renamed-in-browser" }).waitFor({ state: "detached" });
    await page.getByRole("button", { name: "Deleted" }).click();
    await page.getByRole("button", { name: "Restore renamed-in-browser" }).click();
    await page.getByRole("button", { name: "Active" }).click();
    await page.getByRole("link", { name: "renamed-in-browser" }).waitFor();
  });

  it("shows the runs table with chosen columns, sorts, and filters with the API's language", async () => {
    await page.goto(`${server.url}/experiments/${data.experimentId}`);
    await page.locator("[data-run-id]").first().waitFor();
    expect((await runNames()).sort()).toEqual(data.runs.map((r) => r.name).sort());

    // Choose columns through the picker; the choice lands in the URL and is remembered.
    await page.getByRole("button", { name: /^Columns/ }).click();
    // (Until then the experiment's metrics and params are the columns: start from none.)
    await page.getByRole("dialog", { name: "Choose columns" }).getByRole("button", { name: "Remove all columns" }).click();
    await page.getByRole("dialog", { name: "Choose columns" }).getByLabel("accuracy").check();
    await page.getByRole("dialog", { name: "Choose columns" }).getByLabel("lr").check();
    await page.keyboard.press("Escape");
    await page.waitForURL(/cols=metrics.accuracy%2Cparams.lr|cols=metrics\.accuracy,params\.lr/);
    const stored = await page.evaluate((id) => window.localStorage.getItem(`mloop.columns.${id}`), data.experimentId);
    expect(JSON.parse(stored!)).toEqual(["metrics.accuracy", "params.lr"]);

    // Sort by accuracy: ascending, then descending, through order_by on the server.
    await page.getByRole("button", { name: "Sort by metrics accuracy" }).click();
    await page.waitForURL(/sort=metrics.accuracy%3Aasc|sort=metrics\.accuracy:asc/);
    const byAcc = [...data.runs].sort((a, b) => a.acc - b.acc).map((r) => r.name);
    await expect.poll(runNames).toEqual(byAcc);
    await page.getByRole("button", { name: "Sort by metrics accuracy" }).click();
    await expect.poll(runNames).toEqual([...byAcc].reverse());
    await screenshot(page, "02-runs-sorted");

    // A reload keeps the columns (from the URL) and a fresh visit restores them from storage.
    await page.goto(`${server.url}/experiments/${data.experimentId}`);
    await page.getByRole("button", { name: "Sort by metrics accuracy" }).waitFor();

    // Filter.
    await page.getByLabel("Filter runs").fill("metrics.accuracy > 0.85 and params.model = 'cnn'");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(async () => (await runNames()).sort()).toEqual(["baseline", "small-lr"]);
    expect(page.url()).toContain("filter=");
    await screenshot(page, "03-runs-filtered");

    // An invalid filter shows the server's message in place.
    await page.getByLabel("Filter runs").fill("metrics.accuracy >>> oops");
    await page.getByRole("button", { name: "Apply" }).click();
    const err = page.locator("#run-filter-error");
    await err.waitFor();
    expect((await err.textContent())!.length).toBeGreaterThan(5);
    expect(await page.getByLabel("Filter runs").getAttribute("aria-invalid")).toBe("true");
    await screenshot(page, "04-runs-invalid-filter");
  });

  it("compares three runs: curves, parallel coordinates, scatter and a diff table", async () => {
    await page.goto(`${server.url}/experiments/${data.experimentId}`);
    for (const name of ["baseline", "small-lr", "tiny-lr"]) await page.getByLabel(`Select run ${name}`).check();
    await page.getByRole("button", { name: "Compare (3)" }).click();
    await page.waitForURL(/\/compare\?runs=/);
    await page.getByRole("heading", { name: "Comparing 3 runs" }).waitFor();
    const chart = page.locator("figure.chart").first();
    await chart.locator("canvas").waitFor();
    await expect.poll(async () => Number(await chart.getAttribute("data-points"))).toBeGreaterThan(0);
    await page.locator("svg.parallel path").first().waitFor();
    expect(await page.locator("svg.parallel path").count()).toBe(3);
    expect(await page.locator("svg.scatter circle").count()).toBe(3);
    const lrRow = page.locator("table.diff tr", { has: page.locator("th", { hasText: /^lr/ }) });
    expect(await lrRow.getAttribute("data-differs")).toBe("true");
    const epochsRow = page.locator("table.diff tr", { has: page.locator("th", { hasText: /^epochs/ }) });
    expect(await epochsRow.getAttribute("data-differs")).toBe("false");
    await screenshot(page, "05-compare");
    await page.getByLabel("Only rows that differ").check();
    await epochsRow.waitFor({ state: "detached" });
  });

  it("shows a run: overview, sanitized Markdown notes, editable tags and metric charts", async () => {
    await page.goto(`${server.url}/experiments/${data.experimentId}/runs/${data.artifactRunId}`);
    await page.getByRole("heading", { name: "Findings" }).waitFor();
    expect(await page.locator(".markdown strong").textContent()).toBe("0.1");
    expect(await page.locator(".markdown img[onerror]").count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    await page.getByText("af3c9a1").first().waitFor();

    await page.getByLabel("New tag key").fill("reviewed");
    await page.getByLabel("New tag value").fill("yes");
    await page.getByRole("button", { name: "Add tag" }).click();
    await page.getByRole("row", { name: /reviewed/ }).waitFor();
    await page.getByRole("button", { name: "Edit tag reviewed" }).click();
    await page.getByLabel("Value of reviewed").fill("twice");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByText("twice").waitFor();
    await screenshot(page, "06-run-overview");

    await page.getByRole("tab", { name: /Metrics/ }).click();
    await page.locator('figure[data-metric="loss"] canvas').waitFor();
    await expect.poll(async () => Number(await page.locator('figure[data-metric="loss"]').getAttribute("data-points"))).toBe(200);
    // Dragging over a step range refetches that range from the server.
    const over = page.locator('figure[data-metric="loss"] .u-over');
    const box = (await over.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    const reset = page.getByRole("button", { name: /Reset zoom \(steps \d+–\d+\)/ });
    await reset.waitFor();
    await expect.poll(async () => Number(await page.locator('figure[data-metric="loss"]').getAttribute("data-points"))).toBeLessThan(200);
    await reset.click();
    await expect.poll(async () => Number(await page.locator('figure[data-metric="loss"]').getAttribute("data-points"))).toBe(200);

    await page.getByLabel("X axis").selectOption("relative");
    await page.getByLabel("Log scale").check();
    await page.waitForURL(/x=relative/);
    await page.locator('figure[data-metric="loss"] canvas').waitFor();
    await screenshot(page, "07-run-metrics");
  });

  it("previews artifacts of each kind and offers downloads", async () => {
    await page.goto(`${server.url}/experiments/${data.experimentId}/runs/${data.artifactRunId}?tab=artifacts`);
    const tree = page.getByRole("tree", { name: "Artifacts" });
    await tree.waitFor();
    const open = async (name: string) => {
      await tree.getByRole("button", { name: new RegExp(`^${name.replace(".", "\\.")}`) }).click();
      await page.locator(".preview-head h3", { hasText: name }).waitFor();
    };

    await open("train.log");
    await page.locator("pre.code", { hasText: "epoch 2 loss=0.55" }).waitFor();
    await screenshot(page, "08-artifact-text");

    await open("metrics.json");
    await page.locator("pre.code.json", { hasText: '"classes": [' }).waitFor();
    await screenshot(page, "09-artifact-json");

    await open("config.yaml");
    await page.locator("pre.code.yaml", { hasText: "optimizer: adam" }).waitFor();
    await screenshot(page, "10-artifact-yaml");

    await open("predictions.csv");
    await page.locator("table.csv-table td", { hasText: "dog, big" }).waitFor();
    expect(await page.locator("table.csv-table thead th").allTextContents()).toEqual(["id", "label", "score"]);
    await screenshot(page, "11-artifact-csv");

    await open("confusion.png");
    const img = page.locator("img.preview-image");
    await img.waitFor();
    await expect.poll(() => img.evaluate((el) => (el as HTMLImageElement).naturalWidth)).toBe(64);
    await screenshot(page, "12-artifact-image");

    await tree.getByRole("button", { name: /^model\// }).click();
    await open("MLmodel");
    await page.locator(".mlmodel-summary .badge", { hasText: "onnx 1.17.0" }).waitFor();
    await screenshot(page, "13-artifact-mlmodel");

    const download = page.getByRole("link", { name: "Download" });
    const hrefValue = (await download.getAttribute("href"))!;
    const res = await fetch(server.url + hrefValue);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("flavors:");
  });

  it("browses the registry and follows a model version to its source run", async () => {
    await page.goto(server.url + "/");
    await page.getByRole("link", { name: "Models", exact: true }).click();
    await page.getByRole("link", { name: data.modelName }).waitFor();
    await page.getByText("@champion → v1").waitFor();
    await screenshot(page, "14-models");
    await page.getByRole("link", { name: data.modelName }).click();
    await page.getByRole("heading", { name: data.modelName }).waitFor();
    await page.locator(".markdown strong", { hasText: "cats" }).waitFor();
    await screenshot(page, "15-model");
    await page.getByRole("link", { name: "Version 2" }).first().click();
    await page.waitForURL(/\/versions\/2$/);
    await page.locator(".logged-model", { hasText: "logged by run" }).waitFor();
    await screenshot(page, "16a-model-version-logged-model");
    await page.goBack();
    await page.getByRole("link", { name: "Version 1" }).first().click();
    await page.waitForURL(/\/versions\/1$/);
    await page.locator("#source-run-link").waitFor();
    await screenshot(page, "16-model-version");
    await page.locator("#source-run-link").click();
    await page.waitForURL(new RegExp(`/runs/${data.artifactRunId}`));
    await page.getByRole("heading", { name: /baseline/ }).waitFor();
    await screenshot(page, "17-version-source-run");
  });

  it("edits a registered model: sets and deletes an alias, rewrites its description", async () => {
    await page.goto(`${server.url}/models/${encodeURIComponent(data.modelName)}`);
    await page.getByRole("heading", { name: data.modelName }).waitFor();
    const form = page.getByRole("form", { name: "Set alias" });
    await form.getByRole("textbox").fill("challenger");
    await form.getByRole("combobox").selectOption("2");
    await form.getByRole("button", { name: "Set alias" }).click();
    await page.getByRole("button", { name: "Delete alias challenger" }).waitFor();
    await expect.poll(() => form.getByRole("textbox").inputValue()).toBe("");
    await page.getByRole("button", { name: "Delete alias challenger" }).click();
    await page.getByRole("button", { name: "Delete alias challenger" }).waitFor({ state: "detached" });
    await page.getByRole("button", { name: "Delete alias champion" }).waitFor();

    const description = page.getByRole("region", { name: "Model description" });
    await description.getByRole("button", { name: "Edit description" }).click();
    await description.getByLabel("Description (Markdown)").fill("Finds **cats** and _dogs_.");
    await description.getByRole("button", { name: "Save" }).click();
    await description.locator(".markdown em", { hasText: "dogs" }).waitFor();
  });

  it("updates the charts of a running run without a reload", async () => {
    const post = (p: string, body: unknown) =>
      fetch(`${server.url}/api/2.0/mlflow/${p}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).then((r) => r.json());
    const { run } = await post("runs/create", { experiment_id: data.experimentId, run_name: "live-run", start_time: Date.now() });
    const id = run.info.run_id as string;
    const batch = (from: number) => ({ run_id: id, metrics: Array.from({ length: 10 }, (_, i) => ({ key: "loss", value: 1 / (from + i + 1), step: from + i, timestamp: Date.now() })) });
    await post("runs/log-batch", batch(0));
    await page.goto(`${server.url}/experiments/${data.experimentId}/runs/${id}?tab=metrics&metric=loss`);
    const fig = page.locator('figure[data-metric="loss"]');
    await expect.poll(async () => Number(await fig.getAttribute("data-points"))).toBe(10);
    await page.getByText("live", { exact: true }).waitFor();
    await post("runs/log-batch", batch(10));
    await expect.poll(async () => Number(await fig.getAttribute("data-points")), { timeout: 15_000 }).toBe(20);
    await screenshot(page, "18-live-run");
    await post("runs/update", { run_id: id, status: "FINISHED", end_time: Date.now() });
  });

  it("works by keyboard: skip link, labelled controls, tabs with arrow keys", async () => {
    await page.goto(`${server.url}/experiments/${data.experimentId}/runs/${data.artifactRunId}`);
    await page.getByRole("tab", { name: "Overview" }).waitFor();
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
    await page.getByRole("tab", { name: "Overview" }).focus();
    await page.keyboard.press("ArrowRight");
    await page.waitForURL(/tab=metrics/);
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute("id"))).toBe("tab-metrics");
    // Every form control on the runs page has an accessible name.
    await page.goto(`${server.url}/experiments/${data.experimentId}`);
    await page.locator("[data-run-id]").first().waitFor();
    const unlabeled = await page.evaluate(() =>
      [...document.querySelectorAll("input, select, textarea, button")]
        .filter((el) => {
          const e = el as HTMLInputElement;
          const named = e.getAttribute("aria-label") || e.labels?.length || (el.tagName === "BUTTON" && el.textContent?.trim());
          return !named;
        })
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    expect(unlabeled).toEqual([]);
  });

  it("keeps deep links working on reload and raised no page errors", async () => {
    const res = await page.goto(`${server.url}/experiments/${data.experimentId}?filter=${encodeURIComponent("params.model = 'mlp'")}`);
    expect(res?.status()).toBe(200);
    await expect.poll(async () => (await runNames()).sort()).toEqual(["tiny-lr", "wide"]);
    expect(pageErrors).toEqual([]);
  });
});
