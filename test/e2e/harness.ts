/**
 * Shared by the browser tests and bench/ui: a real server on a temporary
 * SQLite file listening on a free port, and Debian's Chromium driven by
 * playwright-core with a throwaway profile.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { chromium, type Browser, type Page } from "playwright-core";
import { buildApp } from "../../src/api/app.js";
import { loadServerConfig } from "../../src/config.js";
import { DEFAULT_WEB_ROOT, webUiAvailable } from "../../src/api/web.js";

export const CHROMIUM = process.env.MLOOP_CHROMIUM ?? "/usr/bin/chromium";

/** Why browser tests cannot run here, or undefined when they can. */
export function browserSkipReason(): string | undefined {
  if (!fs.existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (install Debian's chromium or set MLOOP_CHROMIUM)`;
  if (!webUiAvailable()) return `the web UI is not built (${DEFAULT_WEB_ROOT} has no index.html): run npm run build`;
  return undefined;
}

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  dir: string;
  close(): Promise<void>;
}

/** A server on a fresh temporary folder, or on `opts.dir` kept after close (benchmarks reuse their seeded store). */
export async function startServer(opts: { dir?: string } = {}): Promise<RunningServer> {
  const keep = opts.dir !== undefined;
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "mloop-e2e-"));
  fs.mkdirSync(dir, { recursive: true });
  const config = loadServerConfig(
    { backendStoreUri: `sqlite:///${path.join(dir, "mlruns.db")}`, artifactsDestination: path.join(dir, "artifacts"), host: "127.0.0.1", port: 0, ui: true },
    {},
    dir,
  );
  const app = await buildApp(config, { logger: false });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  return {
    app,
    url,
    dir,
    async close() {
      await app.close();
      if (!keep) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
  });
}

export const SCREENSHOTS = path.resolve("test-output/e2e");

export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
