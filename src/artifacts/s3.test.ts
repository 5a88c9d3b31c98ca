import { Readable } from "node:stream";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { makeTestApp, type TestApp } from "../../test/helpers/app.js";
import { downloadSha256, generatedBody, rawRequest } from "../../test/helpers/http-stream.js";
import { HAS_MOTO, MOTO_SERVER, S3TestServer } from "../../test/helpers/s3-server.js";
import { readAll, runArtifactRepositoryContract } from "./repository-contract.js";
import { loadS3Settings } from "../config.js";
import { S3ArtifactRepository, streamPartSize } from "./s3.js";

describe("loadS3Settings", () => {
  it("reads the variables the mlflow client reads", () => {
    expect(
      loadS3Settings({
        MLFLOW_S3_ENDPOINT_URL: "http://127.0.0.1:9000",
        AWS_ACCESS_KEY_ID: "id",
        AWS_SECRET_ACCESS_KEY: "secret",
        AWS_DEFAULT_REGION: "eu-west-1",
        MLFLOW_S3_IGNORE_TLS: "true",
      }),
    ).toEqual({ endpointUrl: "http://127.0.0.1:9000", accessKeyId: "id", secretAccessKey: "secret", sessionToken: undefined, region: "eu-west-1", ignoreTls: true });
    expect(loadS3Settings({ AWS_REGION: "ap-south-1", AWS_DEFAULT_REGION: "eu-west-1" }).region).toBe("ap-south-1");
    expect(loadS3Settings({})).toMatchObject({ region: "us-east-1", ignoreTls: false, endpointUrl: undefined });
  });

  it("stops on a malformed endpoint or flag with one clear line", () => {
    expect(() => loadS3Settings({ MLFLOW_S3_ENDPOINT_URL: "minio:9000" })).toThrow(/MLFLOW_S3_ENDPOINT_URL must/);
    expect(() => loadS3Settings({ MLFLOW_S3_ENDPOINT_URL: "ftp://x" })).toThrow(/http or https/);
    expect(() => loadS3Settings({ MLFLOW_S3_IGNORE_TLS: "maybe" })).toThrow(/MLFLOW_S3_IGNORE_TLS/);
  });
});

describe("streamPartSize", () => {
  it("uses 8 MB parts, growing for very long streams, and fits a known length in 10000 parts", () => {
    expect(streamPartSize(1)).toBe(8 * 1024 * 1024);
    expect(streamPartSize(2000)).toBe(8 * 1024 * 1024);
    expect(streamPartSize(2001)).toBe(16 * 1024 * 1024);
    expect(streamPartSize(9999)).toBe(64 * 1024 * 1024);
    expect(streamPartSize(1, 100 * 1024 * 1024)).toBe(8 * 1024 * 1024);
    expect(streamPartSize(1, 200 * 1024 ** 3)).toBe(Math.ceil((200 * 1024 ** 3) / 10000));
  });
});

describe.skipIf(!HAS_MOTO)(`S3 (moto server at ${MOTO_SERVER})`, () => {
  let server: S3TestServer;
  const repos: S3ArtifactRepository[] = [];
  let n = 0;

  beforeAll(async () => {
    server = await S3TestServer.start();
    await server.createBucket("artifacts");
    await server.createBucket("bare");
  });
  afterAll(async () => {
    for (const r of repos) r.close();
    await server?.stop();
  });

  const open = (uri: string) => {
    const repo = new S3ArtifactRepository(uri, server.settings());
    repos.push(repo);
    return repo;
  };

  runArtifactRepositoryContract("S3 with a key prefix", async () => open(`s3://artifacts/mlartifacts/t${n++}`));

  it("works at the root of a bucket without a prefix", async () => {
    const repo = open("s3://bare");
    await repo.write("x/y.txt", Readable.from([Buffer.from("y")]));
    expect(await repo.list()).toEqual([{ path: "x", isDir: true }]);
    expect((await readAll(await repo.openRead("x/y.txt"))).toString()).toBe("y");
    await repo.delete("");
    expect(await repo.list()).toEqual([]);
  });

  it("pages through listings longer than one S3 page", async () => {
    const repo = open(`s3://artifacts/paging-${n++}`);
    const names = Array.from({ length: 1005 }, (_, i) => `f${String(i).padStart(4, "0")}.txt`);
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(names.slice(i, i + 50).map((f) => repo.write(`many/${f}`, Readable.from([Buffer.from("1")]))));
    }
    const listed = await repo.list("many");
    expect(listed.length).toBe(1005);
    expect(listed[1004]).toEqual({ path: "many/f1004.txt", isDir: false, fileSize: 1 });
    await repo.delete("many");
    expect(await repo.list()).toEqual([]);
  });

  it("aborts the multipart upload when the body fails part-way", async () => {
    const repo = open(`s3://artifacts/aborted-${n++}`);
    let sent = 0;
    const failing = new Readable({
      read() {
        if (sent >= 12 * 1024 * 1024) {
          this.destroy(new Error("client went away"));
          return;
        }
        sent += 1024 * 1024;
        this.push(Buffer.alloc(1024 * 1024, 3));
      },
    });
    await expect(repo.write("half.bin", failing)).rejects.toBeTruthy();
    expect(await repo.stat("half.bin")).toBeNull();
    const pending = await (await fetch(`${server.endpoint}/artifacts?uploads`)).text();
    expect(pending).not.toContain("half.bin");
  });

  it("reports a missing bucket as temporarily unavailable", async () => {
    const repo = open("s3://no-such-bucket/x");
    await expect(repo.list()).rejects.toMatchObject({ errorCode: "TEMPORARILY_UNAVAILABLE", status: 503 });
  });
});

describe.skipIf(!HAS_MOTO)("artifact proxy with an S3 destination", () => {
  const A = "/api/2.0/mlflow-artifacts/artifacts";
  let server: S3TestServer;
  let t: TestApp;
  let port: number;

  beforeAll(async () => {
    server = await S3TestServer.start();
    await server.createBucket("proxied");
    // The server reads S3 settings the way the mlflow client does: from these variables.
    vi.stubEnv("MLFLOW_S3_ENDPOINT_URL", server.endpoint);
    vi.stubEnv("AWS_ACCESS_KEY_ID", "testing");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "testing");
    vi.stubEnv("AWS_DEFAULT_REGION", "us-east-1");
    t = await makeTestApp({ artifactsDestination: "s3://proxied/mlartifacts" });
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    port = (t.app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await t?.close();
    await server?.stop();
    vi.unstubAllEnvs();
  });

  it("streams a multipart-sized upload to S3 and back, with ranges", async () => {
    const size = 20 * 1024 * 1024 + 5;
    const body = generatedBody(size, 5);
    const up = await rawRequest(port, "PUT", `${A}/1/r/artifacts/model.bin`, body.stream, { "content-length": size });
    expect(up.status).toBe(200);
    const down = await downloadSha256(`http://127.0.0.1:${port}${A}/1/r/artifacts/model.bin`);
    expect(down).toMatchObject({ status: 200, bytes: size, sha256: body.sha256() });
    const ranged = await rawRequest(port, "GET", `${A}/1/r/artifacts/model.bin`, undefined, { range: "bytes=-4" });
    expect(ranged.status).toBe(206);
    expect(ranged.headers["content-range"]).toBe(`bytes ${size - 4}-${size - 1}/${size}`);
    const list = await rawRequest(port, "GET", `${A}?path=1/r/artifacts`);
    expect(JSON.parse(list.body.toString())).toEqual({ files: [{ path: "model.bin", is_dir: false, file_size: size }] });
  });

  it("multipart upload through the proxy lands in S3", async () => {
    const create = await rawRequest(port, "POST", "/api/2.0/mlflow-artifacts/mpu/create/2/r/artifacts", Buffer.from(JSON.stringify({ path: "/tmp/w.bin", num_parts: 2 })), {
      "content-type": "application/json",
    });
    const c = JSON.parse(create.body.toString()) as { upload_id: string; credentials: { url: string; part_number: number }[] };
    const first = Buffer.alloc(5 * 1024 * 1024, 1);
    const parts = [];
    for (const cred of c.credentials) {
      const res = await fetch(cred.url, { method: "PUT", body: cred.part_number === 1 ? first : Buffer.from("end") });
      expect(res.status).toBe(200);
      parts.push({ part_number: cred.part_number, etag: res.headers.get("etag"), url: cred.url });
    }
    const done = await rawRequest(port, "POST", "/api/2.0/mlflow-artifacts/mpu/complete/2/r/artifacts", Buffer.from(JSON.stringify({ path: "/tmp/w.bin", upload_id: c.upload_id, parts })), {
      "content-type": "application/json",
    });
    expect(done.status).toBe(200);
    const got = await downloadSha256(`http://127.0.0.1:${port}${A}/2/r/artifacts/w.bin`);
    expect(got.bytes).toBe(first.length + 3);
  });

  it("answers 503 TEMPORARILY_UNAVAILABLE while S3 is down, and works again when it is back", async () => {
    await server.stop();
    for (const [method, p, body] of [
      ["GET", `${A}?path=1`, undefined],
      ["GET", `${A}/1/r/artifacts/model.bin`, undefined],
      ["PUT", `${A}/3/x.txt`, Buffer.from("x")],
      ["DELETE", `${A}/1`, undefined],
    ] as const) {
      const res = await rawRequest(port, method, p, body);
      expect([method, p, res.status]).toEqual([method, p, 503]);
      expect(JSON.parse(res.body.toString())).toMatchObject({ error_code: "TEMPORARILY_UNAVAILABLE" });
    }
    await server.resume();
    await server.createBucket("proxied"); // moto keeps nothing across restarts
    const put = await rawRequest(port, "PUT", `${A}/3/x.txt`, Buffer.from("back"), { "content-type": "text/plain" });
    expect(put.status).toBe(200);
    const get = await rawRequest(port, "GET", `${A}/3/x.txt`);
    expect([get.status, get.body.toString()]).toEqual([200, "back"]);
  });
});
