/**
 * md5 of files, as DVC 3 computes it for `hash: md5`: the plain md5 of the
 * bytes (no newline conversion; DVC 3 dropped the dos2unix rule of DVC 2,
 * which lives on only as `md5-dos2unix` in old `.dvc` files).
 *
 * Large jobs are spread over worker threads, one per core, each reading its
 * files with synchronous 4 MB reads into its own buffer; small jobs are hashed
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

/** A cache to store hashed files in: `objects/<2>/<30>`, through temporary files in `tmp` (same filesystem). */
export interface StoreIn {
  objects: string;
  tmp: string;
  /** The filesystem clones files (reflinks): clone after hashing instead of writing a copy. */
  clone?: boolean;
}

export interface HashProgress {
  bytes: number;
  totalBytes: number;
  files: number;
  totalFiles: number;
}

/**
 * Hashes one file with synchronous 4 MB reads and, with `store`, puts it in
 * the cache under its md5: written from the same buffers as they are hashed
 * (one pass, and the object is exactly the bytes hashed), or, where the
 * filesystem clones files (`store.clone`), cloned after hashing. Kept as text so the worker threads run the very same function: it
 * needs nothing but node's own modules, and `eval` runs it the same from the
 * TypeScript sources (tests) and from dist/.
 */
const HASH_ONE = `function hashOne(fs, createHash, buf, p, store) {
  const fd = fs.openSync(p, "r");
  const writeCopy = !!store && !store.clone;
  let result;
  let tmp;
  let out;
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    const h = createHash("md5");
    if (writeCopy) {
      tmp = store.tmp + "/" + process.pid + "." + Math.random().toString(36).slice(2) + ".tmp";
      out = fs.openSync(tmp, "wx", 0o444);
    }
    let n;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) {
      const chunk = n === buf.length ? buf : buf.subarray(0, n);
      h.update(chunk);
      if (out !== undefined) for (let off = 0; off < n; ) off += fs.writeSync(out, chunk, off, n - off);
    }
    result = { md5: h.digest("hex"), size: Number(st.size), inode: String(st.ino), mtime: String(st.mtimeNs) };
  } catch (e) {
    if (out !== undefined) { try { fs.closeSync(out); fs.rmSync(tmp, { force: true }); } catch {} }
    throw e;
  } finally {
    fs.closeSync(fd);
  }
  if (store) {
    const dest = store.objects + "/" + result.md5.slice(0, 2) + "/" + result.md5.slice(2);
    try {
      if (writeCopy) fs.closeSync(out);
      if (fs.existsSync(dest)) {
        if (writeCopy) fs.rmSync(tmp, { force: true });
      } else {
        if (!writeCopy) {
          // Where the filesystem clones, the object shares the file's blocks: no bytes are copied.
          tmp = store.tmp + "/" + result.md5 + "." + process.pid + "." + Math.random().toString(36).slice(2) + ".tmp";
          fs.copyFileSync(p, tmp, fs.constants.COPYFILE_FICLONE);
          fs.chmodSync(tmp, 0o444);
        }
        fs.mkdirSync(store.objects + "/" + result.md5.slice(0, 2), { recursive: true });
        fs.renameSync(tmp, dest);
      }
    } catch (e) {
      try { if (tmp) fs.rmSync(tmp, { force: true }); } catch {}
      throw e;
    }
  }
  return result;
}`;

/** Bytes per read: large reads cost fewer system calls; four of them fit a core's cache budget well. */
const READ_BUFFER = 4 << 20;

const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const fs = require("node:fs");
const { createHash } = require("node:crypto");
const buf = Buffer.allocUnsafe(${READ_BUFFER});
${HASH_ONE}
parentPort.on("message", (job) => {
  const results = [];
  job.paths.forEach((p) => {
    try { results.push(hashOne(fs, createHash, buf, p, job.store)); } catch (e) { results.push({ error: (e && e.code) || String(e) }); }
  });
  parentPort.postMessage({ id: job.id, results });
});
`;

const hashOne = new Function(`return ${HASH_ONE}`)() as (
  fsModule: typeof fs,
  hash: typeof createHash,
  buf: Buffer,
  p: string,
  store: StoreIn | undefined,
) => FileHash;

/** Hashes one file in this thread (and stores it as in {@link hashFiles}). */
export function hashFileSync(p: string, buf: Buffer = Buffer.allocUnsafe(READ_BUFFER), store?: StoreIn): FileHash {
  return hashOne(fs, createHash, buf, p, store);
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
 * progress). With `store`, each file is also copied into that cache under its
 * md5 right after it was hashed, while its pages are still in memory, unless
 * the object is there already. Results come back in the order of `files`; a file that cannot be
 * read fails the whole call with a {@link HashError} naming it.
 */
export async function hashFiles(
  files: readonly { path: string; size: number }[],
  opts: { threads?: number; onProgress?: (p: HashProgress) => void; store?: StoreIn } = {},
): Promise<FileHash[]> {
  const totalBytes = files.reduce((s, f) => s + f.size, 0);
  const progress: HashProgress = { bytes: 0, totalBytes, files: 0, totalFiles: files.length };
  const threads = Math.max(1, Math.min(opts.threads ?? os.availableParallelism(), 16));
  if (files.length === 0) return [];
  if (threads === 1 || (totalBytes < INLINE_BYTES && files.length < INLINE_FILES)) {
    const buf = Buffer.allocUnsafe(READ_BUFFER);
    return files.map((f) => {
      try {
        const h = hashFileSync(f.path, buf, opts.store);
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
  // Largest batches first, so one big file does not start last and keep a single core busy at the end.
  const bytesOf = (b: number[]) => b.reduce((n, i) => n + files[i]!.size, 0);
  batches.sort((a, b) => bytesOf(b) - bytesOf(a));

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
              w.postMessage({ id, paths: batches[id]!.map((i) => files[i]!.path), store: opts.store });
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
