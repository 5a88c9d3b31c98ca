import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTestApp, type TestApp } from "../../test/helpers/app.js";

const PYTHON = path.resolve(import.meta.dirname, "../../.venv/bin/python");
const SCRIPT = path.resolve(import.meta.dirname, "testdata/mlflow_artifacts_client.py");
const RUN_SCRIPT = path.resolve(import.meta.dirname, "testdata/mlflow_run_artifacts.py");
const HAS_MLFLOW = fs.existsSync(PYTHON);

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}

describe.skipIf(!HAS_MLFLOW)("the official mlflow client against the artifact proxy (.venv)", () => {
  let t: TestApp;
  let port: number;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-mlflow-client-"));
  beforeAll(async () => {
    t = await makeTestApp();
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    port = (t.app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await t.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  const cases = [
    ["an http:// artifact URI", (port: number) => `http://127.0.0.1:${port}/api/2.0/mlflow-artifacts/artifacts/7/run1/artifacts`, "run1", {}],
    // With proxy multipart downloads on, the client fetches each file in parallel 1 MB ranges.
    [
      "an mlflow-artifacts:/ URI, downloading in parallel ranges",
      () => "mlflow-artifacts:/7/run2/artifacts",
      "run2",
      { MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD: "true", MLFLOW_MULTIPART_DOWNLOAD_CHUNK_SIZE: String(1024 * 1024) },
    ],
  ] as const;
  for (const [name, uriFor, run_, extraEnv] of cases) {
    it(`logs, lists, downloads, uploads in parts and deletes through ${name}`, async () => {
      const dir = fs.mkdtempSync(path.join(work, "case-"));
      const res = await run([SCRIPT, uriFor(port), dir], {
        PATH: process.env.PATH,
        HOME: dir,
        MLFLOW_TRACKING_URI: `http://127.0.0.1:${port}`,
        MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE: String(5 * 1024 * 1024),
        MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0",
        ...extraEnv,
      });
      expect(res.out).toContain("delete ok");
      expect(res.out).not.toContain("Falling back");
      if ("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD" in extraEnv) expect(res.out).toContain("ranged download ok");
      expect(res.code).toBe(0);
      expect(fs.existsSync(path.join(t.dir, "artifacts", "7", run_, "artifacts", "mpu", "big.bin"))).toBe(true);
    });
  }

  it("logs a run's artifacts with mlflow's fluent API; the UI's list and get-artifact endpoints serve them", async () => {
    const dir = fs.mkdtempSync(path.join(work, "run-"));
    const res = await run([RUN_SCRIPT], { PATH: process.env.PATH, HOME: dir, MLFLOW_TRACKING_URI: `http://127.0.0.1:${port}`, MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0" });
    expect(res.out).toContain("run artifacts ok");
    expect(res.code).toBe(0);
    const runId = res.out.trim().split("\n").pop()!;
    const list = await fetch(`http://127.0.0.1:${port}/ajax-api/2.0/mlflow/artifacts/list?run_uuid=${runId}&path=model`);
    expect(await list.json()).toMatchObject({ files: [{ path: "model/weights.bin", is_dir: false, file_size: 10000 }] });
    const text = await fetch(`http://127.0.0.1:${port}/get-artifact?run_uuid=${runId}&path=notes/hello.txt`);
    expect([text.status, await text.text(), text.headers.get("content-type")]).toEqual([200, "hello from mlflow", "text/plain"]);
  });
});
