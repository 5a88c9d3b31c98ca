/**
 * `.dvc` files: YAML with a list of outs, each `md5`, `size`, (`nfiles` for a
 * folder), `hash: md5` and `path`, written in that order as DVC writes them.
 * Keys mloop does not use (desc, meta, cache, remote, …) are kept as they were.
 */
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import type YAMLModule from "yaml";
import { invalidParameter } from "../errors.js";
import { isMd5 } from "./tree.js";

export interface Out {
  /** Path relative to the `.dvc` file's folder, `/`-separated. */
  path: string;
  /** The file's md5, or `<md5>.dir` for a folder; absent before the first commit. */
  md5?: string;
  size?: number;
  nfiles?: number;
  /** `md5` (DVC 3); `md5-dos2unix` marks hashes made by DVC 2. */
  hash?: string;
  /** Other keys of the out, kept as they were. */
  extra: Record<string, unknown>;
}

export interface DvcFile {
  /** Absolute path of the `.dvc` file. */
  file: string;
  outs: Out[];
  /** Other top-level keys, kept as they were. */
  extra: Record<string, unknown>;
}

const OUT_KEYS = new Set(["md5", "size", "nfiles", "hash", "path"]);

const requireCjs = createRequire(import.meta.url);
let yamlModule: typeof YAMLModule | undefined;
/** The YAML library costs ~0.2 s to load; the common `.dvc` files are read and written without it. */
function yaml(): typeof YAMLModule {
  yamlModule ??= requireCjs("yaml") as typeof YAMLModule;
  return yamlModule;
}

/** A scalar YAML reads back as the same string, written without quotes. */
const PLAIN = /^(?![-?:,[\]{}#&*!|>'"%@`\s])(?!.*(?::\s|\s#|\s$|:$))[\x20-\x7e]+$/u;
const NOT_A_STRING = /^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|y|Y|n|N|[-+]?(?:\.\d+|\d[\d_]*(?:\.\d*)?)(?:[eE][-+]?\d+)?|0x[0-9a-fA-F_]+|0o[0-7_]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|<<)$/;

function isPlain(s: string): boolean {
  return PLAIN.test(s) && !NOT_A_STRING.test(s) && !s.startsWith("---") && !s.startsWith("...");
}

/**
 * Reads the shape DVC writes for a plain `.dvc` file (`outs:` and `- key: value`
 * lines of plain scalars) without the YAML library; `undefined` for anything else.
 */
function parseSimple(text: string): Record<string, unknown> | undefined {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  if (lines[0] !== "outs:") return undefined;
  const outs: Record<string, unknown>[] = [];
  for (const line of lines.slice(1)) {
    const m = /^(- |  )([a-z_][a-z0-9_]*): (.+)$/.exec(line);
    if (!m) return undefined;
    const [, lead, key, raw] = m as unknown as [string, string, string, string];
    if (lead === "- ") outs.push({});
    const cur = outs[outs.length - 1];
    if (!cur || key in cur) return undefined;
    if (/^\d+$/.test(raw) && raw.length < 16) cur[key] = Number(raw);
    else if (isPlain(raw)) cur[key] = raw;
    else return undefined;
  }
  return { outs };
}

/** Reads and checks a `.dvc` file; every problem is one line naming the file. */
export function readDvcFile(file: string, shown = file): DvcFile {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw invalidParameter(`cannot read ${shown}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  let doc: unknown;
  try {
    doc = parseSimple(text) ?? yaml().parse(text);
  } catch (err) {
    throw invalidParameter(`${shown} is not valid YAML: ${String((err as Error).message).split("\n")[0]}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw invalidParameter(`${shown} is not a .dvc file (expected a mapping with 'outs')`);
  const { outs, ...extra } = doc as Record<string, unknown>;
  if (!Array.isArray(outs) || outs.length === 0) throw invalidParameter(`${shown} has no 'outs' list`);
  return {
    file,
    extra,
    outs: outs.map((o: unknown, i) => {
      if (!o || typeof o !== "object") throw invalidParameter(`${shown}: out ${i + 1} is not a mapping`);
      const r = o as Record<string, unknown>;
      if (typeof r.path !== "string" || r.path === "") throw invalidParameter(`${shown}: out ${i + 1} has no 'path'`);
      const p = r.path.replace(/\\/g, "/");
      if (path.posix.isAbsolute(p) || path.win32.isAbsolute(r.path) || p.split("/").includes("..")) {
        throw invalidParameter(`${shown}: out path '${r.path}' is outside the repository`);
      }
      const md5 = r.md5 === undefined || r.md5 === null ? undefined : String(r.md5);
      if (md5 !== undefined && !isMd5(md5.replace(/\.dir$/, ""))) throw invalidParameter(`${shown}: '${md5}' is not an md5 hash`);
      for (const k of ["size", "nfiles"] as const) {
        if (r[k] !== undefined && (typeof r[k] !== "number" || !Number.isInteger(r[k]) || (r[k] as number) < 0)) {
          throw invalidParameter(`${shown}: '${k}' of '${r.path}' must be a non-negative integer`);
        }
      }
      const hash = r.hash === undefined ? undefined : String(r.hash);
      return {
        path: p,
        md5,
        size: r.size as number | undefined,
        nfiles: r.nfiles as number | undefined,
        hash,
        extra: Object.fromEntries(Object.entries(r).filter(([k]) => !OUT_KEYS.has(k))),
      };
    }),
  };
}

/** The text DVC writes for these outs. */
export function formatDvcFile(d: Pick<DvcFile, "outs" | "extra">): string {
  const outs = d.outs.map((o) => {
    const m: Record<string, unknown> = {};
    if (o.md5 !== undefined) m.md5 = o.md5;
    if (o.size !== undefined) m.size = o.size;
    if (o.nfiles !== undefined) m.nfiles = o.nfiles;
    if (o.hash !== undefined) m.hash = o.hash;
    m.path = o.path;
    return { ...m, ...o.extra };
  });
  const simple = Object.keys(d.extra).length === 0 && outs.every((o) => Object.values(o).every((v) => (typeof v === "number" && Number.isSafeInteger(v)) || (typeof v === "string" && isPlain(v))));
  if (simple) {
    return `outs:\n${outs.map((o) => Object.entries(o).map(([k, v], i) => `${i === 0 ? "- " : "  "}${k}: ${v}\n`).join("")).join("")}`;
  }
  return yaml().stringify({ outs, ...d.extra }, { indentSeq: false, lineWidth: 0, singleQuote: true });
}

/** Writes a `.dvc` file whole or not at all (a temporary file renamed into place). */
export function writeDvcFile(d: DvcFile): void {
  const tmp = `${d.file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, formatDvcFile(d));
  fs.renameSync(tmp, d.file);
}
