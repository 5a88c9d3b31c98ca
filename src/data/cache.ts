/**
 * The content-addressed cache, in DVC 3's layout: `<cache>/files/md5/<2>/<30>`,
 * a folder's manifest under its hash with `.dir`. Objects are read-only (0444)
 * and appear under their final name only whole: each is written to a
 * temporary file beside the cache and renamed into place.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export type LinkType = "reflink" | "hardlink" | "symlink" | "copy";
export const LINK_TYPES: readonly LinkType[] = ["reflink", "hardlink", "symlink", "copy"];

export class ObjectCache {
  /** `<cache>/files/md5`. */
  readonly objects: string;
  private readonly tmp: string;
  private clones: boolean | undefined;

  constructor(readonly root: string) {
    this.objects = path.join(root, "files", "md5");
    this.tmp = path.join(root, ".mloop-tmp");
  }

  /** Where an object lives: `md5` is a file's hash or `<hash>.dir`. */
  pathOf(md5: string): string {
    return path.join(this.objects, md5.slice(0, 2), md5.slice(2));
  }

  exists(md5: string): boolean {
    return fs.existsSync(this.pathOf(md5));
  }

  /** Which of `md5s` are in the cache: one listing per `<2>` folder instead of one stat per object. */
  existing(md5s: Iterable<string>): Set<string> {
    const byPrefix = new Map<string, string[]>();
    for (const m of md5s) {
      const p = m.slice(0, 2);
      const list = byPrefix.get(p);
      if (list) list.push(m);
      else byPrefix.set(p, [m]);
    }
    const found = new Set<string>();
    for (const [p, list] of byPrefix) {
      if (list.length === 1) {
        if (this.exists(list[0]!)) found.add(list[0]!);
        continue;
      }
      let names: Set<string>;
      try {
        names = new Set(fs.readdirSync(path.join(this.objects, p)));
      } catch {
        continue;
      }
      for (const m of list) if (names.has(m.slice(2))) found.add(m);
    }
    return found;
  }

  /** A fresh temporary path on the cache's filesystem, so a rename into place is atomic. */
  tempPath(): string {
    fs.mkdirSync(this.tmp, { recursive: true });
    return path.join(this.tmp, `${randomBytes(8).toString("hex")}.tmp`);
  }

  /** Where the hashing threads store files (see `hashFiles`), and whether this filesystem clones files. */
  storeTarget(): { objects: string; tmp: string; clone: boolean } {
    fs.mkdirSync(this.tmp, { recursive: true });
    this.clones ??= canClone(this.tmp);
    return { objects: this.objects, tmp: this.tmp, clone: this.clones };
  }

  /** Moves a finished temporary file into place as `md5`, read-only; an object already there wins. */
  commitTemp(tmp: string, md5: string): void {
    const dest = this.pathOf(md5);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.chmodSync(tmp, 0o444);
    fs.renameSync(tmp, dest);
  }

  /** Copies a workspace file into the cache as `md5` (a reflink where the filesystem can). */
  async addFile(src: string, md5: string): Promise<void> {
    if (this.exists(md5)) return;
    const tmp = this.tempPath();
    try {
      await fs.promises.copyFile(src, tmp, fs.constants.COPYFILE_FICLONE);
      this.commitTemp(tmp, md5);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw err;
    }
  }

  /**
   * Moves a workspace file into the cache as `md5` (for hardlink and symlink
   * caches, where the workspace gets a link back); a file whose object is
   * already there stays, to be replaced by the link.
   */
  moveIn(src: string, md5: string): void {
    const dest = this.pathOf(md5);
    if (fs.existsSync(dest)) return;
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.chmodSync(src, 0o444);
    fs.renameSync(src, dest);
  }

  addBytes(md5: string, bytes: Buffer): void {
    if (this.exists(md5)) return;
    const tmp = this.tempPath();
    try {
      fs.writeFileSync(tmp, bytes);
      this.commitTemp(tmp, md5);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw err;
    }
  }

  /** Every object in the cache (file hashes and `.dir` hashes). */
  *list(): Generator<string> {
    let prefixes: string[];
    try {
      prefixes = fs.readdirSync(this.objects);
    } catch {
      return;
    }
    for (const p of prefixes) {
      if (!/^[0-9a-f]{2}$/.test(p)) continue;
      for (const rest of fs.readdirSync(path.join(this.objects, p))) {
        if (/^[0-9a-f]{30}(\.dir)?$/.test(rest)) yield p + rest;
      }
    }
  }

  remove(md5: string): void {
    fs.rmSync(this.pathOf(md5), { force: true });
  }

  /** Clears temporary files that an interrupted command left. */
  clearTemp(): void {
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }

  /**
   * Puts object `md5` at `dest` as one of `types` (the first that works), through a
   * temporary name beside `dest` so `dest` is never half-written.
   */
  async linkTo(md5: string, dest: string, types: readonly LinkType[]): Promise<LinkType> {
    const src = this.pathOf(md5);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.${randomBytes(6).toString("hex")}.tmp`);
    let last: unknown;
    for (const type of types) {
      try {
        if (type === "reflink") await fs.promises.copyFile(src, tmp, fs.constants.COPYFILE_FICLONE_FORCE);
        else if (type === "hardlink") await fs.promises.link(src, tmp);
        else if (type === "symlink") await fs.promises.symlink(src, tmp);
        else {
          await fs.promises.copyFile(src, tmp, fs.constants.COPYFILE_FICLONE);
          await fs.promises.chmod(tmp, 0o644);
        }
        if (type === "reflink") await fs.promises.chmod(tmp, 0o644);
        await fs.promises.rename(tmp, dest);
        return type;
      } catch (err) {
        last = err;
        await fs.promises.rm(tmp, { force: true });
      }
    }
    throw last;
  }
}

/** True when files in `dir` can be cloned (reflinks: btrfs, XFS, APFS): a copy then shares blocks instead of bytes. */
function canClone(dir: string): boolean {
  const probe = path.join(dir, `${randomBytes(6).toString("hex")}.probe`);
  try {
    fs.writeFileSync(probe, "x");
    fs.copyFileSync(probe, `${probe}.clone`, fs.constants.COPYFILE_FICLONE_FORCE);
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(probe, { force: true });
    fs.rmSync(`${probe}.clone`, { force: true });
  }
}
