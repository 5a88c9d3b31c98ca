/**
 * The only module that reads `process.env`. Every server option has a flag
 * and an `MLOOP_…` variable; bad configuration stops at boot with one line.
 */
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
  /** Serve the web UI at `/`. */
  ui: boolean;
  logLevel: string;
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
    ui,
    logLevel: opts.logLevel ?? env.MLOOP_LOG_LEVEL ?? "warn",
  };
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
