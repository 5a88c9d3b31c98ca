import { invalidParameter } from "../api/errors.js";

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
