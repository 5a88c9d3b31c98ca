/**
 * DVC remotes: a local folder or an `s3://bucket/prefix`, both through
 * `src/artifacts/`'s repositories, holding objects in DVC 3's layout
 * `<remote>/files/md5/<2>/<30>`. Both write atomically (a staged file renamed,
 * an S3 PUT or completed multipart upload), so an interrupted push never
 * leaves a partial object under its final name.
 */
import fs from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { dvcS3Settings } from "../config.js";
import { MlflowError, invalidParameter } from "../errors.js";
import { artifactRepositoryFromUri, type ArtifactRepository } from "../artifacts/index.js";
import { runParallel } from "./parallel.js";

export interface RemoteConfig {
  name: string;
  url: string;
  options: ReadonlyMap<string, string>;
}

/** How many objects are checked one by one before listing the remote's folders is cheaper. */
const STAT_LIMIT = 64;

export class Remote {
  private readonly repo: ArtifactRepository;

  constructor(
    readonly name: string,
    readonly url: string,
    options: ReadonlyMap<string, string>,
    /** Folder that relative local paths are relative to (the config file's folder). */
    base: string,
  ) {
    if (/^s3:\/\//i.test(url)) {
      this.repo = artifactRepositoryFromUri(url, { s3: dvcS3Settings(options) });
    } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !/^file:/i.test(url)) {
      throw invalidParameter(`remote '${name}': '${url.split(":")[0]}' remotes are not supported (use a local folder or s3://)`);
    } else {
      const dir = path.resolve(base, url.replace(/^file:\/\//i, ""));
      this.repo = artifactRepositoryFromUri(dir);
    }
  }

  /** For a local remote: its folder. */
  localFolder(): string | undefined {
    return /^s3:\/\//i.test(this.url) ? undefined : (this.repo as { root?: string }).root;
  }

  static key(md5: string): string {
    return `files/md5/${md5.slice(0, 2)}/${md5.slice(2)}`;
  }

  /** Which of `md5s` the remote holds. */
  async has(md5s: readonly string[], jobs: number): Promise<Set<string>> {
    const found = new Set<string>();
    if (md5s.length <= STAT_LIMIT) {
      await runParallel(md5s, jobs, async (m) => {
        const st = await this.retry(() => this.repo.stat(Remote.key(m)));
        if (st && !st.isDir) found.add(m);
      });
      return found;
    }
    const wanted = new Set(md5s);
    const prefixes = [...new Set(md5s.map((m) => m.slice(0, 2)))];
    await runParallel(prefixes, jobs, async (p) => {
      for (const f of await this.listPrefix(p)) if (wanted.has(f)) found.add(f);
    });
    return found;
  }

  private async listPrefix(prefix: string): Promise<string[]> {
    try {
      const files = await this.retry(() => this.repo.list(`files/md5/${prefix}`));
      return files.filter((f) => !f.isDir).map((f) => prefix + f.path.slice(f.path.lastIndexOf("/") + 1));
    } catch (err) {
      if (err instanceof MlflowError && (err.errorCode === "RESOURCE_DOES_NOT_EXIST" || err.errorCode === "INVALID_PARAMETER_VALUE")) return [];
      throw err;
    }
  }

  /** Every object on the remote. */
  async listAll(jobs: number): Promise<string[]> {
    const prefixes = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
    const all: string[] = [];
    await runParallel(prefixes, jobs, async (p) => {
      all.push(...(await this.listPrefix(p)).filter((m) => /^[0-9a-f]{32}(\.dir)?$/.test(m)));
    });
    return all;
  }

  async upload(md5: string, file: string): Promise<void> {
    const size = fs.statSync(file).size;
    await this.retry(() => this.repo.write(Remote.key(md5), fs.createReadStream(file), { contentLength: size }));
  }

  /** Opens an object for reading; a missing object is a `RESOURCE_DOES_NOT_EXIST` error. */
  async open(md5: string): Promise<Readable> {
    return this.retry(() => this.repo.openRead(Remote.key(md5)));
  }

  async remove(md5: string): Promise<void> {
    await this.retry(() => this.repo.delete(Remote.key(md5)));
  }

  /** Retries what failed for a reason that may pass (network, 5xx): three tries, backing off. */
  async retry<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const transient = err instanceof MlflowError ? err.errorCode === "TEMPORARILY_UNAVAILABLE" || err.errorCode === "INTERNAL_ERROR" : !(err instanceof Error && "code" in err && err.code === "ENOENT");
        if (!transient || attempt >= 3) throw err;
        await new Promise((r) => setTimeout(r, 200 * 4 ** (attempt - 1)));
      }
    }
  }

  close(): void {
    (this.repo as { close?: () => void }).close?.();
  }
}

