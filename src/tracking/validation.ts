import { invalidParameter, wrongTypeParameter } from "../errors.js";
import type { MetricPoint } from "./types.js";

/** MLflow's limits, the same numbers its server enforces. */
export const LIMITS = {
  entityKey: 250,
  paramValue: 6000,
  tagValue: 8000,
  experimentTagValue: 5000,
  experimentName: 500,
  runName: 250,
  batchMetrics: 1000,
  batchParamsTags: 100,
  batchEntities: 1000,
  batchRequestBytes: 1_000_000,
  datasetName: 500,
  datasetDigest: 36,
  datasetSchema: 1_048_575,
  datasetSource: 65_535,
  datasetProfile: 16_384,
  inputTagKey: 255,
  inputTagValue: 500,
  searchMaxResults: 50_000,
  searchRunsDefault: 1000,
  searchExperimentsDefault: 1000,
} as const;

const NAME_RE = /^[/\w.\- :]*$/;

/** True when a key would normalise to another path or escape (`a/../b`, `./x`, `/x`, `..`). */
function isPathLike(name: string): boolean {
  if (name.startsWith("/") || name === "." || name.startsWith("..")) return true;
  const parts = name.split("/");
  return parts.some((p, i) => p === "." || p === ".." || (p === "" && i !== parts.length - 1 && i !== 0));
}

export type EntityKind = "metric" | "param" | "tag" | "experiment tag" | "dataset" | "input tag";

export function validateKey(kind: EntityKind, key: unknown): asserts key is string {
  if (typeof key !== "string" || key === "") {
    throw invalidParameter(`Invalid ${kind} name: '${String(key ?? "")}'. Names must be non-empty strings.`);
  }
  if (kind !== "tag" && kind !== "experiment tag" && kind !== "input tag" && !NAME_RE.test(key)) {
    throw invalidParameter(
      `Invalid ${kind} name: '${key}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).`,
    );
  }
  if ((kind === "tag" || kind === "experiment tag") && !NAME_RE.test(key)) {
    throw invalidParameter(
      `Invalid ${kind} name: '${key}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).`,
    );
  }
  if (kind !== "input tag" && isPathLike(key)) {
    throw invalidParameter(`Invalid ${kind} name: '${key}'. Names cannot resolve to a path outside their folder (no '..', './' or leading '/').`);
  }
  const max = kind === "input tag" ? LIMITS.inputTagKey : LIMITS.entityKey;
  if (key.length > max) {
    throw invalidParameter(`${capital(kind)} name '${key.slice(0, 50)}...' had length ${key.length}, which exceeded length limit of ${max}`);
  }
}

export function validateValueLength(kind: EntityKind, key: string, value: string): void {
  const max =
    kind === "param"
      ? LIMITS.paramValue
      : kind === "experiment tag"
        ? LIMITS.experimentTagValue
        : kind === "input tag"
          ? LIMITS.inputTagValue
          : LIMITS.tagValue;
  if (value.length > max) {
    throw invalidParameter(
      `${capital(kind)} value '${value.slice(0, 50)}...' had length ${value.length}, which exceeded length limit of ${max} for key '${key}'`,
    );
  }
}

const RUN_ID_RE = /^[a-zA-Z0-9][\w-]{0,255}$/;
const EXPERIMENT_ID_RE = /^[a-zA-Z0-9][\w-]{0,63}$/;

export function validateRunId(runId: string): void {
  if (!RUN_ID_RE.test(runId)) throw invalidParameter(`Invalid run ID: '${runId.slice(0, 300)}'`);
}

export function validateExperimentId(id: string): void {
  if (!EXPERIMENT_ID_RE.test(id)) throw invalidParameter(`Invalid experiment ID: '${id.slice(0, 100)}'`);
}

export function validateExperimentName(name: unknown): asserts name is string {
  if (typeof name !== "string" || name.trim() === "") {
    throw invalidParameter(`Invalid experiment name: '${String(name ?? "")}'`);
  }
  if (name.length > LIMITS.experimentName) {
    throw invalidParameter(`Experiment name exceeds the maximum length of ${LIMITS.experimentName} characters`);
  }
}

export function validateMaxResults(n: number | undefined, def: number, max: number = LIMITS.searchMaxResults): number {
  if (n === undefined) return def;
  if (n <= 0 || n > max) {
    throw invalidParameter(`Invalid value ${n} for parameter 'max_results' supplied. It must be at most ${max} and at least 1.`);
  }
  return n;
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A non-negative 64-bit integer as protobuf JSON sends it: a number or a decimal string. */
export function toLong(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) ? v : undefined;
  if (typeof v === "string" && /^-?\d{1,16}$/.test(v.trim())) {
    const n = Number(v.trim());
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return undefined;
}

/** A double as protobuf JSON sends it: a number, or "NaN" / "Infinity" / "-Infinity" / a numeric string. */
export function toDouble(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v !== "string") return undefined;
  const t = v.trim();
  if (t === "NaN" || t === "nan") return NaN;
  if (t === "Infinity" || t === "inf") return Infinity;
  if (t === "-Infinity" || t === "-inf") return -Infinity;
  if (t === "" || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return undefined;
  return Number(t);
}

function show(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v) ?? String(v);
}

/** Metric keys that passed {@link validateKey} (the checks depend on the key alone). */
const validMetricKeys = new Set<string>();

/** Checks one metric the way MLflow's `_validate_metric` does and returns it normalised. */
export function validateMetric(raw: {
  key?: unknown;
  value?: unknown;
  timestamp?: unknown;
  step?: unknown;
  model_id?: unknown;
  dataset_name?: unknown;
  dataset_digest?: unknown;
}): MetricPoint {
  // A batch repeats a handful of keys; each distinct key is checked once.
  if (typeof raw.key !== "string" || !validMetricKeys.has(raw.key)) {
    validateKey("metric", raw.key);
    if (validMetricKeys.size >= 10_000) validMetricKeys.clear();
    validMetricKeys.add(raw.key);
  }
  const key = raw.key;
  const value = toDouble(raw.value);
  if (value === undefined) {
    throw invalidParameter(
      `Got invalid value ${show(raw.value)} for metric '${key}' (timestamp=${show(raw.timestamp)}). Please specify value as a valid double (64-bit floating point)`,
    );
  }
  const timestamp = toLong(raw.timestamp);
  if (timestamp === undefined || timestamp < 0) {
    throw invalidParameter(
      `Got invalid timestamp ${show(raw.timestamp)} for metric '${key}' (value=${show(raw.value)}). Timestamp must be a nonnegative long (64-bit integer) `,
    );
  }
  const step = raw.step === undefined || raw.step === null ? 0 : toLong(raw.step);
  if (step === undefined) {
    throw invalidParameter(
      `Got invalid step ${show(raw.step)} for metric '${key}' (value=${show(raw.value)}). Step must be a valid long (64-bit integer).`,
    );
  }
  const metric: MetricPoint = { key, value, timestamp, step };
  for (const field of ["model_id", "dataset_name", "dataset_digest"] as const) {
    const v = raw[field];
    if (v === undefined || v === null || v === "") continue;
    if (typeof v !== "string") throw wrongTypeParameter(field, v);
    metric[field] = v;
  }
  return metric;
}

/** Params and tags carry string values; protobuf JSON also lets numbers and booleans through as text. */
export function toStringValue(kind: "param" | "tag", key: string, v: unknown): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw invalidParameter(`Invalid value ${show(v).slice(0, 100)} for ${kind} '${key}': must be a string`);
}

export function validateParam(key: unknown, value: string): asserts key is string {
  validateKey("param", key);
  validateValueLength("param", key, value);
}

export function validateTag(key: unknown, value: string): asserts key is string {
  validateKey("tag", key);
  validateValueLength("tag", key, value);
}

/** MLflow's log-batch limits, checked before anything else. */
export function validateBatchLimits(metrics: number, params: number, tags: number): void {
  const over = (n: number, max: number, what: string) => {
    if (n > max) {
      throw invalidParameter(
        `A batch logging request can contain at most ${max} ${what}. Got ${n} ${what}. Please split up ${what} across multiple requests and try again.`,
      );
    }
  };
  over(metrics, LIMITS.batchMetrics, "metrics");
  over(params, LIMITS.batchParamsTags, "params");
  over(tags, LIMITS.batchParamsTags, "tags");
  const total = metrics + params + tags;
  if (total > LIMITS.batchEntities) {
    throw invalidParameter(
      `A batch logging request can contain at most ${LIMITS.batchEntities} metrics, params, and tags in total. Got ${total} total. Please split up metrics, params, and tags across multiple requests and try again.`,
    );
  }
}

export function validateBatchSize(bytes: number): void {
  if (bytes > LIMITS.batchRequestBytes) {
    throw invalidParameter(`Batched logging API requests must be at most 1 MB in size. Got size ${bytes} bytes.`);
  }
}

export function validateDataset(d: { name: string; digest: string; source_type: string; source: string; schema?: string; profile?: string }): void {
  const check = (field: string, value: string | undefined, max: number, required: boolean) => {
    if (required && (value === undefined || value === "")) {
      throw invalidParameter(`Dataset ${field} must be a non-empty string`);
    }
    if (value !== undefined && value.length > max) {
      throw invalidParameter(`Dataset ${field} exceeds the maximum length of ${max}`);
    }
  };
  check("name", d.name, LIMITS.datasetName, true);
  check("digest", d.digest, LIMITS.datasetDigest, true);
  check("source_type", d.source_type, LIMITS.datasetName, true);
  check("source", d.source, LIMITS.datasetSource, true);
  check("schema", d.schema, LIMITS.datasetSchema, false);
  check("profile", d.profile, LIMITS.datasetProfile, false);
}
