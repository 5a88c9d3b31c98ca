/**
 * `dvc.lock` (`schema: '2.0'`) and DVC's run cache: the entries DVC writes for
 * a stage that ran (`cmd`, `deps`, `params`, `outs`, deps and outs sorted by
 * path), and the `.dvc/cache/runs/<k[:2]>/<k>/<v>` files keyed by the sha256 of
 * the entry's Python `json.dumps(sort_keys=True)`, so mloop and dvc share
 * one run cache.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { invalidParameter } from "../errors.js";
import { compareCodePoints, pythonJsonString } from "../data/index.js";

export interface LockOut {
  path: string;
  hash?: string;
  md5?: string;
  size?: number;
  nfiles?: number;
  /** Other keys (isexec, …), kept. */
  extra?: Record<string, unknown>;
}

export interface LockEntry {
  cmd: string | string[];
  deps: LockOut[];
  /** file → key → value. */
  params: Record<string, Record<string, unknown>>;
  outs: LockOut[];
}

export interface LockFile {
  file: string;
  stages: Map<string, LockEntry>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const ITEM_KEYS = new Set(["path", "hash", "md5", "size", "nfiles"]);

function readItems(v: unknown, shown: string, stage: string, field: string): LockOut[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalidParameter(`${shown}: stage '${stage}': '${field}' must be a list`);
  return v.map((x) => {
    if (!isRecord(x) || typeof x.path !== "string") throw invalidParameter(`${shown}: stage '${stage}': '${field}' entries need a 'path'`);
    const extra = Object.fromEntries(Object.entries(x).filter(([k]) => !ITEM_KEYS.has(k)));
    return {
      path: x.path,
      ...(typeof x.hash === "string" ? { hash: x.hash } : {}),
      ...(typeof x.md5 === "string" ? { md5: x.md5 } : {}),
      ...(typeof x.size === "number" ? { size: x.size } : {}),
      ...(typeof x.nfiles === "number" ? { nfiles: x.nfiles } : {}),
      ...(Object.keys(extra).length ? { extra } : {}),
    };
  });
}

/** Parses one lock entry (also a run cache file). */
export function parseLockEntry(v: unknown, shown: string, stage: string): LockEntry {
  if (!isRecord(v)) throw invalidParameter(`${shown}: stage '${stage}' must be a dictionary`);
  const params: Record<string, Record<string, unknown>> = {};
  if (isRecord(v.params)) for (const [f, kv] of Object.entries(v.params)) params[f] = isRecord(kv) ? kv : {};
  return {
    cmd: v.cmd as string | string[],
    deps: readItems(v.deps, shown, stage, "deps"),
    params,
    outs: readItems(v.outs, shown, stage, "outs"),
  };
}

/** Reads `dvc.lock` beside `dvc.yaml`; an absent file is an empty lock. */
export function readLock(root: string, fileName = "dvc.lock"): LockFile {
  const file = path.join(root, fileName);
  const stages = new Map<string, LockEntry>();
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return { file, stages };
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw invalidParameter(`${fileName} is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  if (doc === null || doc === undefined) return { file, stages };
  if (!isRecord(doc)) throw invalidParameter(`${fileName} must be a dictionary`);
  if (doc.schema !== undefined && String(doc.schema) !== "2.0") throw invalidParameter(`${fileName} has schema '${String(doc.schema)}'; mloop reads schema '2.0' (DVC 2 and 3)`);
  if (isRecord(doc.stages)) for (const [name, e] of Object.entries(doc.stages)) stages.set(name, parseLockEntry(e, fileName, name));
  return { file, stages };
}

function itemToPlain(o: LockOut): Record<string, unknown> {
  return {
    path: o.path,
    ...(o.hash !== undefined ? { hash: o.hash } : {}),
    ...(o.md5 !== undefined ? { md5: o.md5 } : {}),
    ...(o.size !== undefined ? { size: o.size } : {}),
    ...(o.nfiles !== undefined ? { nfiles: o.nfiles } : {}),
    ...(o.extra ?? {}),
  };
}

/** The entry as DVC orders it (`cmd`, `deps`, `params`, `outs`; empty sections left out). */
export function entryToPlain(e: LockEntry): Record<string, unknown> {
  const out: Record<string, unknown> = { cmd: e.cmd };
  if (e.deps.length) out.deps = e.deps.map(itemToPlain);
  if (Object.keys(e.params).length) out.params = e.params;
  if (e.outs.length) out.outs = e.outs.map(itemToPlain);
  return out;
}

export function sortItems(items: LockOut[]): LockOut[] {
  return [...items].sort((a, b) => compareCodePoints(a.path, b.path));
}

/** Sorts params files and their top-level keys as DVC does. */
export function sortParams(p: Record<string, Record<string, unknown>>): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const f of Object.keys(p).sort(compareCodePoints)) {
    const kv = p[f]!;
    out[f] = Object.fromEntries(Object.keys(kv).sort(compareCodePoints).map((k) => [k, kv[k]]));
  }
  return out;
}

export function formatYaml(v: unknown): string {
  return YAML.stringify(v, { indentSeq: false, lineWidth: 0, singleQuote: true });
}

/** Writes the lock file (atomically) with the entries in `stages`' order. */
export function writeLock(lock: LockFile): void {
  const stages: Record<string, unknown> = {};
  for (const [name, e] of lock.stages) stages[name] = entryToPlain(e);
  const text = formatYaml({ schema: "2.0", stages });
  const tmp = `${lock.file}.mloop-tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, lock.file);
}

// --- Python's json.dumps(sort_keys=True), for the run cache's sha256 keys ------------------------

/** Python's `repr(float)`: the shortest round-trip digits, exponent from 1e16 and below 1e-4. */
export function pythonFloat(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "Infinity" : "-Infinity";
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return String(x);
  const exp = x.toExponential(); // shortest digits: d.ddde±n
  const m = exp.match(/^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/)!;
  const [, sign, d0, rest = "", e] = m;
  const n = Number(e);
  const digits = d0! + rest;
  if (n < -4 || n >= 16) return `${sign}${d0}${rest ? `.${rest}` : ""}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  if (n < 0) return `${sign}0.${"0".repeat(-n - 1)}${digits}`;
  const int = digits.slice(0, n + 1).padEnd(n + 1, "0");
  const frac = digits.slice(n + 1);
  return `${sign}${int}${frac ? `.${frac}` : ".0"}`;
}

export function pythonJson(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") return pythonFloat(v);
  if (typeof v === "string") return pythonJsonString(v);
  if (Array.isArray(v)) return `[${v.map(pythonJson).join(", ")}]`;
  if (isRecord(v)) {
    const keys = Object.keys(v).sort(compareCodePoints);
    return `{${keys.map((k) => `${pythonJsonString(k)}: ${pythonJson(v[k])}`).join(", ")}}`;
  }
  return pythonJsonString(String(v));
}

function dropMeta(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropMeta);
  if (isRecord(v)) return Object.fromEntries(Object.entries(v).filter(([k]) => k !== "size" && k !== "nfiles").map(([k, x]) => [k, dropMeta(x)]));
  return v;
}

function sha256(s: string): string {
  return createHash("sha256").update(s, "utf8").digest("hex");
}

/** The run cache key: the entry with outs reduced to their paths, without sizes. */
export function runCacheKey(e: LockEntry): string {
  const plain = entryToPlain(e);
  plain.outs = e.outs.map((o) => o.path);
  return sha256(pythonJson(dropMeta(plain)));
}

export function runCacheValue(e: LockEntry): string {
  return sha256(pythonJson(dropMeta(entryToPlain(e))));
}

/** `<cache>/runs`, where DVC keeps its run cache. */
export function runCacheDir(cacheRoot: string): string {
  return path.join(cacheRoot, "runs");
}

/** The newest run cache entry for `key`, as DVC picks it (by mtime). */
export function loadRunCache(cacheRoot: string, key: string): LockEntry | undefined {
  const dir = path.join(runCacheDir(cacheRoot), key.slice(0, 2), key);
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => !n.startsWith("."));
  } catch {
    return undefined;
  }
  const sorted = names
    .map((n) => ({ n, t: fs.statSync(path.join(dir, n), { throwIfNoEntry: false })?.mtimeMs ?? 0 }))
    .sort((a, b) => b.t - a.t);
  for (const { n } of sorted) {
    try {
      return parseLockEntry(YAML.parse(fs.readFileSync(path.join(dir, n), "utf8")), `run cache ${n}`, key);
    } catch {
      continue;
    }
  }
  return undefined;
}

export function saveRunCache(cacheRoot: string, e: LockEntry): void {
  const key = runCacheKey(e);
  const value = runCacheValue(e);
  const dir = path.join(runCacheDir(cacheRoot), key.slice(0, 2), key);
  const file = path.join(dir, value);
  if (fs.existsSync(file)) {
    const now = new Date();
    fs.utimesSync(file, now, now);
    return;
  }
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.mloop-${process.pid}-${Date.now()}.tmp`);
  fs.writeFileSync(tmp, formatYaml(entryToPlain(e)));
  fs.renameSync(tmp, file);
}
