import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { HashError, hashFiles } from "./hash.js";

describe("hashing", () => {
  it("gives every file's plain md5 (no CRLF conversion), in order, from worker threads and inline alike", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-hash-"));
    const files = Array.from({ length: 600 }, (_, i) => {
      const p = path.join(dir, `f${i}`);
      fs.writeFileSync(p, i % 3 === 0 ? `line ${i}\r\nnext\r\n` : Buffer.alloc(i * 50, i));
      return { path: p, size: fs.statSync(p).size };
    });
    const big = path.join(dir, "big");
    fs.writeFileSync(big, Buffer.alloc(3 * 1024 * 1024 + 7, 7));
    files.push({ path: big, size: fs.statSync(big).size });
    const want = files.map((f) => createHash("md5").update(fs.readFileSync(f.path)).digest("hex"));
    const threaded = await hashFiles(files, { threads: 2 });
    expect(threaded.map((h) => h.md5)).toEqual(want);
    expect(threaded.map((h) => h.size)).toEqual(files.map((f) => f.size));
    expect((await hashFiles(files, { threads: 1 })).map((h) => h.md5)).toEqual(want);
  });

  it("stores each hashed file in a cache under its md5, read-only", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-hash-"));
    const src = path.join(dir, "a.txt");
    fs.writeFileSync(src, "hello\n");
    const objects = path.join(dir, "cache");
    fs.mkdirSync(path.join(dir, "tmp"));
    const [h] = await hashFiles([{ path: src, size: 6 }], { store: { objects, tmp: path.join(dir, "tmp") } });
    const obj = path.join(objects, h!.md5.slice(0, 2), h!.md5.slice(2));
    expect(fs.readFileSync(obj, "utf8")).toBe("hello\n");
    expect(fs.statSync(obj).mode & 0o777).toBe(0o444);
    expect(fs.readdirSync(path.join(dir, "tmp"))).toEqual([]);
  });

  it("names the file it could not read", async () => {
    const files = Array.from({ length: 300 }, (_, i) => ({ path: `/nonexistent/mloop/f${i}`, size: 1 }));
    await expect(hashFiles(files, { threads: 2 })).rejects.toBeInstanceOf(HashError);
    await expect(hashFiles([{ path: "/nonexistent/x", size: 1 }])).rejects.toThrow(/\/nonexistent\/x/);
  });
});
