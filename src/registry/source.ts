import { invalidParameter } from "../errors.js";
import type { RunLocation } from "../tracking/index.js";
import type { LoggedModelRow } from "./logged-models-store.js";
import type { ModelVersionRow } from "./model-versions-store.js";

/**
 * Where a model version's files live. A version's source is chosen by the
 * client, but the server hands it back as a download location, so it must
 * never point outside the server's artifact roots: MLflow's CVE history
 * (local paths, `file://`, `//proc/self/root`, `..` in http and
 * mlflow-artifacts URIs, encoded or not, `#`/`?` tricks, schemeless relative
 * paths) is refused here, once.
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

function refuse(source: string, why: string): never {
  throw invalidParameter(`Invalid model version source: '${source}'. ${why}`);
}

/** Decodes percent-encoding until it stops changing (double encoding hides `..`). */
function fullyDecoded(s: string): string {
  let cur = s;
  for (let i = 0; i < 10; i++) {
    let next: string;
    try {
      next = decodeURIComponent(cur.replace(/\+/g, " "));
    } catch {
      return cur;
    }
    if (next === cur) return cur;
    cur = next;
  }
  return cur;
}

interface ParsedUri {
  scheme: string;
  authority: string;
  /** Path segments, decoded, empty ones dropped. */
  parts: string[];
  /** The path as written after the authority. */
  path: string;
}

function parseUri(uri: string): ParsedUri | undefined {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(\/\/([^/]*))?(.*)$/.exec(uri);
  if (!m) return undefined;
  const path = m[4] ?? "";
  return { scheme: m[1]!.toLowerCase(), authority: (m[3] ?? "").toLowerCase(), path, parts: path.split("/").filter(Boolean).map(fullyDecoded) };
}

/** Rejects what can never be a safe source, whatever its scheme. */
export function checkSourceSyntax(source: string): ParsedUri {
  if (source.length > 5000) refuse(source.slice(0, 200), "The source is too long.");
  const decoded = fullyDecoded(source);
  if (/[\u0000-\u001f]/.test(decoded)) refuse(source, "Control characters are not allowed.");
  if (decoded.includes("\\")) refuse(source, "Backslashes are not allowed.");
  if (/[?#]/.test(source) || /[?#]/.test(decoded)) refuse(source, "Query strings and fragments ('?', '#') are not allowed.");
  const segments = decoded.split("/");
  if (segments.some((p) => p === ".." || p === ".")) {
    refuse(source, "Relative path references ('.', '..') are not allowed; provide an absolute URI.");
  }
  const parsed = parseUri(source);
  if (!parsed || parsed.scheme.length === 1) {
    refuse(source, "A source must be a URI such as runs:/<run_id>/model, models:/<model_id> or mlflow-artifacts:/...; local paths are not accepted.");
  }
  if (parsed.scheme === "file" || parsed.scheme === "local") refuse(source, "Local file URIs are not accepted: the source must be in the server's artifact store.");
  if (/^\/\/?proc\//.test(fullyDecoded(parsed.path)) || parsed.authority === "proc") refuse(source, "The source points into the server's file system.");
  return parsed;
}

/** True when `uri` lies under `root`: same scheme and authority, root's segments a prefix of uri's. */
export function isWithinRoot(uri: string, root: string): boolean {
  const u = parseUri(uri);
  const r = parseUri(root);
  if (!u || !r || r.parts.length === 0) return false;
  if (u.scheme !== r.scheme || u.authority !== r.authority) return false;
  return r.parts.every((p, i) => u.parts[i] === p);
}

const PROXY_ROUTE = ["api", "2.0", "mlflow-artifacts", "artifacts"];

/** `http(s)://host/api/2.0/mlflow-artifacts/artifacts/<p>` → `mlflow-artifacts:/<p>`; else undefined. */
function proxiedAsArtifactUri(p: ParsedUri): string | undefined {
  if (p.scheme === "mlflow-artifacts") return `mlflow-artifacts:/${p.parts.join("/")}`;
  if (p.scheme !== "http" && p.scheme !== "https") return undefined;
  for (let i = 0; i + PROXY_ROUTE.length <= p.parts.length; i++) {
    if (PROXY_ROUTE.every((seg, j) => p.parts[i + j] === seg)) return `mlflow-artifacts:/${p.parts.slice(i + PROXY_ROUTE.length).join("/")}`;
  }
  return undefined;
}

function normalizedArtifactRoot(root: string): string {
  const p = parseUri(root);
  if (p && p.scheme === "mlflow-artifacts") return `mlflow-artifacts:/${p.parts.join("/")}`;
  return root;
}

/**
 * Checks a create-model-version request and works out where the files are.
 * `runs:/` and `models:/` sources are resolved through `lookups`; any other
 * URI must sit inside the artifact root of the run or logged model named by
 * `run_id` / `model_id`.
 */
export async function resolveVersionSource(lookups: SourceLookups, source: string, runId: string | undefined, modelId: string | undefined): Promise<ResolvedSource> {
  const parsed = checkSourceSyntax(source);

  if (parsed.scheme === "runs") {
    if (parsed.authority) refuse(source, "runs:/ URIs take no host: use runs:/<run_id>/<path>.");
    const [srcRun, ...rest] = parsed.parts;
    if (!srcRun) refuse(source, "runs:/ URIs name a run: runs:/<run_id>/<path>.");
    if (runId && runId !== srcRun) refuse(source, "The run_id request parameter must identify the resource that contains the source.");
    const run = await lookups.findRun(srcRun);
    if (!run) refuse(source, `Run '${srcRun}' does not exist.`);
    const storage = rest.length ? `${run.artifactUri.replace(/\/+$/, "")}/${rest.join("/")}` : run.artifactUri;
    return { source, storageLocation: storage, runId: srcRun, modelId };
  }

  if (parsed.scheme === "models") {
    if (parsed.authority) refuse(source, "Registered model sources must use this server's registry: models:/<name>/<version> or models:/<model_id>.");
    const first = parsed.parts[0];
    if (!first) refuse(source, "models:/ URIs name a model.");
    if (LOGGED_MODEL_ID.test(first) && parsed.parts.length === 1) {
      if (modelId && modelId !== first) refuse(source, "The model_id request parameter must identify the resource that contains the source.");
      const lm = await lookups.findLoggedModel(first);
      if (!lm) refuse(source, `Logged model '${first}' does not exist.`);
      if (runId && lm.source_run_id && runId !== lm.source_run_id) refuse(source, "The run_id request parameter must match the logged model's source run.");
      return { source, storageLocation: lm.artifact_location, runId: runId || lm.source_run_id || undefined, modelId: first };
    }
    // models:/<name>/<version> or models:/<name>@<alias>
    let name: string;
    let version: number;
    if (parsed.parts.length === 1 && first.includes("@")) {
      const at = first.lastIndexOf("@");
      name = first.slice(0, at);
      version = await lookups.versionByAlias(name, first.slice(at + 1));
    } else if (parsed.parts.length === 2 && /^\d+$/.test(parsed.parts[1]!)) {
      name = first;
      version = Number(parsed.parts[1]);
    } else {
      refuse(source, "Use models:/<name>/<version>, models:/<name>@<alias> or models:/<model_id>.");
    }
    const mv = await lookups.versionRow(name, version);
    if ((runId && runId !== (mv.run_id ?? "")) || (modelId && modelId !== (mv.model_id ?? ""))) {
      refuse(source, "The run_id and model_id request parameters must match the referenced model version.");
    }
    return {
      source: `models:/${name}/${version}`,
      storageLocation: mv.storage_location ?? mv.source,
      runId: runId || mv.run_id || undefined,
      modelId: modelId || mv.model_id || undefined,
    };
  }

  // Any other URI: it must lie inside the artifact root of the run or logged model it claims.
  const roots: string[] = [];
  if (modelId) {
    const lm = await lookups.findLoggedModel(modelId);
    if (!lm) refuse(source, "The model_id request parameter must identify the resource that contains the source.");
    roots.push(lm.artifact_location);
  }
  if (runId) {
    const run = await lookups.findRun(runId);
    if (!run) refuse(source, "The run_id request parameter must identify the resource that contains the source.");
    roots.push(run.artifactUri);
  }
  if (roots.length === 0) refuse(source, "A run_id or model_id whose artifacts contain the source is required.");
  const asProxy = proxiedAsArtifactUri(parsed);
  const candidate = asProxy ?? source;
  if (!roots.some((root) => isWithinRoot(candidate, normalizedArtifactRoot(root)))) {
    refuse(source, "The source must lie inside the artifact location of the run or logged model given by run_id / model_id.");
  }
  return { source, storageLocation: source, runId: runId || undefined, modelId: modelId || undefined };
}
