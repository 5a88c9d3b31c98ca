/**
 * Folder manifests: the `.dir` objects DVC stores for a tracked folder.
 *
 * A manifest is the JSON list `[{"md5": "…", "relpath": "a/b"}, …]` sorted by
 * `relpath` (compared by code point), written as Python's `json.dumps(…,
 * sort_keys=True)` writes it: `", "` and `": "` separators and every non-ASCII
 * character escaped as `\uXXXX`. The folder's hash is the md5 of those bytes
 * with `.dir` appended, so the same files give the same hash in DVC and here.
 */
import { createHash } from "node:crypto";
import { invalidParameter } from "../errors.js";

export interface TreeEntry {
  /** Path inside the folder, `/`-separated. */
  relpath: string;
  md5: string;
}

export interface TreeInfo {
  /** `<md5>.dir` */
  md5: string;
  bytes: Buffer;
  entries: TreeEntry[];
}

const MD5 = /^[0-9a-f]{32}$/;

/** Python's `json.dumps` of a string with `ensure_ascii`: quotes, escapes and `\uXXXX` (lower-case hex, surrogate pairs). */
export function pythonJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c === 0x08) out += "\\b";
    else if (c === 0x0c) out += "\\f";
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, "0")}`;
    else out += s[i];
  }
  return `${out}"`;
}

/** Orders strings as Python does: by code point, not by UTF-16 unit. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate (0xD800–0xDFFF) stands for a code point above 0xFFFF, so it sorts after 0xE000–0xFFFF.
    const rx = x >= 0xd800 && x <= 0xdfff ? x + 0x2000 : x >= 0xe000 ? x - 0x800 : x;
    const ry = y >= 0xd800 && y <= 0xdfff ? y + 0x2000 : y >= 0xe000 ? y - 0x800 : y;
    return rx - ry;
  }
  return a.length - b.length;
}

/** Characters whose UTF-16 order differs from their code point order. */
const HIGH = /[\ud800-\uffff]/;

/** Builds a folder's manifest and its hash from its files' hashes. */
export function buildTree(entries: readonly TreeEntry[]): TreeInfo {
  const simple = entries.every((e) => !HIGH.test(e.relpath));
  const sorted = [...entries].sort(simple ? (a, b) => (a.relpath < b.relpath ? -1 : a.relpath > b.relpath ? 1 : 0) : (a, b) => compareCodePoints(a.relpath, b.relpath));
  const body = sorted.map((e) => `{"md5": ${pythonJsonString(e.md5)}, "relpath": ${pythonJsonString(e.relpath)}}`).join(", ");
  const bytes = Buffer.from(`[${body}]`, "utf8");
  return { md5: `${createHash("md5").update(bytes).digest("hex")}.dir`, bytes, entries: sorted };
}

/** Reads a `.dir` manifest; `name` (the object's file) goes into the error when it does not parse. */
export function parseTree(bytes: Buffer, name: string): TreeEntry[] {
  let list: unknown;
  try {
    list = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw invalidParameter(`Folder manifest ${name} is not valid JSON`);
  }
  if (!Array.isArray(list)) throw invalidParameter(`Folder manifest ${name} is not a list`);
  return list.map((item: unknown) => {
    const e = (item ?? {}) as { md5?: unknown; relpath?: unknown };
    if (typeof e.md5 !== "string" || !MD5.test(e.md5) || typeof e.relpath !== "string" || e.relpath === "") {
      throw invalidParameter(`Folder manifest ${name} has an entry without a valid md5 and relpath`);
    }
    const parts = e.relpath.split("/");
    if (e.relpath.startsWith("/") || parts.some((p) => p === "" || p === "." || p === "..") || e.relpath.includes("\\") || e.relpath.includes("\0")) {
      throw invalidParameter(`Folder manifest ${name} has an unsafe path '${e.relpath}'`);
    }
    return { md5: e.md5, relpath: e.relpath };
  });
}

export function isMd5(s: string): boolean {
  return MD5.test(s);
}
