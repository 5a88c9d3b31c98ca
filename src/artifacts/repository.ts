import type { Readable } from "node:stream";

/** One entry of a folder listing, with a path relative to the repository root. */
export interface ArtifactFileInfo {
  path: string;
  isDir: boolean;
  /** Size in bytes; absent for folders. */
  fileSize?: number;
}

/** An inclusive byte range, as in an HTTP `Range` header. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface WriteOptions {
  /** Exact body length when the caller knows it (from `Content-Length`). */
  contentLength?: number;
}

export interface UploadedPart {
  partNumber: number;
  etag: string;
}

/**
 * Where artifacts live. Every path argument is a user-supplied artifact path
 * relative to the repository root; implementations validate it themselves
 * (see `safeArtifactPath`) so no caller can leave the root. Bodies are
 * streamed: no implementation holds a whole file in memory.
 */
export interface ArtifactRepository {
  /** The URI the repository was opened from (`file:///…`, `s3://bucket/prefix`). */
  readonly uri: string;
  /** Direct children of a folder, sorted by path; `[]` for a file or a missing folder. */
  list(path?: string): Promise<ArtifactFileInfo[]>;
  /** File or folder metadata, or `null` when nothing exists at the path. */
  stat(path: string): Promise<ArtifactFileInfo | null>;
  /** Streams a file, or part of it. Missing file → RESOURCE_DOES_NOT_EXIST; folder → INVALID_PARAMETER_VALUE. */
  openRead(path: string, range?: ByteRange): Promise<Readable>;
  /** Stores a file from a stream, replacing any previous content atomically. */
  write(path: string, body: Readable, opts?: WriteOptions): Promise<{ size: number }>;
  /** Deletes a file or a folder with everything under it; nothing there is not an error. */
  delete(path: string): Promise<void>;
  /** Starts a multipart upload of one file; parts may arrive in any order. */
  createMultipartUpload(path: string): Promise<{ uploadId: string }>;
  uploadPart(path: string, uploadId: string, partNumber: number, body: Readable, opts?: WriteOptions): Promise<UploadedPart>;
  /** Assembles the listed parts, in part-number order, into the file. */
  completeMultipartUpload(path: string, uploadId: string, parts: UploadedPart[]): Promise<void>;
  abortMultipartUpload(path: string, uploadId: string): Promise<void>;
}

/** S3 allows part numbers 1..10000; we use the same bound everywhere. */
export const MAX_PART_NUMBER = 10_000;
