/** Running the real `dvc` (from .venv) and `mloop data` side by side on scratch repositories. */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { runCli } from "../helpers/cli.js";

const REPO = path.resolve(import.meta.dirname, "../..");
export const DVC = path.join(REPO, ".venv", "bin", "dvc");
export const HAS_DVC = fs.existsSync(DVC);
/** dvc with its S3 plugin (scripts/setup-python.sh builds .venv-dvcs3). */
export const DVC_S3_PYTHON = path.join(REPO, ".venv-dvcs3", "bin", "python");
export const HAS_DVC_S3 = fs.existsSync(DVC_S3_PYTHON);

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

const QUIET = { DVC_NO_ANALYTICS: "1", GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.com", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.com" };

function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env: { ...process.env, ...QUIET, ...env }, timeout: 120_000, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Runs the real dvc; fails the test with dvc's own message when it exits non-zero. */
export async function dvc(cwd: string, args: string[], opts: { s3?: boolean; env?: Record<string, string>; allowFail?: boolean } = {}): Promise<Result> {
  const r = opts.s3 ? await run(DVC_S3_PYTHON, ["-m", "dvc", ...args], cwd, opts.env) : await run(DVC, args, cwd, opts.env);
  if (r.code !== 0 && !opts.allowFail) throw new Error(`dvc ${args.join(" ")} failed (${r.code}): ${r.stderr || r.stdout}`);
  return r;
}

export function git(cwd: string, ...args: string[]): Promise<Result> {
  return run("git", args, cwd);
}

/** `mloop data …` in this process, in `cwd`. */
export async function mloop(cwd: string, ...args: string[]): Promise<Result> {
  const r = await runCli("data", ...args, "--cd", cwd);
  return r;
}

export function scratch(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `mloop-dvc-${tag}-`));
}

/**
 * Writes the data every compatibility test uses: a CRLF text file, a binary file, an empty
 * file, nested folders, non-ASCII names, and files that `.dvcignore` leaves out.
 */
export function writeData(dir: string): void {
  const put = (rel: string, body: string | Buffer) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), body);
  };
  put("notes.txt", "first line\r\nsecond line\r\n");
  put("images/a.png", Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 255]));
  put("images/empty.bin", "");
  put("images/nested/deeper/c.txt", "unix\nlines\n");
  put("images/nested/b-1.txt", "dash");
  put("images/nested-b.txt", "sorts between");
  put("images/é-ü.txt", "accents");
  put("images/skip.log", "ignored by .dvcignore");
  put("images/tmp/cache.bin", "ignored folder");
  for (let i = 0; i < 40; i++) put(`images/many/${String(i).padStart(3, "0")}.bin`, Buffer.alloc(100 + i, i));
  fs.appendFileSync(path.join(dir, ".dvcignore"), "*.log\ntmp/\n");
}

/** Relative path → md5 of every file under `dir` (a tree's content, for comparing restores). */
export function contents(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).sort()) {
    const abs = path.join(dir, rel);
    if (fs.statSync(abs).isFile()) out[rel.split(path.sep).join("/")] = createHash("md5").update(fs.readFileSync(abs)).digest("hex");
  }
  return out;
}

/** The cache's objects, name → md5 of their bytes. */
export function cacheObjects(repo: string): Record<string, string> {
  const root = path.join(repo, ".dvc", "cache", "files", "md5");
  return fs.existsSync(root) ? contents(root) : {};
}

/** Commits everything, then clones into a fresh folder (what a teammate or CI gets). */
export async function commitAndClone(repo: string, tag: string): Promise<string> {
  await git(repo, "add", "-A");
  const c = await git(repo, "commit", "-qm", "data");
  if (c.code !== 0) throw new Error(`git commit failed: ${c.stderr}`);
  const dest = path.join(scratch(tag), "clone");
  const r = await git(path.dirname(dest), "clone", "-q", repo, dest);
  if (r.code !== 0) throw new Error(`git clone failed: ${r.stderr}`);
  return dest;
}
