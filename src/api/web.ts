/**
 * Serves the built web UI (`web/dist`) at `/`: files by path, hashed assets
 * with a year-long immutable cache, and every other non-API GET answered with
 * `index.html` so client-side routes survive a reload or a shared link.
 */
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { DomainDeps } from "./deps.js";
import { isApiPath } from "./routing.js";

/** `web/dist` of this package: two folders above both `src/api/web.ts` and `dist/api/web.js`. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL("../../web/dist/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

const IMMUTABLE = "public, max-age=31536000, immutable";

export interface WebUiOptions {
  /** Folder holding the built UI; defaults to this package's `web/dist`. */
  root?: string;
}

/** True when the UI has been built (`npm run build`) into `root`. */
export function webUiAvailable(root: string = DEFAULT_WEB_ROOT): boolean {
  return fs.existsSync(path.join(root, "index.html"));
}

/**
 * Registers the UI routes when `config.ui` is on and the UI is built.
 * Unknown API paths keep MLflow's JSON 404 through the app's not-found handler.
 */
export function registerWebUi(app: FastifyInstance, { config }: Pick<DomainDeps, "config">, opts: WebUiOptions = {}): void {
  const root = path.resolve(opts.root ?? DEFAULT_WEB_ROOT);
  if (!config.ui || !webUiAvailable(root)) return;

  const serve = async (req: FastifyRequest, reply: FastifyReply) => {
    const pathname = req.url.split(/[?#]/, 1)[0] ?? "/";
    if (isApiPath(pathname)) return reply.callNotFound();
    let rel: string;
    try {
      rel = decodeURIComponent(pathname);
    } catch {
      rel = "/";
    }
    const file = resolveInside(root, rel);
    if (file && file !== root && isFile(file)) return sendFile(req, reply, file, rel.startsWith("/assets/"));
    // A missing hashed asset is a real 404: answering it with HTML would hide a stale deploy.
    // Client routes can end in a dot-name (`/models/my.model`), so only top-level files such as `/favicon.ico` count as files here.
    const topLevelFile = !rel.slice(1).includes("/") && path.extname(rel) !== "" && !rel.endsWith(".html");
    if (rel.startsWith("/assets/") || topLevelFile) return reply.callNotFound();
    return sendFile(req, reply, path.join(root, "index.html"), false);
  };
  app.get("/", serve);
  app.get("/*", serve);
}

function resolveInside(root: string, rel: string): string | undefined {
  if (rel.includes("\0") || rel.includes("\\")) return undefined;
  const full = path.resolve(root, "." + path.posix.normalize("/" + rel));
  if (full !== root && !full.startsWith(root + path.sep)) return undefined;
  return full;
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function sendFile(req: FastifyRequest, reply: FastifyReply, file: string, immutable: boolean) {
  const stat = fs.statSync(file);
  const etag = `W/"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
  reply.header("content-type", TYPES[path.extname(file)] ?? "application/octet-stream");
  reply.header("cache-control", immutable ? IMMUTABLE : "no-cache");
  reply.header("etag", etag);
  reply.header("x-content-type-options", "nosniff");
  if (file.endsWith(".html")) {
    reply.header("x-frame-options", "DENY");
    reply.header("referrer-policy", "same-origin");
  }
  reply.header("vary", "accept-encoding");
  if (req.headers["if-none-match"] === etag) return reply.status(304).send();
  const encoding = COMPRESSIBLE.has(path.extname(file)) ? pickEncoding(String(req.headers["accept-encoding"] ?? "")) : undefined;
  if (encoding) {
    const body = compressed(file, stat.mtimeMs, encoding);
    reply.header("content-encoding", encoding);
    reply.header("content-length", body.length);
    return reply.send(body);
  }
  reply.header("content-length", stat.size);
  return reply.send(fs.createReadStream(file));
}

const COMPRESSIBLE = new Set([".html", ".js", ".mjs", ".css", ".json", ".svg", ".map", ".txt"]);

function pickEncoding(accept: string): "br" | "gzip" | undefined {
  if (/\bbr\b/.test(accept)) return "br";
  if (/\bgzip\b/.test(accept)) return "gzip";
  return undefined;
}

/** The UI's files never change while the server runs (except on rebuild, caught by mtime): compress each once. */
const compressedCache = new Map<string, { mtimeMs: number; body: Buffer }>();

function compressed(file: string, mtimeMs: number, encoding: "br" | "gzip"): Buffer {
  const key = `${encoding}:${file}`;
  const hit = compressedCache.get(key);
  if (hit && hit.mtimeMs === mtimeMs) return hit.body;
  const raw = fs.readFileSync(file);
  const body =
    encoding === "br"
      ? zlib.brotliCompressSync(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 9, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length } })
      : zlib.gzipSync(raw, { level: 9 });
  compressedCache.set(key, { mtimeMs, body });
  return body;
}
