/**
 * Where a project's code comes from: a local folder, or a git repository
 * cloned into a cache at a version. Also the git provenance recorded on runs.
 */
import { execFile } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { ProjectError } from "./spec.js";

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs git without a shell and without prompts; never throws for a non-zero exit. */
export function git(args: string[], cwd?: string): Promise<GitResult> {
  return new Promise((resolve) => {
    execFile(
      "git",
      args,
      { cwd, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" } },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : 127) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && code === 127 ? err.message : "") });
      },
    );
  });
}

async function gitOk(args: string[], cwd: string | undefined, what: string): Promise<string> {
  const r = await git(args, cwd);
  if (r.code !== 0) {
    const detail = r.stderr.trim().split("\n").filter(Boolean).pop() ?? `exit code ${r.code}`;
    throw new ProjectError(`${what}: ${detail}`);
  }
  return r.stdout;
}

/** `https://user:token@host/x` → `https://host/x`, so credentials never land in a tag. */
export function stripCredentials(url: string): string {
  return url.replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^/@]*@/, "$1");
}

/** Splits `uri#subdir`, refusing subdirectories that climb out of the project. */
export function parseSubdirectory(uri: string): { base: string; subdir: string } {
  const unquoted = uri.replace(/^['"]+|['"]+$/g, "");
  const hash = unquoted.indexOf("#");
  if (hash < 0) return { base: unquoted, subdir: "" };
  const subdir = unquoted.slice(hash + 1).replace(/^\/+|\/+$/g, "");
  if (path.isAbsolute(subdir) || subdir.split(/[\\/]/).some((s) => s === "..")) {
    throw new ProjectError(`project subdirectory '${subdir}' must be a relative path inside the project`);
  }
  return { base: unquoted.slice(0, hash), subdir };
}

/** Git URLs `mloop run` clones: https, http, ssh, git, file and scp-like `user@host:path`. */
export function isGitUrl(uri: string): boolean {
  return /^(https?|ssh|git|file|git\+ssh|git\+https):\/\//i.test(uri) || /^[\w.-]+@[\w.-]+:(?!\/\/)/.test(uri);
}

export interface GitInfo {
  /** The top of the working tree. */
  root: string;
  commit?: string;
  /** First remote's URL, credentials removed. */
  remoteUrl?: string;
  /** The checked-out branch, if any. */
  branch?: string;
  /** Tracked files changed against HEAD (staged or not). */
  dirty: boolean;
}

/** Git facts about the folder, or `undefined` when it is not inside a git working tree. */
export async function gitInfo(dir: string): Promise<GitInfo | undefined> {
  const top = await git(["rev-parse", "--show-toplevel"], dir);
  if (top.code !== 0) return undefined;
  const root = top.stdout.trim();
  const head = await git(["rev-parse", "--verify", "-q", "HEAD"], dir);
  const commit = head.code === 0 ? head.stdout.trim() : undefined;
  const remotes = (await git(["remote"], dir)).stdout.split("\n").filter(Boolean);
  // MLflow records the first remote; origin first when it exists.
  const remote = remotes.includes("origin") ? "origin" : remotes[0];
  let remoteUrl: string | undefined;
  if (remote) {
    const r = await git(["remote", "get-url", remote], dir);
    if (r.code === 0 && r.stdout.trim()) remoteUrl = stripCredentials(r.stdout.trim());
  }
  const br = await git(["symbolic-ref", "--short", "-q", "HEAD"], dir);
  const status = commit ? await git(["status", "--porcelain", "--untracked-files=no"], dir) : { code: 0, stdout: "" };
  return { root, commit, remoteUrl, branch: br.code === 0 ? br.stdout.trim() || undefined : undefined, dirty: status.stdout.trim() !== "" };
}

/** `git diff HEAD` of the working tree (staged and unstaged changes to tracked files). */
export async function gitDiff(dir: string): Promise<string> {
  return gitOk(["diff", "HEAD", "--no-color", "--no-ext-diff"], dir, "could not read the git diff");
}

/** A directory lock shared by processes: mkdir is atomic; a lock older than `staleMs` is taken over. */
export async function withDirLock<T>(lockDir: string, fn: () => Promise<T>, staleMs = 30 * 60_000): Promise<T> {
  await fsp.mkdir(path.dirname(lockDir), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      await fsp.mkdir(lockDir);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const st = await fsp.stat(lockDir).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > staleMs) {
        await fsp.rm(lockDir, { recursive: true, force: true });
        continue;
      }
      await new Promise((r) => setTimeout(r, Math.min(50 * (attempt + 1), 500)));
    }
  }
  try {
    return await fn();
  } finally {
    await fsp.rm(lockDir, { recursive: true, force: true });
  }
}

export interface FetchedProject {
  /** Folder the entry point runs in (`#subdir` applied). */
  workDir: string;
  /** Top of the checkout or local folder. */
  rootDir: string;
  /** True when the code was cloned from a git URL or checked out at --version into the cache. */
  cloned: boolean;
  /** The commit checked out, for cloned projects. */
  commit?: string;
  /** `--version` named a branch. */
  versionIsBranch: boolean;
  /** Remote URL to record for cloned projects (credentials removed). */
  repoUrl?: string;
}

function hashOf(s: string): string {
  return crypto.createHash("sha256").update(s).digest("hex").slice(0, 20);
}

/**
 * Makes the project available locally. Local folders run in place (or, with
 * --version, from a cached checkout of that version so the user's tree is
 * untouched); git URLs are fetched into `<cacheDir>/git/` and checked out at
 * the version (branch, tag or commit), one read-only checkout per commit.
 */
export async function fetchProject(uri: string, version: string | undefined, cacheDir: string, log: (line: string) => void): Promise<FetchedProject> {
  const { base, subdir } = parseSubdirectory(uri);
  const withSubdir = async (f: Omit<FetchedProject, "workDir">): Promise<FetchedProject> => {
    const workDir = path.resolve(f.rootDir, subdir);
    const rel = path.relative(f.rootDir, workDir);
    if (rel.startsWith("..") || path.isAbsolute(rel)) throw new ProjectError(`project subdirectory '${subdir}' leaves the project`);
    const st = await fsp.stat(workDir).catch(() => undefined);
    if (!st?.isDirectory()) throw new ProjectError(`Could not find subdirectory '${subdir}' of ${f.rootDir}`);
    return { ...f, workDir };
  };

  if (!isGitUrl(base)) {
    const local = path.resolve(base);
    const st = await fsp.stat(local).catch(() => undefined);
    if (!st?.isDirectory()) throw new ProjectError(`project '${base}' is neither a folder nor a git URL`);
    if (version === undefined) return withSubdir({ rootDir: local, cloned: false, versionIsBranch: false });
    const info = await gitInfo(local);
    if (!info) throw new ProjectError("Setting a version is only supported for git projects; the project folder is not in a git repository");
    const sub = path.relative(info.root, local);
    const fetched = await cloneAt(info.root, version, cacheDir, log);
    const workDir = path.resolve(fetched.rootDir, sub, subdir);
    const st2 = await fsp.stat(workDir).catch(() => undefined);
    if (!st2?.isDirectory()) throw new ProjectError(`Could not find '${path.join(sub, subdir)}' at version '${version}'`);
    return { ...fetched, workDir, repoUrl: info.remoteUrl };
  }
  const fetched = await cloneAt(base, version, cacheDir, log);
  return withSubdir({ ...fetched, repoUrl: stripCredentials(base) });
}

async function cloneAt(url: string, version: string | undefined, cacheDir: string, log: (line: string) => void): Promise<Omit<FetchedProject, "workDir">> {
  const key = hashOf(url);
  const bare = path.join(cacheDir, "git", `${key}.git`);
  const where = stripCredentials(url);
  const { commit, isBranch } = await withDirLock(`${bare}.lock`, async () => {
    if (!fs.existsSync(path.join(bare, "HEAD"))) {
      log(`=== Fetching project from ${where} ===`);
      const tmp = `${bare}.tmp-${process.pid}-${Date.now()}`;
      await gitOk(["clone", "--quiet", "--bare", "--", url, tmp], undefined, `could not clone ${where}`);
      await fsp.rename(tmp, bare);
    } else {
      await gitOk(
        ["fetch", "--quiet", "--prune", "--tags", "--force", "origin", "+refs/heads/*:refs/heads/*"],
        bare,
        `could not fetch ${where}`,
      );
    }
    const ref = version ?? "HEAD";
    if (ref.startsWith("-")) throw new ProjectError(`invalid version '${ref}'`);
    const r = await git(["rev-parse", "--verify", "-q", `${ref}^{commit}`], bare);
    if (r.code !== 0) {
      throw new ProjectError(`Unable to checkout version '${ref}' of git repo ${where}: no such branch, tag or commit`);
    }
    const isBranch = version !== undefined && (await git(["show-ref", "--verify", "-q", `refs/heads/${version}`], bare)).code === 0;
    return { commit: r.stdout.trim(), isBranch };
  });

  const checkout = path.join(cacheDir, "checkouts", `${key}-${commit}`);
  if (!fs.existsSync(path.join(checkout, ".git", "mloop-complete"))) {
    await withDirLock(`${checkout}.lock`, async () => {
      if (fs.existsSync(path.join(checkout, ".git", "mloop-complete"))) return;
      await fsp.rm(checkout, { recursive: true, force: true });
      const tmp = `${checkout}.tmp-${process.pid}`;
      await fsp.rm(tmp, { recursive: true, force: true });
      await gitOk(["clone", "--quiet", "--no-checkout", "--", bare, tmp], undefined, "could not prepare a checkout");
      await gitOk(["checkout", "--quiet", "--detach", commit], tmp, `could not check out ${commit}`);
      // The checkout's origin is the real repository, so relative submodules resolve and its URL is what runs record.
      await gitOk(["remote", "set-url", "origin", url], tmp, "could not set the checkout's origin");
      if (fs.existsSync(path.join(tmp, ".gitmodules"))) {
        await gitOk(["submodule", "update", "--init", "--recursive", "--quiet"], tmp, "could not fetch submodules");
      }
      await fsp.writeFile(path.join(tmp, ".git", "mloop-complete"), `${commit}\n`);
      await fsp.rename(tmp, checkout);
    });
  }
  log(`=== Using ${where} at ${version ?? "its default branch"} (commit ${commit.slice(0, 12)}) ===`);
  return { rootDir: checkout, cloned: true, commit, versionIsBranch: isBranch };
}
