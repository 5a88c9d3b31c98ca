/**
 * Artifact transfers through the server's artifact proxy
 * (`/api/2.0/mlflow-artifacts/artifacts/<path>`): streamed uploads and
 * downloads, bounded concurrency, and local paths that can never leave the
 * destination folder whatever the server lists.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { ApiError, type HttpTransport } from "./http.js";
import type { FileInfo, TransferProgress } from "./types.js";
import type { ListProxyArtifactsResponse } from "../wire/index.js";

export const PROXY_PREFIX = "/api/2.0/mlflow-artifacts/artifacts";

/** Options of the artifact transfer methods. */
export interface TransferOptions {
  /** Called as bytes move (once per chunk of up to 1 MiB) and when a file finishes. */
  onProgress?: (p: TransferProgress) => void;
  /** Files moved at the same time (default 4). */
  concurrency?: number;
}

/**
 * The proxy path of a run's artifact root, from its `artifact_uri`
 * (`mlflow-artifacts:/1/<run>/artifacts`, `mlflow-artifacts://host:port/1/<run>/artifacts`
 * or `http(s)://host/api/2.0/mlflow-artifacts/artifacts/1/<run>/artifacts`).
 *
 * @example
 * ```ts
 * proxyRoot("mlflow-artifacts:/1/abc/artifacts"); // "1/abc/artifacts"
 * ```
 */
export function proxyRoot(artifactUri: string): string {
  const m = /^mlflow-artifacts:(\/\/[^/]*)?\/?(.*)$/.exec(artifactUri) ?? /^https?:\/\/[^/]+(?:\/.*)?\/api\/2\.0\/mlflow-artifacts\/artifacts()\/?(.*)$/.exec(artifactUri);
  if (!m) {
    throw new ApiError(
      0,
      "UNSUPPORTED_ARTIFACT_URI",
      `the run's artifact URI '${artifactUri}' is not served by the tracking server; start it with --serve-artifacts (the default) to transfer artifacts through it`,
    );
  }
  return m[2]!.replace(/\/+$/, "");
}

/**
 * Normalises an artifact path given by the user: forward slashes, no empty or
 * `.` segments; `..`, absolute paths and backslashes are refused.
 *
 * @example
 * ```ts
 * cleanArtifactPath("plots//roc/"); // "plots/roc"
 * ```
 */
export function cleanArtifactPath(p: string | undefined): string {
  if (p === undefined || p === "") return "";
  if (p.includes("\\") || p.includes("\0") || p.startsWith("/") || /^[a-z]:/i.test(p)) {
    throw new ApiError(0, "INVALID_PARAMETER_VALUE", `invalid artifact path '${p}': use a relative path with forward slashes`);
  }
  const parts = p.split("/").filter((s) => s !== "" && s !== ".");
  if (parts.includes("..")) throw new ApiError(0, "INVALID_PARAMETER_VALUE", `invalid artifact path '${p}': '..' is not allowed`);
  return parts.join("/");
}

/**
 * Joins artifact path segments with `/`, skipping empty ones.
 *
 * @example
 * ```ts
 * joinArtifactPath("1/abc/artifacts", "", "model"); // "1/abc/artifacts/model"
 * ```
 */
export function joinArtifactPath(...parts: (string | undefined)[]): string {
  return parts.filter((p): p is string => !!p).join("/");
}

function proxyUrl(fullPath: string): string {
  return `${PROXY_PREFIX}/${fullPath.split("/").map(encodeURIComponent).join("/")}`;
}

/** A local file to upload and the artifact path it goes to. */
export interface UploadItem {
  localPath: string;
  artifactPath: string;
  size: number;
}

/**
 * Every regular file under `dir` (symlinked files included, symlinked folders not followed), with `/`-separated relative paths, sorted.
 *
 * @example
 * ```ts
 * for (const f of await walkFiles("out")) console.log(f.rel, f.size); // "plots/roc.png" 20480
 * ```
 */
export async function walkFiles(dir: string): Promise<{ localPath: string; rel: string; size: number }[]> {
  const out: { localPath: string; rel: string; size: number }[] = [];
  const visit = async (abs: string, rel: string) => {
    const entries = await fsp.readdir(abs, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const childAbs = path.join(abs, e.name);
      const childRel = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await visit(childAbs, childRel);
      else if (e.isFile() || e.isSymbolicLink()) {
        const st = await fsp.stat(childAbs).catch(() => undefined);
        if (st?.isFile()) out.push({ localPath: childAbs, rel: childRel, size: st.size });
      }
    }
  };
  await visit(dir, "");
  return out;
}

/**
 * Runs `fn` over `items` with at most `limit` at once; the first failure stops new work and is thrown.
 *
 * @example
 * ```ts
 * await mapPool(files, 4, async (f) => upload(f));
 * ```
 */
export async function mapPool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { err: unknown } | undefined;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw failed.err;
}

class Progress {
  private bytes = 0;
  private files = 0;
  constructor(
    private readonly totalBytes: number,
    private readonly totalFiles: number,
    private readonly cb?: (p: TransferProgress) => void,
  ) {
    this.emit();
  }
  add(n: number): void {
    this.bytes += n;
    this.emit();
  }
  fileDone(): void {
    this.files++;
    this.emit();
  }
  private emit(): void {
    this.cb?.({ bytes: this.bytes, totalBytes: this.totalBytes, files: this.files, totalFiles: this.totalFiles });
  }
}

/**
 * Uploads files, streamed from disk (never buffered whole), to `<root>/<artifactPath>`;
 * an upload that meets a retryable failure starts over from the file.
 *
 * @example
 * ```ts
 * await uploadFiles(http, "1/abc/artifacts", [{ localPath: "model.onnx", artifactPath: "model/model.onnx", size: 1024 }]);
 * ```
 */
export async function uploadFiles(http: HttpTransport, root: string, items: readonly UploadItem[], opts: TransferOptions = {}): Promise<void> {
  const progress = new Progress(
    items.reduce((s, i) => s + i.size, 0),
    items.length,
    opts.onProgress,
  );
  await mapPool(items, opts.concurrency ?? 4, async (item) => {
    let sent = 0;
    await http.transfer(
      "PUT",
      proxyUrl(joinArtifactPath(root, item.artifactPath)),
      () => {
        // A retried upload starts over: take back what the failed attempt counted.
        progress.add(-sent);
        sent = 0;
        return countChunks(fs.createReadStream(item.localPath, { highWaterMark: 1 << 20 }), (n) => {
          sent += n;
          progress.add(n);
        });
      },
      { "content-type": "application/octet-stream" },
    );
    progress.fileDone();
  });
}

async function* countChunks(stream: AsyncIterable<Buffer>, onChunk: (n: number) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of stream) {
    onChunk(chunk.length);
    yield chunk;
  }
}

/**
 * Lists one folder of the artifact store through the proxy; paths come back relative to the run's artifact root.
 *
 * @example
 * ```ts
 * await listFolder(http, "1/abc/artifacts", "model"); // [{ path: "model/MLmodel", is_dir: false, file_size: 312 }]
 * ```
 */
export async function listFolder(http: HttpTransport, root: string, rel: string): Promise<FileInfo[]> {
  const res = await http.request<ListProxyArtifactsResponse>(
    "GET",
    PROXY_PREFIX,
    { path: joinArtifactPath(root, rel) },
    undefined,
  );
  return (res.files ?? []).map((f) => {
    const name = f.path.split("/").pop() ?? f.path;
    const info: FileInfo = { path: joinArtifactPath(rel, name), is_dir: !!f.is_dir };
    if (f.file_size !== undefined && f.file_size !== null) info.file_size = Number(f.file_size);
    return info;
  });
}

/** Every file below `rel`, depth first. */
async function listTree(http: HttpTransport, root: string, rel: string): Promise<FileInfo[]> {
  const out: FileInfo[] = [];
  for (const f of await listFolder(http, root, rel)) {
    if (f.is_dir) out.push(...(await listTree(http, root, f.path)));
    else out.push(f);
  }
  return out;
}

/** A local path for artifact `rel` under `dstDir`, refusing names that would leave it. */
function localTarget(dstDir: string, rel: string): string {
  const parts = rel.split("/");
  if (parts.some((p) => p === "" || p === "." || p === ".." || p.includes("\\") || p.includes("\0"))) {
    throw new ApiError(0, "INVALID_STATE", `the server listed an unsafe artifact path '${rel}'`);
  }
  const target = path.resolve(dstDir, ...parts);
  const base = path.resolve(dstDir);
  if (target !== base && !target.startsWith(base + path.sep)) throw new ApiError(0, "INVALID_STATE", `the server listed an unsafe artifact path '${rel}'`);
  return target;
}

/**
 * Downloads the artifact file or folder `rel` into `dstDir`, keeping its
 * relative path (`dstDir/<rel>`), streaming each file to a temporary name and
 * renaming it into place once complete. Returns the local path.
 *
 * @example
 * ```ts
 * await downloadTree(http, "1/abc/artifacts", "model", "/tmp/dl"); // "/tmp/dl/model"
 * ```
 */
export async function downloadTree(http: HttpTransport, root: string, rel: string, dstDir: string, opts: TransferOptions = {}): Promise<string> {
  // The proxy lists a file (or a missing path) as an empty folder.
  const top = rel === "" ? [] : await listFolder(http, root, rel).catch((err: unknown) => {
    if (err instanceof ApiError && err.status === 404) return [];
    throw err;
  });
  const files = rel === "" ? await listTree(http, root, "") : top.length ? await listTree(http, root, rel) : null;
  if (files === null) {
    // Not a folder with content: a single file (or nothing).
    const target = localTarget(dstDir, rel);
    const res = await getFile(http, root, rel);
    const size = Number(res.headers.get("content-length") ?? 0);
    const progress = new Progress(size, 1, opts.onProgress);
    await streamToFile(res, target, (n) => progress.add(n));
    progress.fileDone();
    return target;
  }
  const dirTarget = rel === "" ? path.resolve(dstDir) : localTarget(dstDir, rel);
  await fsp.mkdir(dirTarget, { recursive: true });
  const progress = new Progress(
    files.reduce((s, f) => s + (f.file_size ?? 0), 0),
    files.length,
    opts.onProgress,
  );
  await mapPool(files, opts.concurrency ?? 4, async (f) => {
    const target = localTarget(dstDir, f.path);
    const res = await getFile(http, root, f.path);
    await streamToFile(res, target, (n) => progress.add(n));
    progress.fileDone();
  });
  return dirTarget;
}

async function getFile(http: HttpTransport, root: string, rel: string): Promise<Response> {
  try {
    return await http.transfer("GET", proxyUrl(joinArtifactPath(root, rel)));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      throw new ApiError(404, "RESOURCE_DOES_NOT_EXIST", `artifact '${rel}' does not exist`);
    }
    throw err;
  }
}

async function streamToFile(res: Response, target: string, onChunk: (n: number) => void): Promise<void> {
  await fsp.mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.part-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    const body = res.body ? Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>) : Readable.from([]);
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        onChunk(chunk.length);
        cb(null, chunk);
      },
    });
    await pipeline(body, counter, fs.createWriteStream(tmp));
    await fsp.rename(tmp, target);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Deletes an artifact file or folder through the proxy.
 *
 * @example
 * ```ts
 * await deletePath(http, "1/abc/artifacts", "tmp");
 * ```
 */
export async function deletePath(http: HttpTransport, root: string, rel: string): Promise<void> {
  await http.transfer("DELETE", proxyUrl(joinArtifactPath(root, rel)));
}
