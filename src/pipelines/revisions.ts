/**
 * A pipeline's files at a git revision or in the workspace: git-tracked files
 * come from `git show`, cached outputs (metrics, plots) from the DVC cache by
 * the md5 that revision's dvc.lock records, as `dvc metrics diff` reads them.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { invalidParameter } from "../errors.js";
import { ObjectCache } from "../data/index.js";
import { parseLockEntry, type LockEntry } from "./lock.js";
import { loadPipeline, workspaceReader, type Pipeline, type TreeReader } from "./spec.js";

export const WORKSPACE = "workspace";

export interface Revision {
  /** `workspace`, or the revision as the user named it. */
  name: string;
  /** The commit, for git revisions. */
  commit?: string;
  read: TreeReader;
  /** The pipeline at that revision; undefined when it had no dvc.yaml. */
  pipeline?: Pipeline;
}

function gitShow(root: string, commit: string, rel: string): string | undefined {
  try {
    return execFileSync("git", ["show", `${commit}:${rel}`], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 1 << 28 });
  } catch {
    return undefined;
  }
}

/** The commit a revision names, or a one-line error. */
export function resolveCommit(root: string, rev: string): string {
  try {
    return execFileSync("git", ["rev-parse", "--verify", "-q", `${rev}^{commit}`], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    throw invalidParameter(`unknown revision '${rev}' in ${root}`);
  }
}

function cacheRootOf(root: string): string {
  // cache.dir from .dvc/config is honoured by DataRepo; metrics at a revision are read from the default place or the configured one.
  const config = path.join(root, ".dvc", "config");
  try {
    const m = fs.readFileSync(config, "utf8").match(/^\[cache\][^[]*?^\s*dir\s*=\s*(.+)$/m);
    if (m) return path.resolve(root, ".dvc", m[1]!.trim());
  } catch {
    // no config
  }
  return path.join(root, ".dvc", "cache");
}

/** The tree at `rev` (`workspace` for the files on disk). */
export function openRevision(root: string, rev: string): Revision {
  if (rev === WORKSPACE) {
    const read = workspaceReader(root);
    return { name: rev, read, pipeline: tryLoad(root, read) };
  }
  const commit = resolveCommit(root, rev);
  const fromGit: TreeReader = (rel) => gitShow(root, commit, rel);
  const lockText = fromGit("dvc.lock");
  const pipeline0 = tryLoad(root, fromGit);
  const outs = new Map<string, string>();
  if (lockText && pipeline0) {
    const doc = YAML.parse(lockText) as { stages?: Record<string, unknown> } | null;
    for (const [name, e] of Object.entries(doc?.stages ?? {})) {
      const stage = pipeline0.stages.find((s) => s.name === name);
      let entry: LockEntry;
      try {
        entry = parseLockEntry(e, "dvc.lock", name);
      } catch {
        continue;
      }
      for (const o of entry.outs) if (o.md5 && !o.md5.endsWith(".dir")) outs.set(path.posix.normalize(path.posix.join(stage?.wdir || ".", o.path)), o.md5);
    }
  }
  const cache = new ObjectCache(cacheRootOf(root));
  const read: TreeReader = (rel) => {
    const text = fromGit(rel);
    if (text !== undefined) return text;
    const md5 = outs.get(path.posix.normalize(rel));
    if (!md5) return undefined;
    try {
      return fs.readFileSync(cache.pathOf(md5), "utf8");
    } catch {
      return undefined;
    }
  };
  return { name: rev, commit, read, pipeline: pipeline0 };
}

function tryLoad(root: string, read: TreeReader): Pipeline | undefined {
  if (read("dvc.yaml") === undefined) return undefined;
  return loadPipeline(root, "dvc.yaml", read);
}
