/**
 * `.dvc` files: YAML with a list of outs, each `md5`, `size`, (`nfiles` for a
 * folder), `hash: md5` and `path`, written in that order as DVC writes them.
 * Keys mloop does not use (desc, meta, cache, remote, …) are kept as they were.
 */
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
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
    doc = YAML.parse(text);
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
  return YAML.stringify({ outs, ...d.extra }, { indentSeq: false, lineWidth: 0, singleQuote: true });
}

/** Writes a `.dvc` file whole or not at all (a temporary file renamed into place). */
export function writeDvcFile(d: DvcFile): void {
  const tmp = `${d.file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, formatDvcFile(d));
  fs.renameSync(tmp, d.file);
}
