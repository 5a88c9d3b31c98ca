import Fastify, { type FastifyReply, type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { ServerConfig } from "../config.js";
import { openDatabase, type SqlDriver } from "../store/index.js";
import { registerArtifacts } from "./artifacts.js";
import { mlflowErrorHandler } from "./error-handler.js";
import { registerAuth } from "./auth.js";
import { registerGraphql } from "./graphql.js";
import type { DomainDeps } from "./deps.js";
import { registerRegistry } from "./registry.js";
import { registerTracking } from "./tracking.js";
import { registerTraces } from "./traces.js";
import { registerMonitoring } from "./monitoring.js";
import { registerRetraining } from "./retraining.js";
import { MlflowError } from "../errors.js";
import { isApiPath } from "./routing.js";
import { rememberRawBody } from "./params.js";
import { MLFLOW_COMPAT_VERSION, VERSION } from "../version.js";
import { registerWebUi } from "./web.js";

export interface AppOptions {
  /** An already open database; otherwise the config's backend store URI is opened. */
  db?: SqlDriver;
  logger?: boolean;
  /** Told the first admin's name (and generated password) when auth is on and the server had no users; default: printed to stderr. */
  onFirstAdmin?: (username: string, password: string | undefined) => void;
}

function printFirstAdmin(username: string, password: string | undefined): void {
  process.stderr.write(
    password
      ? `mloop: created admin user '${username}' with generated password ${password}\nmloop: it is shown only this once; change it with PATCH /api/2.0/mlflow/users/update-password\n`
      : `mloop: created admin user '${username}' with the password from MLOOP_AUTH_ADMIN_PASSWORD\n`,
  );
}

const NO_SCHEMA_COMPILERS = {
  buildValidator: () => () => () => true,
  buildSerializer: () => () => (data: unknown) => JSON.stringify(data),
} as unknown as NonNullable<NonNullable<FastifyServerOptions["schemaController"]>["compilersFactory"]>;

const UPLOAD_ARTIFACT = /^\/ajax-api\/2\.0\/mlflow\/upload-artifact(\?|$)/;

/** True when a browser sent the request from another site (its Origin or Sec-Fetch-Site says so). */
function crossSite(headers: Record<string, string | string[] | undefined>): boolean {
  const site = headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") return true;
  const origin = headers.origin;
  if (origin === undefined) return false;
  try {
    return typeof origin !== "string" || new URL(origin).host !== headers.host;
  } catch {
    return true;
  }
}

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
    trustProxy: config.trustProxy,
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
  // Fastify's own JSON parser (prototype-poisoning checks, empty-body errors), keeping the text of
  // each body so MLflow's messages can echo a number written `9.0` as MLflow does (params.ts).
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (req, body, done) => {
    parseJson(req, body as string, (err: Error | null, parsed?: unknown) => {
      if (!err) rememberRawBody(parsed, body as string);
      done(err, parsed);
    });
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
    // The UI's upload-artifact sends the file as a raw body of any type. A browser names the page's
    // origin on every cross-origin POST, so the body type is free only for requests no other site sent.
    if (req.method === "POST" && UPLOAD_ARTIFACT.test(req.url) && !crossSite(req.headers)) return;
    const type = req.headers["content-type"] ?? "";
    // PUT never passes as a simple cross-site request, and the mlflow client uploads text artifacts as text/plain.
    if (req.method !== "PUT" && FORM_TYPES.test(type)) {
      throw new MlflowError("BAD_REQUEST", `Content-Type '${type}' is not accepted: send application/json`);
    }
    if ((req.method === "POST" || req.method === "PATCH") && !req.url.includes("/mlflow-artifacts/") && !/^application\/json/i.test(type)) {
      throw new MlflowError("BAD_REQUEST", "Requests that change state must have Content-Type: application/json");
    }
  });

  app.setErrorHandler(mlflowErrorHandler());

  app.setNotFoundHandler((req, reply) => {
    return reply.status(404).send({ error_code: "ENDPOINT_NOT_FOUND", message: `No API endpoint ${req.method} ${req.url.split("?")[0]}` });
  });

  // Auth first: its onRoute check must see every route registered after it.
  const deps: DomainDeps = { config, db };
  await registerAuth(app, deps, { onFirstAdmin: opts.onFirstAdmin ?? printFirstAdmin });

  // `/version` answers like MLflow's server (clients gate features on it); mloop's own version
  // travels in a header.
  app.get("/health", async (_req, reply) => reply.header("x-mloop-version", VERSION).type("text/plain").send("OK"));
  app.get("/version", async (_req, reply) => reply.header("x-mloop-version", VERSION).type("text/plain").send(MLFLOW_COMPAT_VERSION));
  // MLflow 3 clients read this before large artifact transfers to learn whether the
  // proxy takes multipart uploads and ranged (parallel) downloads.
  const serverInfo = async () => ({
    store_type: "SqlStore",
    workspaces_enabled: false,
    trace_archival_enabled: false,
    // The client sends presigned part URLs without credentials, so with auth on it transfers through the proxy routes, which check them.
    multipart_uploads_enabled: config.serveArtifacts && !config.auth.enabled,
    multipart_downloads_enabled: config.serveArtifacts && !config.auth.enabled,
    presigned_upload_run_id_supported: false,
    presigned_upload_model_id_supported: false,
    features_enabled: { gateway: false },
  });
  app.get("/api/3.0/mlflow/server-info", serverInfo);
  app.get("/ajax-api/3.0/mlflow/server-info", serverInfo);

  // One call per domain, in dependency order; each returns the services later ones use.
  const tracking = await registerTracking(app, deps);
  const registry = registerRegistry(app, deps, { tracking });
  await registerArtifacts(app, deps, { tracking, registry });
  registerTraces(app, deps, { tracking });
  registerMonitoring(app, deps, { registry });
  registerRetraining(app, deps);
  registerGraphql(app, deps, { tracking, registry });
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
