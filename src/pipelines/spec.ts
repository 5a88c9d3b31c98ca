/**
 * `dvc.yaml`: stages, `vars` and `${}` interpolation, `foreach`/`do` and
 * `matrix` expanded into concrete stages named as DVC names them
 * (`stage@key`, `stage@a-b`). A bad file fails with one message naming the
 * file, the stage and the field.
 */
import fs from "node:fs";
import path from "node:path";
import { invalidParameter, type MlflowError } from "../errors.js";
import { parseParamsText, parseYamlForInterpolation } from "./params.js";

/** Reads a file of the tree (the workspace or a git revision) by repository-relative path; `undefined` when absent. */
export type TreeReader = (rel: string) => string | undefined;

/** The workspace under `root` as a {@link TreeReader}. */
export function workspaceReader(root: string): TreeReader {
  return (rel) => {
    try {
      return fs.readFileSync(path.join(root, rel), "utf8");
    } catch {
      return undefined;
    }
  };
}

export type OutKind = "outs" | "metrics" | "plots";

export interface OutSpec {
  /** As written, relative to the stage's `wdir`. */
  path: string;
  /** Relative to the repository root, `/`-separated. */
  rel: string;
  kind: OutKind;
  cache: boolean;
  persist: boolean;
  /** Other keys (desc, remote, push, x, y, template…), kept for plots and metrics. */
  extra: Record<string, unknown>;
}

export interface ParamSpec {
  /** As written, relative to the stage's `wdir`. */
  file: string;
  rel: string;
  /** Keys read from the file; empty means the whole file. */
  keys: string[];
}

export interface DepSpec {
  path: string;
  rel: string;
}

export interface Stage {
  /** `train`, `loop@x`, `grid@1-a`. */
  name: string;
  cmd: string | string[];
  /** The stage's folder relative to the repository root, `/`-separated; "" for the root. */
  wdir: string;
  /** `wdir` as written, when given. */
  wdirRaw?: string;
  deps: DepSpec[];
  params: ParamSpec[];
  outs: OutSpec[];
  frozen: boolean;
  alwaysChanged: boolean;
  desc?: string;
}

export interface Pipeline {
  /** Absolute path of the repository (or folder) holding `dvc.yaml`. */
  root: string;
  /** Absolute path of `dvc.yaml`. */
  file: string;
  stages: Stage[];
  /** Top-level `plots:` definitions, as written. */
  plots: unknown[];
  /** Top-level `metrics:` files, relative to the root. */
  metrics: string[];
  /** Top-level `params:` files, relative to the root. */
  params: string[];
}

export const DEFAULT_PARAMS_FILE = "params.yaml";

const STAGE_KEYS = new Set(["cmd", "wdir", "deps", "params", "outs", "metrics", "plots", "frozen", "always_changed", "desc", "meta", "vars"]);
const OUT_FLAGS = new Set(["cache", "persist", "desc", "remote", "push", "type", "labels", "meta", "checkpoint", "x", "y", "x_label", "y_label", "title", "template", "header"]);
const TOP_KEYS = new Set(["stages", "vars", "plots", "metrics", "params", "artifacts", "datasets"]);

/** `dvc.yaml: stage 'train': field 'deps': message`. */
function fail(file: string, stage: string | undefined, field: string | undefined, message: string): MlflowError {
  return invalidParameter(`${file}: ${stage ? `stage '${stage}': ` : ""}${field ? `'${field}' ` : ""}${message}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isPrimitive(v: unknown): v is string | number | boolean {
  return typeof v === "string" || typeof v === "number" || typeof v === "boolean";
}

// --- interpolation ------------------------------------------------------------------------------

const VAR = /(\\)?\$\{\s*([^}]*?)\s*\}/g;
const FULL_VAR = /^\$\{\s*([^}]*?)\s*\}$/;

type Context = Record<string, unknown>;

/** Looks `a.b[0].c` up in the context; `undefined` when it is not there. */
function lookup(ctx: Context, expr: string): { found: boolean; value?: unknown } {
  const parts: (string | number)[] = [];
  for (const seg of expr.split(".")) {
    const m = seg.match(/^([^[\]]*)((?:\[\d+\])*)$/);
    if (!m) return { found: false };
    if (m[1]) parts.push(m[1]);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) parts.push(Number(idx[1]));
  }
  let cur: unknown = ctx;
  for (const p of parts) {
    if (typeof p === "number") {
      if (!Array.isArray(cur) || p >= cur.length) return { found: false };
      cur = cur[p];
    } else if (isRecord(cur) && Object.prototype.hasOwnProperty.call(cur, p)) {
      cur = cur[p];
    } else if (Array.isArray(cur) && /^\d+$/.test(p) && Number(p) < cur.length) {
      cur = cur[Number(p)];
    } else {
      return { found: false };
    }
  }
  return { found: true, value: cur };
}

/** How DVC turns an interpolated value into text inside a string. */
function toText(v: unknown): string {
  if (typeof v === "boolean") return v ? "true" : "false";
  if (v === null || v === undefined) return "None";
  if (Array.isArray(v)) return v.map(toText).join(" ");
  if (isRecord(v)) {
    return Object.entries(v)
      .map(([k, x]) => (typeof x === "boolean" ? (x ? `--${k}` : "") : `--${k} ${toText(x)}`))
      .filter(Boolean)
      .join(" ");
  }
  return String(v);
}

interface Where {
  file: string;
  stage?: string;
  field?: string;
}

function interpolateString(s: string, ctx: Context, where: Where): unknown {
  const full = s.match(FULL_VAR);
  if (full) {
    const r = lookup(ctx, full[1]!);
    if (!r.found) throw fail(where.file, where.stage, where.field, `uses '\${${full[1]}}', which is not defined`);
    return r.value;
  }
  if (!s.includes("${")) return s;
  return s.replace(VAR, (match, escaped: string | undefined, expr: string) => {
    if (escaped) return match.slice(1);
    const r = lookup(ctx, expr);
    if (!r.found) throw fail(where.file, where.stage, where.field, `uses '\${${expr}}', which is not defined`);
    if (isRecord(r.value) && where.field !== "cmd") throw fail(where.file, where.stage, where.field, `cannot put the dictionary '\${${expr}}' inside a string`);
    return toText(r.value);
  });
}

function interpolate(v: unknown, ctx: Context, where: Where): unknown {
  if (typeof v === "string") return interpolateString(v, ctx, where);
  if (Array.isArray(v)) return v.map((x) => interpolate(x, ctx, where));
  if (isRecord(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const key = k.includes("${") ? toText(interpolateString(k, ctx, where)) : k;
      out[key] = interpolate(x, ctx, { ...where, field: where.field ?? k });
    }
    return out;
  }
  return v;
}

function mergeInto(ctx: Context, vars: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(vars)) {
    if (isRecord(ctx[k]) && isRecord(v)) {
      const merged = { ...(ctx[k] as Record<string, unknown>) };
      mergeInto(merged, v);
      ctx[k] = merged;
    } else {
      ctx[k] = v;
    }
  }
}

/** Applies a `vars:` list (dicts, `file.yaml`, `file.yaml:key1,key2`) to the context. */
function loadVars(ctx: Context, vars: unknown, read: TreeReader, where: Where): void {
  if (vars === undefined || vars === null) return;
  const list = Array.isArray(vars) ? vars : [vars];
  for (const entry of list) {
    if (isRecord(entry)) {
      mergeInto(ctx, interpolate(entry, ctx, { ...where, field: "vars" }) as Record<string, unknown>);
    } else if (typeof entry === "string") {
      const [file, keys] = splitFileKeys(entry);
      const text = read(path.posix.normalize(file));
      if (text === undefined) throw fail(where.file, where.stage, "vars", `names '${file}', which does not exist`);
      const data = parseParamsText(text, file, { forInterpolation: true });
      if (keys.length === 0) mergeInto(ctx, data);
      else {
        for (const k of keys) {
          const r = lookup(data, k);
          if (!r.found) throw fail(where.file, where.stage, "vars", `names '${k}', which '${file}' does not have`);
          const sub: Record<string, unknown> = {};
          setPath(sub, k, r.value);
          mergeInto(ctx, sub);
        }
      }
    } else {
      throw fail(where.file, where.stage, "vars", "entries must be dictionaries or file names");
    }
  }
}

function setPath(obj: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split(".");
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    if (!isRecord(cur[p])) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

function splitFileKeys(s: string): [string, string[]] {
  const i = s.lastIndexOf(":");
  if (i <= 0) return [s, []];
  return [s.slice(0, i), s.slice(i + 1).split(",").map((k) => k.trim()).filter(Boolean)];
}

// --- stages -----------------------------------------------------------------------------------

function posixJoin(wdir: string, p: string): string {
  const joined = path.posix.normalize(path.posix.join(wdir || ".", p.replace(/\\/g, "/")));
  return joined.replace(/\/$/, "");
}

function parseOutList(raw: unknown, kind: OutKind, wdir: string, where: Where): OutSpec[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw fail(where.file, where.stage, kind, "must be a list");
  return raw.map((item) => {
    let p: string;
    let flags: Record<string, unknown> = {};
    if (typeof item === "string") p = item;
    else if (isRecord(item) && Object.keys(item).length === 1) {
      p = Object.keys(item)[0]!;
      const f = item[p];
      if (f !== null && f !== undefined && !isRecord(f)) throw fail(where.file, where.stage, kind, `entry '${p}' must map to a dictionary of flags`);
      flags = (f as Record<string, unknown>) ?? {};
    } else throw fail(where.file, where.stage, kind, "entries must be paths or {path: {flags}}");
    for (const k of Object.keys(flags)) if (!OUT_FLAGS.has(k)) throw fail(where.file, where.stage, kind, `entry '${p}' has an unknown flag '${k}'`);
    if (flags.cache !== undefined && typeof flags.cache !== "boolean") throw fail(where.file, where.stage, kind, `entry '${p}': 'cache' must be true or false`);
    if (flags.persist !== undefined && typeof flags.persist !== "boolean") throw fail(where.file, where.stage, kind, `entry '${p}': 'persist' must be true or false`);
    const { cache, persist, ...extra } = flags;
    return { path: p, rel: posixJoin(wdir, p), kind, cache: cache !== false, persist: persist === true, extra };
  });
}

function parseParams(raw: unknown, wdir: string, where: Where): ParamSpec[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw fail(where.file, where.stage, "params", "must be a list");
  const byFile = new Map<string, ParamSpec>();
  const add = (file: string, keys: string[]) => {
    const spec = byFile.get(file) ?? { file, rel: posixJoin(wdir, file), keys: [] };
    for (const k of keys) if (!spec.keys.includes(k)) spec.keys.push(k);
    byFile.set(file, spec);
  };
  for (const item of raw) {
    if (typeof item === "string") add(DEFAULT_PARAMS_FILE, [item]);
    else if (isRecord(item)) {
      for (const [file, keys] of Object.entries(item)) {
        if (keys === null || keys === undefined) add(file, []);
        else if (Array.isArray(keys) && keys.every((k) => typeof k === "string")) add(file, keys as string[]);
        else throw fail(where.file, where.stage, "params", `entry '${file}' must list keys (strings)`);
      }
    } else throw fail(where.file, where.stage, "params", "entries must be keys or {file: [keys]}");
  }
  return [...byFile.values()];
}

function parseStage(name: string, raw: unknown, wdirBase: string, where: Where): Stage {
  if (!isRecord(raw)) throw fail(where.file, name, undefined, "must be a dictionary");
  for (const k of Object.keys(raw)) if (!STAGE_KEYS.has(k)) throw fail(where.file, name, k, "is not a stage field (extra keys not allowed)");
  const cmd = raw.cmd;
  if (cmd === undefined || cmd === null || cmd === "") throw fail(where.file, name, "cmd", "is required");
  if (!(typeof cmd === "string" || (Array.isArray(cmd) && cmd.length > 0 && cmd.every((c) => typeof c === "string")))) {
    throw fail(where.file, name, "cmd", "must be a string or a list of strings");
  }
  const w = { ...where, stage: name };
  if (raw.wdir !== undefined && typeof raw.wdir !== "string") throw fail(where.file, name, "wdir", "must be a string");
  const wdir = posixJoin(wdirBase, (raw.wdir as string | undefined) ?? ".");
  if (wdir.startsWith("..")) throw fail(where.file, name, "wdir", "must stay inside the repository");
  const deps = raw.deps ?? [];
  if (!Array.isArray(deps) || !deps.every((d) => typeof d === "string")) throw fail(where.file, name, "deps", "must be a list of paths");
  for (const k of ["frozen", "always_changed"] as const) {
    if (raw[k] !== undefined && typeof raw[k] !== "boolean") throw fail(where.file, name, k, "must be true or false");
  }
  const outs = [
    ...parseOutList(raw.outs, "outs", wdir === "." ? "" : wdir, w),
    ...parseOutList(raw.metrics, "metrics", wdir === "." ? "" : wdir, w),
    ...parseOutList(raw.plots, "plots", wdir === "." ? "" : wdir, w),
  ];
  const wd = wdir === "." ? "" : wdir;
  const seen = new Set<string>();
  for (const o of outs) {
    if (seen.has(o.rel)) throw fail(where.file, name, o.kind, `lists '${o.path}' twice`);
    seen.add(o.rel);
  }
  return {
    name,
    cmd: cmd as string | string[],
    wdir: wd,
    wdirRaw: raw.wdir as string | undefined,
    deps: (deps as string[]).map((d) => ({ path: d, rel: posixJoin(wd, d) })),
    params: parseParams(raw.params, wd, w),
    outs,
    frozen: raw.frozen === true,
    alwaysChanged: raw.always_changed === true,
    desc: typeof raw.desc === "string" ? raw.desc : undefined,
  };
}

/** Python's `str()` of a foreach/matrix key as DVC puts it in a stage name. */
function keyText(v: unknown): string {
  if (typeof v === "boolean") return v ? "True" : "False";
  return String(v);
}

function expandDefinition(name: string, def: Record<string, unknown>, ctx: Context, read: TreeReader, where: Where): Stage[] {
  const w = { ...where, stage: name };
  const withStageVars = (c: Context, body: Record<string, unknown>): Context => {
    if (body.vars === undefined) return c;
    const next = structuredClone(c);
    loadVars(next, body.vars, read, w);
    return next;
  };
  const build = (stageName: string, c: Context, body: Record<string, unknown>): Stage => {
    const local = withStageVars(c, body);
    const { vars: _vars, ...rest } = body;
    const resolved: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(rest)) resolved[k] = interpolate(v, local, { file: where.file, stage: stageName, field: k });
    return parseStage(stageName, resolved, "", { file: where.file });
  };
  if ("foreach" in def || "matrix" in def) {
    if (!isRecord(def.do) && "foreach" in def) throw fail(where.file, name, "do", "is required with 'foreach' and must be a dictionary");
    const extra = Object.keys(def).filter((k) => !["foreach", "do", "matrix", ...STAGE_KEYS].includes(k));
    if (extra.length) throw fail(where.file, name, extra[0], "is not a stage field (extra keys not allowed)");
    if ("foreach" in def) {
      let items = def.foreach;
      if (typeof items === "string") items = interpolateString(items, ctx, { ...w, field: "foreach" });
      const body = def.do as Record<string, unknown>;
      if (Array.isArray(items)) {
        const byValue = items.every(isPrimitive);
        return items.map((item, i) => build(`${name}@${byValue ? keyText(item) : i}`, { ...ctx, item }, body));
      }
      if (isRecord(items)) return Object.entries(items).map(([key, item]) => build(`${name}@${key}`, { ...ctx, key, item }, body));
      throw fail(where.file, name, "foreach", "must be a list, a dictionary or a '${}' naming one");
    }
    let matrix = def.matrix;
    if (!isRecord(matrix)) throw fail(where.file, name, "matrix", "must be a dictionary of lists");
    matrix = Object.fromEntries(
      Object.entries(matrix).map(([k, v]) => [k, typeof v === "string" ? interpolateString(v, ctx, { ...w, field: "matrix" }) : v]),
    );
    const axes = Object.entries(matrix as Record<string, unknown>);
    for (const [k, v] of axes) if (!Array.isArray(v) || v.length === 0) throw fail(where.file, name, "matrix", `axis '${k}' must be a non-empty list`);
    let combos: { item: Record<string, unknown>; names: string[] }[] = [{ item: {}, names: [] }];
    for (const [k, values] of axes as [string, unknown[]][]) {
      combos = combos.flatMap((c) => values.map((v, i) => ({ item: { ...c.item, [k]: v }, names: [...c.names, isPrimitive(v) ? keyText(v) : `${k}${i}`] })));
    }
    const { matrix: _m, ...body } = def;
    return combos.map((c) => build(`${name}@${c.names.join("-")}`, { ...ctx, item: c.item }, body));
  }
  return [build(name, ctx, def)];
}

/** Reads and expands `dvc.yaml` in `root`. */
export function loadPipeline(root: string, fileName = "dvc.yaml", read: TreeReader = workspaceReader(root)): Pipeline {
  const file = path.join(root, fileName);
  const text = read(fileName);
  if (text === undefined) throw invalidParameter(`${fileName} does not exist in ${root}`);
  let doc: unknown;
  try {
    doc = parseYamlForInterpolation(text);
  } catch (err) {
    throw invalidParameter(`${fileName} is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  if (doc === null || doc === undefined) doc = {};
  if (!isRecord(doc)) throw invalidParameter(`${fileName}: must be a dictionary with 'stages:'`);
  for (const k of Object.keys(doc)) if (!TOP_KEYS.has(k)) throw fail(fileName, undefined, k, "is not a dvc.yaml section (expected stages, vars, params, metrics, plots)");
  const where = { file: fileName };
  const ctx: Context = {};
  const defaultParams = read(DEFAULT_PARAMS_FILE);
  if (defaultParams !== undefined) mergeInto(ctx, parseParamsText(defaultParams, DEFAULT_PARAMS_FILE, { forInterpolation: true }));
  loadVars(ctx, doc.vars, read, where);
  const rawStages = doc.stages ?? {};
  if (!isRecord(rawStages)) throw fail(fileName, undefined, "stages", "must be a dictionary of stages");
  const stages: Stage[] = [];
  const names = new Set<string>();
  for (const [name, def] of Object.entries(rawStages)) {
    if (!/^[^@:/\\#$]+$/.test(name)) throw fail(fileName, name, undefined, "has an invalid name (no '@', ':', '/', '#' or '$')");
    if (!isRecord(def)) throw fail(fileName, name, undefined, "must be a dictionary");
    for (const s of expandDefinition(name, def, ctx, read, where)) {
      if (names.has(s.name)) throw fail(fileName, s.name, undefined, "is defined twice");
      names.add(s.name);
      stages.push(s);
    }
  }
  const listOf = (k: "metrics" | "params"): string[] => {
    const v = doc[k];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw fail(fileName, undefined, k, "must be a list of files");
    return v as string[];
  };
  const plots = doc.plots ?? [];
  if (!Array.isArray(plots)) throw fail(fileName, undefined, "plots", "must be a list");
  return { root, file, stages, plots, metrics: listOf("metrics"), params: listOf("params") };
}
