/**
 * The only module that reads `process.env`. Every server option has a flag
 * and an `MLOOP_…` variable; bad configuration stops at boot with one line.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export interface ServerConfig {
  host: string;
  port: number;
  /** `sqlite:///path`, `sqlite:///:memory:` or `postgresql://…` */
  backendStoreUri: string;
  /** Where the artifact proxy stores files: a folder, `file:///…` or `s3://bucket/prefix`. */
  artifactsDestination: string;
  /** Root URI recorded on new experiments; `mlflow-artifacts:/` when artifacts are served. */
  defaultArtifactRoot: string;
  serveArtifacts: boolean;
  /** Hosts (host or host:port) webhooks may target even though they are loopback/private. */
  webhookAllowList: string[];
  /**
   * Webhook delivery across replicas (`MLOOP_WEBHOOK_LEASE_MS`: how long a replica holds a delivery
   * it sends before another may take it over; `MLOOP_WEBHOOK_POLL_MS`: how often the outbox is checked
   * for other replicas' events). Absent: the sender's defaults (30 s, 2 s).
   */
  webhookDelivery?: { leaseMs?: number; pollIntervalMs?: number };
  /** Serve the web UI at `/`. */
  ui: boolean;
  logLevel: string;
  /** Users and permissions (`--auth`, `MLOOP_AUTH`); off by default. See docs/auth.md. */
  auth: AuthConfig;
  /**
   * Which reverse proxies to believe about the client's address (`X-Forwarded-For`), for
   * per-address login limits and logs (`MLOOP_TRUST_PROXY`: true, or the proxies' addresses/CIDRs).
   */
  trustProxy: boolean | string[];
  /** Limits of `POST /graphql` (absent: MLflow's defaults, {@link GRAPHQL_DEFAULTS}). */
  graphql?: GraphqlConfig;
}

/**
 * How much one GraphQL request may ask for: root fields and aliases per selection set
 * (`MLOOP_GRAPHQL_MAX_ROOT_FIELDS` / `MLOOP_GRAPHQL_MAX_ALIASES`, or MLflow's
 * `MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS` / `MLFLOW_SERVER_GRAPHQL_MAX_ALIASES`; 10 each).
 */
export interface GraphqlConfig {
  maxRootFields: number;
  maxAliases: number;
}

export const GRAPHQL_DEFAULTS: GraphqlConfig = { maxRootFields: 10, maxAliases: 10 };

/** GraphQL limits from `MLOOP_GRAPHQL_…`, else MLflow's `MLFLOW_SERVER_GRAPHQL_…` variables. */
export function loadGraphqlConfig(env: Env = process.env): GraphqlConfig {
  const read = (name: string, fallback: number): number => {
    const ours = `MLOOP_GRAPHQL_${name}`;
    const theirs = `MLFLOW_SERVER_GRAPHQL_${name}`;
    if (env[ours]) return parseCount(env[ours]!, ours, 1);
    if (env[theirs]) return parseCount(env[theirs]!, theirs, 1);
    return fallback;
  };
  return { maxRootFields: read("MAX_ROOT_FIELDS", GRAPHQL_DEFAULTS.maxRootFields), maxAliases: read("MAX_ALIASES", GRAPHQL_DEFAULTS.maxAliases) };
}

export interface AuthConfig {
  enabled: boolean;
  /** Permission on resources nobody granted the caller anything on (`MLOOP_AUTH_DEFAULT_PERMISSION`, default READ as in MLflow). */
  defaultPermission: "NO_PERMISSIONS" | "READ" | "USE" | "EDIT" | "MANAGE";
  /** The first admin, created when the user table is empty (`MLOOP_AUTH_ADMIN_USERNAME`, default admin). */
  adminUsername: string;
  /** `MLOOP_AUTH_ADMIN_PASSWORD`; unset, a password is generated and printed once. */
  adminPassword?: string;
  /** Failed logins allowed per username and per client address within the window. */
  rateLimits: { perUser: number; perAddress: number; windowMs: number };
}

const AUTH_PERMISSIONS = ["NO_PERMISSIONS", "READ", "USE", "EDIT", "MANAGE"] as const;

/** Auth settings from `MLOOP_AUTH_…` variables; `enabled` from the flag when given. */
export function loadAuthConfig(flag: boolean | undefined, env: Env = process.env): AuthConfig {
  const enabled = flag ?? (env.MLOOP_AUTH !== undefined ? parseBool(env.MLOOP_AUTH, "MLOOP_AUTH") : false);
  const perm = (env.MLOOP_AUTH_DEFAULT_PERMISSION ?? "READ").trim().toUpperCase();
  if (!(AUTH_PERMISSIONS as readonly string[]).includes(perm)) {
    throw new ConfigError(`MLOOP_AUTH_DEFAULT_PERMISSION must be one of ${AUTH_PERMISSIONS.join(", ")}, got '${env.MLOOP_AUTH_DEFAULT_PERMISSION}'`);
  }
  const adminUsername = env.MLOOP_AUTH_ADMIN_USERNAME?.trim() || "admin";
  if (adminUsername.includes(":")) throw new ConfigError(`MLOOP_AUTH_ADMIN_USERNAME may not contain ':', got '${adminUsername}'`);
  return {
    enabled,
    defaultPermission: perm as AuthConfig["defaultPermission"],
    adminUsername,
    adminPassword: env.MLOOP_AUTH_ADMIN_PASSWORD || undefined,
    rateLimits: {
      perUser: env.MLOOP_AUTH_MAX_FAILED_LOGINS_PER_USER ? parseCount(env.MLOOP_AUTH_MAX_FAILED_LOGINS_PER_USER, "MLOOP_AUTH_MAX_FAILED_LOGINS_PER_USER", 1) : 10,
      perAddress: env.MLOOP_AUTH_MAX_FAILED_LOGINS_PER_ADDRESS ? parseCount(env.MLOOP_AUTH_MAX_FAILED_LOGINS_PER_ADDRESS, "MLOOP_AUTH_MAX_FAILED_LOGINS_PER_ADDRESS", 1) : 100,
      windowMs: 1000 * (env.MLOOP_AUTH_FAILED_LOGIN_WINDOW_S ? parseCount(env.MLOOP_AUTH_FAILED_LOGIN_WINDOW_S, "MLOOP_AUTH_FAILED_LOGIN_WINDOW_S", 1) : 900),
    },
  };
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

function parsePort(raw: string, source: string): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`${source} must be a port number between 0 and 65535, got '${raw}'`);
  }
  return port;
}

function parseBool(raw: string, source: string): boolean {
  const v = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  throw new ConfigError(`${source} must be true or false, got '${raw}'`);
}

export interface ServerOptions {
  host?: string;
  port?: string | number;
  backendStoreUri?: string;
  artifactsDestination?: string;
  defaultArtifactRoot?: string;
  serveArtifacts?: boolean;
  webhookAllowList?: string[];
  ui?: boolean;
  logLevel?: string;
  auth?: boolean;
}

/** Merges flags over `MLOOP_…` variables over MLflow's defaults. */
export function loadServerConfig(opts: ServerOptions = {}, env: Env = process.env, cwd = process.cwd()): ServerConfig {
  const host = opts.host ?? env.MLOOP_HOST ?? "127.0.0.1";
  const port =
    opts.port !== undefined
      ? parsePort(String(opts.port), "--port")
      : env.MLOOP_PORT !== undefined
        ? parsePort(env.MLOOP_PORT, "MLOOP_PORT")
        : 5000;
  const backendStoreUri =
    opts.backendStoreUri ?? env.MLOOP_BACKEND_STORE_URI ?? `sqlite:///${path.join(cwd, "mlruns.db")}`;
  validateStoreUri(backendStoreUri);
  const serveArtifacts =
    opts.serveArtifacts ??
    (env.MLOOP_SERVE_ARTIFACTS !== undefined ? parseBool(env.MLOOP_SERVE_ARTIFACTS, "MLOOP_SERVE_ARTIFACTS") : true);
  const artifactsDestination =
    opts.artifactsDestination ?? env.MLOOP_ARTIFACTS_DESTINATION ?? path.join(cwd, "mlartifacts");
  const defaultArtifactRoot =
    opts.defaultArtifactRoot ??
    env.MLOOP_DEFAULT_ARTIFACT_ROOT ??
    (serveArtifacts ? "mlflow-artifacts:/" : resolveLocalUri(artifactsDestination, cwd));
  const allowRaw = opts.webhookAllowList ?? splitList(env.MLOOP_WEBHOOK_ALLOW_LIST);
  const ui = opts.ui ?? (env.MLOOP_UI !== undefined ? parseBool(env.MLOOP_UI, "MLOOP_UI") : true);
  return {
    host,
    port,
    backendStoreUri,
    artifactsDestination,
    defaultArtifactRoot,
    serveArtifacts,
    webhookAllowList: allowRaw,
    webhookDelivery: {
      ...(env.MLOOP_WEBHOOK_LEASE_MS ? { leaseMs: parseCount(env.MLOOP_WEBHOOK_LEASE_MS, "MLOOP_WEBHOOK_LEASE_MS", 100) } : {}),
      ...(env.MLOOP_WEBHOOK_POLL_MS ? { pollIntervalMs: parseCount(env.MLOOP_WEBHOOK_POLL_MS, "MLOOP_WEBHOOK_POLL_MS", 0) } : {}),
    },
    ui,
    logLevel: opts.logLevel ?? env.MLOOP_LOG_LEVEL ?? "warn",
    auth: loadAuthConfig(opts.auth, env),
    trustProxy: parseTrustProxy(env.MLOOP_TRUST_PROXY),
    graphql: loadGraphqlConfig(env),
  };
}

function parseTrustProxy(raw: string | undefined): boolean | string[] {
  if (raw === undefined || raw.trim() === "") return false;
  const v = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  const list = splitList(raw);
  for (const item of list) {
    if (!/^[0-9a-f.:]+(\/\d{1,3})?$/i.test(item)) throw new ConfigError(`MLOOP_TRUST_PROXY must be true, false or the proxies' addresses/CIDRs, got '${item}'`);
  }
  return list;
}

function splitList(raw: string | undefined): string[] {
  if (!raw) return [];
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

function resolveLocalUri(dest: string, cwd: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(dest)) return dest;
  return `file://${path.resolve(cwd, dest)}`;
}

export function validateStoreUri(uri: string): void {
  if (uri.startsWith("sqlite://")) return;
  if (uri.startsWith("postgresql://") || uri.startsWith("postgres://") || uri.startsWith("postgresql+psycopg2://")) return;
  throw new ConfigError(
    `unsupported backend store URI '${uri}': use sqlite:///path/to/file.db or postgresql://user:pass@host/db`,
  );
}

/** Tracking URI for clients: `--tracking-uri`, then `MLFLOW_TRACKING_URI`, then `MLOOP_TRACKING_URI`. */
export function resolveTrackingUri(flag: string | undefined, env: Env = process.env): string | undefined {
  return flag ?? env.MLFLOW_TRACKING_URI ?? env.MLOOP_TRACKING_URI;
}

/** Read-only view of the environment for modules that pass it on to child processes. */
export function processEnv(): Env {
  return process.env;
}

/** Connection settings for S3-compatible artifact storage, from the variables the mlflow client reads. */
export interface S3Settings {
  /** `MLFLOW_S3_ENDPOINT_URL`: a custom S3-compatible endpoint (MinIO, Ceph, moto…); path-style addressing is used with it. */
  endpointUrl?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** `AWS_REGION`, then `AWS_DEFAULT_REGION`, then `us-east-1`. */
  region: string;
  /** `MLFLOW_S3_IGNORE_TLS`: skip TLS certificate verification. */
  ignoreTls: boolean;
}

/** Reads S3 settings; a malformed endpoint or flag stops with one line. */
export function loadS3Settings(env: Env = process.env): S3Settings {
  const endpointUrl = env.MLFLOW_S3_ENDPOINT_URL?.trim() || undefined;
  if (endpointUrl !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(endpointUrl);
    } catch {
      throw new ConfigError(`MLFLOW_S3_ENDPOINT_URL must be a URL such as http://127.0.0.1:9000, got '${endpointUrl}'`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new ConfigError(`MLFLOW_S3_ENDPOINT_URL must use http or https, got '${endpointUrl}'`);
    }
  }
  return {
    endpointUrl,
    accessKeyId: env.AWS_ACCESS_KEY_ID || undefined,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY || undefined,
    sessionToken: env.AWS_SESSION_TOKEN || undefined,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || "us-east-1",
    ignoreTls: env.MLFLOW_S3_IGNORE_TLS ? parseBool(env.MLFLOW_S3_IGNORE_TLS, "MLFLOW_S3_IGNORE_TLS") : false,
  };
}

/**
 * S3 settings for a DVC remote: the remote's own options in `.dvc/config`
 * (`endpointurl`, `access_key_id`, `secret_access_key`, `session_token`,
 * `region`, `ssl_verify`) first, then the variables boto reads for DVC
 * (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
 * `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_DEFAULT_REGION`, `AWS_REGION`).
 */
export function dvcS3Settings(remote: ReadonlyMap<string, string>, env: Env = process.env): S3Settings {
  const endpointUrl = remote.get("endpointurl")?.trim() || env.AWS_ENDPOINT_URL_S3?.trim() || env.AWS_ENDPOINT_URL?.trim() || undefined;
  if (endpointUrl !== undefined && !/^https?:\/\/[^/]/i.test(endpointUrl)) {
    throw new ConfigError(`S3 endpoint must be an http(s) URL such as http://127.0.0.1:9000, got '${endpointUrl}'`);
  }
  const sslVerify = remote.get("ssl_verify");
  return {
    endpointUrl,
    accessKeyId: remote.get("access_key_id") || env.AWS_ACCESS_KEY_ID || undefined,
    secretAccessKey: remote.get("secret_access_key") || env.AWS_SECRET_ACCESS_KEY || undefined,
    sessionToken: remote.get("session_token") || env.AWS_SESSION_TOKEN || undefined,
    region: remote.get("region") || env.AWS_DEFAULT_REGION || env.AWS_REGION || "us-east-1",
    ignoreTls: sslVerify !== undefined && /^(false|no|0|off)$/i.test(sslVerify.trim()),
  };
}

/** The Redis-backed run queue shared by `mloop run --backend queue` and `mloop worker`. */
export interface QueueConfig {
  /** `MLOOP_REDIS_URL`, default `redis://127.0.0.1:6379`. */
  redisUrl: string;
  /** `MLOOP_QUEUE_NAME`, default `mloop-runs`. */
  queueName: string;
  /** How long a worker's hold on a job lasts without renewal (`MLOOP_QUEUE_LOCK_MS`, default 30000); a killed worker's job is taken back after it. */
  lockDurationMs: number;
  /** How often workers look for jobs whose worker died (`MLOOP_QUEUE_STALLED_CHECK_MS`, default 15000). */
  stalledIntervalMs: number;
  /** How often a job may lose its worker and be run again before its run is marked FAILED (`MLOOP_QUEUE_MAX_STALLED`, default 1). */
  maxStalledCount: number;
  /** Attempts for a run whose command fails (`MLOOP_QUEUE_ATTEMPTS`, default 1). */
  attempts: number;
}

function parseCount(raw: string, source: string, min: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`${source} must be an integer ≥ ${min}, got '${raw}'`);
  return n;
}

/** Queue settings from flags over `MLOOP_…` variables; a malformed Redis URL stops with one line. */
export function loadQueueConfig(opts: { redisUrl?: string; queueName?: string } = {}, env: Env = process.env): QueueConfig {
  const redisUrl = opts.redisUrl ?? env.MLOOP_REDIS_URL ?? "redis://127.0.0.1:6379";
  let parsed: URL;
  try {
    parsed = new URL(redisUrl);
  } catch {
    throw new ConfigError(`MLOOP_REDIS_URL must be a URL such as redis://127.0.0.1:6379, got '${redisUrl}'`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new ConfigError(`MLOOP_REDIS_URL must use redis:// or rediss://, got '${redisUrl}'`);
  }
  const queueName = opts.queueName ?? env.MLOOP_QUEUE_NAME ?? "mloop-runs";
  if (!/^[\w.-]+$/.test(queueName)) throw new ConfigError(`MLOOP_QUEUE_NAME may hold letters, digits, '.', '_' and '-', got '${queueName}'`);
  return {
    redisUrl,
    queueName,
    lockDurationMs: env.MLOOP_QUEUE_LOCK_MS ? parseCount(env.MLOOP_QUEUE_LOCK_MS, "MLOOP_QUEUE_LOCK_MS", 1000) : 30_000,
    stalledIntervalMs: env.MLOOP_QUEUE_STALLED_CHECK_MS ? parseCount(env.MLOOP_QUEUE_STALLED_CHECK_MS, "MLOOP_QUEUE_STALLED_CHECK_MS", 500) : 15_000,
    maxStalledCount: env.MLOOP_QUEUE_MAX_STALLED ? parseCount(env.MLOOP_QUEUE_MAX_STALLED, "MLOOP_QUEUE_MAX_STALLED", 0) : 1,
    attempts: env.MLOOP_QUEUE_ATTEMPTS ? parseCount(env.MLOOP_QUEUE_ATTEMPTS, "MLOOP_QUEUE_ATTEMPTS", 1) : 1,
  };
}

/** `mloop serve` settings: flags over `MLOOP_SERVE_…` variables over defaults. */
export interface ServeConfig {
  /** The model to serve (`models:/name@alias`, `models:/name/3`, `models:/<model_id>`, `runs:/…`, a folder); may come from the policy file. */
  modelUri?: string;
  host: string;
  port: number;
  trackingUri?: string;
  /** A second model for canary or shadow traffic. */
  challengerUri?: string;
  trafficMode?: string;
  canaryShare?: number;
  stickyHeader?: string;
  /** A YAML traffic policy (champion, challenger, mode, share, sticky_header). */
  policyFile?: string;
  logDir: string;
  /** `--prediction-log s3://bucket/prefix`: the log goes to S3-compatible storage as Parquet, `logDir` is its local spool. */
  predictionLogUri?: string;
  /** S3 settings (`MLFLOW_S3_ENDPOINT_URL`, `AWS_…`), read when the log is on S3. */
  s3?: S3Settings;
  /** How often the S3 log's spool is uploaded, ms. */
  logFlushIntervalMs: number;
  logSampleRate: number;
  logOverflow: "wait" | "drop";
  logMaxPendingBytes: number;
  logFsyncIntervalMs: number;
  pollIntervalMs: number;
  /** When set, registry webhook deliveries must carry a valid `X-MLflow-Signature`. */
  webhookSecret?: string;
  /** When set, `POST /traffic` needs `Authorization: Bearer <token>`. */
  controlToken?: string;
  python: string;
  workers: number;
  /** Most rows one batched predict call of a Python worker takes; 0 = no batching, no fast path. */
  batchMaxRows: number;
  requestTimeoutMs: number;
  bodyLimitBytes: number;
  cacheDir: string;
  onnxRuntime: "node" | "python";
  logLevel: string;
}

export interface ServeFlags {
  modelUri?: string;
  host?: string;
  port?: string | number;
  trackingUri?: string;
  challenger?: string;
  trafficMode?: string;
  canaryShare?: string | number;
  stickyHeader?: string;
  policy?: string;
  logDir?: string;
  predictionLog?: string;
  logFlushInterval?: string | number;
  logSampleRate?: string | number;
  logOverflow?: string;
  pollInterval?: string | number;
  webhookSecret?: string;
  controlToken?: string;
  python?: string;
  workers?: string | number;
  batchMaxRows?: string | number;
  envManager?: string;
  timeout?: string | number;
  bodyLimitMb?: string | number;
  cacheDir?: string;
  onnxRuntime?: string;
  logLevel?: string;
}

function parseNumber(raw: string, source: string, min: number, max = Infinity): number {
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n < min || n > max) throw new ConfigError(`${source} must be a number between ${min} and ${max}, got '${raw}'`);
  return n;
}

/** Reads `mloop serve`'s configuration; a bad value stops with one line naming the flag or variable. */
export function loadServeConfig(opts: ServeFlags = {}, env: Env = process.env, cwd = process.cwd()): ServeConfig {
  const pick = (flag: string | number | undefined, name: string, variable: string): [string, string] | undefined =>
    flag !== undefined ? [String(flag), `--${name}`] : env[variable] !== undefined ? [env[variable]!, variable] : undefined;
  const num = (flag: string | number | undefined, name: string, variable: string, dflt: number, min: number, max = Infinity): number => {
    const v = pick(flag, name, variable);
    return v ? parseNumber(v[0], v[1], min, max) : dflt;
  };
  const portRaw = pick(opts.port, "port", "MLOOP_SERVE_PORT");
  const envManager = opts.envManager ?? env.MLOOP_SERVE_ENV_MANAGER ?? "local";
  if (envManager !== "local") {
    throw new ConfigError(`--env-manager '${envManager}' is not supported yet: use --env-manager local with --python pointing at an environment that has the model's requirements`);
  }
  const overflow = opts.logOverflow ?? env.MLOOP_SERVE_LOG_OVERFLOW ?? "wait";
  if (overflow !== "wait" && overflow !== "drop") throw new ConfigError(`--log-overflow must be wait or drop, got '${overflow}'`);
  const onnxRuntime = opts.onnxRuntime ?? env.MLOOP_SERVE_ONNX_RUNTIME ?? "node";
  if (onnxRuntime !== "node" && onnxRuntime !== "python") throw new ConfigError(`--onnx-runtime must be node or python, got '${onnxRuntime}'`);
  const localVenv = path.join(cwd, ".venv", "bin", "python");
  const predictionLog = opts.predictionLog ?? env.MLOOP_SERVE_PREDICTION_LOG;
  const onS3 = predictionLog !== undefined && /^s3a?:\/\//i.test(predictionLog);
  if (onS3 && !/^s3a?:\/\/[^/?#]+/i.test(predictionLog)) throw new ConfigError(`--prediction-log must be a folder or s3://bucket/prefix, got '${predictionLog}'`);
  return {
    modelUri: opts.modelUri ?? env.MLOOP_SERVE_MODEL_URI,
    host: opts.host ?? env.MLOOP_SERVE_HOST ?? "127.0.0.1",
    port: portRaw ? parsePort(portRaw[0], portRaw[1]) : 5001,
    trackingUri: resolveTrackingUri(opts.trackingUri, env),
    challengerUri: opts.challenger ?? env.MLOOP_SERVE_CHALLENGER,
    trafficMode: opts.trafficMode ?? env.MLOOP_SERVE_TRAFFIC_MODE,
    canaryShare: pick(opts.canaryShare, "canary-share", "MLOOP_SERVE_CANARY_SHARE") ? num(opts.canaryShare, "canary-share", "MLOOP_SERVE_CANARY_SHARE", 0.1, 0, 1) : undefined,
    stickyHeader: opts.stickyHeader ?? env.MLOOP_SERVE_STICKY_HEADER,
    policyFile: opts.policy ?? env.MLOOP_SERVE_POLICY,
    logDir: path.resolve(cwd, opts.logDir ?? env.MLOOP_SERVE_LOG_DIR ?? (predictionLog !== undefined && !onS3 ? predictionLog : "mloop-predictions")),
    ...(onS3 ? { predictionLogUri: predictionLog, s3: loadS3Settings(env) } : {}),
    logFlushIntervalMs: num(opts.logFlushInterval, "log-flush-interval", "MLOOP_SERVE_LOG_FLUSH_INTERVAL", 5, 0.01) * 1000,
    logSampleRate: num(opts.logSampleRate, "log-sample-rate", "MLOOP_SERVE_LOG_SAMPLE_RATE", 1, 0, 1),
    logOverflow: overflow,
    logMaxPendingBytes: num(undefined, "", "MLOOP_SERVE_LOG_MAX_PENDING_MB", 32, 1) * (1 << 20),
    logFsyncIntervalMs: num(undefined, "", "MLOOP_SERVE_LOG_FSYNC_MS", 200, 0),
    pollIntervalMs: num(opts.pollInterval, "poll-interval", "MLOOP_SERVE_POLL_INTERVAL", 10, 0) * 1000,
    webhookSecret: opts.webhookSecret ?? env.MLOOP_SERVE_WEBHOOK_SECRET,
    controlToken: opts.controlToken ?? env.MLOOP_SERVE_CONTROL_TOKEN,
    python: opts.python ?? env.MLOOP_SERVE_PYTHON ?? (fs.existsSync(localVenv) ? localVenv : "python3"),
    workers: num(opts.workers, "workers", "MLOOP_SERVE_WORKERS", 2, 1, 64),
    batchMaxRows: Math.floor(num(opts.batchMaxRows, "batch-max-rows", "MLOOP_SERVE_BATCH_MAX_ROWS", 4096, 0, 1 << 20)),
    requestTimeoutMs: num(opts.timeout, "timeout", "MLOOP_SERVE_TIMEOUT", 60, 0.1) * 1000,
    bodyLimitBytes: Math.floor(num(opts.bodyLimitMb, "body-limit-mb", "MLOOP_SERVE_BODY_LIMIT_MB", 20, 0.001) * (1 << 20)),
    cacheDir: path.resolve(cwd, opts.cacheDir ?? env.MLOOP_SERVE_CACHE_DIR ?? path.join(os.tmpdir(), `mloop-models-${os.userInfo().uid}`)),
    onnxRuntime,
    logLevel: opts.logLevel ?? env.MLOOP_LOG_LEVEL ?? "warn",
  };
}

/** `mloop monitor start`'s flags, as strings (commander hands them over unparsed). */
export interface MonitorFlags {
  modelUri?: string;
  logDir?: string;
  stateDir?: string;
  trackingUri?: string;
  windowRows?: string;
  windowMinutes?: string;
  interval?: string;
  host?: string;
  port?: string;
  experiment?: string;
  webhookUrl?: string;
  webhookSecret?: string;
  webhookAllow?: string[];
  alertCommand?: string;
}

export interface MonitorConfig {
  modelUri?: string;
  /** The local prediction log folder; with `logUri`, the local copy of the S3 log. */
  logDir: string;
  /** `--log-dir s3://bucket/prefix`: a prediction log on S3 (`mloop serve --prediction-log s3://…`), copied into `logDir` before each read. */
  logUri?: string;
  s3?: S3Settings;
  stateDir?: string;
  trackingUri?: string;
  windowRows?: number;
  windowMinutes?: number;
  /** How often the log is read, ms. */
  intervalMs: number;
  host: string;
  /** The monitor's own /status and /metrics; 0 = none. */
  port: number;
  experiment: string;
  webhookUrl?: string;
  webhookSecret?: string;
  webhookAllow: string[];
  alertCommand?: string;
}

/** Flags over `MLOOP_MONITOR_…` variables; bad values stop here. */
export function loadMonitorConfig(opts: MonitorFlags = {}, env: Env = process.env, cwd = process.cwd()): MonitorConfig {
  const pick = (flag: string | undefined, name: string, variable: string): [string, string] | undefined =>
    flag !== undefined ? [flag, `--${name}`] : env[variable] !== undefined ? [env[variable]!, variable] : undefined;
  const num = (flag: string | undefined, name: string, variable: string, min: number): number | undefined => {
    const v = pick(flag, name, variable);
    return v ? parseNumber(v[0], v[1], min, Infinity) : undefined;
  };
  let windowRows = num(opts.windowRows, "window-rows", "MLOOP_MONITOR_WINDOW_ROWS", 1);
  const windowMinutes = num(opts.windowMinutes, "window-minutes", "MLOOP_MONITOR_WINDOW_MINUTES", 0.001);
  if (windowRows !== undefined && windowMinutes !== undefined) throw new ConfigError("give one of --window-rows and --window-minutes, not both");
  if (windowRows === undefined && windowMinutes === undefined) windowRows = 1000;
  const portRaw = pick(opts.port, "port", "MLOOP_MONITOR_PORT");
  const allow = opts.webhookAllow?.length ? opts.webhookAllow : (env.MLOOP_MONITOR_WEBHOOK_ALLOW ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const logDir = opts.logDir ?? env.MLOOP_MONITOR_LOG_DIR ?? env.MLOOP_SERVE_LOG_DIR ?? "mloop-predictions";
  const s3Log = /^s3a?:\/\/([^/?#]+)(\/[^?#]*)?$/i.exec(logDir);
  const stateDirRaw = opts.stateDir ?? env.MLOOP_MONITOR_STATE_DIR;
  const out: MonitorConfig = {
    logDir: s3Log
      ? path.resolve(cwd, stateDirRaw ?? "mloop-monitor", "log", s3Log[1]!, ...(s3Log[2] ?? "").split("/").filter((p) => p && p !== ".." && p !== "."))
      : path.resolve(cwd, logDir),
    ...(s3Log ? { logUri: logDir, s3: loadS3Settings(env) } : {}),
    intervalMs: (num(opts.interval, "interval", "MLOOP_MONITOR_INTERVAL", 0.01) ?? 5) * 1000,
    host: opts.host ?? env.MLOOP_MONITOR_HOST ?? "127.0.0.1",
    port: portRaw ? (portRaw[0] === "0" ? 0 : parsePort(portRaw[0], portRaw[1])) : 5002,
    experiment: opts.experiment ?? env.MLOOP_MONITOR_EXPERIMENT ?? "mloop-monitoring",
    webhookAllow: allow,
  };
  const set = <K extends keyof MonitorConfig>(k: K, v: MonitorConfig[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set("modelUri", opts.modelUri ?? env.MLOOP_MONITOR_MODEL_URI);
  set("stateDir", opts.stateDir ?? env.MLOOP_MONITOR_STATE_DIR ? path.resolve(cwd, (opts.stateDir ?? env.MLOOP_MONITOR_STATE_DIR)!) : undefined);
  set("trackingUri", resolveTrackingUri(opts.trackingUri, env));
  set("windowRows", windowRows);
  set("windowMinutes", windowMinutes);
  set("webhookUrl", opts.webhookUrl ?? env.MLOOP_MONITOR_WEBHOOK_URL);
  set("webhookSecret", opts.webhookSecret ?? env.MLOOP_MONITOR_WEBHOOK_SECRET);
  set("alertCommand", opts.alertCommand ?? env.MLOOP_MONITOR_ALERT_COMMAND);
  return out;
}
