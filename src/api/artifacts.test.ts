import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTestApp, type TestApp } from "../../test/helpers/app.js";
import { ConfigError } from "../config.js";
import { parseRange, provideArtifactSources } from "./artifacts.js";

const A = "/api/2.0/mlflow-artifacts/artifacts";

describe("artifact proxy", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp();
  });
  afterAll(async () => t.close());

  const put = (p: string, payload: string | Buffer, type = "application/octet-stream") =>
    t.app.inject({ method: "PUT", url: `${A}/${p}`, payload, headers: { "content-type": type } });
  const get = (url: string, headers: Record<string, string> = {}) => t.app.inject({ method: "GET", url, headers });

  it("uploads, downloads, lists and deletes like the mlflow client expects", async () => {
    expect((await put("1/abc/artifacts/model/MLmodel", "flavors: {}\n", "text/plain")).statusCode).toBe(200);
    expect((await put("1/abc/artifacts/model/model.pkl", Buffer.alloc(300, 7))).statusCode).toBe(200);
    expect((await put("1/abc/artifacts/metrics.json", '{"a":1}', "application/json")).statusCode).toBe(200);

    const dl = await get(`${A}/1/abc/artifacts/model/MLmodel`);
    expect(dl.statusCode).toBe(200);
    expect(dl.body).toBe("flavors: {}\n");
    expect(dl.headers["content-type"]).toBe("text/plain");
    expect(dl.headers["content-length"]).toBe("12");
    expect(dl.headers["content-disposition"]).toContain('filename="MLmodel"');
    expect(dl.headers["x-content-type-options"]).toBe("nosniff");

    // A JSON upload is stored byte for byte, not parsed and re-serialised.
    expect((await get(`${A}/1/abc/artifacts/metrics.json`)).body).toBe('{"a":1}');

    const list = await get(`${A}?path=1/abc/artifacts`);
    expect(list.json()).toEqual({
      files: [
        { path: "metrics.json", is_dir: false, file_size: 7 },
        { path: "model", is_dir: true },
      ],
    });
    expect((await get(`${A}?path=1/abc/artifacts/model`)).json()).toEqual({
      files: [
        { path: "MLmodel", is_dir: false, file_size: 12 },
        { path: "model.pkl", is_dir: false, file_size: 300 },
      ],
    });
    expect((await get(`${A}?path=nothing/here`)).json()).toEqual({ files: [] });
    expect((await get(A)).json()).toEqual({ files: [{ path: "1", is_dir: true }] });

    const del = await t.app.inject({ method: "DELETE", url: `${A}/1/abc/artifacts/model` });
    expect(del.statusCode).toBe(200);
    expect((await get(`${A}?path=1/abc/artifacts`)).json()).toEqual({ files: [{ path: "metrics.json", is_dir: false, file_size: 7 }] });
    expect((await get(`${A}/1/abc/artifacts/model/MLmodel`)).statusCode).toBe(404);
  });

  it("accepts uploads without a Content-Type and empty files", async () => {
    const res = await t.app.inject({ method: "PUT", url: `${A}/raw/none.bin`, payload: Buffer.from([1, 2, 3]) });
    expect(res.statusCode).toBe(200);
    expect((await get(`${A}/raw/none.bin`)).rawPayload).toEqual(Buffer.from([1, 2, 3]));
    expect((await put("raw/empty.txt", "", "text/plain")).statusCode).toBe(200);
    const empty = await get(`${A}/raw/empty.txt`);
    expect(empty.statusCode).toBe(200);
    expect(empty.body).toBe("");
  });

  it("decodes percent-encoded names once, as the mlflow client sends them", async () => {
    expect((await put("names/loss%20curve%20%C3%BC.png", "p")).statusCode).toBe(200);
    expect((await put("names/100%25%20done.txt", "d", "text/plain")).statusCode).toBe(200);
    expect((await get(`${A}?path=names`)).json()).toEqual({
      files: [
        { path: "100% done.txt", is_dir: false, file_size: 1 },
        { path: "loss curve ü.png", is_dir: false, file_size: 1 },
      ],
    });
    expect(fs.existsSync(path.join(t.dir, "artifacts", "names", "loss curve ü.png"))).toBe(true);
    const dl = await get(`${A}/names/loss%20curve%20%C3%BC.png`);
    expect(dl.body).toBe("p");
    expect(dl.headers["content-disposition"]).toBe(`attachment; filename="loss curve _.png"; filename*=UTF-8''loss%20curve%20%C3%BC.png`);
  });

  it("serves the same routes under /ajax-api", async () => {
    const up = await t.app.inject({ method: "PUT", url: "/ajax-api/2.0/mlflow-artifacts/artifacts/ajax/x.txt", payload: "x", headers: { "content-type": "text/plain" } });
    expect(up.statusCode).toBe(200);
    expect((await get("/ajax-api/2.0/mlflow-artifacts/artifacts/ajax/x.txt")).body).toBe("x");
    expect((await get("/ajax-api/2.0/mlflow-artifacts/artifacts?path=ajax")).json()).toEqual({ files: [{ path: "x.txt", is_dir: false, file_size: 1 }] });
  });

  it("answers Range requests with 206 and Content-Range", async () => {
    await put("range/data.bin", Buffer.from("0123456789"));
    const mid = await get(`${A}/range/data.bin`, { range: "bytes=2-5" });
    expect(mid.statusCode).toBe(206);
    expect(mid.body).toBe("2345");
    expect(mid.headers["content-range"]).toBe("bytes 2-5/10");
    expect(mid.headers["content-length"]).toBe("4");
    const open = await get(`${A}/range/data.bin`, { range: "bytes=7-" });
    expect([open.statusCode, open.body, open.headers["content-range"]]).toEqual([206, "789", "bytes 7-9/10"]);
    const suffix = await get(`${A}/range/data.bin`, { range: "bytes=-3" });
    expect([suffix.statusCode, suffix.body]).toEqual([206, "789"]);
    const clamp = await get(`${A}/range/data.bin`, { range: "bytes=8-100" });
    expect([clamp.statusCode, clamp.body, clamp.headers["content-range"]]).toEqual([206, "89", "bytes 8-9/10"]);
    const beyond = await get(`${A}/range/data.bin`, { range: "bytes=10-20" });
    expect(beyond.statusCode).toBe(416);
    expect(beyond.headers["content-range"]).toBe("bytes */10");
    const multi = await get(`${A}/range/data.bin`, { range: "bytes=0-1,4-5" });
    expect([multi.statusCode, multi.body]).toEqual([200, "0123456789"]);
    expect(multi.headers["accept-ranges"]).toBe("bytes");
  });

  it("sends MLflow's content types", async () => {
    await put("types/plot.png", Buffer.from([0x89, 0x50]));
    await put("types/report.html", "<p>x</p>", "text/plain");
    await put("types/conda.yaml", "name: x", "text/plain");
    expect((await get(`${A}/types/plot.png`)).headers["content-type"]).toBe("image/png");
    const html = await get(`${A}/types/report.html`);
    expect(html.headers["content-type"]).toBe("text/html");
    expect(html.headers["content-security-policy"]).toContain("sandbox");
    expect((await get(`${A}/types/conda.yaml`)).headers["content-type"]).toBe("text/plain");
  });

  it("describes a file for MLflow's parallel ranged download", async () => {
    await put("presigned/w.bin", Buffer.alloc(2048, 1));
    const res = await get("/api/2.0/mlflow-artifacts/presigned/presigned/w.bin");
    expect(res.json()).toEqual({ url: "http://localhost:80/api/2.0/mlflow-artifacts/artifacts/presigned/w.bin", headers: {}, file_size: 2048 });
    expect((await get("/api/2.0/mlflow-artifacts/presigned/presigned/none.bin")).statusCode).toBe(404);
    expect((await get("/api/2.0/mlflow-artifacts/presigned/presigned")).statusCode).toBe(400);
  });

  it("answers a missing file with 404 RESOURCE_DOES_NOT_EXIST", async () => {
    const res = await get(`${A}/no/such/file.txt`);
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error_code: "RESOURCE_DOES_NOT_EXIST" });
  });

  it("answers a folder download with 400", async () => {
    await put("folder/inner.txt", "i");
    const res = await get(`${A}/folder`);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error_code: "INVALID_PARAMETER_VALUE" });
  });

  it("deleting a missing path succeeds, like MLflow", async () => {
    expect((await t.app.inject({ method: "DELETE", url: `${A}/never/was` })).statusCode).toBe(200);
  });

  describe("path safety over HTTP", () => {
    const bad = (res: { statusCode: number; json(): unknown }) => {
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error_code: "INVALID_PARAMETER_VALUE" });
    };
    const secret = () => path.join(t.dir, "secret.txt");
    beforeAll(() => fs.writeFileSync(secret(), "top secret"));

    it("'..' segments", async () => {
      bad(await get(`${A}?path=../`));
      bad(await get(`${A}?path=a/../..`));
      bad(await t.app.inject({ method: "DELETE", url: `${A}/a/..%2F..` }));
    });

    it("%2e%2e", async () => {
      // (app.inject resolves a bare "/%2e%2e/" segment the way browsers do; raw HTTP below sends it as is)
      bad(await get(`${A}/%2e%2e%2fsecret.txt`));
      bad(await put("x/%2e%2e%2f%2e%2e%2fescaped.txt", "x"));
      bad(await get(`${A}?path=%2e%2e`));
      expect(fs.existsSync(path.join(t.dir, "escaped.txt"))).toBe(false);
    });

    it("%252e%252e (double encoding)", async () => {
      bad(await get(`${A}/%252e%252e/secret.txt`));
      bad(await put("%252e%252e%252fescaped.txt", "x"));
      bad(await get(`${A}?path=%252e%252e`));
    });

    it("backslashes", async () => {
      bad(await get(`${A}/..%5Csecret.txt`));
      bad(await put("a%5C..%5C..%5Cescaped.txt", "x"));
    });

    it("absolute paths", async () => {
      bad(await get(`${A}//etc/passwd`));
      bad(await get(`${A}?path=/etc`));
      bad(await put("%2Fetc%2Fescaped", "x"));
    });

    it("drive letters", async () => {
      bad(await get(`${A}/C:/Windows/win.ini`));
      bad(await put("c:%5Cescaped.txt", "x"));
    });

    it("NUL bytes", async () => {
      bad(await get(`${A}/model.pkl%00.txt`));
      bad(await put("x%00y", "x"));
    });

    it("'#' and '?' tricks", async () => {
      bad(await get(`${A}/a%23/..%2f..%2fsecret.txt`));
      bad(await put("a%3F/x", "x"));
      bad(await get(`${A}?path=a%23b`));
    });

    it("symlinks inside the root pointing outside", async () => {
      const root = path.join(t.dir, "artifacts");
      fs.mkdirSync(root, { recursive: true });
      fs.symlinkSync(t.dir, path.join(root, "escape"));
      bad(await get(`${A}/escape/secret.txt`));
      bad(await get(`${A}?path=escape`));
      bad(await put("escape/planted.txt", "x"));
      bad(await t.app.inject({ method: "DELETE", url: `${A}/escape/secret.txt` }));
      expect(fs.readFileSync(secret(), "utf8")).toBe("top secret");
      expect(fs.existsSync(path.join(t.dir, "planted.txt"))).toBe(false);
    });

    it("the staging folder", async () => {
      bad(await get(`${A}?path=.mloop-uploads`));
      bad(await put(".mloop-uploads/tmp/x", "x"));
    });
  });

  describe("multipart upload", () => {
    const mpu = (verb: string, dir: string, body: unknown) =>
      t.app.inject({ method: "POST", url: `/api/2.0/mlflow-artifacts/mpu/${verb}/${dir}`, payload: JSON.stringify(body), headers: { "content-type": "application/json" } });

    it("creates, uploads parts to the returned URLs, and completes", async () => {
      const created = await mpu("create", "5/run/artifacts/model", { path: "/home/me/tmp/weights.bin", num_parts: 2 });
      expect(created.statusCode).toBe(200);
      const c = created.json() as { upload_id: string; credentials: { url: string; part_number: number; headers: object }[] };
      expect(c.credentials.map((x) => x.part_number)).toEqual([1, 2]);
      const parts = [];
      for (const [i, cred] of c.credentials.entries()) {
        const url = new URL(cred.url);
        expect(url.origin).toMatch(/^http:\/\//);
        const up = await t.app.inject({ method: "PUT", url: url.pathname + url.search, payload: i === 0 ? "hello " : "world" });
        expect(up.statusCode).toBe(200);
        expect(up.headers.etag).toMatch(/^"[0-9a-f]{32}"$/);
        parts.push({ part_number: cred.part_number, etag: up.headers.etag, url: cred.url });
      }
      const done = await mpu("complete", "5/run/artifacts/model", { path: "/home/me/tmp/weights.bin", upload_id: c.upload_id, parts });
      expect(done.statusCode).toBe(200);
      expect((await get(`${A}/5/run/artifacts/model/weights.bin`)).body).toBe("hello world");
    });

    it("aborts", async () => {
      const c = (await mpu("create", "6/run/artifacts", { path: "C:\\Users\\me\\big.bin", num_parts: 1 })).json() as { upload_id: string };
      expect((await mpu("abort", "6/run/artifacts", { path: "C:\\Users\\me\\big.bin", upload_id: c.upload_id })).statusCode).toBe(200);
      expect((await get(`${A}?path=6/run/artifacts`)).json()).toEqual({ files: [] });
    });

    it("validates its input", async () => {
      expect((await mpu("create", "x", { num_parts: 1 })).statusCode).toBe(400);
      expect((await mpu("create", "x", { path: "a.bin", num_parts: -1 })).statusCode).toBe(400);
      expect((await mpu("create", "a%2f%2e%2e%2f%2e%2e", { path: "a.bin", num_parts: 1 })).statusCode).toBe(400);
      expect((await mpu("create", "x", { path: "/tmp/..", num_parts: 1 })).statusCode).toBe(400);
      expect((await mpu("complete", "x", { path: "a.bin", upload_id: "nope", parts: [{ part_number: 1, etag: "e" }] })).statusCode).toBe(400);
      const part = await t.app.inject({ method: "PUT", url: "/api/2.0/mlflow-artifacts/mpu/upload/x/a.bin?upload_id=00000000-0000-4000-8000-000000000000&part_number=0", payload: "x" });
      expect(part.statusCode).toBe(400);
    });
  });

  describe("run artifacts", () => {
    beforeAll(async () => {
      provideArtifactSources(t.app, {
        runArtifactUri: async (runId) => {
          if (runId === "proxied") return "mlflow-artifacts:/9/proxied/artifacts";
          if (runId === "local") return `file://${path.join(t.dir, "artifacts", "direct-run")}`;
          if (runId === "etc") return "file:///etc";
          if (runId === "outside") return `file://${t.dir}`;
          throw Object.assign(new (await import("../errors.js")).MlflowError("RESOURCE_DOES_NOT_EXIST", `Run '${runId}' not found.`));
        },
        modelVersionSource: async (name, version) => `mlflow-artifacts:/9/proxied/artifacts/${name}-v${version}`,
      });
      await put("9/proxied/artifacts/model/MLmodel", "m", "text/plain");
      await put("9/proxied/artifacts/plot.png", Buffer.from([1, 2]));
      await put("9/proxied/artifacts/clf-v3/MLmodel", "v3", "text/plain");
      fs.mkdirSync(path.join(t.dir, "artifacts", "direct-run", "sub"), { recursive: true });
      fs.writeFileSync(path.join(t.dir, "artifacts", "direct-run", "sub", "f.txt"), "direct");
    });

    it("lists a run's proxied artifacts with run-relative paths", async () => {
      const root = await t.call("GET", "artifacts/list?run_id=proxied");
      expect(root).toEqual({
        status: 200,
        body: {
          root_uri: "mlflow-artifacts:/9/proxied/artifacts",
          files: [
            { path: "clf-v3", is_dir: true },
            { path: "model", is_dir: true },
            { path: "plot.png", is_dir: false, file_size: 2 },
          ],
        },
      });
      const sub = await t.call("GET", "/ajax-api/2.0/mlflow/artifacts/list?run_uuid=proxied&path=model&page_token=");
      expect(sub.body.files).toEqual([{ path: "model/MLmodel", is_dir: false, file_size: 1 }]);
    });

    it("lists a run whose artifact URI is a local folder", async () => {
      const res = await t.call("GET", "artifacts/list?run_id=local&path=sub");
      expect(res.body.files).toEqual([{ path: "sub/f.txt", is_dir: false, file_size: 6 }]);
    });

    it("refuses run artifact locations on the server's filesystem outside its artifact roots", async () => {
      for (const runId of ["etc", "outside"]) {
        const res = await get(`/get-artifact?run_id=${runId}&path=passwd`);
        expect(res.statusCode).toBe(403);
        expect(res.json()).toMatchObject({ error_code: "PERMISSION_DENIED" });
        expect((await t.call("GET", `artifacts/list?run_id=${runId}`)).status).toBe(403);
      }
    });

    it("serves /get-artifact and /model-versions/get-artifact", async () => {
      const a = await get("/get-artifact?run_uuid=proxied&path=model/MLmodel");
      expect([a.statusCode, a.body, a.headers["content-type"]]).toEqual([200, "m", "text/plain"]);
      const b = await get("/get-artifact?run_id=local&path=sub/f.txt");
      expect(b.body).toBe("direct");
      const mv = await get("/model-versions/get-artifact?name=clf&version=3&path=MLmodel");
      expect([mv.statusCode, mv.body]).toEqual([200, "v3"]);
    });

    it("rejects bad input and unknown runs with MLflow errors", async () => {
      expect((await get("/get-artifact?run_id=proxied&path=../../secret.txt")).statusCode).toBe(400);
      expect((await get("/get-artifact?run_id=proxied&path=%2e%2e/%2e%2e/x")).statusCode).toBe(400);
      expect((await get("/model-versions/get-artifact?name=clf&version=3&path=/etc/passwd")).statusCode).toBe(400);
      expect((await t.call("GET", "artifacts/list?run_id=proxied&path=..")).status).toBe(400);
      expect((await t.call("GET", "artifacts/list")).status).toBe(400);
      const missing = await t.call("GET", "artifacts/list?run_id=nope");
      expect([missing.status, missing.body.error_code]).toEqual([404, "RESOURCE_DOES_NOT_EXIST"]);
      expect((await get("/get-artifact?run_id=proxied&path=missing.txt")).statusCode).toBe(404);
    });
  });
});

describe("artifact routes wired to the tracking and registry services", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp();
  });
  afterAll(async () => t.close());

  it("serves a run's artifacts and a model version's files by their ids", async () => {
    const exp = await t.call("POST", "experiments/create", { name: "wired" });
    const run = await t.call("POST", "runs/create", { experiment_id: exp.body.experiment_id });
    expect(run.status).toBe(200);
    const info = run.body.run.info as { run_id: string; artifact_uri: string };
    expect(info.artifact_uri).toMatch(/^mlflow-artifacts:\//);
    const rel = info.artifact_uri.replace(/^mlflow-artifacts:\//, "");
    const up = await t.app.inject({ method: "PUT", url: `${A}/${rel}/model/MLmodel`, payload: "artifact_path: model\n", headers: { "content-type": "text/plain" } });
    expect(up.statusCode).toBe(200);

    const list = await t.call("GET", `artifacts/list?run_id=${info.run_id}`);
    expect(list.body).toEqual({ root_uri: info.artifact_uri, files: [{ path: "model", is_dir: true }] });
    const file = await t.app.inject({ method: "GET", url: `/get-artifact?run_id=${info.run_id}&path=model/MLmodel` });
    expect([file.statusCode, file.body]).toEqual([200, "artifact_path: model\n"]);

    await t.call("POST", "registered-models/create", { name: "wired-model" });
    const mv = await t.call("POST", "model-versions/create", { name: "wired-model", source: `runs:/${info.run_id}/model`, run_id: info.run_id });
    expect(mv.status).toBe(200);
    const mvFile = await t.app.inject({ method: "GET", url: "/model-versions/get-artifact?name=wired-model&version=1&path=MLmodel" });
    expect([mvFile.statusCode, mvFile.body]).toEqual([200, "artifact_path: model\n"]);

    const lm = await t.call("POST", "logged-models", { experiment_id: exp.body.experiment_id, name: "lm" });
    expect(lm.status).toBe(200);
    const lmInfo = lm.body.model.info as { model_id: string; artifact_uri: string };
    const lmRel = lmInfo.artifact_uri.replace(/^mlflow-artifacts:\//, "");
    await t.app.inject({ method: "PUT", url: `${A}/${lmRel}/MLmodel`, payload: "lm", headers: { "content-type": "text/plain" } });
    const dirs = await t.call("GET", `logged-models/${lmInfo.model_id}/artifacts/directories`);
    expect(dirs.body).toEqual({ root_uri: lmInfo.artifact_uri, files: [{ path: "MLmodel", is_dir: false, file_size: 2 }] });
    const lmFile = await t.app.inject({ method: "GET", url: `/ajax-api/2.0/mlflow/logged-models/${lmInfo.model_id}/artifacts/files?artifact_file_path=MLmodel` });
    expect([lmFile.statusCode, lmFile.body]).toEqual([200, "lm"]);
    const lmBad = await t.app.inject({ method: "GET", url: `/ajax-api/2.0/mlflow/logged-models/${lmInfo.model_id}/artifacts/files?artifact_file_path=..%2F..%2Fx` });
    expect(lmBad.statusCode).toBe(400);

    const unknown = await t.call("GET", "artifacts/list?run_id=0123456789abcdef0123456789abcdef");
    expect([unknown.status, unknown.body.error_code]).toEqual([404, "RESOURCE_DOES_NOT_EXIST"]);
    const noVersion = await t.app.inject({ method: "GET", url: "/model-versions/get-artifact?name=wired-model&version=9&path=MLmodel" });
    expect(noVersion.statusCode).toBe(404);
  });
});

describe("artifact proxy disabled (--no-serve-artifacts)", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await makeTestApp({ serveArtifacts: false });
  });
  afterAll(async () => t.close());

  it("answers every proxy route with 503 and a clear message", async () => {
    for (const [method, url] of [
      ["GET", `${A}/x.txt`],
      ["GET", `${A}?path=x`],
      ["PUT", `${A}/x.txt`],
      ["DELETE", `${A}/x.txt`],
      ["POST", "/api/2.0/mlflow-artifacts/mpu/create/x"],
    ] as const) {
      const withBody = method === "PUT" || method === "POST";
      const res = await t.app.inject({ method, url, payload: withBody ? "{}" : undefined, headers: withBody ? { "content-type": "application/json" } : {} });
      expect([method, url, res.statusCode]).toEqual([method, url, 503]);
      expect(res.json().message).toContain("--no-serve-artifacts");
    }
  });

  it("still serves runs whose artifacts live in a folder", async () => {
    fs.mkdirSync(path.join(t.dir, "artifacts", "r"), { recursive: true });
    fs.writeFileSync(path.join(t.dir, "artifacts", "r", "a.txt"), "a");
    provideArtifactSources(t.app, { runArtifactUri: async () => `file://${path.join(t.dir, "artifacts", "r")}` });
    expect((await t.call("GET", "artifacts/list?run_id=x")).body.files).toEqual([{ path: "a.txt", is_dir: false, file_size: 1 }]);
    expect((await t.app.inject({ method: "GET", url: "/get-artifact?run_id=x&path=a.txt" })).body).toBe("a");
  });
});

describe("parseRange", () => {
  it("parses single ranges and flags unsatisfiable ones", () => {
    expect(parseRange(undefined, 10)).toBeUndefined();
    expect(parseRange("bytes=0-0", 10)).toEqual({ start: 0, end: 0 });
    expect(parseRange("bytes=-20", 10)).toEqual({ start: 0, end: 9 });
    expect(parseRange("bytes=5-2", 10)).toBe("unsatisfiable");
    expect(parseRange("bytes=0-", 0)).toBe("unsatisfiable");
    expect(parseRange("items=0-1", 10)).toBeUndefined();
  });
});

describe("boot", () => {
  it("stops with a ConfigError on an artifacts destination it cannot use", async () => {
    await expect(makeTestApp({ artifactsDestination: "gs://bucket/x" })).rejects.toThrow(ConfigError);
    await expect(makeTestApp({ artifactsDestination: "gs://bucket/x" })).rejects.toThrow(/artifacts-destination/);
  });
});

describe("the UI's upload-artifact", () => {
  let t: TestApp;
  let runId: string;
  beforeAll(async () => {
    t = await makeTestApp();
    runId = (await t.call("POST", "runs/create", { experiment_id: "0" })).body.run.info.run_id;
  });
  afterAll(async () => t.close());
  const U = "/ajax-api/2.0/mlflow/upload-artifact";
  const upload = (query: string, payload?: string, headers: Record<string, string> = {}) => t.app.inject({ method: "POST", url: `${U}${query}`, payload, headers });

  it("stores a raw body of any type in the run's artifacts", async () => {
    const r = await upload(`?run_uuid=${runId}&path=notes/test.txt`, "hello world", { host: "localhost:5000" });
    expect(r.statusCode).toBe(200);
    const got = await t.app.inject({ method: "GET", url: `/get-artifact?run_uuid=${runId}&path=notes/test.txt` });
    expect(got.body).toBe("hello world");
    const typed = await upload(`?run_uuid=${runId}&path=b.txt`, "x", { "content-type": "text/plain", origin: "http://localhost:5000", host: "localhost:5000" });
    expect(typed.statusCode).toBe(200);
  });

  it("refuses it from another site: a cross-site form or fetch cannot write artifacts", async () => {
    const crossSite: Record<string, string>[] = [{ origin: "http://evil.example", host: "localhost:5000" }, { "sec-fetch-site": "cross-site" }, { origin: "null", host: "localhost:5000", "content-type": "text/plain" }];
    for (const headers of crossSite) {
      const r = await upload(`?run_uuid=${runId}&path=evil.txt`, "pwned", headers);
      expect(r.statusCode).toBe(400);
      expect(r.json().error_code).toBe("BAD_REQUEST");
    }
    expect((await t.app.inject({ method: "GET", url: `/get-artifact?run_uuid=${runId}&path=evil.txt` })).statusCode).toBe(404);
  });

  it("refuses '..' in artifact paths with MLflow's exact 'Invalid path', also under a doubled slash", async () => {
    for (const url of [`/api/2.0/mlflow/artifacts/list?run_id=${runId}&path=../path`, `/get-artifact?run_id=${runId}&path=../path`, "//model-versions/get-artifact?name=model&version=1&path=../path"]) {
      const r = await t.app.inject({ method: "GET", url });
      expect(r.statusCode, url).toBe(400);
      expect(r.json(), url).toEqual({ error_code: "INVALID_PARAMETER_VALUE", message: "Invalid path" });
    }
  });

  it("answers bad requests with MLflow's messages", async () => {
    expect((await upload("")).json().message).toBe("Request must specify run_uuid.");
    expect((await upload(`?run_uuid=${runId}`)).json().message).toBe("Request must specify path.");
    expect((await upload(`?run_uuid=${runId}&path=`)).json().message).toBe("Request must specify path.");
    expect((await upload(`?run_uuid=${runId}&path=../test.txt`, "x")).json().message).toBe("Invalid path");
    expect((await upload(`?run_uuid=${runId}&path=test.txt`)).json().message).toBe("Request must specify data.");
  });
});
