/**
 * `.dvcignore`: gitignore patterns (`*`, `?`, `[…]`, `**`, a leading `/` or
 * an inner `/` anchoring to the file's folder, a trailing `/` for folders
 * only, `!` to re-include, `#` comments, `\` escapes), in any folder of the
 * repository, deeper files overriding shallower ones. `.git`, `.hg` and
 * `.dvc` folders are always ignored, as DVC does.
 */
import fs from "node:fs";
import path from "node:path";

interface Rule {
  regex: RegExp;
  negate: boolean;
  dirOnly: boolean;
}

interface IgnoreFile {
  /** Folder of the `.dvcignore`, relative to the repository root, `/`-separated ("" for the root). */
  base: string;
  rules: Rule[];
}

const ALWAYS = new Set([".git", ".hg", ".dvc"]);

function classToRegex(body: string): string {
  let b = body;
  if (b.startsWith("!")) b = `^${b.slice(1)}`;
  return `[${b.replace(/\\(.)/g, "\\$1").replace(/\[/g, "\\[")}]`;
}

/** Compiles one gitignore pattern; `undefined` for blanks and comments. */
export function compilePattern(line: string): Rule | undefined {
  let p = line.replace(/\r$/, "");
  if (p.startsWith("#")) return undefined;
  // trailing spaces are dropped unless escaped
  p = p.replace(/(?<!\\)\s+$/, "");
  if (p === "") return undefined;
  let negate = false;
  if (p.startsWith("!")) {
    negate = true;
    p = p.slice(1);
  } else if (p.startsWith("\\!") || p.startsWith("\\#")) p = p.slice(1);
  let dirOnly = false;
  if (p.endsWith("/")) {
    dirOnly = true;
    p = p.replace(/\/+$/, "");
  }
  if (p === "") return undefined;
  const anchored = p.includes("/");
  if (p.startsWith("/")) p = p.slice(1);
  let re = "";
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === "*") {
      if (p[i + 1] === "*" && (i === 0 || p[i - 1] === "/") && (i + 2 === p.length || p[i + 2] === "/")) {
        if (i + 2 === p.length) re += ".*";
        else {
          re += "(?:.*/)?";
          i += 2;
          continue;
        }
        i++;
      } else re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = p.indexOf("]", i + 2);
      if (end === -1) re += "\\[";
      else {
        re += classToRegex(p.slice(i + 1, end));
        i = end;
      }
    } else if (c === "\\" && i + 1 < p.length) {
      re += p[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return { regex: new RegExp(`^${anchored ? "" : "(?:.*/)?"}${re}$`), negate, dirOnly };
}

export function parseIgnore(text: string): Rule[] {
  return text.split("\n").flatMap((l) => compilePattern(l) ?? []);
}

/** The ignore rules of one repository; `.dvcignore` files are read as the walk meets their folders. */
export class DvcIgnore {
  private readonly files = new Map<string, IgnoreFile | null>();

  constructor(private readonly root: string) {}

  private fileFor(base: string): IgnoreFile | null {
    let f = this.files.get(base);
    if (f === undefined) {
      let text: string | undefined;
      try {
        text = fs.readFileSync(path.join(this.root, base, ".dvcignore"), "utf8");
      } catch {
        text = undefined;
      }
      f = text === undefined ? null : { base, rules: parseIgnore(text) };
      this.files.set(base, f);
    }
    return f;
  }

  /** Whether `rel` (relative to the root, `/`-separated) is ignored; its parent folders are assumed not ignored. */
  isIgnored(rel: string, isDir: boolean): boolean {
    const name = rel.slice(rel.lastIndexOf("/") + 1);
    if (isDir && ALWAYS.has(name)) return true;
    if (name === ".dvcignore") return false;
    let ignored = false;
    // each folder from the root down to rel's own: its .dvcignore matches the rest of the path
    for (let cut = -1; ; ) {
      const f = this.fileFor(cut < 0 ? "" : rel.slice(0, cut));
      if (f && f.rules.length > 0) {
        const sub = rel.slice(cut + 1);
        for (const r of f.rules) {
          if (r.dirOnly && !isDir) continue;
          if (r.negate === ignored && r.regex.test(sub)) ignored = !r.negate;
        }
      }
      cut = rel.indexOf("/", cut + 1);
      if (cut < 0) break;
    }
    return ignored;
  }
}
