import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { invalidParameter, notFound } from "../errors.js";
import { STAGING_DIR, joinArtifactPath, resolveUnderRoot, safeArtifactPath } from "./paths.js";
import { MAX_PART_NUMBER, type ArtifactFileInfo, type ArtifactRepository, type ByteRange, type UploadedPart, type WriteOptions } from "./repository.js";

const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Counts bytes and computes an MD5 (S3's ETag for single-part objects) on the way through. */
class Measure extends Transform {
  bytes = 0;
  private readonly hash = createHash("md5");
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    cb(null, chunk);
  }
  digest(): string {
    return this.hash.digest("hex");
  }
}

/**
 * Artifacts in a folder on the local filesystem. Writes land in a staging
 * folder inside the root and are renamed into place, so readers never see a
 * half-written file; multipart uploads keep their parts there until complete.
 */
export class LocalArtifactRepository implements ArtifactRepository {
  readonly uri: string;
  private realRoot: string | undefined;

  constructor(readonly root: string) {
    this.root = path.resolve(root);
    this.uri = pathToFileURL(this.root).href;
  }

  /** The root's real path; created on first use. */
  private async rootDir(): Promise<string> {
    if (this.realRoot === undefined) {
      await fs.mkdir(this.root, { recursive: true });
      this.realRoot = await fs.realpath(this.root);
    }
    return this.realRoot;
  }

  private async resolve(userPath: string): Promise<{ rel: string; abs: string }> {
    return resolveUnderRoot(await this.rootDir(), userPath);
  }

  private async stagingDir(...parts: string[]): Promise<string> {
    const dir = path.join(await this.rootDir(), STAGING_DIR, ...parts);
    await fs.mkdir(dir, { recursive: true });
    return dir;
  }

  async list(userPath = ""): Promise<ArtifactFileInfo[]> {
    const { rel, abs } = await this.resolve(userPath);
    const root = await this.rootDir();
    let entries;
    try {
      entries = await fs.readdir(abs, { withFileTypes: true });
    } catch (err) {
      if (code(err) === "ENOENT" || code(err) === "ENOTDIR") return [];
      throw err;
    }
    const infos = await Promise.all(
      entries
        .filter((entry) => !(rel === "" && entry.name === STAGING_DIR))
        .map(async (entry) => {
          const childRel = joinArtifactPath(rel, entry.name);
          if (!entry.isSymbolicLink()) return this.statResolved(childRel, path.join(abs, entry.name));
          try {
            return await this.statResolved(childRel, (await resolveUnderRoot(root, childRel)).abs);
          } catch {
            return null; // a symlink leading out of the root is not listed
          }
        }),
    );
    const out = infos.filter((i): i is ArtifactFileInfo => i !== null);
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  private async statResolved(rel: string, abs: string): Promise<ArtifactFileInfo | null> {
    try {
      const st = await fs.stat(abs);
      if (st.isDirectory()) return { path: rel, isDir: true };
      if (st.isFile()) return { path: rel, isDir: false, fileSize: st.size };
      return null;
    } catch (err) {
      if (code(err) === "ENOENT" || code(err) === "ENOTDIR") return null;
      throw err;
    }
  }

  async stat(userPath: string): Promise<ArtifactFileInfo | null> {
    const { rel, abs } = await this.resolve(userPath);
    return this.statResolved(rel, abs);
  }

  async openRead(userPath: string, range?: ByteRange): Promise<Readable> {
    const { rel, abs } = await this.resolve(userPath);
    const info = await this.statResolved(rel, abs);
    if (!info) throw notFound(`No such artifact: '${rel}'`);
    if (info.isDir) throw invalidParameter(`Artifact path refers to a directory, not a file: '${rel}'`);
    const handle = await fs.open(abs, "r");
    return createReadStream("", range ? { fd: handle, start: range.start, end: range.end } : { fd: handle });
  }

  async write(userPath: string, body: Readable, _opts?: WriteOptions): Promise<{ size: number }> {
    const { rel, abs } = await this.resolve(userPath);
    if (rel === "") throw invalidParameter("An artifact path naming a file is required");
    const existing = await this.statResolved(rel, abs);
    if (existing?.isDir) throw invalidParameter(`Artifact path refers to a directory, not a file: '${rel}'`);
    const tmp = path.join(await this.stagingDir("tmp"), randomUUID());
    const measure = new Measure();
    try {
      await pipeline(body, measure, createWriteStream(tmp, { flags: "wx" }));
      await this.moveIntoPlace(tmp, rel);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    return { size: measure.bytes };
  }

  /** Renames a staged file onto the artifact path, creating parent folders inside the root. */
  private async moveIntoPlace(staged: string, rel: string): Promise<void> {
    const { abs } = await this.resolve(rel);
    try {
      await fs.mkdir(path.dirname(abs), { recursive: true });
    } catch (err) {
      if (code(err) === "EEXIST" || code(err) === "ENOTDIR") throw invalidParameter(`A parent of '${rel}' is a file, not a directory`);
      throw err;
    }
    // Parent folders may have been created through symlinks raced in meanwhile: check again.
    const again = await this.resolve(rel);
    try {
      await fs.rename(staged, again.abs);
    } catch (err) {
      if (code(err) === "EISDIR" || code(err) === "ENOTEMPTY" || code(err) === "EEXIST") {
        throw invalidParameter(`Artifact path refers to a directory, not a file: '${rel}'`);
      }
      if (code(err) === "ENOTDIR") throw invalidParameter(`A parent of '${rel}' is a file, not a directory`);
      if (code(err) !== "EXDEV") throw err;
      await fs.copyFile(staged, again.abs);
      await fs.rm(staged, { force: true });
    }
  }

  async delete(userPath: string): Promise<void> {
    const { rel, abs } = await this.resolve(userPath);
    if (rel === "") {
      const root = await this.rootDir();
      for (const entry of await fs.readdir(root)) {
        if (entry !== STAGING_DIR) await fs.rm(path.join(root, entry), { recursive: true, force: true });
      }
      return;
    }
    await fs.rm(abs, { recursive: true, force: true });
  }

  private async uploadDir(uploadId: string, mustExist = true): Promise<string> {
    if (!UPLOAD_ID.test(uploadId)) throw invalidParameter(`Invalid upload_id '${uploadId.slice(0, 100)}'`);
    const dir = path.join(await this.rootDir(), STAGING_DIR, "multipart", uploadId);
    if (mustExist) {
      try {
        await fs.access(dir);
      } catch {
        throw notFound(`No multipart upload with upload_id '${uploadId}'`);
      }
    }
    return dir;
  }

  private async checkTarget(dir: string, rel: string): Promise<void> {
    const target = await fs.readFile(path.join(dir, "target"), "utf8").catch(() => undefined);
    if (target !== rel) throw invalidParameter(`Multipart upload is for a different path than '${rel}'`);
  }

  async createMultipartUpload(userPath: string): Promise<{ uploadId: string }> {
    const rel = safeArtifactPath(userPath);
    if (rel === "") throw invalidParameter("An artifact path naming a file is required");
    await this.resolve(rel);
    const uploadId = randomUUID();
    const dir = await this.stagingDir("multipart", uploadId);
    await fs.writeFile(path.join(dir, "target"), rel);
    return { uploadId };
  }

  async uploadPart(userPath: string, uploadId: string, partNumber: number, body: Readable): Promise<UploadedPart> {
    const rel = safeArtifactPath(userPath);
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
      throw invalidParameter(`Invalid part_number ${partNumber}: must be between 1 and ${MAX_PART_NUMBER}`);
    }
    const dir = await this.uploadDir(uploadId);
    await this.checkTarget(dir, rel);
    const tmp = path.join(dir, `${partNumber}.${randomUUID()}.tmp`);
    const measure = new Measure();
    try {
      await pipeline(body, measure, createWriteStream(tmp, { flags: "wx" }));
      const etag = measure.digest();
      await fs.rename(tmp, path.join(dir, `${partNumber}.${etag}`));
      // One stored copy per part number: a re-sent part replaces the previous one.
      for (const name of await fs.readdir(dir)) {
        if (name.startsWith(`${partNumber}.`) && name !== `${partNumber}.${etag}` && !name.endsWith(".tmp")) {
          await fs.rm(path.join(dir, name), { force: true });
        }
      }
      return { partNumber, etag };
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  async completeMultipartUpload(userPath: string, uploadId: string, parts: UploadedPart[]): Promise<void> {
    const rel = safeArtifactPath(userPath);
    const dir = await this.uploadDir(uploadId);
    await this.checkTarget(dir, rel);
    if (parts.length === 0) throw invalidParameter("A multipart upload needs at least one part");
    const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
    const files: string[] = [];
    for (let i = 0; i < sorted.length; i++) {
      const p = sorted[i]!;
      if (i > 0 && sorted[i - 1]!.partNumber === p.partNumber) throw invalidParameter(`Part ${p.partNumber} is listed twice`);
      const etag = p.etag.replace(/"/g, "");
      if (!/^[0-9a-f]{32}$/.test(etag)) throw invalidParameter(`Invalid ETag for part ${p.partNumber}`);
      const file = path.join(dir, `${p.partNumber}.${etag}`);
      try {
        await fs.access(file);
      } catch {
        throw invalidParameter(`Part ${p.partNumber} with ETag '${etag}' was not uploaded`);
      }
      files.push(file);
    }
    const assembled = path.join(dir, `assembled.${randomUUID()}`);
    const out = createWriteStream(assembled, { flags: "wx" });
    try {
      for (const file of files) {
        await pipeline(createReadStream(file), out, { end: false });
      }
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      await this.moveIntoPlace(assembled, rel);
    } catch (err) {
      out.destroy();
      await fs.rm(assembled, { force: true });
      throw err;
    }
    await fs.rm(dir, { recursive: true, force: true });
  }

  async abortMultipartUpload(userPath: string, uploadId: string): Promise<void> {
    const rel = safeArtifactPath(userPath);
    const dir = await this.uploadDir(uploadId, false);
    const target = await fs.readFile(path.join(dir, "target"), "utf8").catch(() => undefined);
    if (target === undefined) return;
    if (target !== rel) throw invalidParameter(`Multipart upload is for a different path than '${rel}'`);
    await fs.rm(dir, { recursive: true, force: true });
  }
}
