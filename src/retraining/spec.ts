/**
 * The deployment spec (`deploy.yaml`): the model and alias served, the
 * monitors and triggers, the retraining project, the fresh data, the
 * evaluation gate and the rollout. Errors name the line and the field.
 */
import { readFileSync } from "node:fs";
import YAML, { LineCounter, isMap, isScalar, isSeq, type Document, type Node } from "yaml";

export class SpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SpecError";
  }
}

export type MetricDirection = "higher" | "lower";

export interface GuardSpec {
  metric: string;
  /** How much worse than the champion the candidate may be (absolute). */
  tolerance: number;
  direction: MetricDirection;
}

export interface GateSpec {
  primaryMetric: string;
  direction: MetricDirection;
  /** The candidate must beat the champion by at least this much (absolute). */
  margin: number;
  guards: GuardSpec[];
}

export interface DeploymentSpec {
  name: string;
  model: { name: string; alias: string };
  serving: { port: number; logDir: string };
  monitor: { windowRows: number; driftShare: number; accuracyFloor?: number | undefined; reference?: string | undefined; cooldownSeconds: number };
  triggers: { drift: boolean; accuracy: boolean; manual: boolean; scheduleMinutes?: number | undefined };
  retraining: {
    project: string;
    entryPoint: string;
    parameters: Record<string, string>;
    backend: "local" | "queue";
    experiment: string;
  };
  /** `version`: a `.dvc` file (`mloop data add`): the tracked file it names, checked against its md5, is the base data. */
  data: { path?: string | undefined; version?: string | undefined; fromLog?: { labelColumn: string } | undefined };
  evaluation: { data: string; labelColumn: string; gate: GateSpec };
  rollout: {
    mode: "canary" | "shadow";
    share: number;
    durationSeconds: number;
    minRequests: number;
    maxErrorRateIncrease: number;
    maxAccuracyDrop: number;
    /** Roll back when the canary's p95 latency exceeds the champion's by more than this; unset: not checked. */
    maxP95LatencyIncreaseMs: number | undefined;
    previousAlias: string;
    challengerAlias: string;
  };
  /** The folder the spec was read from; relative paths in it are resolved against it. */
  baseDir: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** The metrics the gate knows (python/mloop_evaluate.py scores them); roc_auc and log_loss need the model's predict_proba. */
export const GATE_METRICS = ["accuracy", "f1", "precision", "recall", "roc_auc", "log_loss", "latency_ms"] as const;

/** Which way a metric improves, the default `direction`: lower for log_loss and latency_ms, higher for the rest. */
export function naturalDirection(metric: string): MetricDirection {
  return metric === "log_loss" || metric === "latency_ms" ? "lower" : "higher";
}

class Reader {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly file: string,
  ) {}

  fail(node: Node | null | undefined, field: string, message: string): never {
    const offset = node?.range?.[0];
    const where = offset === undefined ? this.file : `${this.file}:${this.lines.linePos(offset).line}`;
    throw new SpecError(`${where}: ${field}: ${message}`);
  }

  node(path: string[]): Node | undefined {
    return (this.doc.getIn(path, true) as Node | undefined) ?? undefined;
  }

  /** The nearest node that exists on the path (for a line number when a field is missing). */
  near(path: string[]): Node | undefined {
    for (let i = path.length; i >= 0; i--) {
      const n = i === 0 ? (this.doc.contents as Node | null) : this.node(path.slice(0, i));
      if (n) return n;
    }
    return undefined;
  }

  map(path: string[], allowed: readonly string[], required = false): boolean {
    const n = this.node(path);
    if (n === undefined || (isScalar(n) && n.value === null)) {
      if (required) this.fail(this.near(path), path.join("."), "is required");
      return false;
    }
    if (!isMap(n)) this.fail(n, path.join("."), "must be a mapping");
    for (const item of n.items) {
      const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
      if (!allowed.includes(key)) this.fail(item.key as Node, [...path, key].join("."), `unknown field (expected one of ${allowed.join(", ")})`);
    }
    return true;
  }

  str(path: string[], def?: string): string {
    const n = this.node(path);
    if (n === undefined) {
      if (def !== undefined) return def;
      this.fail(this.near(path), path.join("."), "is required");
    }
    if (!isScalar(n) || (typeof n.value !== "string" && typeof n.value !== "number") || String(n.value) === "") this.fail(n, path.join("."), "must be a non-empty string");
    return String(n.value);
  }

  optStr(path: string[]): string | undefined {
    return this.node(path) === undefined ? undefined : this.str(path);
  }

  num(path: string[], def: number | undefined, min: number, max: number): number {
    const n = this.node(path);
    if (n === undefined) {
      if (def !== undefined) return def;
      this.fail(this.near(path), path.join("."), "is required");
    }
    if (!isScalar(n) || typeof n.value !== "number" || !Number.isFinite(n.value)) this.fail(n, path.join("."), "must be a number");
    if (n.value < min || n.value > max) this.fail(n, path.join("."), `must be between ${min} and ${max}, got ${n.value}`);
    return n.value;
  }

  optNum(path: string[], min: number, max: number): number | undefined {
    return this.node(path) === undefined ? undefined : this.num(path, undefined, min, max);
  }

  oneOf<T extends string>(path: string[], values: readonly T[], def: T): T {
    const v = this.str(path, def);
    if (!(values as readonly string[]).includes(v)) this.fail(this.node(path), path.join("."), `must be one of ${values.join(", ")}, got '${v}'`);
    return v as T;
  }
}

/** Parses and validates a deployment spec. Throws {@link SpecError} naming `file:line: field`. */
export function parseDeploymentSpec(text: string, file = "deploy.yaml", baseDir = "."): DeploymentSpec {
  const lines = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = lines.linePos(e.pos[0]).line;
    throw new SpecError(`${file}:${line}: ${e.message.split("\n")[0]}`);
  }
  const r: Reader = new Reader(doc, lines, file);
  if (!isMap(doc.contents)) r.fail(doc.contents as Node | null, "(top level)", "must be a mapping");
  r.map([], ["name", "model", "serving", "monitor", "triggers", "retraining", "data", "evaluation", "rollout"]);

  const name = r.str(["name"]);
  if (!NAME.test(name)) r.fail(r.node(["name"]), "name", "must be letters, digits, '.', '_' or '-' (at most 100)");

  r.map(["model"], ["name", "alias"], true);
  const model = { name: r.str(["model", "name"]), alias: r.str(["model", "alias"], "champion") };

  r.map(["serving"], ["port", "log_dir"]);
  const serving = { port: r.num(["serving", "port"], 5001, 0, 65535), logDir: r.str(["serving", "log_dir"], "mloop-predictions") };

  r.map(["monitor"], ["window_rows", "drift_share", "accuracy_floor", "reference", "cooldown_s"]);
  const monitor = {
    windowRows: r.num(["monitor", "window_rows"], 200, 1, 10_000_000),
    driftShare: r.num(["monitor", "drift_share"], 0.5, 0, 1),
    accuracyFloor: r.optNum(["monitor", "accuracy_floor"], 0, 1),
    reference: r.optStr(["monitor", "reference"]),
    cooldownSeconds: r.num(["monitor", "cooldown_s"], 300, 0, 30 * 86400),
  };

  const triggerNode = r.node(["triggers"]);
  const triggers = { drift: false, accuracy: false, manual: true, scheduleMinutes: undefined as number | undefined };
  if (triggerNode === undefined) {
    triggers.drift = true;
    triggers.accuracy = monitor.accuracyFloor !== undefined;
  } else {
    if (!isSeq(triggerNode)) r.fail(triggerNode, "triggers", "must be a list (drift, accuracy, manual, schedule: MINUTES)");
    triggerNode.items.forEach((item, i) => {
      const field = `triggers[${i}]`;
      if (isScalar(item) && typeof item.value === "string") {
        if (item.value === "drift") triggers.drift = true;
        else if (item.value === "accuracy") {
          if (monitor.accuracyFloor === undefined) r.fail(item as Node, field, "the accuracy trigger needs monitor.accuracy_floor");
          triggers.accuracy = true;
        } else if (item.value === "manual") triggers.manual = true;
        else r.fail(item as Node, field, `unknown trigger '${item.value}' (expected drift, accuracy, manual or schedule: MINUTES)`);
      } else if (isMap(item) && item.items.length === 1 && isScalar(item.items[0]!.key) && item.items[0]!.key.value === "schedule") {
        const v = item.items[0]!.value;
        if (!isScalar(v) || typeof v.value !== "number" || !(v.value > 0)) r.fail((v as Node) ?? item, `${field}.schedule`, "must be a positive number of minutes");
        triggers.scheduleMinutes = v.value;
      } else r.fail(item as Node, field, "must be drift, accuracy, manual or {schedule: MINUTES}");
    });
  }

  r.map(["retraining"], ["project", "entry_point", "parameters", "backend", "experiment"], true);
  const parameters: Record<string, string> = {};
  const paramNode = r.node(["retraining", "parameters"]);
  if (paramNode !== undefined) {
    if (!isMap(paramNode)) r.fail(paramNode, "retraining.parameters", "must be a mapping of name: value");
    for (const item of paramNode.items) {
      const key = isScalar(item.key) ? String(item.key.value) : "";
      const v = item.value;
      if (!isScalar(v) || v.value === null || typeof v.value === "object") r.fail((v as Node | null) ?? (item.key as Node), `retraining.parameters.${key}`, "must be a string or a number");
      parameters[key] = String(v.value);
    }
  }
  const retraining = {
    project: r.str(["retraining", "project"]),
    entryPoint: r.str(["retraining", "entry_point"], "main"),
    parameters,
    backend: r.oneOf(["retraining", "backend"], ["local", "queue"] as const, "local"),
    experiment: r.str(["retraining", "experiment"], `deploy-${name}`),
  };

  r.map(["data"], ["path", "version", "from_log"]);
  const data: DeploymentSpec["data"] = { path: r.optStr(["data", "path"]), version: r.optStr(["data", "version"]) };
  if (data.version !== undefined) {
    if (!data.version.endsWith(".dvc")) r.fail(r.node(["data", "version"]), "data.version", `must be a .dvc file (written by mloop data add), got '${data.version}'`);
    if (data.path !== undefined) r.fail(r.node(["data", "version"]), "data.version", "names the data itself: give path or version, not both");
  }
  if (r.map(["data", "from_log"], ["label_column"])) data.fromLog = { labelColumn: r.str(["data", "from_log", "label_column"], "label") };
  if (data.path === undefined && data.version === undefined && data.fromLog === undefined) r.fail(r.near(["data"]), "data", "needs path (a file or folder), version (a .dvc file) or from_log (the prediction log joined with feedback)");
  for (const v of Object.values(parameters)) {
    for (const m of v.matchAll(/\$\{([^}]*)\}/g)) {
      if (m[1] !== "data" && m[1] !== "run_id") r.fail(r.node(["retraining", "parameters"]), "retraining.parameters", `unknown reference \${${m[1]}} (expected \${data})`);
    }
  }

  r.map(["evaluation"], ["data", "label_column", "gate"], true);
  r.map(["evaluation", "gate"], ["primary_metric", "direction", "margin", "guards"]);
  const guards: GuardSpec[] = [];
  const guardNode = r.node(["evaluation", "gate", "guards"]);
  if (guardNode !== undefined) {
    if (!isSeq(guardNode)) r.fail(guardNode, "evaluation.gate.guards", "must be a list of {metric, tolerance, direction}");
    guardNode.items.forEach((_, i) => {
      const p = ["evaluation", "gate", "guards", String(i)];
      r.map(p, ["metric", "tolerance", "direction"], true);
      const metric = r.str([...p, "metric"]);
      guards.push({ metric, tolerance: r.num([...p, "tolerance"], 0, 0, Number.MAX_VALUE), direction: r.oneOf([...p, "direction"], ["higher", "lower"] as const, naturalDirection(metric)) });
    });
  }
  const primaryMetric = r.str(["evaluation", "gate", "primary_metric"], "accuracy");
  const evaluation = {
    data: r.str(["evaluation", "data"]),
    labelColumn: r.str(["evaluation", "label_column"], "label"),
    gate: {
      primaryMetric,
      direction: r.oneOf(["evaluation", "gate", "direction"], ["higher", "lower"] as const, naturalDirection(primaryMetric)),
      margin: r.num(["evaluation", "gate", "margin"], 0, 0, Number.MAX_VALUE),
      guards,
    },
  };
  const known: readonly string[] = GATE_METRICS;
  for (const [i, m] of [evaluation.gate.primaryMetric, ...guards.map((g) => g.metric)].entries()) {
    if (!known.includes(m)) {
      const path = i === 0 ? ["evaluation", "gate", "primary_metric"] : ["evaluation", "gate", "guards", String(i - 1), "metric"];
      r.fail(r.node(path), path.join(".").replace(/\.(\d+)\./, "[$1]."), `unknown metric '${m}' (expected one of ${known.join(", ")})`);
    }
  }

  r.map(["rollout"], ["mode", "share", "duration_s", "min_requests", "max_error_rate_increase", "max_accuracy_drop", "max_p95_latency_increase_ms", "previous_alias", "challenger_alias"]);
  const rollout = {
    mode: r.oneOf(["rollout", "mode"], ["canary", "shadow"] as const, "canary"),
    share: r.num(["rollout", "share"], 0.1, 0, 1),
    durationSeconds: r.num(["rollout", "duration_s"], 300, 0, 30 * 86400),
    minRequests: r.num(["rollout", "min_requests"], 20, 0, 1e9),
    maxErrorRateIncrease: r.num(["rollout", "max_error_rate_increase"], 0.02, 0, 1),
    maxAccuracyDrop: r.num(["rollout", "max_accuracy_drop"], 0.05, 0, 1),
    maxP95LatencyIncreaseMs: r.optNum(["rollout", "max_p95_latency_increase_ms"], 0, 3_600_000),
    previousAlias: r.str(["rollout", "previous_alias"], "previous"),
    challengerAlias: r.str(["rollout", "challenger_alias"], "challenger"),
  };
  if (rollout.previousAlias === model.alias || rollout.challengerAlias === model.alias) r.fail(r.near(["rollout"]), "rollout", `previous_alias and challenger_alias must differ from model.alias '${model.alias}'`);

  return { name, model, serving, monitor, triggers, retraining, data, evaluation, rollout, baseDir };
}

/** Reads and validates a spec file. */
export function readDeploymentSpec(file: string): DeploymentSpec {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new SpecError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const path = file.replace(/\\/g, "/");
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
  return parseDeploymentSpec(text, file, dir);
}
