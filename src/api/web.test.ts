import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { buildApp } from "./app.js";
import { loadServerConfig } from "../config.js";
import { registerWebUi } from "./web.js";

let dir: string;
let root: string;
let app: FastifyInstance;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-web-"));
  root = path.join(dir, "dist");
  fs.mkdirSync(path.join(root, "assets"), { recursive: true });
  fs.writeFileSync(path.join(root, "index.html"), "<!doctype html><title>mloop</title>");
  fs.writeFileSync(path.join(root, "assets", "index-abc123.js"), "console.log(1)");
  fs.writeFileSync(path.join(root, "favicon.svg"), "<svg/>");
  fs.writeFileSync(path.join(dir, "secret.txt"), "secret");
  const config = loadServerConfig({ backendStoreUri: `sqlite:///${path.join(dir, "db.sqlite")}`, artifactsDestination: path.join(dir, "a"), ui: false }, {}, dir);
  app = await buildApp(config, { logger: false });
  registerWebUi(app, { config: { ...config, ui: true } }, { root });
  await app.ready();
});

afterAll(async () => {
  await app.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("web UI serving", () => {
  it("serves index.html at / without long caching", async () => {
    const res = await app.inject({ method: "GET", url: "/" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/text\/html/);
    expect(res.headers["cache-control"]).toBe("no-cache");
    expect(res.body).toContain("<title>mloop</title>");
  });

  it("falls back to index.html for client routes, with query strings", async () => {
    for (const url of ["/experiments/1", "/experiments/1/runs?filter=metrics.acc%20%3E%200.5", "/models/my%20model/versions/3", "/models/fraud.v2", "/experiments/12/runs/abc?tab=artifacts&path=model%2FMLmodel"]) {
      const res = await app.inject({ method: "GET", url });
      expect(res.statusCode, url).toBe(200);
      expect(res.body).toContain("<title>mloop</title>");
    }
  });

  it("serves hashed assets with an immutable cache and a type", async () => {
    const res = await app.inject({ method: "GET", url: "/assets/index-abc123.js" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/javascript/);
    expect(res.headers["cache-control"]).toContain("immutable");
    const again = await app.inject({ method: "GET", url: "/assets/index-abc123.js", headers: { "if-none-match": String(res.headers.etag) } });
    expect(again.statusCode).toBe(304);
  });

  it("compresses text assets for clients that accept it", async () => {
    for (const [accept, enc] of [["gzip, deflate, br", "br"], ["gzip", "gzip"]] as const) {
      const res = await app.inject({ method: "GET", url: "/assets/index-abc123.js", headers: { "accept-encoding": accept } });
      expect(res.statusCode).toBe(200);
      expect(res.headers["content-encoding"]).toBe(enc);
      const body = enc === "br" ? zlib.brotliDecompressSync(res.rawPayload) : zlib.gunzipSync(res.rawPayload);
      expect(body.toString()).toBe("console.log(1)");
    }
    const plain = await app.inject({ method: "GET", url: "/assets/index-abc123.js" });
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(plain.body).toBe("console.log(1)");
  });

  it("answers a missing asset with 404, not HTML", async () => {
    for (const url of ["/assets/gone-999.js", "/robots.txt"]) {
      const res = await app.inject({ method: "GET", url });
      expect(res.statusCode, url).toBe(404);
    }
  });

  it("keeps MLflow's JSON 404 for unknown API paths", async () => {
    for (const url of ["/api/2.0/mlflow/nope", "/ajax-api/2.0/mlflow/nope"]) {
      const res = await app.inject({ method: "GET", url });
      expect(res.statusCode).toBe(404);
      expect(res.json().error_code).toBe("ENDPOINT_NOT_FOUND");
    }
  });

  it("never serves files outside its root", async () => {
    for (const url of ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt", "/..%5csecret.txt"]) {
      const res = await app.inject({ method: "GET", url });
      expect(res.body, url).not.toBe("secret");
    }
  });

  it("does not register when the UI is off", async () => {
    const config = loadServerConfig({ backendStoreUri: "sqlite:///:memory:", artifactsDestination: path.join(dir, "b"), ui: false }, {}, dir);
    const other = await buildApp(config, { logger: false });
    registerWebUi(other, { config }, { root });
    const res = await other.inject({ method: "GET", url: "/" });
    expect(res.statusCode).toBe(404);
    await other.close();
  });
});
