import { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { invalidParameter, MlflowError, notFound } from "../errors.js";
import type { ResultScope } from "../paging.js";
import { safeArtifactPath } from "../artifacts/index.js";
import { allows, AuthService, PERMISSIONS, LoginThrottled, parsePermission, permissionDenied, unauthenticated, type Need, type Permission, type Principal, type ResourceKind } from "../auth/index.js";
import type { DomainDeps } from "./deps.js";
import { optStringList, type Input } from "./params.js";
import { ruleFor, type Rule, type Target } from "./auth-rules.js";
import { mlflowRoute } from "./routing.js";

export interface AuthOptions {
  /** Called once when the server created its first admin; `password` is set when it was generated. */
  onFirstAdmin?: (username: string, password: string | undefined) => void;
}

const API3_PREFIXES = ["/api/3.0/mlflow/", "/ajax-api/3.0/mlflow/"] as const;
const AUTH_HEADER = 'Basic realm="mlflow"';

/**
 * Users and permissions over HTTP. With auth off this registers nothing.
 * With it on, it must be the first registration of `buildApp`: its `onRoute`
 * check refuses (at start-up) any later route that `auth-rules.ts` has no rule
 * for; every request is authenticated in `onRequest` (basic auth or a bearer
 * token) and authorized in `preHandler` against its route's rule.
 */
export async function registerAuth(app: FastifyInstance, deps: DomainDeps, opts: AuthOptions = {}): Promise<AuthService | undefined> {
  const cfg = deps.config.auth;
  if (!cfg.enabled) return undefined;
  const auth = new AuthService(deps.db, cfg);
  const first = await auth.bootstrap();
  if (first) opts.onFirstAdmin?.(first.username, first.generatedPassword);

  app.decorate("auth", auth);
  app.decorateRequest("principal", undefined);
  app.decorateRequest("authScope", undefined);

  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) {
      if (!ruleFor(method, route.url)) throw new Error(`route ${method} ${route.url} has no authorization rule: add one to src/api/auth-rules.ts`);
    }
  });

  app.addHook("onRequest", async (req, reply) => {
    const rule = ruleOf(req);
    if (rule.who === "anyone") return;
    try {
      req.principal = await authenticate(auth, req);
    } catch (err) {
      if (err instanceof LoginThrottled) reply.header("Retry-After", String(err.retryAfterSeconds));
      else reply.header("WWW-Authenticate", AUTH_HEADER);
      throw err;
    }
  });

  app.addHook("preHandler", async (req, reply) => {
    const rule = ruleOf(req);
    const who = req.principal;
    if (rule.who === "anyone" || !who) return;
    if (rule.scope) req.authScope = await auth.readScope(who, rule.scope);
    if (who.isAdmin) return;
    if (rule.who === "admin") throw permissionDenied();
    const inp = authInput(req);
    if (rule.who === "self" && inp.username !== who.username) throw permissionDenied();
    for (const check of rule.checks ?? []) {
      if (!(await allowed(app, auth, who, req, inp, check.on, check.need))) throw permissionDenied();
    }
    if (rule.grant) {
      const kind = resourceKind(inp.resource_type);
      if (!(await auth.can(who, kind, resourceId(inp), "manage"))) throw permissionDenied();
    }
    if (rule.experimentList) {
      const { field, empty } = rule.experimentList;
      const ids = optStringList(inp, field);
      if (ids && ids.length > 0) {
        const readable: string[] = [];
        for (const id of ids) if (await auth.can(who, "experiment", id, "read")) readable.push(id);
        if (readable.length === 0) return reply.send(empty);
        const target = (req.method === "GET" ? req.query : req.body) as Input;
        target[field] = readable;
      }
    }
  });

  app.addHook("preSerialization", async (req, reply, payload) => {
    const rule = ruleOf(req);
    const who = req.principal;
    if (!rule.after || !who || reply.statusCode >= 300) return payload;
    const body = payload as Record<string, any>;
    const inp = authInput(req);
    switch (rule.after) {
      case "own-experiment":
        if (body?.experiment_id !== undefined) await auth.grantCreator(who, "experiment", String(body.experiment_id));
        break;
      case "own-registered-model":
        if (typeof body?.registered_model?.name === "string") await auth.grantCreator(who, "registered_model", body.registered_model.name);
        break;
      case "rename-registered-model":
        if (typeof inp.name === "string" && typeof inp.new_name === "string") await auth.store.renameResource("registered_model", inp.name, inp.new_name);
        break;
      case "drop-registered-model":
        if (typeof inp.name === "string") await auth.store.deleteResource("registered_model", inp.name);
        break;
    }
    return payload;
  });

  registerAuthRoutes(app, auth);
  return auth;
}

export interface RuleOfRoute {
  method: string;
  url: string;
  rule: Rule;
}

/** Every route of the app with the rule it gets when auth is on. */
export function authorizedRoutes(app: FastifyInstance): RuleOfRoute[] {
  return app.routeTable.map((r) => ({ ...r, rule: ruleFor(r.method, r.url)! }));
}

/** Unknown paths (the not-found handler) still need a signed-in caller, so they reveal nothing to strangers. */
const NOT_FOUND_RULE: Rule = { who: "user" };

function ruleOf(req: FastifyRequest): Rule {
  const url = req.routeOptions.url;
  return (url && ruleFor(req.method, url)) || NOT_FOUND_RULE;
}

async function authenticate(auth: AuthService, req: FastifyRequest): Promise<Principal> {
  const header = req.headers.authorization;
  if (!header) throw unauthenticated();
  const space = header.indexOf(" ");
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (space > 0 && scheme === "bearer" && value) return auth.authenticateToken(value, req.ip);
  if (space > 0 && scheme === "basic") {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon > 0) return auth.authenticatePassword(decoded.slice(0, colon), decoded.slice(colon + 1), req.ip);
  }
  throw unauthenticated();
}

/** The request's fields the way MLflow reads them for authorization: query string, and the JSON body over it. */
function authInput(req: FastifyRequest): Input {
  const query = (req.query && typeof req.query === "object" ? req.query : {}) as Input;
  const body = req.body;
  if (body && typeof body === "object" && !Array.isArray(body) && !(body instanceof Readable) && !Buffer.isBuffer(body)) return { ...query, ...(body as Input) };
  return query;
}

function field(inp: Input, name: string): string {
  const raw = inp[name];
  const v = Array.isArray(raw) && raw.length === 1 ? raw[0] : raw;
  if (typeof v === "number") return String(v);
  if (typeof v !== "string" || v === "") {
    throw invalidParameter(`Missing value for required parameter '${name}'. See the API docs for more information about request parameters.`);
  }
  return v;
}

function runIdField(inp: Input): string {
  return inp.run_id !== undefined && inp.run_id !== "" ? field(inp, "run_id") : field(inp, "run_uuid");
}

function resourceKind(raw: unknown): ResourceKind {
  if (raw === "experiment" || raw === "registered_model") return raw;
  throw invalidParameter(`Invalid resource_type '${String(raw)}': this server grants permissions on 'experiment' and 'registered_model'.`);
}

function resourceId(inp: Input): string {
  return field(inp, "resource_id");
}

/** A trace id from the path (`:trace_id`, `:request_id`) or the request's fields. */
function traceIdOf(req: FastifyRequest, inp: Input): string {
  const params = (req.params ?? {}) as Record<string, string>;
  const fromPath = params.trace_id ?? params.request_id;
  if (fromPath) return fromPath;
  return inp.trace_id !== undefined && inp.trace_id !== "" ? field(inp, "trace_id") : field(inp, "request_id");
}

async function traceExperiment(app: FastifyInstance, traceId: string): Promise<string> {
  return (await app.tracking.traces.getInfo(traceId)).experimentId;
}

async function runExperiment(app: FastifyInstance, runId: string): Promise<string> {
  return (await app.tracking.runs.locate(runId)).experimentId;
}

async function loggedModelExperiment(app: FastifyInstance, modelId: string): Promise<string> {
  return (await app.registry.loggedModels.get(modelId, true)).info.experiment_id;
}

/** The experiment an artifact proxy path belongs to (its first segment), if that experiment exists. */
async function artifactExperiment(app: FastifyInstance, req: FastifyRequest, inp: Input): Promise<string | undefined> {
  const wildcard = (req.params as Record<string, string> | undefined)?.["*"];
  const raw = wildcard || (typeof inp.path === "string" ? inp.path : "");
  const first = safeArtifactPath(raw).split("/")[0] ?? "";
  if (!/^\d+$/.test(first)) return undefined;
  try {
    return (await app.tracking.experiments.get(first)).experiment_id;
  } catch (err) {
    if (err instanceof MlflowError && err.errorCode === "RESOURCE_DOES_NOT_EXIST") return undefined;
    throw err;
  }
}

/** Whether the caller may do `need` to the object `target` names in the request. */
async function allowed(app: FastifyInstance, auth: AuthService, who: Principal, req: FastifyRequest, inp: Input, target: Target, need: Need): Promise<boolean> {
  const experiment = (id: string) => auth.can(who, "experiment", id, need);
  switch (target) {
    case "experiment":
      return experiment(field(inp, "experiment_id"));
    case "run-experiment":
      return experiment(inp.experiment_id === undefined || inp.experiment_id === "" ? "0" : field(inp, "experiment_id"));
    case "experiment-name":
      return experiment((await app.tracking.experiments.getByName(field(inp, "experiment_name"))).experiment_id);
    case "run":
      return experiment(await runExperiment(app, runIdField(inp)));
    case "logged-model":
      return experiment(await loggedModelExperiment(app, (req.params as Record<string, string>).model_id ?? ""));
    case "registered-model":
      return auth.can(who, "registered_model", field(inp, "name"), need);
    case "artifact": {
      const owner = await artifactExperiment(app, req, inp);
      // A path no experiment owns: readable as the default permission allows; written only by admins.
      if (owner === undefined) return need === "read" && allows(auth.settings.defaultPermission, "read");
      return experiment(owner);
    }
    case "version-source":
      return versionSourceReadable(app, auth, who, inp);
    case "trace":
      return experiment(await traceExperiment(app, traceIdOf(req, inp)));
    case "trace-start": {
      const loc = (inp.trace as { trace_info?: { trace_location?: { mlflow_experiment?: { experiment_id?: unknown } } } } | undefined)?.trace_info?.trace_location?.mlflow_experiment?.experiment_id;
      return experiment(typeof loc === "string" && loc !== "" ? loc : field(inp, "experiment_id"));
    }
    case "trace-locations": {
      const locations = Array.isArray(inp.locations) ? inp.locations : [];
      for (const l of locations) {
        const id = (l as { mlflow_experiment?: { experiment_id?: unknown } } | null)?.mlflow_experiment?.experiment_id;
        if (typeof id === "string" && !(await experiment(id))) return false;
      }
      return true;
    }
    case "otlp": {
      const header = req.headers["x-mlflow-experiment-id"];
      return experiment(typeof header === "string" && header !== "" ? header : "0");
    }
    default: {
      if (target.startsWith("experiments:")) {
        for (const id of optStringList(inp, target.slice("experiments:".length)) ?? []) if (!(await experiment(id))) return false;
        return true;
      }
      if (target.startsWith("traces:")) {
        for (const id of optStringList(inp, target.slice("traces:".length)) ?? []) if (!(await experiment(await traceExperiment(app, id)))) return false;
        return true;
      }
      // `runs:FIELD`: every run listed.
      const ids = optStringList(inp, target.slice("runs:".length)) ?? [];
      for (const id of ids) if (!(await experiment(await runExperiment(app, id)))) return false;
      return true;
    }
  }
}

/**
 * A model version made from a run, a logged model or an artifact path serves
 * that object's files (model-versions/get-artifact, get-download-uri): the
 * caller must be able to read it, or registering would be a way around its permissions.
 */
async function versionSourceReadable(app: FastifyInstance, auth: AuthService, who: Principal, inp: Input): Promise<boolean> {
  const canRead = (id: string) => auth.can(who, "experiment", id, "read");
  if (typeof inp.run_id === "string" && inp.run_id && !(await canRead(await runExperiment(app, inp.run_id)))) return false;
  if (typeof inp.model_id === "string" && inp.model_id && !(await canRead(await loggedModelExperiment(app, inp.model_id)))) return false;
  const source = typeof inp.source === "string" ? inp.source : "";
  let m: RegExpMatchArray | null;
  if ((m = source.match(/^runs:\/+([^/]+)/))) return canRead(await runExperiment(app, m[1]!));
  if ((m = source.match(/^models:\/+(m-[^/]+)/))) return canRead(await loggedModelExperiment(app, m[1]!));
  if ((m = source.match(/^models:\/+([^/]+)/))) return auth.can(who, "registered_model", decoded(m[1]!), "read");
  if ((m = source.match(/^mlflow-artifacts:(?:\/\/[^/]*)?\/+([^/]+)/) ?? source.match(/\/mlflow-artifacts\/artifacts\/+([^/?#]+)/))) {
    if (/^\d+$/.test(m[1]!)) return canRead(m[1]!);
  }
  return true;
}

function decoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw invalidParameter(`Invalid model URI segment '${s.slice(0, 100)}'`);
  }
}

// ---- routes -----------------------------------------------------------------

function body(req: FastifyRequest): Input {
  return authInput(req);
}

async function userOf(auth: AuthService, inp: Input) {
  return auth.user(inp.username);
}

function registerAuthRoutes(app: FastifyInstance, auth: AuthService): void {
  const who = (req: FastifyRequest): Principal => {
    if (!req.principal) throw unauthenticated();
    return req.principal;
  };

  mlflowRoute(app, "POST", "users/create", async (req) => {
    const inp = body(req);
    return { user: await auth.createUser(inp.username, inp.password) };
  });
  mlflowRoute(app, "GET", "users/get", async (req) => ({ user: await auth.userJson(await userOf(auth, body(req))) }));
  mlflowRoute(app, "GET", "users/current", async (req) => ({ user: await auth.userJson(await auth.user(who(req).username)) }));
  mlflowRoute(app, "GET", "users/list", async () => ({ users: await auth.listUsers() }));
  mlflowRoute(app, "PATCH", "users/update-password", async (req) => {
    const inp = body(req);
    await auth.updatePassword(who(req), inp.username, inp.password, inp.current_password, req.ip);
    return {};
  });
  mlflowRoute(app, "PATCH", "users/update-admin", async (req) => {
    const inp = body(req);
    await auth.updateAdmin(inp.username, inp.is_admin);
    return {};
  });
  mlflowRoute(app, "DELETE", "users/delete", async (req) => {
    await auth.deleteUser(body(req).username);
    return {};
  });

  mlflowRoute(app, "POST", "users/tokens/create", async (req) => {
    const inp = body(req);
    const { token, info } = await auth.createToken(who(req), inp.name, inp.expires_in_seconds);
    return { token, token_info: info };
  });
  mlflowRoute(app, "GET", "users/tokens/list", async (req) => ({ tokens: await auth.listTokens(who(req)) }));
  const revoke = async (req: FastifyRequest) => {
    await auth.revokeToken(who(req), body(req).token_id);
    return {};
  };
  mlflowRoute(app, "POST", "users/tokens/revoke", revoke);
  mlflowRoute(app, "DELETE", "users/tokens/revoke", revoke);

  registerPermissionRoutes(app, auth, "experiment", "experiments/permissions", "experiment_id", "experiment_permission", async (id) => {
    await app.tracking.experiments.get(id);
  });
  registerPermissionRoutes(app, auth, "registered_model", "registered-models/permissions", "name", "registered_model_permission", async (name) => {
    await app.registry.models.getRegisteredModel(name);
  });

  // MLflow 3's per-user permission API.
  const exists = async (kind: ResourceKind, id: string) => {
    if (kind === "experiment") await app.tracking.experiments.get(id);
    else await app.registry.models.getRegisteredModel(id);
  };
  mlflowRoute(
    app,
    "POST",
    "users/permissions/grant",
    async (req) => {
      const inp = body(req);
      const kind = resourceKind(inp.resource_type);
      const user = await userOf(auth, inp);
      const permission = parsePermission(inp.permission);
      await exists(kind, resourceId(inp));
      await auth.store.upsertPermission(kind, resourceId(inp), user.id, permission);
      return {};
    },
    API3_PREFIXES,
  );
  mlflowRoute(
    app,
    "POST",
    "users/permissions/revoke",
    async (req) => {
      const inp = body(req);
      const kind = resourceKind(inp.resource_type);
      const user = await userOf(auth, inp);
      await auth.store.deletePermission(kind, resourceId(inp), user.id);
      return {};
    },
    API3_PREFIXES,
  );
  mlflowRoute(
    app,
    "GET",
    "users/permissions/get",
    async (req) => {
      const inp = body(req);
      const kind = resourceKind(inp.resource_type);
      const user = await userOf(auth, inp);
      const permission: Permission = user.is_admin ? "MANAGE" : await auth.permissionOf({ id: user.id, username: user.username, isAdmin: false }, kind, resourceId(inp));
      // MLflow 3: `allowed` is the USE tier (more than reading).
      return { allowed: PERMISSIONS.indexOf(permission) >= PERMISSIONS.indexOf("USE"), permission };
    },
    API3_PREFIXES,
  );
}

/** MLflow 2's create/get/update/delete of one user's permission on one experiment or registered model. */
function registerPermissionRoutes(
  app: FastifyInstance,
  auth: AuthService,
  kind: ResourceKind,
  path: string,
  key: string,
  reply: string,
  exists: (id: string) => Promise<void>,
): void {
  const shape = (id: string, userId: number, permission: Permission) => ({ [reply]: { [key]: id, user_id: userId, permission } });
  mlflowRoute(app, "POST", `${path}/create`, async (req) => {
    const inp = body(req);
    const id = field(inp, key);
    const user = await userOf(auth, inp);
    const permission = parsePermission(inp.permission);
    await exists(id);
    await auth.store.createPermission(kind, id, user.id, permission);
    return shape(id, user.id, permission);
  });
  mlflowRoute(app, "GET", `${path}/get`, async (req) => {
    const inp = body(req);
    const id = field(inp, key);
    const user = await userOf(auth, inp);
    const permission = await auth.store.getPermission(kind, id, user.id);
    if (!permission) throw notFound(`${kind === "experiment" ? "Experiment" : "Registered model"} permission with ${key}=${id} and username=${user.username} not found`);
    return shape(id, user.id, permission);
  });
  mlflowRoute(app, "PATCH", `${path}/update`, async (req) => {
    const inp = body(req);
    const id = field(inp, key);
    const user = await userOf(auth, inp);
    if (!(await auth.store.updatePermission(kind, id, user.id, parsePermission(inp.permission)))) {
      throw notFound(`${kind === "experiment" ? "Experiment" : "Registered model"} permission with ${key}=${id} and username=${user.username} not found`);
    }
    return {};
  });
  mlflowRoute(app, "DELETE", `${path}/delete`, async (req) => {
    const inp = body(req);
    const id = field(inp, key);
    const user = await userOf(auth, inp);
    if (!(await auth.store.deletePermission(kind, id, user.id))) {
      throw notFound(`${kind === "experiment" ? "Experiment" : "Registered model"} permission with ${key}=${id} and username=${user.username} not found`);
    }
    return {};
  });
}

declare module "fastify" {
  interface FastifyInstance {
    /** Users and permissions, when the server runs with --auth. */
    auth?: AuthService;
  }
  interface FastifyRequest {
    /** The signed-in caller (auth on). */
    principal?: Principal;
    /** What a search may return to the caller (auth on; undefined: everything). */
    authScope?: ResultScope;
  }
}

