import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { artifactRepositoryFromUri } from "./factory.js";
import { LocalArtifactRepository } from "./local.js";
import { readAll, runArtifactRepositoryContract } from "./repository-contract.js";
import { S3ArtifactRepository } from "./s3.js";

const base = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-local-artifacts-"));
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));
let n = 0;
const freshRoot = () => path.join(base, `repo-${n++}`);

runArtifactRepositoryContract("local filesystem", async () => new LocalArtifactRepository(freshRoot()));

describe("LocalArtifactRepository", () => {
  it("never exposes its staging folder", async () => {
    const repo = new LocalArtifactRepository(freshRoot());
    await repo.write("a.txt", Readable.from([Buffer.from("a")]));
    await repo.createMultipartUpload("b.bin");
    expect(await repo.list()).toEqual([{ path: "a.txt", isDir: false, fileSize: 1 }]);
    await expect(repo.openRead(".mloop-uploads/x")).rejects.toMatchObject({ errorCode: "INVALID_PARAMETER_VALUE" });
  });

  it("removes the partial file when the upload stream fails", async () => {
    const root = freshRoot();
    const repo = new LocalArtifactRepository(root);
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(1024));
        this.destroy(new Error("client went away"));
      },
    });
    await expect(repo.write("partial.bin", failing)).rejects.toThrow("client went away");
    expect(await repo.stat("partial.bin")).toBeNull();
    expect(fs.readdirSync(path.join(root, ".mloop-uploads", "tmp"))).toEqual([]);
  });

  it("refuses a symlink inside the root that points outside, for reads, writes, lists and deletes", async () => {
    const root = freshRoot();
    const outside = path.join(base, `outside-${n++}`);
    fs.mkdirSync(outside, { recursive: true });
    fs.writeFileSync(path.join(outside, "secret.txt"), "secret");
    const repo = new LocalArtifactRepository(root);
    await repo.write("ok.txt", Readable.from([Buffer.from("ok")]));
    fs.symlinkSync(outside, path.join(root, "escape"));
    fs.symlinkSync(path.join(outside, "secret.txt"), path.join(root, "secret-link.txt"));
    for (const p of ["escape/secret.txt", "secret-link.txt"]) {
      await expect(repo.openRead(p)).rejects.toMatchObject({ errorCode: "INVALID_PARAMETER_VALUE" });
      await expect(repo.stat(p)).rejects.toMatchObject({ errorCode: "INVALID_PARAMETER_VALUE" });
      await expect(repo.delete(p)).rejects.toMatchObject({ errorCode: "INVALID_PARAMETER_VALUE" });
    }
    await expect(repo.write("escape/new.txt", Readable.from([Buffer.from("x")]))).rejects.toMatchObject({ errorCode: "INVALID_PARAMETER_VALUE" });
    await expect(repo.list("escape")).rejects.toMatchObject({ errorCode: "INVALID_PARAMETER_VALUE" });
    // The root listing leaves the escaping links out instead of following them.
    expect(await repo.list()).toEqual([{ path: "ok.txt", isDir: false, fileSize: 2 }]);
    expect(fs.existsSync(path.join(outside, "new.txt"))).toBe(false);
    expect(fs.readFileSync(path.join(outside, "secret.txt"), "utf8")).toBe("secret");
  });

  it("follows a symlink that stays inside the root", async () => {
    const root = freshRoot();
    const repo = new LocalArtifactRepository(root);
    await repo.write("real/data.txt", Readable.from([Buffer.from("inside")]));
    fs.symlinkSync(path.join(root, "real"), path.join(root, "alias"));
    expect((await readAll(await repo.openRead("alias/data.txt"))).toString()).toBe("inside");
  });

  it("works when the root itself is reached through a symlink", async () => {
    const realRoot = freshRoot();
    fs.mkdirSync(realRoot, { recursive: true });
    const linked = path.join(base, `linked-${n++}`);
    fs.symlinkSync(realRoot, linked);
    const repo = new LocalArtifactRepository(linked);
    await repo.write("x/y.txt", Readable.from([Buffer.from("y")]));
    expect(fs.readFileSync(path.join(realRoot, "x", "y.txt"), "utf8")).toBe("y");
  });

  it("refuses to write a file where a folder is", async () => {
    const repo = new LocalArtifactRepository(freshRoot());
    await repo.write("d/x.txt", Readable.from([Buffer.from("x")]));
    await expect(repo.write("d", Readable.from([Buffer.from("y")]))).rejects.toMatchObject({ errorCode: "INVALID_PARAMETER_VALUE" });
    await expect(repo.write("d/x.txt/z", Readable.from([Buffer.from("y")]))).rejects.toMatchObject({ status: 400 });
  });

  it("rejects forged multipart upload ids", async () => {
    const repo = new LocalArtifactRepository(freshRoot());
    for (const id of ["../../etc", "x", "../tmp/00000000-0000-0000-0000-000000000000"]) {
      await expect(repo.uploadPart("a.bin", id, 1, Readable.from([Buffer.from("x")]))).rejects.toMatchObject({ errorCode: "INVALID_PARAMETER_VALUE" });
    }
    await expect(repo.uploadPart("a.bin", "00000000-0000-4000-8000-000000000000", 1, Readable.from([Buffer.from("x")]))).rejects.toMatchObject({
      errorCode: "RESOURCE_DOES_NOT_EXIST",
    });
  });

  it("will not complete an upload onto a different path than it was created for", async () => {
    const repo = new LocalArtifactRepository(freshRoot());
    const { uploadId } = await repo.createMultipartUpload("a.bin");
    await expect(repo.uploadPart("b.bin", uploadId, 1, Readable.from([Buffer.from("x")]))).rejects.toMatchObject({ errorCode: "INVALID_PARAMETER_VALUE" });
  });
});

describe("artifactRepositoryFromUri", () => {
  it("opens plain paths, relative paths and file URIs as local folders", () => {
    const a = artifactRepositoryFromUri("/tmp/mloop-x");
    expect(a).toBeInstanceOf(LocalArtifactRepository);
    expect(a.uri).toBe("file:///tmp/mloop-x");
    expect((artifactRepositoryFromUri("rel/dir", { cwd: "/srv" }) as LocalArtifactRepository).root).toBe("/srv/rel/dir");
    expect((artifactRepositoryFromUri("file:///data/art%20ifacts") as LocalArtifactRepository).root).toBe("/data/art ifacts");
  });

  it("opens s3:// URIs with S3", () => {
    const s3 = artifactRepositoryFromUri("s3://bucket/some/prefix/", {
      s3: { region: "us-east-1", ignoreTls: false, endpointUrl: "http://127.0.0.1:1" },
    }) as S3ArtifactRepository;
    expect(s3).toBeInstanceOf(S3ArtifactRepository);
    expect(s3.bucket).toBe("bucket");
    expect(s3.prefix).toBe("some/prefix");
    s3.close();
  });

  it("refuses other schemes and traversal in S3 prefixes", () => {
    expect(() => artifactRepositoryFromUri("ftp://host/x")).toThrow(/Unsupported artifact storage URI/);
    expect(() => artifactRepositoryFromUri("gs://bucket/x")).toThrow(/Unsupported/);
    expect(() => artifactRepositoryFromUri("s3://bucket/../other", { s3: { region: "us-east-1", ignoreTls: false } })).toThrow(/Invalid path/);
  });
});
