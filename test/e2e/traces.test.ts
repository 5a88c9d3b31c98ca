import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { encodeExportRequest } from "../../src/tracking/index.js";
import { browserSkipReason, launchBrowser, screenshot, startServer, type RunningServer } from "./harness.js";

const skip = browserSkipReason();
const b64 = (hex: string) => Buffer.from(hex, "hex").toString("base64");
const TRACE_HEX = "5b8aa5a2d2c872e8321cf37308d69df2";

describe.skipIf(skip !== undefined)(`Traces tab in Chromium${skip ? ` — skipped: ${skip}` : ""}`, () => {
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let experimentId: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    server = await startServer();
    const res = await fetch(`${server.url}/api/2.0/mlflow/experiments/create`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"name":"support-bot"}' });
    experimentId = ((await res.json()) as { experiment_id: string }).experiment_id;
    // A trace as an OpenTelemetry exporter sends it: a root with inputs/outputs and a failing LLM child.
    const start = 1_767_225_600_000_000_000n;
    const body = encodeExportRequest({
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                {
                  traceId: b64(TRACE_HEX),
                  spanId: b64("051581bf3cb55c13"),
                  name: "answer-question",
                  startTimeUnixNano: String(start),
                  endTimeUnixNano: String(start + 900_000_000n),
                  attributes: [
                    { key: "mlflow.spanInputs", value: { stringValue: '{"question": "How do refunds work?"}' } },
                    { key: "mlflow.spanOutputs", value: { stringValue: '"Within 30 days."' } },
                  ],
                  status: { code: 1 },
                },
                {
                  traceId: b64(TRACE_HEX),
                  spanId: b64("b8f9d4c1aa0e7a21"),
                  parentSpanId: b64("051581bf3cb55c13"),
                  name: "call-llm",
                  startTimeUnixNano: String(start + 100_000_000n),
                  endTimeUnixNano: String(start + 800_000_000n),
                  attributes: [
                    { key: "mlflow.spanType", value: { stringValue: '"LLM"' } },
                    { key: "model", value: { stringValue: "gpt-x" } },
                    { key: "mlflow.spanInputs", value: { stringValue: '{"prompt": "refund policy"}' } },
                  ],
                  status: { code: 2, message: "rate limited" },
                },
              ],
            },
          ],
        },
      ],
    });
    const otlp = await fetch(`${server.url}/v1/traces`, { method: "POST", headers: { "content-type": "application/x-protobuf", "x-mlflow-experiment-id": experimentId }, body: new Uint8Array(body) });
    expect(otlp.status).toBe(200);
    await fetch(`${server.url}/api/3.0/mlflow/traces/tr-${TRACE_HEX}/assessments`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ assessment: { assessment_name: "helpfulness", trace_id: `tr-${TRACE_HEX}`, source: { source_type: "HUMAN", source_id: "ann" }, feedback: { value: "yes" }, rationale: "clear answer" } }),
    });
    browser = await launchBrowser();
    page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    page.on("pageerror", (err) => pageErrors.push(err.message));
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("lists an experiment's traces, searches them, and opens one: span tree, inputs, outputs, attributes, assessments", async () => {
    await page.goto(`${server.url}/experiments/${experimentId}`);
    await page.getByRole("link", { name: "Traces" }).click();
    const traces = page.getByRole("table", { name: "Traces" });
    await traces.getByRole("link", { name: `tr-${TRACE_HEX}` }).waitFor();
    expect(await traces.textContent()).toContain("How do refunds work?");

    await page.getByLabel("Filter traces").fill("span.type = 'CHAIN'");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByText("No traces match.").waitFor();
    await page.getByLabel("Filter traces").fill("span.status = 'ERROR'");
    await page.getByRole("button", { name: "Search" }).click();
    await traces.getByRole("link", { name: `tr-${TRACE_HEX}` }).click();

    const tree = page.getByRole("tree", { name: "Spans" });
    await tree.getByRole("button", { name: "answer-question" }).waitFor();
    const details = page.locator(".span-details");
    expect(await details.textContent()).toContain("How do refunds work?");
    expect(await details.textContent()).toContain("Within 30 days.");
    await tree.getByRole("button", { name: "call-llm" }).click();
    await details.getByRole("heading", { name: "call-llm" }).waitFor();
    const text = (await details.textContent()) ?? "";
    expect(text).toContain("LLM");
    expect(text).toContain("rate limited");
    expect(text).toContain("refund policy");
    expect(text).toContain('"gpt-x"');
    const assessments = page.getByRole("region", { name: "Assessments" });
    expect(await assessments.textContent()).toContain("helpfulness");
    expect(await assessments.textContent()).toContain("clear answer");
    await screenshot(page, "traces-01-trace");

    await page.reload();
    await tree.getByRole("button", { name: "call-llm" }).waitFor();
    expect(pageErrors).toEqual([]);
  });
});
