import path from "node:path";
import { fileURLToPath } from "node:url";
import { invalidParameter } from "../errors.js";
import { loadS3Settings, type S3Settings } from "../config.js";
import { LocalArtifactRepository } from "./local.js";
import type { ArtifactRepository } from "./repository.js";
import { S3ArtifactRepository } from "./s3.js";

export interface RepositoryOptions {
  /** S3 connection settings; read from the environment (through config) when absent. */
  s3?: S3Settings;
  /** Base folder for relative local paths; the current directory by default. */
  cwd?: string;
}

/**
 * The one place that picks an artifact repository: `s3://bucket/prefix` is
 * S3, `file:///abs/path` and plain paths are the local filesystem.
 */
export function artifactRepositoryFromUri(uri: string, opts: RepositoryOptions = {}): ArtifactRepository {
  if (uri.includes("\0")) throw invalidParameter("Artifact URI must not contain NUL bytes");
  if (/^s3a?:\/\//i.test(uri)) return new S3ArtifactRepository(uri, opts.s3 ?? loadS3Settings());
  if (/^file:/i.test(uri)) {
    let p: string;
    try {
      p = fileURLToPath(uri.startsWith("file:///") || !uri.startsWith("file://") ? uri : `file:///${uri.slice("file://".length)}`);
    } catch {
      throw invalidParameter(`Invalid file URI '${uri}'`);
    }
    return new LocalArtifactRepository(p);
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(uri) && !/^[a-z]:[\\/]/i.test(uri)) {
    throw invalidParameter(`Unsupported artifact storage URI '${uri}': use a folder, file:///path or s3://bucket/prefix`);
  }
  return new LocalArtifactRepository(path.resolve(opts.cwd ?? process.cwd(), uri));
}
