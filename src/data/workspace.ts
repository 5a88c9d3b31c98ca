/**
 * Walking the workspace: the files of a tracked folder (without what
 * `.dvcignore` ignores) with the stat fields the state cache is keyed by,
 * and finding the repository's `.dvc` files.
 */
import fs from "node:fs";
import path from "node:path";
import type { DvcIgnore } from "./ignore.js";

export interface WorkspaceFile {
  /** Path inside the walked folder, `/`-separated. */
  relpath: string;
  abs: string;
  size: number;
  inode: string;
  mtime: string;
}

export function statFile(abs: string): Omit<WorkspaceFile, "relpath"> | undefined {
  try {
    const st = fs.statSync(abs, { bigint: true });
    if (!st.isFile()) return undefined;
    return { abs, size: Number(st.size), inode: String(st.ino), mtime: String(st.mtimeNs) };
  } catch {
    return undefined;
  }
}

/** `/`-separated path of `abs` relative to `root`. */
export function relPosix(root: string, abs: string): string {
  return path.relative(root, abs).split(path.sep).join("/");
}

/**
 * The files under `dir` (following symlinks, as DVC hashes what they point to),
 * skipping ignored entries; `rootRel` is `dir` relative to the repository root
 * for matching `.dvcignore` rules.
 */
export function walkFiles(dir: string, rootRel: string, ignore: DvcIgnore): WorkspaceFile[] {
  const out: WorkspaceFile[] = [];
  const visit = (abs: string, rel: string) => {
    for (const ent of fs.readdirSync(abs, { withFileTypes: true })) {
      const childAbs = path.join(abs, ent.name);
      const childRel = rel === "" ? ent.name : `${rel}/${ent.name}`;
      let isDir = ent.isDirectory();
      let isFile = ent.isFile();
      if (ent.isSymbolicLink()) {
        const st = fs.statSync(childAbs, { throwIfNoEntry: false });
        isDir = !!st?.isDirectory();
        isFile = !!st?.isFile();
      }
      if (!isDir && !isFile) continue;
      if (ignore.isIgnored(rootRel === "" ? childRel : `${rootRel}/${childRel}`, isDir)) continue;
      if (isDir) visit(childAbs, childRel);
      else {
        const st = statFile(childAbs);
        if (st) out.push({ relpath: childRel, ...st });
      }
    }
  };
  visit(dir, "");
  return out;
}

/**
 * The `.dvc` files of the repository (absolute paths), skipping ignored
 * folders and not descending into folders that a `.dvc` file beside them tracks.
 */
export function findDvcFiles(root: string, ignore: DvcIgnore): string[] {
  const found: string[] = [];
  const visit = (abs: string, rel: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(abs, { withFileTypes: true });
    } catch {
      return;
    }
    const names = new Set(entries.map((e) => e.name));
    for (const ent of entries) {
      const childRel = rel === "" ? ent.name : `${rel}/${ent.name}`;
      if (ent.isFile() && ent.name.endsWith(".dvc") && ent.name !== ".dvc") {
        if (!ignore.isIgnored(childRel, false)) found.push(path.join(abs, ent.name));
      } else if (ent.isDirectory()) {
        if (names.has(`${ent.name}.dvc`) || ignore.isIgnored(childRel, true)) continue;
        visit(path.join(abs, ent.name), childRel);
      }
    }
  };
  visit(root, "");
  return found.sort();
}
