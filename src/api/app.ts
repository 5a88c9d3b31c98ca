import Fastify, { type FastifyError, type FastifyReply, type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { ServerConfig } from "../config.js";
import { openDatabase, type SqlDriver } from "../store/index.js";
import { registerArtifacts } from "./artifacts.js";
import type { DomainDeps } from "./deps.js";
import { registerRegistry } from "./registry.js";
import { registerTracking } from "./tracking.js";
import { MlflowError } from "../errors.js";
import { isApiPath } from "./routing.js";
import { VERSION } from "../version.js";
import { registerWebUi } from "./web.js";

export interface AppOptions {
  /** An already open database; otherwise the config's backend store URI is opened. */
  db?: SqlDriver;
  logger?: boolean;
}

const NO_SCHEMA_COMPILERS = {
  buildValidator: () => () => () => true,
  buildSerializer: () => () => (data: unknown) => JSON.stringify(data),
} as unknown as NonNullable<NonNullable<FastifyServerOptions["schemaController"]>["compilersFactory"]>;

const FORM_TYPES = /^(application\/x-www-form-urlencoded|multipart\/form-data|text\/plain)/i;

/**
 * Builds the server without listening: `mloop server` calls `listen`, tests
 * call `inject`. Closing the app closes the database it opened.
 */
export async function buildApp(config: ServerConfig, opts: AppOptions = {}): Promise<FastifyInstance> {
  const db = opts.db ?? (await openDatabase(config.backendStoreUri));
  const app = Fastify({
    logger: opts.logger === false ? false : { level: config.logLevel },
    bodyLimit: 64 * 1024 * 1024,
    routerOptions: { maxParamLength: 2000 },
    forceCloseConnections: true,
    // Requests are validated by hand with MLflow's messages (src/api/params.ts), and no route
    // declares a JSON schema; skipping Ajv's compilers saves ~0.1 s of start-up.
    schemaController: { compilersFactory: NO_SCHEMA_COMPILERS },
    // Errors Fastify raises before routing (a malformed URL, a bad content type) get MLflow's shape too.
    frameworkErrors: (err, _req, reply: FastifyReply) => {
      const status = typeof err.statusCode === "number" && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
      void reply.status(status).send({ error_code: "BAD_REQUEST", message: err.message });
    },
    // And so do requests Node's HTTP parser refuses (URI too long, headers too large, bad framing).
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (!socket.writable) return;
      const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : err.code === "HPE_URI_TOO_LONG" ? 414 : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
      const reason = status === 431 ? "Request Header Fields Too Large" : status === 414 ? "URI Too Long" : status === 408 ? "Request Timeout" : "Bad Request";
      const body = JSON.stringify({ error_code: status === 400 ? "BAD_REQUEST" : "RESOURCE_LIMIT_EXCEEDED", message: `${reason}: the request could not be parsed` });
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    },
  });
  // Every route any domain registers, for the checks that must cover all of them (hostile-input tests, auth).
  const routeTable: RouteEntry[] = [];
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) routeTable.push({ method, url: route.url });
  });
  app.decorate("routeTable", routeTable);
  app.decorate("config", config);
  app.decorate("db", db);
  if (!opts.db) app.addHook("onClose", async () => db.close());

  // Cross-site requests cannot change state: a browser form can only send the
  // three "simple" content types, so writes must carry JSON (or, for artifact
  // bodies, a non-simple type that forces a CORS preflight).
  app.addHook("onRequest", async (req) => {
    if (req.method === "GET" || req.method === "HEAD" || req.method === "OPTIONS") return;
    if (!isApiPath(req.url)) return;
    const type = req.headers["content-type"] ?? "";
    // PUT never passes as a simple cross-site request, and the mlflow client uploads text artifacts as text/plain.
    if (req.method !== "PUT" && FORM_TYPES.test(type)) {
      throw new MlflowError("BAD_REQUEST", `Content-Type '${type}' is not accepted: send application/json`);
    }
    if ((req.method === "POST" || req.method === "PATCH") && !req.url.includes("/mlflow-artifacts/") && !/^application\/json/i.test(type)) {
      throw new MlflowError("BAD_REQUEST", "Requests that change state must have Content-Type: application/json");
    }
  });

  app.setErrorHandler((err: FastifyError | MlflowError, req, reply) => {
    if (err instanceof MlflowError) {
      if (err.status >= 500) req.log.error(err);
      return reply.status(err.status).send(err.toJSON());
    }
    const status = typeof err.statusCode === "number" ? err.statusCode : 500;
    if (status >= 400 && status < 500) {
      const code = status === 404 ? "ENDPOINT_NOT_FOUND" : status === 413 ? "RESOURCE_LIMIT_EXCEEDED" : "BAD_REQUEST";
      return reply.status(status).send({ error_code: code, message: err.message });
    }
    req.log.error(err);
    return reply.status(500).send({ error_code: "INTERNAL_ERROR", message: "Internal server error; see the server log for details." });
  });

  app.setNotFoundHandler((req, reply) => {
    return reply.status(404).send({ error_code: "ENDPOINT_NOT_FOUND", message: `No API endpoint ${req.method} ${req.url.split("?")[0]}` });
  });

  app.get("/health", async (_req, reply) => reply.type("text/plain").send("OK"));
  app.get("/version", async (_req, reply) => reply.type("text/plain").send(VERSION));
  // MLflow 3 clients read this before large artifact transfers to learn whether the
  // proxy takes multipart uploads and ranged (parallel) downloads.
  const serverInfo = async () => ({
    store_type: "SqlStore",
    workspaces_enabled: false,
    trace_archival_enabled: false,
    multipart_uploads_enabled: config.serveArtifacts,
    multipart_downloads_enabled: config.serveArtifacts,
    presigned_upload_run_id_supported: false,
    presigned_upload_model_id_supported: false,
    features_enabled: { gateway: false },
  });
  app.get("/api/3.0/mlflow/server-info", serverInfo);
  app.get("/ajax-api/3.0/mlflow/server-info", serverInfo);

  // One call per domain, in dependency order; each returns the services later ones use.
  const deps: DomainDeps = { config, db };
  const tracking = await registerTracking(app, deps);
  const registry = registerRegistry(app, deps);
  await registerArtifacts(app, deps, { tracking, registry });
  registerWebUi(app, deps);

  return app;
}

/** A registered route: its method and URL pattern (`/api/2.0/mlflow/runs/get`, `/…/:name`). */
export interface RouteEntry {
  method: string;
  url: string;
}

declare module "fastify" {
  interface FastifyInstance {
    routeTable: readonly RouteEntry[];
    config: ServerConfig;
    db: SqlDriver;
  }
}
