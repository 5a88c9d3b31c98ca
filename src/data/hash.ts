/**
 * md5 of files, as DVC 3 computes it for `hash: md5`: the plain md5 of the
 * bytes (no newline conversion; DVC 3 dropped the dos2unix rule of DVC 2,
 * which lives on only as `md5-dos2unix` in old `.dvc` files).
 *
 * Large jobs are spread over worker threads, one per core, each reading its
 * files with synchronous 1 MB reads into its own buffer; small jobs are hashed
 * in this thread to skip the workers' start-up.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import { Worker } from "node:worker_threads";

export interface FileHash {
  md5: string;
  size: number;
  /** inode, as a decimal string (64-bit). */
  inode: string;
  /** modification time in nanoseconds, as a decimal string. */
  mtime: string;
}

export interface HashProgress {
  bytes: number;
  totalBytes: number;
  files: number;
  totalFiles: number;
}

/**
 * The worker's whole program, as text: it needs nothing but node's own
 * modules, and `eval` runs it the same from the TypeScript sources (tests)
 * and from dist/.
 */
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const fs = require("node:fs");
const { createHash } = require("node:crypto");
const buf = Buffer.allocUnsafe(1 << 20);
function hashOne(p) {
  const fd = fs.openSync(p, "r");
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    const h = createHash("md5");
    let n;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(n === buf.length ? buf : buf.subarray(0, n));
    return { md5: h.digest("hex"), size: Number(st.size), inode: String(st.ino), mtime: String(st.mtimeNs) };
  } finally {
    fs.closeSync(fd);
  }
}
parentPort.on("message", (job) => {
  const results = [];
  for (const p of job.paths) {
    try { results.push(hashOne(p)); } catch (e) { results.push({ error: (e && e.code) || String(e) }); }
  }
  parentPort.postMessage({ id: job.id, results });
});
`;

/** Hashes one file in this thread. */
export function hashFileSync(p: string, buf: Buffer = Buffer.allocUnsafe(1 << 20)): FileHash {
  const fd = fs.openSync(p, "r");
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    const h = createHash("md5");
    let n: number;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(n === buf.length ? buf : buf.subarray(0, n));
    return { md5: h.digest("hex"), size: Number(st.size), inode: String(st.ino), mtime: String(st.mtimeNs) };
  } finally {
    fs.closeSync(fd);
  }
}

export function md5Bytes(bytes: Buffer): string {
  return createHash("md5").update(bytes).digest("hex");
}

export class HashError extends Error {
  constructor(
    readonly file: string,
    readonly code: string,
  ) {
    super(`cannot read '${file}': ${code}`);
  }
}

/** Below this many bytes and files a job is hashed in this thread. */
const INLINE_BYTES = 16 * 1024 * 1024;
const INLINE_FILES = 256;
/** A batch sent to a worker: up to this many files or bytes. */
const BATCH_FILES = 512;
const BATCH_BYTES = 32 * 1024 * 1024;

/**
 * Hashes `files` (absolute paths with their expected sizes, for balancing and
 * progress). Results come back in the order of `files`; a file that cannot be
 * read fails the whole call with a {@link HashError} naming it.
 */
export async function hashFiles(
  files: readonly { path: string; size: number }[],
  opts: { threads?: number; onProgress?: (p: HashProgress) => void } = {},
): Promise<FileHash[]> {
  const totalBytes = files.reduce((s, f) => s + f.size, 0);
  const progress: HashProgress = { bytes: 0, totalBytes, files: 0, totalFiles: files.length };
  const threads = Math.max(1, Math.min(opts.threads ?? os.availableParallelism(), 16));
  if (files.length === 0) return [];
  if (threads === 1 || (totalBytes < INLINE_BYTES && files.length < INLINE_FILES)) {
    const buf = Buffer.allocUnsafe(1 << 20);
    return files.map((f) => {
      try {
        const h = hashFileSync(f.path, buf);
        progress.bytes += h.size;
        progress.files++;
        opts.onProgress?.(progress);
        return h;
      } catch (err) {
        throw new HashError(f.path, (err as NodeJS.ErrnoException).code ?? String(err));
      }
    });
  }

  // Batches of neighbouring files; big files go alone so the cores share the load.
  const batches: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  files.forEach((f, i) => {
    current.push(i);
    bytes += f.size;
    if (current.length >= BATCH_FILES || bytes >= BATCH_BYTES) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
  });
  if (current.length > 0) batches.push(current);

  const results: FileHash[] = new Array(files.length);
  const workers = Array.from({ length: Math.min(threads, batches.length) }, () => new Worker(WORKER_SOURCE, { eval: true }));
  let next = 0;
  try {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            let failed = false;
            const send = () => {
              if (next >= batches.length) return resolve();
              const id = next++;
              w.postMessage({ id, paths: batches[id]!.map((i) => files[i]!.path) });
            };
            w.on("message", (msg: { id: number; results: (FileHash | { error: string })[] }) => {
              const batch = batches[msg.id]!;
              for (let k = 0; k < batch.length; k++) {
                const r = msg.results[k]!;
                const i = batch[k]!;
                if ("error" in r) {
                  failed = true;
                  return reject(new HashError(files[i]!.path, r.error));
                }
                results[i] = r;
                progress.bytes += r.size;
              }
              progress.files += batch.length;
              opts.onProgress?.(progress);
              if (!failed) send();
            });
            w.on("error", reject);
            send();
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}
