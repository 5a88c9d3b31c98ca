import fs from "node:fs/promises";
import nodePath from "node:path";
import { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { MlflowError, invalidParameter, notFound } from "../errors.js";
import { input, optString, reqString, type Input } from "./params.js";
import { API_PREFIXES } from "./routing.js";
import { ConfigError, type ServerConfig } from "../config.js";
import type { RegistryServices } from "../registry/index.js";
import type { TrackingServices } from "../tracking/index.js";
import type { DomainDeps } from "./deps.js";
import type { ListArtifactsResponse, ListProxyArtifactsResponse } from "../wire/index.js";
import {
  artifactRepositoryFromUri,
  guessContentType,
  joinArtifactPath,
  LocalArtifactRepository,
  MAX_PART_NUMBER,
  safeArtifactPath,
  type ArtifactRepository,
  type ByteRange,
  type RepositoryOptions,
  type UploadedPart,
} from "../artifacts/index.js";

/** Where the proxy routes live; the UI uses the ajax prefix. */
export const ARTIFACT_PREFIXES = ["/api/2.0/mlflow-artifacts/", "/ajax-api/2.0/mlflow-artifacts/"] as const;

/**
 * Lookups the artifact routes need from other domains: the tracking service
 * provides a run's artifact URI, the registry a model version's source.
 */
export interface ArtifactSources {
  runArtifactUri?: (runId: string) => Promise<string>;
  modelVersionSource?: (name: string, version: string) => Promise<string>;
  loggedModelArtifactUri?: (modelId: string) => Promise<string>;
}

/** A repository and the path inside it that an artifact URI names. */
export interface ArtifactLocation {
  repository: ArtifactRepository;
  path: string;
}

interface ArtifactState {
  config: ServerConfig;
  /** Local folders a run or model version may keep artifacts in (real paths when they exist). */
  localRoots: string[];
  proxy: ArtifactRepository;
  sources: ArtifactSources;
  repoCache: Map<string, ArtifactRepository>;
  repoOptions: RepositoryOptions;
}

const states = new WeakMap<FastifyInstance, ArtifactState>();
const pendingSources = new WeakMap<FastifyInstance, ArtifactSources>();

/**
 * Tells the artifact routes how to find a run's artifact URI and a model
 * version's source. Call it with the root app, before or after
 * {@link registerArtifactRoutes}.
 */
export function provideArtifactSources(app: FastifyInstance, sources: ArtifactSources): void {
  const state = states.get(app);
  if (state) Object.assign(state.sources, sources);
  else pendingSources.set(app, { ...pendingSources.get(app), ...sources });
}

function proxyDisabled(url: string): MlflowError {
  return new MlflowError(
    "TEMPORARILY_UNAVAILABLE",
    `Endpoint ${url.split("?")[0]} is disabled because the server runs with --no-serve-artifacts; start it with --serve-artifacts to proxy artifacts`,
  );
}

const PROXY_ANCHOR = "/api/2.0/mlflow-artifacts/artifacts";

/**
 * Resolves an artifact URI (a run's artifact root, a model version's source)
 * to the repository that holds it and the path inside: `mlflow-artifacts:`
 * and `http(s)://…/api/2.0/mlflow-artifacts/artifacts/…` URIs map into the
 * proxied destination, `runs:/<id>/…` through the run's artifact URI, other
 * URIs through {@link artifactRepositoryFromUri}.
 */
export async function resolveArtifactLocation(app: FastifyInstance, uri: string, depth = 0): Promise<ArtifactLocation> {
  const state = states.get(app);
  if (!state) throw new Error("registerArtifactRoutes has not been called on this app");
  if (/^mlflow-artifacts:/i.test(uri) || (/^https?:\/\//i.test(uri) && uri.includes(PROXY_ANCHOR))) {
    if (!state.config.serveArtifacts) throw proxyDisabled("mlflow-artifacts");
    let rest: string;
    if (/^mlflow-artifacts:/i.test(uri)) {
      rest = uri.replace(/^mlflow-artifacts:(\/\/[^/]*)?/i, "");
    } else {
      rest = new URL(uri).pathname.split(PROXY_ANCHOR)[1] ?? "";
    }
    return { repository: state.proxy, path: safeArtifactPath(stripSlashes(safeDecode(rest))) };
  }
  const runs = /^runs:\/(?:\/)?([^/]+)(?:\/(.*))?$/.exec(uri);
  if (runs) {
    if (depth > 2) throw invalidParameter(`Artifact URI '${uri}' refers to itself`);
    const resolver = state.sources.runArtifactUri;
    if (!resolver) throw new MlflowError("NOT_IMPLEMENTED", "Run artifact URIs cannot be resolved on this server");
    const base = await resolveArtifactLocation(app, await resolver(runs[1]!), depth + 1);
    return { repository: base.repository, path: joinArtifactPath(base.path, safeArtifactPath(runs[2] ?? "")) };
  }
  if (/^models:/i.test(uri)) throw invalidParameter(`Artifact URI '${uri}' cannot be served directly`);
  let repository = state.repoCache.get(uri);
  if (!repository) {
    repository = artifactRepositoryFromUri(uri, state.repoOptions);
    if (repository instanceof LocalArtifactRepository && !(await insideAny(repository.root, state.localRoots))) {
      // An experiment's artifact_location is client input: never let it turn the server into a file reader.
      throw new MlflowError("PERMISSION_DENIED", `Artifact location '${uri}' is outside the server's artifact roots`);
    }
    if (state.repoCache.size >= 64) state.repoCache.delete(state.repoCache.keys().next().value!);
    state.repoCache.set(uri, repository);
  }
  return { repository, path: "" };
}

/** A folder under an artifact root, with paths relative to that root (MLflow's `ListArtifacts` response). */
export async function listArtifactsUnder(app: FastifyInstance, rootUri: string, rel: string): Promise<ListArtifactsResponse> {
  const loc = await resolveArtifactLocation(app, rootUri);
  const files = await loc.repository.list(joinArtifactPath(loc.path, rel));
  return {
    root_uri: rootUri,
    files: files.map((f) => {
      const p = joinArtifactPath(rel, f.path.slice(f.path.lastIndexOf("/") + 1));
      return f.isDir ? { path: p, is_dir: true } : { path: p, is_dir: false, file_size: f.fileSize ?? 0 };
    }),
  };
}

/**
 * A run's artifacts at `path` (relative to its artifact root; checked by `safeArtifactPath`),
 * as `GET /api/2.0/mlflow/artifacts/list` answers: the GraphQL route lists through this too.
 */
export async function listRunArtifacts(app: FastifyInstance, runId: string, path: string | undefined): Promise<ListArtifactsResponse> {
  const state = states.get(app);
  if (!state) throw new Error("registerArtifactRoutes has not been called on this app");
  const rel = safeArtifactPath(path);
  const resolver = state.sources.runArtifactUri;
  if (!resolver) throw new MlflowError("NOT_IMPLEMENTED", "Artifact lookups by run are not available on this server");
  return listArtifactsUnder(app, await resolver(runId), rel);
}

async function realOrResolved(p: string): Promise<string> {
  try {
    return await fs.realpath(p);
  } catch {
    return nodePath.resolve(p);
  }
}

async function insideAny(dir: string, roots: string[]): Promise<boolean> {
  const real = await realOrResolved(dir);
  for (const root of roots) {
    const r = await realOrResolved(root);
    if (real === r || real.startsWith(r.endsWith(nodePath.sep) ? r : r + nodePath.sep)) return true;
  }
  return false;
}

function stripSlashes(p: string): string {
  return p.replace(/^\/+|\/+$/g, "");
}

function safeDecode(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    throw invalidParameter(`Invalid artifact URI path '${p.slice(0, 200)}'`);
  }
}

/** Parses a single-range `Range` header; `undefined` means "send everything". */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined | "unsatisfiable" {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined; // multiple or malformed ranges: ignore, as RFC 9110 allows
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (!Number.isSafeInteger(start) || start >= size || end < start) return "unsatisfiable";
  return { start, end };
}

function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** Streams one artifact, honouring `Range`. */
async function sendArtifact(req: FastifyRequest, reply: FastifyReply, repo: ArtifactRepository, path: string): Promise<FastifyReply> {
  const info = await repo.stat(path);
  if (!info) throw notFound(`No such artifact: '${path}'`);
  if (info.isDir) throw invalidParameter(`Artifact path refers to a directory, not a file: '${path}'`);
  const size = info.fileSize ?? 0;
  const range = parseRange(req.headers.range, size);
  const name = path.slice(path.lastIndexOf("/") + 1);
  reply
    .header("Content-Type", guessContentType(name))
    .header("Content-Disposition", contentDisposition(name))
    .header("X-Content-Type-Options", "nosniff")
    .header("Content-Security-Policy", "default-src 'none'; sandbox")
    .header("Accept-Ranges", "bytes");
  if (range === "unsatisfiable") {
    return reply
      .status(416)
      .header("Content-Range", `bytes */${size}`)
      .type("application/json")
      .send({ error_code: "INVALID_PARAMETER_VALUE", message: `Range '${req.headers.range}' is outside the ${size}-byte artifact` });
  }
  if (req.method === "HEAD") {
    return reply.header("Content-Length", String(size)).send();
  }
  if (range) {
    const stream = await repo.openRead(path, range);
    return reply
      .status(206)
      .header("Content-Range", `bytes ${range.start}-${range.end}/${size}`)
      .header("Content-Length", String(range.end - range.start + 1))
      .send(stream);
  }
  const stream = size === 0 ? Readable.from([]) : await repo.openRead(path);
  return reply.header("Content-Length", String(size)).send(stream);
}

function wildcard(req: FastifyRequest): string {
  return (req.params as Record<string, string | undefined>)["*"] ?? "";
}

function contentLength(req: FastifyRequest): number | undefined {
  const raw = req.headers["content-length"];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function requestBody(req: FastifyRequest): Readable {
  if (contentLength(req) === 0) return Readable.from([]);
  return (req.body as Readable | undefined) ?? req.raw;
}

function interrupted(err: unknown, req: FastifyRequest): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (req.raw.readableAborted || (!(err instanceof MlflowError) && (req.raw.destroyed || code === "ECONNRESET" || code === "ERR_STREAM_PREMATURE_CLOSE"))) {
    return new MlflowError("BAD_REQUEST", "The upload was interrupted before the whole body arrived");
  }
  return err;
}

function origin(req: FastifyRequest): string {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.split(",")[0]?.trim();
  const proto = first(req.headers["x-forwarded-proto"]) ?? req.protocol;
  const host = first(req.headers["x-forwarded-host"]) ?? req.host;
  return `${proto === "https" ? "https" : "http"}://${host}`;
}

/** The file name at the end of a client-side path (`/tmp/x/model.pkl`, `C:\\x\\model.pkl`). */
function baseName(localPath: string): string {
  const parts = localPath.split(/[\\/]/);
  return parts[parts.length - 1] ?? "";
}

function mpuTarget(req: FastifyRequest, inp: Input): string {
  const dir = safeArtifactPath(wildcard(req));
  const name = baseName(reqString(inp, "path"));
  if (name === "" || name === "." || name === "..") throw invalidParameter(`Invalid path '${String(inp.path).slice(0, 200)}': no file name`);
  return joinArtifactPath(dir, safeArtifactPath(name));
}

function partNumberOf(raw: unknown): number {
  const n = typeof raw === "number" ? raw : typeof raw === "string" && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PART_NUMBER) {
    throw invalidParameter(`Invalid part_number ${JSON.stringify(raw)}: must be an integer between 1 and ${MAX_PART_NUMBER}`);
  }
  return n;
}

function partsOf(inp: Input): UploadedPart[] {
  const raw = inp.parts;
  if (!Array.isArray(raw) || raw.length === 0) throw invalidParameter("Missing value for required parameter 'parts'");
  return raw.map((p) => {
    if (!p || typeof p !== "object") throw invalidParameter("Each part must be an object with part_number and etag");
    const o = p as Input;
    return { partNumber: partNumberOf(o.part_number), etag: reqString(o, "etag") };
  });
}

export interface ArtifactRouteOptions {
  /** How to find run artifact roots and model version sources (also settable later with {@link provideArtifactSources}). */
  sources?: ArtifactSources;
  /** Settings for the repositories opened from URIs (S3 credentials, base folder). */
  repository?: RepositoryOptions;
  /**
   * Local folders, besides the artifacts destination and a local default
   * artifact root, where run artifacts may be read from.
   */
  allowedLocalRoots?: string[];
}

/**
 * The artifacts' part of `buildApp`: the proxy and artifact routes, finding
 * run artifact roots through tracking and model sources through the registry.
 */
export async function registerArtifacts(
  app: FastifyInstance,
  deps: DomainDeps,
  domains: { tracking: TrackingServices; registry: RegistryServices },
): Promise<void> {
  const { tracking, registry } = domains;
  await registerArtifactRoutes(app, deps.config, {
    sources: {
      runArtifactUri: async (runId) => (await tracking.runs.locate(runId)).artifactUri,
      modelVersionSource: (name, version) => registry.models.getDownloadUri(name, version),
      loggedModelArtifactUri: async (modelId) => (await registry.loggedModels.get(modelId)).info.artifact_uri,
    },
  });
}

/**
 * Registers the artifact proxy (`/api/2.0/mlflow-artifacts/...`, also under
 * `/ajax-api/`), the run artifact listing (`/api/2.0/mlflow/artifacts/list`)
 * and the UI's `/get-artifact` and `/model-versions/get-artifact`.
 */
export async function registerArtifactRoutes(app: FastifyInstance, config: ServerConfig, options: ArtifactRouteOptions = {}): Promise<void> {
  const repoOptions = options.repository ?? {};
  // Validate the destination at boot; connections are made on first use.
  let proxy: ArtifactRepository;
  try {
    proxy = artifactRepositoryFromUri(config.artifactsDestination, repoOptions);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`invalid --artifacts-destination '${config.artifactsDestination}': ${(err as Error).message}`);
  }
  const localRoots = [...(options.allowedLocalRoots ?? [])];
  if (proxy instanceof LocalArtifactRepository) localRoots.push(proxy.root);
  if (!/^mlflow-artifacts:/i.test(config.defaultArtifactRoot)) {
    try {
      const root = artifactRepositoryFromUri(config.defaultArtifactRoot, repoOptions);
      if (root instanceof LocalArtifactRepository) localRoots.push(root.root);
    } catch {
      // not a repository URI this server opens
    }
  }
  const state: ArtifactState = { config, localRoots, proxy, sources: { ...pendingSources.get(app), ...options.sources }, repoCache: new Map(), repoOptions };
  states.set(app, state);
  pendingSources.delete(app);
  app.addHook("onClose", async () => {
    for (const repo of [proxy, ...state.repoCache.values()]) (repo as { close?: () => void }).close?.();
  });

  const UPLOAD_ARTIFACT_LIMIT = 64 * 1024 * 1024;
  const guard = (req: FastifyRequest): ArtifactRepository => {
    if (!config.serveArtifacts) throw proxyDisabled(req.url);
    return proxy;
  };

  // Bodies of artifact uploads go to the repository as raw streams, whatever their type and size.
  await app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser("*", (_req, payload, done) => done(null, payload));
    for (const prefix of ARTIFACT_PREFIXES) {
      raw.put(`${prefix}artifacts/*`, async (req) => {
        const repo = guard(req);
        const path = safeArtifactPath(wildcard(req));
        if (path === "") throw invalidParameter("An artifact path naming a file is required");
        try {
          await repo.write(path, requestBody(req), { contentLength: contentLength(req) });
        } catch (err) {
          throw interrupted(err, req);
        }
        return {};
      });

      raw.put(`${prefix}mpu/upload/*`, async (req, reply) => {
        const repo = guard(req);
        const q = req.query as Input;
        const path = safeArtifactPath(wildcard(req));
        const uploadId = reqString(q, "upload_id");
        const partNumber = partNumberOf(optString(q, "part_number"));
        let part: UploadedPart;
        try {
          part = await repo.uploadPart(path, uploadId, partNumber, requestBody(req), { contentLength: contentLength(req) });
        } catch (err) {
          throw interrupted(err, req);
        }
        return reply.header("ETag", `"${part.etag}"`).send({});
      });
    }

    // The web UI's upload into a run's artifacts: the file is the raw body (MLflow's upload-artifact).
    raw.post("/ajax-api/2.0/mlflow/upload-artifact", async (req) => {
      const q = req.query as Input;
      const runId = optString(q, "run_uuid") || optString(q, "run_id");
      if (!runId) throw invalidParameter("Request must specify run_uuid.");
      const rawPath = optString(q, "path");
      if (!rawPath) throw invalidParameter("Request must specify path.");
      const rel = safeArtifactPath(rawPath);
      if (rel === "") throw invalidParameter("Invalid path");
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of requestBody(req)) {
        size += (chunk as Buffer).length;
        if (size > UPLOAD_ARTIFACT_LIMIT) throw new MlflowError("RESOURCE_LIMIT_EXCEEDED", `Uploads through upload-artifact are limited to ${UPLOAD_ARTIFACT_LIMIT} bytes`);
        chunks.push(chunk as Buffer);
      }
      if (size === 0) throw invalidParameter("Request must specify data.");
      const loc = await resolveArtifactLocation(app, await requireSources("runArtifactUri")(runId));
      await loc.repository.write(joinArtifactPath(loc.path, rel), Readable.from([Buffer.concat(chunks)]), { contentLength: size });
      return {};
    });
  });

  for (const prefix of ARTIFACT_PREFIXES) {
    app.get(`${prefix}artifacts/*`, async (req, reply) => sendArtifact(req, reply, guard(req), safeArtifactPath(wildcard(req))));

    // MLflow's "presigned" download: here the URL is the proxy itself, which the client
    // then fetches in parallel byte ranges.
    app.get(`${prefix}presigned/*`, async (req) => {
      const repo = guard(req);
      const path = safeArtifactPath(wildcard(req));
      const info = await repo.stat(path);
      if (!info) throw notFound(`No such artifact: '${path}'`);
      if (info.isDir) throw invalidParameter(`Artifact path refers to a directory, not a file: '${path}'`);
      const url = `${origin(req)}${prefix}artifacts/${path.split("/").map(encodeURIComponent).join("/")}`;
      return { url, headers: {}, file_size: info.fileSize ?? 0 };
    });

    app.get(`${prefix}artifacts`, async (req): Promise<ListProxyArtifactsResponse> => {
      const repo = guard(req);
      const path = safeArtifactPath(optString(input(req), "path"));
      const files = await repo.list(path);
      return {
        files: files.map((f) => {
          const name = f.path.slice(f.path.lastIndexOf("/") + 1);
          return f.isDir ? { path: name, is_dir: true } : { path: name, is_dir: false, file_size: f.fileSize ?? 0 };
        }),
      };
    });

    app.delete(`${prefix}artifacts/*`, async (req) => {
      const repo = guard(req);
      await repo.delete(safeArtifactPath(wildcard(req)));
      return {};
    });

    const create = async (req: FastifyRequest) => {
      const repo = guard(req);
      const inp = input(req);
      const target = mpuTarget(req, inp);
      const rawParts = inp.num_parts ?? 1;
      const numParts = typeof rawParts === "string" && /^\d+$/.test(rawParts) ? Number(rawParts) : rawParts;
      if (typeof numParts !== "number" || !Number.isInteger(numParts) || numParts < 0 || numParts > MAX_PART_NUMBER) {
        throw invalidParameter(`Invalid num_parts ${JSON.stringify(rawParts)}: must be an integer between 0 and ${MAX_PART_NUMBER}`);
      }
      const { uploadId } = await repo.createMultipartUpload(target);
      const base = `${origin(req)}${prefix}mpu/upload/${target.split("/").map(encodeURIComponent).join("/")}?upload_id=${encodeURIComponent(uploadId)}`;
      return {
        upload_id: uploadId,
        credentials: Array.from({ length: numParts }, (_, i) => ({ url: `${base}&part_number=${i + 1}`, part_number: i + 1, headers: {} })),
      };
    };
    const complete = async (req: FastifyRequest) => {
      const repo = guard(req);
      const inp = input(req);
      await repo.completeMultipartUpload(mpuTarget(req, inp), reqString(inp, "upload_id"), partsOf(inp));
      return {};
    };
    const abort = async (req: FastifyRequest) => {
      const repo = guard(req);
      const inp = input(req);
      await repo.abortMultipartUpload(mpuTarget(req, inp), reqString(inp, "upload_id"));
      return {};
    };
    for (const [verb, handler] of [["create", create], ["complete", complete], ["abort", abort]] as const) {
      app.post(`${prefix}mpu/${verb}`, handler);
      app.post(`${prefix}mpu/${verb}/*`, handler);
    }
  }

  const requireSources = <K extends keyof ArtifactSources>(key: K): NonNullable<ArtifactSources[K]> => {
    const fn = state.sources[key];
    if (!fn) throw new MlflowError("NOT_IMPLEMENTED", `Artifact lookups by ${key === "runArtifactUri" ? "run" : key === "loggedModelArtifactUri" ? "logged model" : "model version"} are not available on this server`);
    return fn as NonNullable<ArtifactSources[K]>;
  };

  const listUnder = (rootUri: string, rel: string) => listArtifactsUnder(app, rootUri, rel);

  for (const prefix of API_PREFIXES) {
    app.get(`${prefix}artifacts/list`, async (req) => {
      const inp = input(req);
      const runId = optString(inp, "run_id") || optString(inp, "run_uuid");
      if (!runId) throw invalidParameter("Missing value for required parameter 'run_id'. See the API docs for more information about request parameters.");
      const rel = safeArtifactPath(optString(inp, "path"));
      optString(inp, "page_token");
      return listUnder(await requireSources("runArtifactUri")(runId), rel);
    });

    app.get(`${prefix}logged-models/:model_id/artifacts/directories`, async (req) => {
      const modelId = (req.params as { model_id: string }).model_id;
      const rel = safeArtifactPath(optString(input(req), "artifact_directory_path"));
      return listUnder(await requireSources("loggedModelArtifactUri")(modelId), rel);
    });

    app.get(`${prefix}logged-models/:model_id/artifacts/files`, async (req, reply) => {
      const modelId = (req.params as { model_id: string }).model_id;
      const raw = optString(req.query as Input, "artifact_file_path");
      if (!raw) throw new MlflowError("BAD_REQUEST", 'Request must include the "artifact_file_path" query parameter.');
      const rel = safeArtifactPath(raw);
      const loc = await resolveArtifactLocation(app, await requireSources("loggedModelArtifactUri")(modelId));
      return sendArtifact(req, reply, loc.repository, joinArtifactPath(loc.path, rel));
    });
  }

  app.get("/get-artifact", async (req, reply) => {
    const q = req.query as Input;
    const runId = optString(q, "run_id") || optString(q, "run_uuid");
    if (!runId) throw invalidParameter("Missing value for required parameter 'run_id'");
    const rel = safeArtifactPath(reqString(q, "path"));
    const loc = await resolveArtifactLocation(app, await requireSources("runArtifactUri")(runId));
    return sendArtifact(req, reply, loc.repository, joinArtifactPath(loc.path, rel));
  });

  // MLflow's server merges duplicate slashes, and clients have been seen calling "//model-versions/…".
  for (const url of ["/model-versions/get-artifact", "//model-versions/get-artifact"]) app.get(url, async (req, reply) => {
    const q = req.query as Input;
    const name = reqString(q, "name");
    const version = reqString(q, "version");
    const rel = safeArtifactPath(reqString(q, "path"));
    const loc = await resolveArtifactLocation(app, await requireSources("modelVersionSource")(name, version));
    return sendArtifact(req, reply, loc.repository, joinArtifactPath(loc.path, rel));
  });
}
