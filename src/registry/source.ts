import fs from "node:fs";
import path from "node:path";
import { invalidParameter } from "../errors.js";
import type { RunLocation } from "../tracking/index.js";
import type { LoggedModelRow } from "./logged-models-store.js";
import type { ModelVersionRow } from "./model-versions-store.js";

/**
 * Which sources a create-model-version request may name, and where the version's files then live.
 *
 * MLflow's rules, in MLflow's order and with its messages: a local source (a path or `file:` URI)
 * must lie inside the local artifact folder of the run (`run_id`) or logged model (`model_id`)
 * given; any other source must be free of relative path tricks (`..`, `.`, encoded or not, NUL);
 * `runs:/<id>/…` must name the `run_id` given, `models:/<model_id>` the `model_id` given;
 * `mlflow-artifacts:` and proxied `http(s)://…/api/2.0/mlflow-artifacts/artifacts/…` sources must
 * lie inside that run's or model's artifact root. Where MLflow accepts any other URI (s3://, a
 * Windows drive, a bare host URI), mloop asks the same as for artifact-proxy sources: it lies inside
 * the artifact root of the run or model given, since the server hands the source back as a download
 * location. Backslashes, control characters and `?`/`#` are refused everywhere (MLflow's CVE
 * history: GHSA-type path and query tricks).
 */
export interface ResolvedSource {
  source: string;
  storageLocation: string;
  runId: string | undefined;
  modelId: string | undefined;
}

/** What resolving a source looks up: runs (through tracking's door), logged models and model versions. */
export interface SourceLookups {
  findRun(runId: string): Promise<RunLocation | undefined>;
  findLoggedModel(modelId: string): Promise<LoggedModelRow | undefined>;
  /** Throws RESOURCE_DOES_NOT_EXIST for an unknown model or alias. */
  versionByAlias(name: string, alias: string): Promise<number>;
  /** Throws RESOURCE_DOES_NOT_EXIST for an unknown version. */
  versionRow(name: string, version: number): Promise<ModelVersionRow>;
}

const LOGGED_MODEL_ID = /^m-[0-9a-f]{32}$/;

function invalidSource(source: string, why: string): never {
  throw invalidParameter(`Invalid model version source: '${source}'. ${why}`);
}

function notContaining(source: string, idName: "run_id" | "model_id"): never {
  invalidSource(source, `The ${idName} request parameter must identify the resource that contains the source.`);
}

function relativePaths(source: string): never {
  invalidSource(
    source,
    "If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, " +
      "an absolute path must be provided without relative path references present. Please provide an absolute path.",
  );
}

function localOutside(shown: string, idName: "run_id" | "model_id"): never {
  const owner = idName === "run_id" ? "the run specified by the run_id" : "the run specified by the model_id";
  invalidSource(
    shown,
    `To use a local path as a model version source, the ${idName} request parameter has to be specified and the local ` +
      `path has to be contained within the artifact directory of ${owner}.`,
  );
}

// ---- URI parsing the way MLflow's (Python's) urlparse sees it ------------------------------------

interface UrlParts {
  scheme: string;
  netloc: string;
  path: string;
}

const PARAM_SCHEMES = new Set(["", "ftp", "hdl", "prospero", "http", "imap", "https", "shttp", "rtsp", "rtspu", "sip", "sips", "mms", "sftp", "tel"]);

function urlparse(uri: string): UrlParts {
  let rest = uri;
  let scheme = "";
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(rest);
  if (m) {
    scheme = m[1]!.toLowerCase();
    rest = rest.slice(m[0].length);
  }
  let netloc = "";
  if (rest.startsWith("//")) {
    const end = rest.slice(2).search(/[/?#]/);
    netloc = end < 0 ? rest.slice(2) : rest.slice(2, end + 2);
    rest = end < 0 ? "" : rest.slice(end + 2);
  }
  let p = rest.split("#", 1)[0]!.split("?", 1)[0]!;
  if (PARAM_SCHEMES.has(scheme)) {
    const semi = p.lastIndexOf(";");
    if (semi >= 0 && !p.slice(semi).includes("/")) p = p.slice(0, semi);
  }
  return { scheme, netloc, path: p };
}

function hostname(netloc: string): string {
  const host = netloc.slice(netloc.lastIndexOf("@") + 1);
  if (host.startsWith("[")) return host.slice(1, host.indexOf("]") >= 0 ? host.indexOf("]") : undefined).toLowerCase();
  return host.split(":", 1)[0]!.toLowerCase();
}

function unquote(s: string, plus: boolean): string {
  const t = plus ? s.replace(/\+/g, " ") : s;
  return t.replace(/(%[0-9A-Fa-f]{2})+/g, (seq) => {
    try {
      return decodeURIComponent(seq);
    } catch {
      return seq;
    }
  });
}

function unquoteFully(s: string, plus = false): string {
  let cur = s;
  for (let i = 0; i < 100; i++) {
    const next = unquote(cur, plus);
    if (next === cur) return cur;
    cur = next;
  }
  return cur;
}

/** `is_local_uri`: no scheme, or `file:` (which must not name a remote host). */
function isLocalUri(uri: string): boolean {
  const u = urlparse(uri);
  if (u.scheme === "") return true;
  if (u.scheme !== "file") return false;
  const host = hostname(u.netloc);
  if (host && !(host === "." || host.startsWith("localhost") || host.startsWith("127.0.0.1"))) {
    throw invalidParameter(`${uri} is not a valid remote uri. For remote access on windows, please consider using a different scheme such as SMB (e.g. smb://<hostname>/<path>).`);
  }
  return true;
}

function localPath(uri: string): string {
  return unquote(uri.startsWith("file:") ? urlparse(uri).path : uri, false);
}

/**
 * Resolves a path like Python's `Path.resolve()`: absolute against the working directory, each
 * existing symbolic link followed before a later `..` applies, missing parts kept as written.
 */
export function resolvePath(p: string): string {
  let cur = "/";
  const parts = (path.isAbsolute(p) ? p : path.join(process.cwd(), p)).split("/");
  for (const part of parts) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      cur = path.dirname(cur);
      continue;
    }
    const next = path.join(cur, part);
    let link = false;
    try {
      link = fs.lstatSync(next).isSymbolicLink();
    } catch {
      // missing: kept as written
    }
    cur = link ? safeRealpath(next) : next;
  }
  return cur;
}

function safeRealpath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

function localWithin(source: string, root: string): boolean {
  const s = resolvePath(localPath(source));
  const r = resolvePath(localPath(root));
  return s === r || s.startsWith(r === "/" ? "/" : `${r}/`);
}

/** `_normalized_uri_parts`: scheme and authority lowercased, path segments decoded, empty ones dropped. */
function uriParts(uri: string): { scheme: string; authority: string; parts: string[] } {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(\/\/([^/?#]*))?([^?#]*)/.exec(uri);
  if (!m) return { scheme: "", authority: "", parts: uri.split(/[?#]/, 1)[0]!.split("/").filter(Boolean).map((p) => unquoteFully(p)) };
  return { scheme: m[1]!.toLowerCase(), authority: (m[3] ?? "").toLowerCase(), parts: (m[4] ?? "").split("/").filter(Boolean).map((p) => unquoteFully(p)) };
}

/** True when `uri` lies under `root`: same scheme and authority, root's segments a prefix of uri's. */
export function isWithinRoot(uri: string, root: string): boolean {
  const u = uriParts(uri);
  const r = uriParts(root);
  return u.scheme === r.scheme && u.authority === r.authority && r.parts.length > 0 && r.parts.every((p, i) => u.parts[i] === p);
}

/** `_validate_non_local_source_contains_relative_paths`. */
function checkNoRelativePaths(source: string): void {
  const decoded = unquoteFully(source, true);
  const sourcePath = urlparse(decoded).path.replace(/\/+$/, "").replace(/\/+/g, "/");
  if (sourcePath.includes("\u0000") || decoded.split("/").includes("..")) relativePaths(source);
  if (resolvePath(sourcePath) !== sourcePath) relativePaths(source);
}

/** What MLflow's rules never see but mloop refuses anywhere in a source. */
function checkNoTricks(source: string): void {
  if (source.length > 5000) invalidSource(source.slice(0, 200), "The source is too long.");
  const decoded = unquoteFully(source, true);
  if (/[\u0000-\u001f]/.test(decoded)) invalidSource(source, "Control characters are not allowed.");
  if (decoded.includes("\\")) invalidSource(source, "Backslashes are not allowed.");
  if (/[?#]/.test(decoded)) invalidSource(source, "Query strings and fragments ('?', '#') are not allowed.");
}

type ModelsUri = { modelId: string } | { name: string; version?: number; alias?: string };

function parseModelsUri(source: string): ModelsUri {
  const parts = urlparse(source).path.split("/").filter(Boolean);
  const first = parts[0];
  if (first && parts.length === 1 && LOGGED_MODEL_ID.test(first)) return { modelId: first };
  if (first && parts.length === 1 && first.includes("@")) {
    const at = first.lastIndexOf("@");
    if (at > 0 && at < first.length - 1) return { name: first.slice(0, at), alias: first.slice(at + 1) };
  }
  if (first && parts.length === 2 && /^\d+$/.test(parts[1]!)) return { name: first, version: Number(parts[1]) };
  notContaining(source, "model_id");
}

/** `runs:/<run_id>/<path>` → the run id, as MLflow's parse_runs_uri reads it. */
function runsUriRunId(source: string): string {
  const p = urlparse(source).path;
  const runId = p.startsWith("/") ? p.slice(1).split("/")[0] : "";
  if (!runId) {
    throw invalidParameter(`Not a proper runs:/ URI: ${source}. Runs URIs must be of the form 'runs:/<run_id>/run-relative/path/to/artifact'`);
  }
  return runId;
}

/**
 * Checks a create-model-version request and works out where the files are, looking runs, logged
 * models and versions up through `lookups`.
 */
export async function resolveVersionSource(
  lookups: SourceLookups,
  requested: string,
  runIdIn: string | undefined,
  modelIdIn: string | undefined,
): Promise<ResolvedSource> {
  let source = requested;
  let runId = runIdIn || undefined;
  let modelId = modelIdIn || undefined;
  let storageLocation: string | undefined;

  // A registered model version as the source: it is copied, with its lineage.
  const parsed = urlparse(source);
  if (parsed.scheme === "models") {
    if (parsed.netloc) invalidSource(source, "Registered model sources must use the active model registry.");
    const m = parseModelsUri(source);
    if ("name" in m) {
      const version = m.version ?? (await lookups.versionByAlias(m.name, m.alias!));
      const mv = await lookups.versionRow(m.name, version);
      if ((runIdIn !== undefined && (runIdIn || "") !== (mv.run_id ?? "")) || (modelIdIn !== undefined && (modelIdIn || "") !== (mv.model_id ?? ""))) {
        invalidSource(source, "The run_id and model_id request parameters must match the referenced model version.");
      }
      source = `models:/${m.name}/${version}`;
      runId = runIdIn !== undefined ? runId : mv.run_id || undefined;
      modelId = modelIdIn !== undefined ? modelId : mv.model_id || undefined;
      storageLocation = mv.storage_location ?? mv.source;
    }
  }

  const owner = modelId ? "model_id" : "run_id";
  const root = async (): Promise<string> => {
    if (modelId) {
      const lm = await lookups.findLoggedModel(modelId);
      if (!lm) notContaining(source, "model_id");
      return lm.artifact_location;
    }
    const run = runId ? await lookups.findRun(runId) : undefined;
    if (!run) notContaining(source, "run_id");
    return run.artifactUri;
  };

  if (isLocalUri(source)) {
    const id = modelId ?? runId;
    if (!id) localOutside(source, owner);
    const artifactRoot = await root();
    const shown = resolvePath(localPath(source));
    if (!isLocalUri(artifactRoot) || !localWithin(source, artifactRoot)) localOutside(shown, owner);
    checkNoTricks(source);
    return { source, storageLocation: source, runId, modelId };
  }

  checkNoRelativePaths(source);
  const scheme = urlparse(source).scheme;
  if (scheme === "runs") {
    if (urlparse(source).netloc) notContaining(source, owner);
    if (modelId) notContaining(source, "model_id");
    const srcRun = runsUriRunId(source);
    if (runId !== srcRun) notContaining(source, "run_id");
    checkNoTricks(source);
    // The files are those of the run when it exists here; otherwise the URI is kept as given.
    const run = await lookups.findRun(srcRun);
    const rest = urlparse(source).path.split("/").filter(Boolean).slice(1).join("/");
    storageLocation = run ? (rest ? `${run.artifactUri.replace(/\/+$/, "")}/${rest}` : run.artifactUri) : source;
    return { source, storageLocation, runId, modelId };
  }
  if (scheme === "models") {
    if (urlparse(source).netloc) notContaining(source, "model_id");
    const m = parseModelsUri(source);
    if ("modelId" in m) {
      if (m.modelId !== modelId) notContaining(source, "model_id");
      const lm = await lookups.findLoggedModel(m.modelId);
      if (!lm) notContaining(source, "model_id");
      checkNoTricks(source);
      return { source, storageLocation: lm.artifact_location, runId: runId || lm.source_run_id || undefined, modelId };
    }
    checkNoTricks(source);
    return { source, storageLocation: storageLocation ?? source, runId, modelId };
  }

  // Artifact-proxy sources (MLflow) and any other URI (mloop) lie inside the run's or model's root.
  if (!modelId && !runId) notContaining(source, "run_id");
  if (!isWithinRoot(source, await root())) notContaining(source, owner);
  checkNoTricks(source);
  return { source, storageLocation: source, runId, modelId };
}
