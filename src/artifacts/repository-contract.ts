import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { beforeEach, describe, expect, it } from "vitest";
import type { ArtifactRepository } from "./repository.js";

/** A fresh, empty repository for each test. */
export type RepositoryFactory = () => Promise<ArtifactRepository>;

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

const body = (s: string | Buffer): Readable => Readable.from([Buffer.isBuffer(s) ? s : Buffer.from(s)]);

/** Deterministic bytes, so parts and ranges can be checked without storing the expectation twice. */
export function pattern(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ errorCode: code });
}

/**
 * The behaviour every {@link ArtifactRepository} promises; run against the
 * local filesystem and S3 alike.
 */
export function runArtifactRepositoryContract(name: string, newRepository: RepositoryFactory): void {
  describe(`ArtifactRepository contract: ${name}`, () => {
    let repo: ArtifactRepository;
    beforeEach(async () => {
      repo = await newRepository();
    });

    it("writes a file and reads it back", async () => {
      const res = await repo.write("model/MLmodel", body("flavors: {}\n"));
      expect(res.size).toBe(12);
      expect((await readAll(await repo.openRead("model/MLmodel"))).toString()).toBe("flavors: {}\n");
    });

    it("stores an empty file", async () => {
      await repo.write("empty.txt", body(Buffer.alloc(0)));
      expect(await repo.stat("empty.txt")).toEqual({ path: "empty.txt", isDir: false, fileSize: 0 });
      expect((await readAll(await repo.openRead("empty.txt"))).length).toBe(0);
    });

    it("overwrites an existing file", async () => {
      await repo.write("a.txt", body("first version"));
      await repo.write("a.txt", body("second"));
      expect((await readAll(await repo.openRead("a.txt"))).toString()).toBe("second");
    });

    it("lists direct children with sizes and folders, sorted", async () => {
      await repo.write("run/metrics.json", body("{}"));
      await repo.write("run/model/MLmodel", body("x"));
      await repo.write("run/model/data/weights.bin", body(Buffer.alloc(1000)));
      await repo.write("run/a.txt", body("hello"));
      expect(await repo.list("run")).toEqual([
        { path: "run/a.txt", isDir: false, fileSize: 5 },
        { path: "run/metrics.json", isDir: false, fileSize: 2 },
        { path: "run/model", isDir: true },
      ]);
      expect(await repo.list("run/model")).toEqual([
        { path: "run/model/MLmodel", isDir: false, fileSize: 1 },
        { path: "run/model/data", isDir: true },
      ]);
    });

    it("lists the root", async () => {
      await repo.write("x.txt", body("1"));
      await repo.write("d/y.txt", body("2"));
      expect(await repo.list()).toEqual([
        { path: "d", isDir: true },
        { path: "x.txt", isDir: false, fileSize: 1 },
      ]);
      expect(await repo.list("")).toEqual(await repo.list());
    });

    it("lists nothing for a missing folder or a file", async () => {
      await repo.write("f.txt", body("1"));
      expect(await repo.list("nope")).toEqual([]);
      expect(await repo.list("f.txt")).toEqual([]);
    });

    it("does not confuse a folder with a sibling sharing its prefix", async () => {
      await repo.write("ab/c.txt", body("1"));
      await repo.write("abc.txt", body("22"));
      expect(await repo.list("ab")).toEqual([{ path: "ab/c.txt", isDir: false, fileSize: 1 }]);
      await repo.delete("ab");
      expect(await repo.stat("abc.txt")).toEqual({ path: "abc.txt", isDir: false, fileSize: 2 });
    });

    it("stats files, folders and missing paths", async () => {
      await repo.write("d/e/f.bin", body(Buffer.alloc(7)));
      expect(await repo.stat("d/e/f.bin")).toEqual({ path: "d/e/f.bin", isDir: false, fileSize: 7 });
      expect(await repo.stat("d/e")).toEqual({ path: "d/e", isDir: true });
      expect(await repo.stat("d/missing")).toBeNull();
    });

    it("reads byte ranges", async () => {
      const data = pattern(10_000);
      await repo.write("r.bin", body(data));
      expect(await readAll(await repo.openRead("r.bin", { start: 0, end: 0 }))).toEqual(data.subarray(0, 1));
      expect(await readAll(await repo.openRead("r.bin", { start: 100, end: 4099 }))).toEqual(data.subarray(100, 4100));
      expect(await readAll(await repo.openRead("r.bin", { start: 9990, end: 9999 }))).toEqual(data.subarray(9990));
    });

    it("refuses to read a missing file or a folder", async () => {
      await repo.write("dir/file.txt", body("1"));
      await rejectsWith(repo.openRead("missing.txt"), "RESOURCE_DOES_NOT_EXIST");
      await rejectsWith(repo.openRead("dir"), "INVALID_PARAMETER_VALUE");
    });

    it("deletes a file, a folder, and tolerates missing paths", async () => {
      await repo.write("keep.txt", body("k"));
      await repo.write("gone.txt", body("g"));
      await repo.write("tree/a/b.txt", body("b"));
      await repo.write("tree/c.txt", body("c"));
      await repo.delete("gone.txt");
      await repo.delete("tree");
      await repo.delete("never-existed");
      expect(await repo.list()).toEqual([{ path: "keep.txt", isDir: false, fileSize: 1 }]);
    });

    it("deletes everything when asked for the root", async () => {
      await repo.write("a.txt", body("a"));
      await repo.write("b/c.txt", body("c"));
      await repo.delete("");
      expect(await repo.list()).toEqual([]);
    });

    it("refuses unsafe paths in every operation", async () => {
      for (const bad of ["../x", "a/../../x", "%2e%2e/x", "/etc/passwd", "a\\..\\b", "C:/x", "a\0b"]) {
        await rejectsWith(repo.write(bad, body("x")), "INVALID_PARAMETER_VALUE");
        await rejectsWith(repo.openRead(bad), "INVALID_PARAMETER_VALUE");
        await rejectsWith(repo.list(bad), "INVALID_PARAMETER_VALUE");
        await rejectsWith(repo.stat(bad), "INVALID_PARAMETER_VALUE");
        await rejectsWith(repo.delete(bad), "INVALID_PARAMETER_VALUE");
        await rejectsWith(repo.createMultipartUpload(bad), "INVALID_PARAMETER_VALUE");
      }
    });

    it("assembles a multipart upload from parts sent out of order", async () => {
      const size = 5 * 1024 * 1024;
      const p1 = pattern(size, 7);
      const p2 = pattern(size, 8);
      const p3 = Buffer.from("tail");
      const { uploadId } = await repo.createMultipartUpload("big/blob.bin");
      const r3 = await repo.uploadPart("big/blob.bin", uploadId, 3, body(p3), { contentLength: p3.length });
      const r1 = await repo.uploadPart("big/blob.bin", uploadId, 1, body(p1), { contentLength: p1.length });
      const r2 = await repo.uploadPart("big/blob.bin", uploadId, 2, body(p2), { contentLength: p2.length });
      expect(r1.etag).toMatch(/^[0-9a-f]{32}$/);
      expect(await repo.stat("big/blob.bin")).toBeNull();
      await repo.completeMultipartUpload("big/blob.bin", uploadId, [r2, r3, r1]);
      const got = await readAll(await repo.openRead("big/blob.bin"));
      const want = Buffer.concat([p1, p2, p3]);
      expect(got.length).toBe(want.length);
      expect(createHash("sha256").update(got).digest("hex")).toBe(createHash("sha256").update(want).digest("hex"));
    });

    it("aborts a multipart upload and leaves nothing behind", async () => {
      const { uploadId } = await repo.createMultipartUpload("tmp/file.bin");
      await repo.uploadPart("tmp/file.bin", uploadId, 1, body("abc"), { contentLength: 3 });
      await repo.abortMultipartUpload("tmp/file.bin", uploadId);
      expect(await repo.list()).toEqual([]);
      // S3 answers NoSuchUpload (404); some S3-compatible servers fail differently. Either way nothing is created.
      await expect(repo.completeMultipartUpload("tmp/file.bin", uploadId, [{ partNumber: 1, etag: "900150983cd24fb0d6963f7d28e17f72" }])).rejects.toThrow();
      expect(await repo.stat("tmp/file.bin")).toBeNull();
    });

    it("rejects a completion that names a part that was never uploaded", async () => {
      const { uploadId } = await repo.createMultipartUpload("x/y.bin");
      const r1 = await repo.uploadPart("x/y.bin", uploadId, 1, body("abc"), { contentLength: 3 });
      await expect(repo.completeMultipartUpload("x/y.bin", uploadId, [r1, { partNumber: 2, etag: "0".repeat(32) }])).rejects.toMatchObject({
        status: 400,
      });
      await repo.abortMultipartUpload("x/y.bin", uploadId);
    });

    it("streams a write larger than one multipart part", async () => {
      const data = pattern(20 * 1024 * 1024 + 123, 3);
      const chunks = function* () {
        for (let off = 0; off < data.length; off += 256 * 1024) yield data.subarray(off, off + 256 * 1024);
      };
      const res = await repo.write("stream/large.bin", Readable.from(chunks()));
      expect(res.size).toBe(data.length);
      expect(await repo.stat("stream/large.bin")).toEqual({ path: "stream/large.bin", isDir: false, fileSize: data.length });
      const got = await readAll(await repo.openRead("stream/large.bin"));
      expect(createHash("sha256").update(got).digest("hex")).toBe(createHash("sha256").update(data).digest("hex"));
    });

    it("keeps names with spaces, unicode and percent signs intact", async () => {
      await repo.write("plots/loss curve ü%20.png", body("png"));
      expect(await repo.list("plots")).toEqual([{ path: "plots/loss curve ü%20.png", isDir: false, fileSize: 3 }]);
      expect((await readAll(await repo.openRead("plots/loss curve ü%20.png"))).toString()).toBe("png");
    });
  });
}
