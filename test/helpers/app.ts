import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance, InjectOptions } from "fastify";
import { buildApp } from "../../src/api/app.js";
import { loadServerConfig, type ServerConfig } from "../../src/config.js";
import { createTestDatabase, TEST_POSTGRES_URL } from "./pg.js";

export interface TestApp {
  app: FastifyInstance;
  dir: string;
  config: ServerConfig;
  /** JSON call against the API; returns status and parsed body. */
  call<T = any>(method: "GET" | "POST" | "PATCH" | "DELETE" | "PUT", url: string, body?: unknown): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

/** A fresh server on a temporary SQLite file and artifact folder. */
export async function makeTestApp(overrides: Partial<ServerConfig> = {}): Promise<TestApp> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-test-"));
  // With MLOOP_TEST_POSTGRES_URL set, HTTP tests run on a fresh PostgreSQL database instead of SQLite.
  const pgDb = TEST_POSTGRES_URL && !overrides.backendStoreUri ? await createTestDatabase() : undefined;
  if (pgDb) overrides = { backendStoreUri: pgDb.uri, ...overrides };
  const config = {
    ...loadServerConfig({ backendStoreUri: `sqlite:///${path.join(dir, "mlruns.db")}`, artifactsDestination: path.join(dir, "artifacts") }, {}, dir),
    ...overrides,
  };
  const app = await buildApp(config, { logger: false });
  await app.ready();
  return {
    app,
    dir,
    config,
    async call(method, url, body) {
      const full = url.startsWith("/") ? url : `/api/2.0/mlflow/${url}`;
      const opts: InjectOptions = { method, url: full };
      if (body !== undefined) {
        opts.payload = JSON.stringify(body);
        opts.headers = { "content-type": "application/json" };
      }
      const res = await app.inject(opts);
      let parsed: unknown = res.body;
      try {
        parsed = JSON.parse(res.body);
      } catch {
        // not JSON
      }
      return { status: res.statusCode, body: parsed as any };
    },
    async close() {
      await app.close();
      await pgDb?.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
