/**
 * Monitoring's HTTP side. On the tracking server (`registerMonitoring`):
 * a model version's reference profile (computed from rows sent, or a profile
 * computed elsewhere; stored once as the artifact
 * `monitoring/reference-profile.json` beside the model's files), and drift
 * reports on data sent, against such a profile or against reference rows.
 * A running monitor (`mloop monitor start`) serves `buildMonitorApp`:
 * `/health`, `/status`, `/metrics`, and each window's report.
 */
import { Readable } from "node:stream";
import Fastify, { type FastifyError, type FastifyInstance } from "fastify";
import { MlflowError, invalidParameter, notFound } from "../errors.js";
import type { RegistryServices } from "../registry/index.js";
import {
  batchReport,
  buildProfile,
  driftReport,
  parseProfile,
  profileLike,
  renderHtml,
  serializeProfile,
  tableFromJson,
  windowReport,
  DRIFT_METHODS,
  type ColumnKind,
  type DriftMethod,
  type DriftOptions,
  type Monitor,
  type MonitorMetrics,
  type Profile,
} from "../monitoring/index.js";
import { joinArtifactPath } from "../artifacts/index.js";
import { resolveArtifactLocation } from "./artifacts.js";
import type { DomainDeps } from "./deps.js";
import { input, optNumber, optString, reqString, type Input } from "./params.js";
import { mlflowRoute } from "./routing.js";

/** mloop's own endpoints live beside MLflow's, under `/api/2.0/mloop/`. */
export const MLOOP_PREFIXES = ["/api/2.0/mloop/", "/ajax-api/2.0/mloop/"] as const;

export const PROFILE_ARTIFACT = "monitoring/reference-profile.json";

function kindsOf(inp: Input): Record<string, ColumnKind> | undefined {
  const raw = inp.column_kinds;
  if (raw === undefined) return undefined;
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw invalidParameter("'column_kinds' must be an object {column: 'numerical' | 'categorical'}");
  for (const [k, v] of Object.entries(raw)) if (v !== "numerical" && v !== "categorical") throw invalidParameter(`column_kinds.${k} must be 'numerical' or 'categorical'`);
  return raw as Record<string, ColumnKind>;
}

function methodOf(v: unknown, name: string): DriftMethod {
  if (typeof v !== "string" || !(DRIFT_METHODS as readonly string[]).includes(v)) throw invalidParameter(`'${name}' must be one of ${DRIFT_METHODS.join(", ")}`);
  return v as DriftMethod;
}

/** The drift options a request names: `method`, `per_column_method`, `threshold`, `per_column_threshold`, `drift_share`. */
export function driftOptionsOf(inp: Input): DriftOptions {
  const opts: DriftOptions = {};
  if (inp.method !== undefined) opts.method = methodOf(inp.method, "method");
  if (inp.per_column_method !== undefined) {
    if (!inp.per_column_method || typeof inp.per_column_method !== "object") throw invalidParameter("'per_column_method' must be an object {column: method}");
    opts.perColumnMethod = Object.fromEntries(Object.entries(inp.per_column_method).map(([k, v]) => [k, methodOf(v, `per_column_method.${k}`)]));
  }
  const threshold = optNumber(inp, "threshold");
  if (threshold !== undefined) opts.threshold = threshold;
  if (inp.per_column_threshold !== undefined) {
    if (!inp.per_column_threshold || typeof inp.per_column_threshold !== "object") throw invalidParameter("'per_column_threshold' must be an object {column: number}");
    opts.perColumnThreshold = Object.fromEntries(
      Object.entries(inp.per_column_threshold).map(([k, v]) => {
        if (typeof v !== "number" || !Number.isFinite(v)) throw invalidParameter(`per_column_threshold.${k} must be a number`);
        return [k, v];
      }),
    );
  }
  const share = optNumber(inp, "drift_share");
  if (share !== undefined) opts.driftShare = share;
  return opts;
}

function profileSummary(p: Profile) {
  return {
    rows: p.rows,
    created_at: p.createdAt,
    source: p.source ?? null,
    columns: [...p.columns].map(([name, c]) => ({ name, kind: c.kind, count: c.count, missing: c.missing, distinct: c.kind === "numerical" ? c.dist.values.length : c.categories.size, approximate: c.kind === "numerical" ? (c.approximate ?? false) : false })),
  };
}

/** The tracking server's monitoring routes; profiles are stored through the artifact layer beside the model version's files. */
export function registerMonitoring(app: FastifyInstance, _deps: DomainDeps, domains: { registry: RegistryServices }): void {
  const { registry } = domains;
  const route = (method: "GET" | "POST", path: string, handler: Parameters<typeof mlflowRoute>[3]) => mlflowRoute(app, method, path, handler, MLOOP_PREFIXES);

  const location = async (name: string, version: string) => {
    await registry.models.getModelVersion(name, version);
    const uri = await registry.models.getDownloadUri(name, version);
    return resolveArtifactLocation(app, uri);
  };

  const readStored = async (name: string, version: string): Promise<Profile> => {
    const loc = await location(name, version);
    const file = joinArtifactPath(loc.path, PROFILE_ARTIFACT);
    if (!(await loc.repository.stat(file))) throw notFound(`Model version ${name}/${version} has no reference profile: create one with POST /api/2.0/mloop/monitoring/profiles/create or 'mloop monitor profile'`);
    const chunks: Buffer[] = [];
    for await (const c of await loc.repository.openRead(file)) chunks.push(c as Buffer);
    return parseProfile(Buffer.concat(chunks).toString("utf8"));
  };

  route("POST", "monitoring/profiles/create", async (req) => {
    const inp = input(req);
    const name = reqString(inp, "name");
    const version = reqString(inp, "version");
    let profile: Profile;
    if (inp.profile !== undefined) {
      profile = parseProfile(typeof inp.profile === "string" ? inp.profile : JSON.stringify(inp.profile));
    } else if (inp.data !== undefined) {
      const kinds = kindsOf(inp);
      profile = buildProfile(tableFromJson(inp.data), kinds ? { kinds } : {});
    } else throw invalidParameter("Send the reference as 'data' ({columns, data} or records) or a computed 'profile'");
    const source = optString(inp, "source");
    if (source) profile.source = source;
    if (profile.columns.size === 0) throw invalidParameter("The reference has no columns");
    const loc = await location(name, version);
    await loc.repository.write(joinArtifactPath(loc.path, PROFILE_ARTIFACT), Readable.from([Buffer.from(serializeProfile(profile))]));
    return { profile: profileSummary(profile), artifact_path: PROFILE_ARTIFACT };
  });

  route("GET", "monitoring/profiles/get", async (req) => {
    const inp = input(req);
    const profile = await readStored(reqString(inp, "name"), reqString(inp, "version"));
    return { profile: JSON.parse(serializeProfile(profile)) as unknown, summary: profileSummary(profile) };
  });

  // A drift report of rows sent against a model version's stored reference profile.
  route("POST", "monitoring/model-versions/drift-report", async (req, reply) => {
    const inp = input(req);
    const reference = await readStored(reqString(inp, "name"), reqString(inp, "version"));
    if (inp.current === undefined) throw invalidParameter("Send the current data as 'current' ({columns, data} or records)");
    const current = profileLike(tableFromJson(inp.current), reference);
    const doc = batchReport(driftReport(reference, current, driftOptionsOf(inp)), { reference: `models:/${inp.name}/${inp.version}` });
    return inp.format === "html" ? reply.type("text/html; charset=utf-8").send(renderHtml(doc)) : doc;
  });

  // A drift report of two data sets sent in one request.
  route("POST", "monitoring/reports/create", async (req, reply) => {
    const inp = input(req);
    if (inp.reference === undefined || inp.current === undefined) throw invalidParameter("Send 'reference' and 'current' ({columns, data} or records)");
    const kinds = kindsOf(inp);
    const reference = buildProfile(tableFromJson(inp.reference), kinds ? { kinds } : {});
    const current = profileLike(tableFromJson(inp.current), reference);
    const doc = batchReport(driftReport(reference, current, driftOptionsOf(inp)));
    return inp.format === "html" ? reply.type("text/html; charset=utf-8").send(renderHtml(doc)) : doc;
  });
}

export interface MonitorAppDeps {
  monitor: Monitor;
  metrics: MonitorMetrics;
  model: string;
  startedAt: number;
}

/** The HTTP app of a running monitor: health, status, Prometheus metrics, window reports. */
export function buildMonitorApp(deps: MonitorAppDeps): FastifyInstance {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  app.setErrorHandler((err: FastifyError | MlflowError, _req, reply) => {
    if (err instanceof MlflowError) return reply.status(err.status).send(err.toJSON());
    const status = typeof err.statusCode === "number" && err.statusCode < 500 ? err.statusCode : 500;
    return reply.status(status).send({ error_code: status === 404 ? "ENDPOINT_NOT_FOUND" : status < 500 ? "BAD_REQUEST" : "INTERNAL_ERROR", message: status < 500 ? err.message : "Internal error" });
  });
  app.get("/health", async (_req, reply) => reply.type("text/plain").send("OK"));
  app.get("/status", async () => {
    const { monitor } = deps;
    const last = monitor.history[monitor.history.length - 1];
    return {
      model: deps.model,
      started_at: deps.startedAt,
      windows: monitor.windowsDone,
      firing_alerts: [...monitor.alerts.firing],
      last_window: last ? { seq: last.seq, start_ms: last.start_ms, end_ms: last.end_ms, rows: last.rows, values: last.values, issues: last.issues } : null,
      recent: monitor.history.slice(-20).map((w) => ({ seq: w.seq, rows: w.rows, drift_share: w.drift.share_of_drifted_columns, dataset_drift: w.drift.dataset_drift, accuracy: w.performance.metrics.accuracy ?? null })),
    };
  });
  app.get("/metrics", async (_req, reply) => reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()));
  app.get("/windows/:seq/report", async (req, reply) => {
    const seq = Number((req.params as { seq: string }).seq);
    const w = deps.monitor.history.find((h) => h.seq === seq);
    if (!w) throw notFound(`Window ${seq} is not among the last ${deps.monitor.history.length} windows`);
    const doc = windowReport(w, deps.model);
    return (req.query as { format?: string }).format === "html" ? reply.type("text/html; charset=utf-8").send(renderHtml(doc, `${deps.model}: window ${seq}`)) : doc;
  });
  return app;
}
