/**
 * A DVC repository worked on by mloop: `init`, `add`, `status`, `commit`,
 * `checkout`, `push`, `fetch`, `pull`, `gc`, remotes and `ls`, in DVC 3's own
 * files, so the real `dvc` and mloop can take turns on one repository.
 *
 * Nothing in the workspace is replaced or deleted unless its content is in
 * the cache first, and every object is checked against its hash (through the
 * state cache, so an unchanged object is not read twice) before it is checked
 * out; a corrupted object is removed from the cache and named in the error.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { Transform } from "node:stream";
import { MlflowError, invalidParameter, notFound } from "../errors.js";
import { LINK_TYPES, ObjectCache, type LinkType } from "./cache.js";
import { formatDvcFile, readDvcFile, writeDvcFile, type DvcFile, type Out } from "./dvcfile.js";
import { HashError, hashFiles, md5Bytes, type HashProgress } from "./hash.js";
import { DvcIgnore } from "./ignore.js";
import { formatIni, parseIni, type Sections } from "./ini.js";
import { runParallel } from "./parallel.js";
import type { Remote } from "./remote.js";
import { StateCache } from "./state.js";
import { buildTree, parseTree, type TreeEntry } from "./tree.js";
import { findDvcFiles, relPosix, statFile, walkFiles, type WorkspaceFile } from "./workspace.js";

export type Phase = "hashing" | "caching" | "checking out" | "pushing" | "fetching" | "verifying";
export type ProgressFn = (phase: Phase, p: HashProgress) => void;

export interface RepoOptions {
  /** Hashing threads; one per core by default. */
  threads?: number;
  /** Parallel transfers to and from remotes. */
  jobs?: number;
  onProgress?: ProgressFn;
}

/** One tracked output, as listed by `ls` and used by pipelines. */
export interface TrackedOut {
  /** The `.dvc` file, relative to the repository root. */
  dvcFile: string;
  /** The output, relative to the repository root. */
  path: string;
  md5?: string;
  size?: number;
  nfiles?: number;
  isDir: boolean;
}

export type OutState = "modified" | "deleted" | "not in cache" | "not committed" | "new" | "missing";

export interface StatusEntry {
  dvcFile: string;
  path: string;
  state: OutState;
}

export interface TransferResult {
  transferred: number;
  /** Objects that were already there. */
  skipped: number;
  failed: string[];
}

export interface CheckoutResult {
  added: string[];
  modified: string[];
  deleted: string[];
}

const DVCIGNORE_HEADER =
  "# Add patterns of files dvc should ignore, which could improve\n# the performance. Learn more at\n# https://dvc.org/doc/user-guide/dvcignore\n";

/** The repository root above `start`: the nearest folder holding `.dvc/`. */
export function findRepoRoot(start: string): string | undefined {
  let dir = path.resolve(start);
  for (;;) {
    if (fs.statSync(path.join(dir, ".dvc"), { throwIfNoEntry: false })?.isDirectory()) return dir;
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

function hasGit(dir: string): boolean {
  let d = path.resolve(dir);
  for (;;) {
    if (fs.existsSync(path.join(d, ".git"))) return true;
    const up = path.dirname(d);
    if (up === d) return false;
    d = up;
  }
}

function parseBool(v: string | undefined): boolean {
  return v !== undefined && /^(true|yes|1|on)$/i.test(v.trim());
}

export class DataRepo {
  readonly dvcDir: string;
  readonly cache: ObjectCache;
  readonly ignore: DvcIgnore;
  private config: Sections;
  private localConfig: Sections;
  private statePromise: Promise<StateCache> | undefined;

  private constructor(
    readonly root: string,
    private readonly opts: RepoOptions,
  ) {
    this.dvcDir = path.join(root, ".dvc");
    this.config = this.readConfig("config");
    this.localConfig = this.readConfig("config.local");
    const cacheDir = this.setting("cache", "dir");
    this.cache = new ObjectCache(cacheDir ? path.resolve(this.dvcDir, cacheDir) : path.join(this.dvcDir, "cache"));
    this.ignore = new DvcIgnore(root);
  }

  /** Opens the repository that holds `cwd`. */
  static open(cwd: string, opts: RepoOptions = {}): DataRepo {
    const root = findRepoRoot(cwd);
    if (!root) throw notFound(`'${path.resolve(cwd)}' is not inside a DVC repository (run 'mloop data init')`);
    return new DataRepo(root, opts);
  }

  /** Makes `dir` a DVC repository, as `dvc init` does; without git, pass `noScm`. */
  static init(dir: string, { noScm = false, force = false }: { noScm?: boolean; force?: boolean } = {}, opts: RepoOptions = {}): DataRepo {
    const root = path.resolve(dir);
    const dvcDir = path.join(root, ".dvc");
    if (fs.existsSync(dvcDir) && !force) throw invalidParameter(`'${root}' is already a DVC repository (.dvc exists; --force to reinitialize)`);
    if (!noScm && !hasGit(root)) throw invalidParameter(`'${root}' is not in a git repository: run 'git init' first, or pass --no-scm`);
    fs.mkdirSync(dvcDir, { recursive: true });
    fs.writeFileSync(path.join(dvcDir, ".gitignore"), "/config.local\n/tmp\n/cache\n");
    fs.writeFileSync(path.join(dvcDir, "config"), noScm ? "[core]\n    no_scm = True\n" : "");
    if (!fs.existsSync(path.join(root, ".dvcignore"))) fs.writeFileSync(path.join(root, ".dvcignore"), DVCIGNORE_HEADER);
    return new DataRepo(root, opts);
  }

  // --- configuration ------------------------------------------------------------------------

  private readConfig(name: string): Sections {
    const file = path.join(this.dvcDir, name);
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      return new Map();
    }
    return parseIni(text, `.dvc/${name}`);
  }

  /** A config value, `config.local` winning over `config`. */
  setting(section: string, key: string): string | undefined {
    return this.localConfig.get(section)?.get(key) ?? this.config.get(section)?.get(key);
  }

  /** `cache.type` as a list, `copy` when unset (DVC's default). */
  linkTypes(): LinkType[] {
    const raw = this.setting("cache", "type");
    if (!raw) return ["copy"];
    const types = raw.split(",").map((t) => t.trim()).filter(Boolean);
    for (const t of types) if (!LINK_TYPES.includes(t as LinkType)) throw invalidParameter(`.dvc/config: cache.type '${t}' is not one of ${LINK_TYPES.join(", ")}`);
    return types as LinkType[];
  }

  private writeConfig(local: boolean): void {
    const name = local ? "config.local" : "config";
    const file = path.join(this.dvcDir, name);
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, formatIni(local ? this.localConfig : this.config));
    fs.renameSync(tmp, file);
  }

  remotes(): { name: string; url: string; isDefault: boolean; local: boolean }[] {
    const def = this.setting("core", "remote");
    const seen = new Map<string, { name: string; url: string; isDefault: boolean; local: boolean }>();
    for (const [local, sections] of [[false, this.config], [true, this.localConfig]] as const) {
      for (const [title, values] of sections) {
        const m = /^remote "(.+)"$/.exec(title);
        const url = values.get("url");
        if (m && url !== undefined) seen.set(m[1]!, { name: m[1]!, url, isDefault: m[1] === def, local });
      }
    }
    return [...seen.values()];
  }

  addRemote(name: string, url: string, { isDefault = false, local = false, force = false, cwd = process.cwd() } = {}): void {
    if (!/^[\w.-]+$/.test(name)) throw invalidParameter(`remote name '${name}' may hold only letters, digits, '_', '-' and '.'`);
    const sections = local ? this.localConfig : this.config;
    const title = `remote "${name}"`;
    if (sections.has(title) && !force) throw invalidParameter(`remote '${name}' already exists (--force to overwrite)`);
    let stored = url;
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !path.isAbsolute(url)) {
      // DVC keeps relative paths relative to the config file's folder.
      stored = relPosix(this.dvcDir, path.resolve(cwd, url));
    }
    sections.set(title, new Map([["url", stored]]));
    if (isDefault) this.setDefaultRemote(name, local, false);
    this.writeConfig(local);
  }

  modifyRemote(name: string, key: string, value: string, { local = false } = {}): void {
    const sections = local ? this.localConfig : this.config;
    const title = `remote "${name}"`;
    const values = sections.get(title) ?? (this.remotes().some((r) => r.name === name) ? new Map<string, string>() : undefined);
    if (!values) throw notFound(`remote '${name}' does not exist`);
    values.set(key, value);
    sections.set(title, values);
    this.writeConfig(local);
  }

  setDefaultRemote(name: string | undefined, local = false, write = true): void {
    const sections = local ? this.localConfig : this.config;
    if (name !== undefined && !this.remotes().some((r) => r.name === name) && !sections.has(`remote "${name}"`)) {
      throw notFound(`remote '${name}' does not exist`);
    }
    const core = sections.get("core") ?? new Map<string, string>();
    if (name === undefined) core.delete("remote");
    else core.set("remote", name);
    sections.set("core", core);
    if (write) this.writeConfig(local);
  }

  /** The remote named, or the default one; a missing one is one line naming it. Loaded on use: S3 support costs start-up time. */
  async remote(name?: string): Promise<Remote> {
    const wanted = name ?? this.setting("core", "remote");
    if (!wanted) throw invalidParameter("no remote given and no default remote set (mloop data remote add -d NAME URL)");
    const r = this.remotes().find((x) => x.name === wanted);
    if (!r) throw notFound(`remote '${wanted}' is not in .dvc/config or .dvc/config.local`);
    const options = new Map([...(this.config.get(`remote "${wanted}"`) ?? []), ...(this.localConfig.get(`remote "${wanted}"`) ?? [])]);
    const { Remote: RemoteClass } = await import("./remote.js");
    return new RemoteClass(r.name, r.url, options, this.dvcDir);
  }

  // --- state and hashing ---------------------------------------------------------------------

  private state(): Promise<StateCache> {
    this.statePromise ??= StateCache.open(path.join(this.dvcDir, "tmp", "mloop-state.db"));
    return this.statePromise;
  }

  private progress(phase: Phase): ((p: HashProgress) => void) | undefined {
    const fn = this.opts.onProgress;
    return fn ? (p) => fn(phase, p) : undefined;
  }

  /**
   * md5s of workspace files: from the state cache where unchanged, hashed in
   * parallel otherwise. With `store`, what is hashed is also copied into the
   * cache by the hashing thread, while the file is still in memory.
   */
  async hash(files: readonly Omit<WorkspaceFile, "relpath">[], { phase = "hashing", store = false }: { phase?: Phase; store?: boolean } = {}): Promise<string[]> {
    const state = await this.state();
    const md5s = await state.lookup(files);
    const todo = files.map((f, i) => ({ f, i })).filter((x) => md5s[x.i] === undefined);
    if (todo.length > 0) {
      let hashed;
      try {
        hashed = await hashFiles(
          todo.map((t) => ({ path: t.f.abs, size: t.f.size })),
          { threads: this.opts.threads, onProgress: this.progress(phase), store: store ? this.cache.storeTarget() : undefined },
        );
      } catch (err) {
        if (err instanceof HashError) throw invalidParameter(`cannot read '${relPosix(this.root, err.file)}': ${err.code}`);
        throw err;
      }
      hashed.forEach((h, k) => {
        md5s[todo[k]!.i] = h.md5;
        state.record(h);
      });
    }
    return md5s as string[];
  }

  /** The md5 of one workspace file, or `undefined` when it does not exist. */
  async hashFile(abs: string, store = false): Promise<string | undefined> {
    const st = statFile(abs);
    return st ? (await this.hash([st], { store }))[0] : undefined;
  }

  /** Files of a tracked folder with their md5s, and the folder's manifest; `store` as in {@link hash}. */
  async hashFolder(
    abs: string,
    store = false,
    walked?: WorkspaceFile[],
  ): Promise<{ files: (WorkspaceFile & { md5: string })[]; tree: ReturnType<typeof buildTree>; size: number }> {
    const files = walked ?? walkFiles(abs, relPosix(this.root, abs), this.ignore);
    const md5s = await this.hash(files, { store });
    const withMd5 = files.map((f, i) => ({ ...f, md5: md5s[i]! }));
    const tree = buildTree(withMd5.map((f) => ({ relpath: f.relpath, md5: f.md5 })));
    return { files: withMd5, tree, size: files.reduce((s, f) => s + f.size, 0) };
  }

  // --- targets ----------------------------------------------------------------------------------

  /** Absolute path of a user's target, which must lie inside the repository. */
  resolveTarget(target: string, cwd = process.cwd()): string {
    const abs = path.resolve(cwd, target);
    const rel = path.relative(this.root, abs);
    if (rel.startsWith("..") || path.isAbsolute(rel)) throw invalidParameter(`'${target}' is outside the repository ${this.root}`);
    if (rel === "" ) throw invalidParameter(`'${target}' is the repository root; name a file or folder inside it`);
    const first = rel.split(path.sep)[0];
    if (first === ".dvc" || first === ".git") throw invalidParameter(`'${target}' is inside ${first}/, which is never tracked`);
    return abs;
  }

  /** Every `.dvc` file, parsed. */
  dvcFiles(): DvcFile[] {
    return findDvcFiles(this.root, this.ignore).map((f) => readDvcFile(f, relPosix(this.root, f)));
  }

  /** The `.dvc` files for `targets` (data paths or `.dvc` files), or all of them. */
  private selectDvcFiles(targets: readonly string[] | undefined, cwd: string): DvcFile[] {
    if (!targets || targets.length === 0) return this.dvcFiles();
    return targets.map((t) => {
      const abs = this.resolveTarget(t, cwd);
      const file = abs.endsWith(".dvc") ? abs : `${abs}.dvc`;
      if (!fs.existsSync(file)) throw notFound(`'${t}' is not tracked: no ${relPosix(this.root, file)}`);
      return readDvcFile(file, relPosix(this.root, file));
    });
  }

  private outPath(d: DvcFile, o: Out): string {
    return path.resolve(path.dirname(d.file), o.path);
  }

  /** The tracked outputs, for `ls` and for pipelines. */
  tracked(): TrackedOut[] {
    return this.dvcFiles().flatMap((d) =>
      d.outs.map((o) => ({
        dvcFile: relPosix(this.root, d.file),
        path: relPosix(this.root, this.outPath(d, o)),
        md5: o.md5,
        size: o.size,
        nfiles: o.nfiles,
        isDir: o.md5?.endsWith(".dir") ?? false,
      })),
    );
  }

  /** A folder's manifest from the cache, checked against its hash. */
  readTree(md5: string, shown: string): TreeEntry[] {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(this.cache.pathOf(md5));
    } catch {
      throw notFound(`the manifest of '${shown}' (${md5}) is not in the cache (run 'mloop data pull')`);
    }
    if (`${md5Bytes(bytes)}.dir` !== md5) {
      this.cache.remove(md5);
      throw invalidParameter(`the manifest of '${shown}' (${md5}) in the cache is corrupted; it was removed (run 'mloop data pull')`);
    }
    return parseTree(bytes, `of '${shown}'`);
  }

  // --- add and commit -------------------------------------------------------------------------

  /** Tracks files or folders: hashes them, stores them in the cache, writes their `.dvc` files and `.gitignore` entries. */
  async add(targets: readonly string[], cwd = process.cwd()): Promise<TrackedOut[]> {
    if (targets.length === 0) throw invalidParameter("name at least one file or folder to add");
    const checked = targets.map((t) => {
      const abs = this.resolveTarget(t, cwd);
      if (abs.endsWith(".dvc")) throw invalidParameter(`'${t}' is a .dvc file; add the data it tracks instead`);
      const st = fs.statSync(abs, { throwIfNoEntry: false });
      if (!st) throw notFound(`'${t}' does not exist`);
      if (!st.isFile() && !st.isDirectory()) throw invalidParameter(`'${t}' is neither a file nor a folder`);
      if (this.ignore.isIgnored(relPosix(this.root, abs), st.isDirectory())) throw invalidParameter(`'${t}' is ignored by .dvcignore`);
      for (let up = path.dirname(abs); up.length > this.root.length; up = path.dirname(up)) {
        if (fs.existsSync(`${up}.dvc`)) throw invalidParameter(`'${t}' is inside '${relPosix(this.root, up)}', which ${relPosix(this.root, up)}.dvc tracks`);
      }
      return { abs, isDir: st.isDirectory() };
    });
    // All targets' files go to the hashing threads at once, so a large file and a folder of small ones share the cores.
    const walked = new Map(checked.filter((c) => c.isDir).map((c) => [c.abs, walkFiles(c.abs, relPosix(this.root, c.abs), this.ignore)]));
    await this.hash([...checked.filter((c) => !c.isDir).flatMap((c) => statFile(c.abs) ?? []), ...[...walked.values()].flat()], { store: this.copiesIntoCache() });
    const results: TrackedOut[] = [];
    for (const { abs, isDir } of checked) {
      const file = `${abs}.dvc`;
      const existing = fs.existsSync(file) ? readDvcFile(file, relPosix(this.root, file)) : undefined;
      const out = await this.save(abs, walked.get(abs));
      const d: DvcFile = existing ?? { file, outs: [], extra: {} };
      const prev = d.outs.find((o) => this.outPath(d, o) === abs);
      const next: Out = { ...out, path: path.basename(abs), extra: prev?.extra ?? {} };
      d.outs = prev ? d.outs.map((o) => (o === prev ? next : o)) : [next];
      this.writeIfChanged(d);
      this.ensureGitignored(abs);
      results.push({ dvcFile: relPosix(this.root, file), path: relPosix(this.root, abs), md5: next.md5, size: next.size, nfiles: next.nfiles, isDir });
    }
    await (await this.state()).flush();
    return results;
  }


  /** Records the current content of tracked outputs that changed (all, or those of `targets`). */
  async commit(targets?: readonly string[], cwd = process.cwd()): Promise<TrackedOut[]> {
    const changed: TrackedOut[] = [];
    for (const d of this.selectDvcFiles(targets, cwd)) {
      let dirty = false;
      for (let i = 0; i < d.outs.length; i++) {
        const o = d.outs[i]!;
        const abs = this.outPath(d, o);
        if (!fs.existsSync(abs)) throw notFound(`'${relPosix(this.root, abs)}' (tracked by ${relPosix(this.root, d.file)}) does not exist`);
        const saved = await this.save(abs);
        if (saved.md5 !== o.md5 || o.hash !== "md5" || saved.size !== o.size) {
          d.outs[i] = { ...o, ...saved };
          dirty = true;
          changed.push({ dvcFile: relPosix(this.root, d.file), path: relPosix(this.root, abs), md5: saved.md5, size: saved.size, nfiles: saved.nfiles, isDir: saved.nfiles !== undefined });
        }
      }
      if (dirty) this.writeIfChanged(d);
    }
    await (await this.state()).flush();
    return changed;
  }

  private writeIfChanged(d: DvcFile): void {
    const text = formatDvcFile(d);
    let old: string | undefined;
    try {
      old = fs.readFileSync(d.file, "utf8");
    } catch {
      old = undefined;
    }
    if (old !== text) writeDvcFile(d);
  }

  /**
   * Whether `add` copies files into the cache (copy and reflink caches) or
   * moves them there and links them back (hardlink and symlink caches, as DVC does).
   */
  private copiesIntoCache(): boolean {
    const first = this.linkTypes()[0];
    return first === "copy" || first === "reflink";
  }

  /** Hashes a file or folder and stores it in the cache; links the workspace per `cache.type`. */
  private async save(abs: string, walked?: WorkspaceFile[]): Promise<Omit<Out, "path" | "extra">> {
    const types = this.linkTypes();
    const copies = this.copiesIntoCache();
    const st = fs.statSync(abs);
    if (st.isFile()) {
      const md5 = (await this.hashFile(abs, copies))!;
      if (copies) await this.cache.addFile(abs, md5);
      else this.cache.moveIn(abs, md5);
      if (types[0] !== "copy") await this.relink(md5, abs, types);
      return { md5, size: st.size, hash: "md5" };
    }
    const { files, tree, size } = await this.hashFolder(abs, copies, walked);
    if (!copies) for (const f of files) this.cache.moveIn(f.abs, f.md5);
    const cached = this.cache.existing(files.map((f) => f.md5));
    const fresh = files.filter((f) => !cached.has(f.md5));
    const done = new Set<string>();
    const bar = { bytes: 0, totalBytes: fresh.reduce((s, f) => s + f.size, 0), files: 0, totalFiles: fresh.length };
    const report = this.progress("caching");
    await runParallel(fresh, 8, async (f) => {
      if (done.has(f.md5)) return;
      done.add(f.md5);
      await this.cache.addFile(f.abs, f.md5);
      bar.bytes += f.size;
      bar.files++;
      report?.(bar);
    });
    this.cache.addBytes(tree.md5, tree.bytes);
    if (types[0] !== "copy") await runParallel(files, 8, (f) => this.relink(f.md5, f.abs, types));
    return { md5: tree.md5, size, nfiles: files.length, hash: "md5" };
  }

  private async relink(md5: string, abs: string, types: readonly LinkType[]): Promise<void> {
    await this.cache.linkTo(md5, abs, types);
    const st = statFile(abs);
    if (st) (await this.state()).record({ ...st, md5 });
  }

  /** Adds `/name` to the `.gitignore` beside `abs`, as DVC does, when the repository is in git. */
  private ensureGitignored(abs: string): void {
    if (parseBool(this.setting("core", "no_scm")) || !hasGit(this.root)) return;
    const file = path.join(path.dirname(abs), ".gitignore");
    const entry = `/${path.basename(abs).replace(/([\\*?[\]!# ])/g, "\\$1")}`;
    let text = "";
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      text = "";
    }
    if (text.split(/\r?\n/).includes(entry)) return;
    fs.writeFileSync(file, `${text}${text === "" || text.endsWith("\n") ? "" : "\n"}${entry}\n`);
  }

  // --- status ------------------------------------------------------------------------------------

  /** What differs between the workspace, the `.dvc` files and the cache. Empty when all is up to date. */
  async status(targets?: readonly string[], cwd = process.cwd()): Promise<StatusEntry[]> {
    const out: StatusEntry[] = [];
    for (const d of this.selectDvcFiles(targets, cwd)) {
      for (const o of d.outs) {
        const abs = this.outPath(d, o);
        const entry = (state: OutState) => out.push({ dvcFile: relPosix(this.root, d.file), path: relPosix(this.root, abs), state });
        if (!o.md5) {
          entry("not committed");
          continue;
        }
        const st = fs.statSync(abs, { throwIfNoEntry: false });
        if (!st) {
          entry("deleted");
          continue;
        }
        const now = st.isDirectory() ? (await this.hashFolder(abs)).tree.md5 : st.isFile() ? await this.hashFile(abs) : undefined;
        if (now !== o.md5) entry("modified");
        else if (!this.inCache(o.md5)) entry("not in cache");
      }
    }
    await (await this.state()).flush();
    return out;
  }

  private inCache(md5: string): boolean {
    if (!this.cache.exists(md5)) return false;
    if (!md5.endsWith(".dir")) return true;
    try {
      const entries = parseTree(fs.readFileSync(this.cache.pathOf(md5)), md5);
      return this.cache.existing(entries.map((e) => e.md5)).size === new Set(entries.map((e) => e.md5)).size;
    } catch {
      return false;
    }
  }

  /** Outputs whose objects the remote lacks (`new`: only in the cache; `missing`: in neither). */
  async remoteStatus(targets: readonly string[] | undefined, remoteName: string | undefined, cwd = process.cwd()): Promise<StatusEntry[]> {
    const remote = await this.remote(remoteName);
    try {
      const perOut: { d: DvcFile; o: Out; objects: string[] }[] = [];
      for (const d of this.selectDvcFiles(targets, cwd)) {
        for (const o of d.outs) {
          if (!o.md5) continue;
          const objects = [o.md5];
          if (o.md5.endsWith(".dir") && this.cache.exists(o.md5)) objects.push(...this.readTree(o.md5, o.path).map((e) => e.md5));
          perOut.push({ d, o, objects });
        }
      }
      const onRemote = await remote.has([...new Set(perOut.flatMap((x) => x.objects))], this.jobs());
      return perOut.flatMap(({ d, o, objects }) => {
        if (objects.every((m) => onRemote.has(m))) return [];
        const local = objects.every((m) => this.cache.exists(m));
        return [{ dvcFile: relPosix(this.root, d.file), path: relPosix(this.root, this.outPath(d, o)), state: local ? "new" : "missing" } as StatusEntry];
      });
    } finally {
      remote.close();
    }
  }

  // --- checkout ---------------------------------------------------------------------------------

  /**
   * Checks out objects the state cache has not seen unchanged: hashes each
   * and compares. A corrupted object is removed from the cache and returned.
   */
  private async verifyObjects(md5s: readonly string[]): Promise<Set<string>> {
    const bad = new Set<string>();
    const unique = [...new Set(md5s)];
    const stats = unique.map((m) => statFile(this.cache.pathOf(m)));
    const present = unique.map((m, i) => ({ m, st: stats[i] })).filter((x): x is { m: string; st: NonNullable<typeof x.st> } => x.st !== undefined);
    const found = await this.hash(present.map((x) => x.st), { phase: "verifying" });
    present.forEach((x, i) => {
      if (found[i] !== x.m) {
        bad.add(x.m);
        this.cache.remove(x.m);
      }
    });
    return bad;
  }

  /** Makes the workspace match the `.dvc` files (all, or those of `targets`). */
  async checkout(targets?: readonly string[], cwd = process.cwd()): Promise<CheckoutResult> {
    const result: CheckoutResult = { added: [], modified: [], deleted: [] };
    const failures: string[] = [];
    const types = this.linkTypes();
    for (const d of this.selectDvcFiles(targets, cwd)) {
      for (const o of d.outs) {
        if (!o.md5) continue;
        await this.checkoutOut(this.outPath(d, o), o.md5, types, result, failures);
      }
    }
    await (await this.state()).flush();
    if (failures.length > 0) {
      throw invalidParameter(`${failures.length} file(s) could not be checked out: ${failures.slice(0, 3).join("; ")}${failures.length > 3 ? "; …" : ""}`);
    }
    return result;
  }

  private async checkoutOut(abs: string, md5: string, types: LinkType[], result: CheckoutResult, failures: string[]): Promise<void> {
    const shown = relPosix(this.root, abs);
    if (!md5.endsWith(".dir")) {
      await this.checkoutFiles([{ abs, shown, md5 }], types, result, failures);
      return;
    }
    let entries: TreeEntry[];
    try {
      entries = this.readTree(md5, shown);
    } catch (err) {
      failures.push(err instanceof Error ? err.message : String(err));
      return;
    }
    const st = fs.statSync(abs, { throwIfNoEntry: false });
    if (st && !st.isDirectory()) await this.backupAndRemove(abs, shown, result);
    const wanted = new Map(entries.map((e) => [e.relpath, e]));
    if (st?.isDirectory()) {
      for (const f of walkFiles(abs, shown, this.ignore)) {
        if (!wanted.has(f.relpath)) await this.backupAndRemove(f.abs, `${shown}/${f.relpath}`, result);
      }
    }
    await this.checkoutFiles(
      entries.map((e) => ({ abs: path.join(abs, ...e.relpath.split("/")), shown: `${shown}/${e.relpath}`, md5: e.md5 })),
      types,
      result,
      failures,
    );
    fs.mkdirSync(abs, { recursive: true });
  }

  // --- for pipelines: outputs that no .dvc file names (dvc.yaml / dvc.lock outs) ---------------

  /** Stores a file or folder in the cache as `add` does (linking per `cache.type`), without writing a `.dvc` file. */
  async saveOutput(abs: string): Promise<{ md5: string; size: number; nfiles?: number }> {
    const out = await this.save(abs);
    return { md5: out.md5!, size: out.size!, ...(out.nfiles !== undefined ? { nfiles: out.nfiles } : {}) };
  }

  /** Puts the cached content `md5` (a file or a `.dir` folder) at `abs`; throws naming what could not be restored. */
  async restoreOutput(abs: string, md5: string): Promise<CheckoutResult> {
    const result: CheckoutResult = { added: [], modified: [], deleted: [] };
    const failures: string[] = [];
    await this.checkoutOut(abs, md5, this.linkTypes(), result, failures);
    if (failures.length > 0) throw invalidParameter(failures[0]!);
    return result;
  }

  /** Whether every object of `md5` (and, for a folder, of its files) is in the cache. */
  hasObjects(md5: string): boolean {
    if (!this.cache.exists(md5)) return false;
    if (!md5.endsWith(".dir")) return true;
    try {
      const entries = parseTree(fs.readFileSync(this.cache.pathOf(md5)), md5);
      const have = this.cache.existing(entries.map((e) => e.md5));
      return entries.every((e) => have.has(e.md5));
    } catch {
      return false;
    }
  }

  /** Adds `/name` to the `.gitignore` beside `abs`, as `dvc repro` does for cached outputs. */
  gitignore(abs: string): void {
    this.ensureGitignored(abs);
  }

  /** Writes the state cache now (also done by {@link close}). */
  async flushState(): Promise<void> {
    await (await this.state()).flush();
  }

  private async backupAndRemove(abs: string, shown: string, result: CheckoutResult): Promise<void> {
    const st = fs.statSync(abs, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) {
      for (const f of walkFiles(abs, relPosix(this.root, abs), this.ignore)) await this.backupAndRemove(f.abs, `${shown}/${f.relpath}`, result);
      fs.rmSync(abs, { recursive: true, force: true });
      return;
    }
    const md5 = await this.hashFile(abs);
    if (md5) await this.cache.addFile(abs, md5);
    fs.rmSync(abs, { force: true });
    result.deleted.push(shown);
  }

  private async checkoutFiles(files: { abs: string; shown: string; md5: string }[], types: LinkType[], result: CheckoutResult, failures: string[]): Promise<void> {
    const stats = files.map((f) => statFile(f.abs));
    const current = await this.hash(stats.filter((s): s is NonNullable<typeof s> => s !== undefined));
    let k = 0;
    const todo: { abs: string; shown: string; md5: string; existed: boolean }[] = [];
    files.forEach((f, i) => {
      const existing = stats[i] ? current[k++] : undefined;
      if (existing !== f.md5) todo.push({ ...f, existed: existing !== undefined || fs.existsSync(f.abs) });
    });
    if (todo.length === 0) return;
    const missing = todo.filter((f) => !this.cache.exists(f.md5));
    for (const f of missing) failures.push(`'${f.shown}' is not in the cache (md5 ${f.md5}; run 'mloop data pull')`);
    const bad = await this.verifyObjects(todo.filter((f) => this.cache.exists(f.md5)).map((f) => f.md5));
    const report = this.progress("checking out");
    const bar = { bytes: 0, totalBytes: 0, files: 0, totalFiles: todo.length };
    await runParallel(todo, 8, async (f) => {
      if (bad.has(f.md5)) {
        failures.push(`the cache object of '${f.shown}' (md5 ${f.md5}) is corrupted; it was removed (run 'mloop data pull')`);
        return;
      }
      if (!this.cache.exists(f.md5)) return;
      const st = fs.statSync(f.abs, { throwIfNoEntry: false });
      if (st?.isDirectory()) await this.backupAndRemove(f.abs, f.shown, result);
      else if (st?.isFile()) {
        // keep what is being replaced
        const md5 = await this.hashFile(f.abs);
        if (md5) await this.cache.addFile(f.abs, md5);
      }
      await this.relink(f.md5, f.abs, types);
      (f.existed ? result.modified : result.added).push(f.shown);
      bar.files++;
      report?.(bar);
    });
  }

  // --- remotes: push, fetch, pull, gc --------------------------------------------------------

  private jobs(): number {
    return this.opts.jobs ?? Math.max(4, 4 * os.availableParallelism());
  }

  /** The objects the selected outs need, each with the path it is shown as; folders' manifests last. */
  private objectsOf(files: DvcFile[], { needTrees }: { needTrees: boolean }): { files: Map<string, string>; trees: Map<string, string>; missingTrees: string[] } {
    const filesOut = new Map<string, string>();
    const trees = new Map<string, string>();
    const missingTrees: string[] = [];
    for (const d of files) {
      for (const o of d.outs) {
        if (!o.md5) continue;
        const shown = relPosix(this.root, this.outPath(d, o));
        if (!o.md5.endsWith(".dir")) {
          filesOut.set(o.md5, shown);
          continue;
        }
        trees.set(o.md5, shown);
        if (!this.cache.exists(o.md5)) {
          if (needTrees) missingTrees.push(shown);
          continue;
        }
        for (const e of this.readTree(o.md5, shown)) if (!filesOut.has(e.md5)) filesOut.set(e.md5, `${shown}/${e.relpath}`);
      }
    }
    return { files: filesOut, trees, missingTrees };
  }

  /** Uploads the objects the remote lacks (files first, then folders' manifests). */
  async push(targets?: readonly string[], remoteName?: string, cwd = process.cwd()): Promise<TransferResult> {
    const remote = await this.remote(remoteName);
    try {
      const { files, trees, missingTrees } = this.objectsOf(this.selectDvcFiles(targets, cwd), { needTrees: true });
      if (missingTrees.length > 0) throw notFound(`the manifest of '${missingTrees[0]}' is not in the cache; nothing of it can be pushed`);
      const notLocal = [...files].filter(([m]) => !this.cache.exists(m));
      if (notLocal.length > 0) throw notFound(`'${notLocal[0]![1]}' is not in the cache (md5 ${notLocal[0]![0]}); run 'mloop data add' or 'mloop data fetch' first`);
      const all = [...files.keys(), ...trees.keys()];
      const there = await remote.has(all, this.jobs());
      const result: TransferResult = { transferred: 0, skipped: there.size, failed: [] };
      const upload = async (list: string[]) => {
        const sizes = list.map((m) => statFile(this.cache.pathOf(m))?.size ?? 0);
        const bar = { bytes: 0, totalBytes: sizes.reduce((a, b) => a + b, 0), files: 0, totalFiles: list.length };
        const report = this.progress("pushing");
        await runParallel(list, this.jobs(), async (m, i) => {
          try {
            await remote.upload(m, this.cache.pathOf(m));
            result.transferred++;
          } catch (err) {
            result.failed.push(`${files.get(m) ?? trees.get(m)} (${err instanceof Error ? err.message : String(err)})`);
          }
          bar.bytes += sizes[i]!;
          bar.files++;
          report?.(bar);
        });
      };
      await upload([...files.keys()].filter((m) => !there.has(m)));
      // A manifest goes up only when all of its files did, so a remote with it has them all.
      if (result.failed.length === 0) await upload([...trees.keys()].filter((m) => !there.has(m)));
      if (result.failed.length > 0) {
        throw new MlflowError("TEMPORARILY_UNAVAILABLE", `${result.failed.length} object(s) failed to upload to remote '${remote.name}': ${result.failed[0]}; rerun to push the rest`);
      }
      return result;
    } finally {
      remote.close();
    }
  }

  /** Downloads one object into the cache, checking its hash on the way; a mismatch is not stored. */
  private async download(remote: Remote, md5: string, shown: string): Promise<number> {
    const tmp = this.cache.tempPath();
    const h = createHash("md5");
    let size = 0;
    try {
      const body = await remote.open(md5);
      await pipeline(
        body,
        new Transform({
          transform(chunk: Buffer, _enc, cb) {
            h.update(chunk);
            size += chunk.length;
            cb(null, chunk);
          },
        }),
        fs.createWriteStream(tmp),
      );
      const got = h.digest("hex");
      if (got !== md5.replace(/\.dir$/, "")) throw invalidParameter(`remote '${remote.name}' holds a corrupted object for '${shown}' (expected md5 ${md5}, got ${got})`);
      this.cache.commitTemp(tmp, md5);
      return size;
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      if (err instanceof MlflowError && err.errorCode === "RESOURCE_DOES_NOT_EXIST") {
        throw notFound(`remote '${remote.name}' has no object for '${shown}' (md5 ${md5})`);
      }
      throw err;
    }
  }

  /** Downloads into the cache what the selected outs need and the cache lacks. */
  async fetch(targets?: readonly string[], remoteName?: string, cwd = process.cwd()): Promise<TransferResult> {
    const remote = await this.remote(remoteName);
    try {
      const selected = this.selectDvcFiles(targets, cwd);
      const result: TransferResult = { transferred: 0, skipped: 0, failed: [] };
      const get = async (list: [string, string][], phase: Phase) => {
        const bar = { bytes: 0, totalBytes: 0, files: 0, totalFiles: list.length };
        const report = this.progress(phase);
        await runParallel(list, this.jobs(), async ([m, shown]) => {
          try {
            bar.bytes += await remote.retry(() => this.download(remote, m, shown));
            result.transferred++;
          } catch (err) {
            result.failed.push(err instanceof Error ? err.message : String(err));
          }
          bar.files++;
          report?.(bar);
        });
      };
      const trees = this.objectsOf(selected, { needTrees: false }).trees;
      await get([...trees].filter(([m]) => !this.cache.exists(m)), "fetching");
      const { files } = this.objectsOf(selected, { needTrees: false });
      const wanted = [...files].filter(([m]) => !this.cache.exists(m));
      result.skipped = files.size + trees.size - wanted.length - result.transferred;
      await get(wanted, "fetching");
      if (result.failed.length > 0) throw notFound(`${result.failed.length} object(s) could not be fetched: ${result.failed[0]}`);
      return result;
    } finally {
      remote.close();
    }
  }

  /** `fetch`, then `checkout`. */
  async pull(targets?: readonly string[], remoteName?: string, cwd = process.cwd()): Promise<TransferResult & CheckoutResult> {
    const fetched = await this.fetch(targets, remoteName, cwd);
    return { ...fetched, ...(await this.checkout(targets, cwd)) };
  }

  /** Removes cache objects (and with `cloud`, remote objects) that no `.dvc` file of the workspace uses. */
  async gc({ cloud = false, remoteName }: { cloud?: boolean; remoteName?: string } = {}): Promise<{ removed: number; removedFromRemote: number }> {
    const used = new Set<string>();
    for (const d of this.dvcFiles()) {
      for (const o of d.outs) {
        if (!o.md5) continue;
        used.add(o.md5);
        if (o.md5.endsWith(".dir") && this.cache.exists(o.md5)) for (const e of this.readTree(o.md5, o.path)) used.add(e.md5);
      }
    }
    let removed = 0;
    for (const m of this.cache.list()) {
      if (!used.has(m)) {
        this.cache.remove(m);
        removed++;
      }
    }
    this.cache.clearTemp();
    let removedFromRemote = 0;
    if (cloud) {
      const remote = await this.remote(remoteName);
      try {
        const gone = (await remote.listAll(this.jobs())).filter((m) => !used.has(m));
        await runParallel(gone, this.jobs(), async (m) => {
          await remote.remove(m);
          removedFromRemote++;
        });
      } finally {
        remote.close();
      }
    }
    return { removed, removedFromRemote };
  }

  /** The files of a tracked folder as its manifest lists them. */
  listFolder(target: string, cwd = process.cwd()): { relpath: string; md5: string }[] {
    const [d] = this.selectDvcFiles([target], cwd);
    const o = d!.outs[0]!;
    if (!o.md5?.endsWith(".dir")) return [{ relpath: o.path, md5: o.md5 ?? "" }];
    return this.readTree(o.md5, relPosix(this.root, this.outPath(d!, o)));
  }

  async close(): Promise<void> {
    if (this.statePromise) await (await this.statePromise).close();
  }
}
