import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTestApp, type TestApp } from "../../test/helpers/app.js";
import { downloadSha256, generatedBody, rawRequest } from "../../test/helpers/http-stream.js";

const A = "/api/2.0/mlflow-artifacts/artifacts";
const MB = 1024 * 1024;

/** Samples memory while `work` runs; returns the largest growth over the starting point. */
async function peakGrowth<T>(work: () => Promise<T>): Promise<{ result: T; rss: number; buffers: number }> {
  const start = process.memoryUsage();
  let rss = 0;
  let buffers = 0;
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss - start.rss);
    buffers = Math.max(buffers, m.arrayBuffers - start.arrayBuffers);
  }, 10);
  try {
    const result = await work();
    return { result, rss, buffers };
  } finally {
    clearInterval(timer);
  }
}

describe("artifact proxy over real HTTP", () => {
  let t: TestApp;
  let port: number;
  beforeAll(async () => {
    t = await makeTestApp();
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    port = (t.app.server.address() as AddressInfo).port;
  });
  afterAll(async () => t.close());

  it("uploads and downloads 100 MB with bounded memory and identical sha256", async () => {
    const size = 100 * MB;
    const body = generatedBody(size);
    const up = await peakGrowth(() =>
      rawRequest(port, "PUT", `${A}/0/big/artifacts/blob.bin`, body.stream, { "content-type": "application/octet-stream", "content-length": size }),
    );
    expect(up.result.status).toBe(200);
    const sent = body.sha256();
    expect(fs.statSync(path.join(t.dir, "artifacts", "0", "big", "artifacts", "blob.bin")).size).toBe(size);

    const down = await peakGrowth(() => downloadSha256(`http://127.0.0.1:${port}${A}/0/big/artifacts/blob.bin`));
    expect(down.result).toMatchObject({ status: 200, bytes: size, sha256: sent });
    expect(down.result.headers["content-length"]).toBe(String(size));

    // Buffering either body whole would add at least 100 MB of Buffers.
    console.log(
      `100 MB transfer, peak growth: upload buffers ${(up.buffers / MB).toFixed(1)} MB / rss ${(up.rss / MB).toFixed(1)} MB; ` +
        `download buffers ${(down.buffers / MB).toFixed(1)} MB / rss ${(down.rss / MB).toFixed(1)} MB`,
    );
    expect(up.buffers).toBeLessThan(80 * MB);
    expect(down.buffers).toBeLessThan(80 * MB);

    const ranged = await downloadSha256(`http://127.0.0.1:${port}${A}/0/big/artifacts/blob.bin`, { range: `bytes=${50 * MB}-${50 * MB + 9}` });
    expect(ranged.status).toBe(206);
    expect(ranged.bytes).toBe(10);
    expect(ranged.headers["content-range"]).toBe(`bytes ${50 * MB}-${50 * MB + 9}/${size}`);
  });

  it("leaves nothing behind when the client disconnects mid-upload", async () => {
    await new Promise<void>((resolve) => {
      const req = http.request({ host: "127.0.0.1", port, method: "PUT", path: `${A}/aborted/file.bin`, headers: { "content-length": 10 * MB } });
      req.on("error", () => resolve());
      req.write(Buffer.alloc(2 * MB, 1), () => setTimeout(() => req.destroy(), 100));
      req.on("close", () => resolve());
    });
    // The server notices the disconnect asynchronously; wait until the staging file is gone.
    const tmp = path.join(t.dir, "artifacts", ".mloop-uploads", "tmp");
    for (let i = 0; i < 100 && fs.existsSync(tmp) && fs.readdirSync(tmp).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(fs.readdirSync(tmp)).toEqual([]);
    expect(fs.existsSync(path.join(t.dir, "artifacts", "aborted", "file.bin"))).toBe(false);
    const after = await rawRequest(port, "GET", `${A}?path=aborted`);
    expect([after.status, JSON.parse(after.body.toString())]).toEqual([200, { files: [] }]);
  });

  it("accepts a chunked upload without Content-Length", async () => {
    const body = generatedBody(3 * MB + 17, 9);
    const res = await rawRequest(port, "PUT", `${A}/chunked/file.bin`, body.stream, { "transfer-encoding": "chunked" });
    expect(res.status).toBe(200);
    const down = await downloadSha256(`http://127.0.0.1:${port}${A}/chunked/file.bin`);
    expect(down).toMatchObject({ bytes: 3 * MB + 17, sha256: body.sha256() });
  });

  it("hands out multipart part URLs that work over HTTP", async () => {
    const created = await fetch(`http://127.0.0.1:${port}/api/2.0/mlflow-artifacts/mpu/create/mpu/run`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ path: "/local/dir/model.onnx", num_parts: 2 }),
    });
    const c = (await created.json()) as { upload_id: string; credentials: { url: string; part_number: number }[] };
    expect(c.credentials[0]!.url.startsWith(`http://127.0.0.1:${port}/`)).toBe(true);
    const parts = [];
    for (const cred of c.credentials) {
      const res = await fetch(cred.url, { method: "PUT", body: cred.part_number === 1 ? "onnx-" : "bytes" });
      expect(res.status).toBe(200);
      parts.push({ part_number: cred.part_number, etag: res.headers.get("etag"), url: cred.url });
    }
    const done = await fetch(`http://127.0.0.1:${port}/api/2.0/mlflow-artifacts/mpu/complete/mpu/run`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ path: "/local/dir/model.onnx", upload_id: c.upload_id, parts }),
    });
    expect(done.status).toBe(200);
    expect(await (await fetch(`http://127.0.0.1:${port}${A}/mpu/run/model.onnx`)).text()).toBe("onnx-bytes");
  });

  describe("path safety with paths sent byte for byte", () => {
    beforeAll(() => fs.writeFileSync(path.join(t.dir, "secret.txt"), "top secret"));

    const bad = async (method: string, p: string, body?: Buffer) => {
      const res = await rawRequest(port, method, p, body);
      expect([p, res.status]).toEqual([p, 400]);
      expect(JSON.parse(res.body.toString())).toMatchObject({ error_code: "INVALID_PARAMETER_VALUE" });
    };

    it("'..' segments", async () => {
      await bad("GET", `${A}/../../secret.txt`);
      await bad("PUT", `${A}/x/../../../escaped.txt`, Buffer.from("x"));
    });

    it("%2e%2e", async () => {
      await bad("GET", `${A}/%2e%2e/secret.txt`);
      await bad("GET", `${A}/.%2E/secret.txt`);
      await bad("PUT", `${A}/%2e%2e/escaped.txt`, Buffer.from("x"));
    });

    it("%252e%252e", async () => {
      await bad("GET", `${A}/%252e%252e/secret.txt`);
      await bad("DELETE", `${A}/%252e%252e/secret.txt`);
    });

    it("backslashes", async () => {
      await bad("GET", `${A}/..\\secret.txt`);
      await bad("GET", `${A}/..%5csecret.txt`);
    });

    it("absolute paths and drive letters", async () => {
      await bad("GET", `${A}//etc/passwd`);
      await bad("GET", `${A}/C:%5cWindows%5cwin.ini`);
    });

    it("NUL bytes", async () => {
      await bad("GET", `${A}/secret.txt%00.png`);
    });

    it("'#' and '?' tricks", async () => {
      await bad("GET", `${A}/x%23/../../secret.txt`);
      await bad("GET", `/get-artifact?run_id=r&path=..%2Fsecret.txt%23x`);
    });

    it("nothing was written outside the root", () => {
      expect(fs.existsSync(path.join(t.dir, "escaped.txt"))).toBe(false);
      expect(fs.readFileSync(path.join(t.dir, "secret.txt"), "utf8")).toBe("top secret");
    });
  });
});
