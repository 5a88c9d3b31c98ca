import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HAS_MOTO, MOTO_SERVER, S3TestServer } from "../../test/helpers/s3-server.js";
import { readAll, runArtifactRepositoryContract } from "./repository-contract.js";
import { S3ArtifactRepository, streamPartSize } from "./s3.js";

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

  it("reports a missing bucket as temporarily unavailable", async () => {
    const repo = open("s3://no-such-bucket/x");
    await expect(repo.list()).rejects.toMatchObject({ errorCode: "TEMPORARILY_UNAVAILABLE", status: 503 });
  });
});
