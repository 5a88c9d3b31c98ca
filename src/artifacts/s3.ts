import https from "node:https";
import type { Readable } from "node:stream";
import { createRequire } from "node:module";
import type * as S3Sdk from "@aws-sdk/client-s3";
import type { S3Client } from "@aws-sdk/client-s3";
import { MlflowError, invalidParameter, notFound, temporarilyUnavailable } from "../errors.js";
import type { S3Settings } from "../config.js";
import { joinArtifactPath, safeArtifactPath } from "./paths.js";
import { MAX_PART_NUMBER, type ArtifactFileInfo, type ArtifactRepository, type ByteRange, type UploadedPart, type WriteOptions } from "./repository.js";

const requireCjs = createRequire(import.meta.url);
let sdk: typeof S3Sdk | undefined;
/** The AWS SDK is loaded on first use, so servers without S3 start without it (it costs ~0.3 s). */
function s3sdk(): typeof S3Sdk {
  sdk ??= requireCjs("@aws-sdk/client-s3") as typeof S3Sdk;
  return sdk;
}

const MB = 1024 * 1024;
/** Smallest part we send (S3's minimum is 5 MB); parts grow up to {@link MAX_STREAM_PART} for long streams. */
export const MIN_PART_SIZE = 8 * MB;
const MAX_STREAM_PART = 64 * MB;
/** A part whose length the client did not announce is buffered up to this size. */
const MAX_UNSIZED_PART = 64 * MB;

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "EPIPE", "ECONNABORTED"]);

/** Part size for the n-th part (1-based) of a stream: 8 MB, doubling every 2000 parts up to 64 MB. */
export function streamPartSize(partNumber: number, contentLength?: number): number {
  if (contentLength !== undefined) return Math.max(MIN_PART_SIZE, Math.ceil(contentLength / MAX_PART_NUMBER));
  return Math.min(MAX_STREAM_PART, MIN_PART_SIZE * 2 ** Math.floor((partNumber - 1) / 2000));
}

interface AwsLikeError {
  name?: string;
  code?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  cause?: unknown;
}

/** Splits `s3://bucket/prefix` into its parts; the prefix has no leading or trailing slash. */
export function parseS3Uri(uri: string): { bucket: string; prefix: string } {
  const m = /^s3a?:\/\/([^/?#]+)(\/[^?#]*)?$/i.exec(uri);
  if (!m || !m[1]) throw invalidParameter(`Invalid S3 URI '${uri}': expected s3://bucket/prefix`);
  const prefix = (m[2] ?? "").split("/").filter(Boolean).join("/");
  if (prefix !== "") safeArtifactPath(prefix);
  return { bucket: m[1], prefix };
}

/**
 * Artifacts in an S3 bucket (or any S3-compatible store), under a key prefix.
 * Uploads stream through multipart uploads holding at most two parts in
 * memory; downloads stream, with byte ranges passed to S3.
 */
export class S3ArtifactRepository implements ArtifactRepository {
  readonly uri: string;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;

  constructor(uri: string, settings: S3Settings) {
    const { bucket, prefix } = parseS3Uri(uri);
    this.uri = uri;
    this.bucket = bucket;
    this.prefix = prefix;
    this.client = new (s3sdk().S3Client)({
      region: settings.region,
      endpoint: settings.endpointUrl,
      forcePathStyle: settings.endpointUrl !== undefined,
      credentials:
        settings.accessKeyId && settings.secretAccessKey
          ? { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey, sessionToken: settings.sessionToken }
          : undefined,
      // Many S3-compatible stores do not understand the newer flexible checksums.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      maxAttempts: 3,
      requestHandler: {
        connectionTimeout: 5_000,
        requestTimeout: 120_000,
        ...(settings.ignoreTls ? { httpsAgent: new https.Agent({ rejectUnauthorized: false }) } : {}),
      },
    });
  }

  private key(rel: string): string {
    return joinArtifactPath(this.prefix, rel);
  }

  /** Key prefix of a folder, with its trailing slash (`""` for an unprefixed bucket root). */
  private dirPrefix(rel: string): string {
    const k = this.key(rel);
    return k === "" ? "" : `${k}/`;
  }

  /** Turns an SDK failure into an MLflow error: unreachable storage becomes a retryable 503. */
  private fail(err: unknown, what: string): MlflowError {
    if (err instanceof MlflowError) return err;
    const e = (err ?? {}) as AwsLikeError;
    const cause = (e.cause ?? {}) as AwsLikeError;
    const name = e.name ?? e.Code ?? "";
    const status = e.$metadata?.httpStatusCode;
    if (name === "NoSuchKey" || name === "NotFound") return notFound(`No such artifact: '${what}'`);
    if (name === "NoSuchUpload") return notFound(`No multipart upload for '${what}' with that upload_id`);
    if (name === "InvalidPart" || name === "InvalidPartOrder" || name === "EntityTooSmall" || name === "InvalidRange") {
      return invalidParameter(`Artifact storage rejected the request for '${what}': ${name}`);
    }
    if (name === "NoSuchBucket") return temporarilyUnavailable(`Artifact storage bucket '${this.bucket}' does not exist`);
    if (
      NETWORK_CODES.has(e.code ?? "") ||
      NETWORK_CODES.has(cause.code ?? "") ||
      name === "TimeoutError" ||
      name === "RequestTimeout" ||
      name === "SlowDown" ||
      (status !== undefined && status >= 500) ||
      (status === undefined && name !== "" && e.$retryable !== undefined)
    ) {
      return temporarilyUnavailable(`Artifact storage s3://${this.bucket} is unreachable; retry later (${name || e.code || "network error"})`);
    }
    if (status === undefined && (e.code !== undefined || /socket|network|connect/i.test(String((err as Error).message)))) {
      return temporarilyUnavailable(`Artifact storage s3://${this.bucket} is unreachable; retry later (${e.code ?? name})`);
    }
    return new MlflowError("INTERNAL_ERROR", `Artifact storage s3://${this.bucket} failed on '${what}': ${name || "unknown error"}${status ? ` (HTTP ${status})` : ""}`);
  }

  private async send<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw this.fail(err, what);
    }
  }

  async list(userPath = ""): Promise<ArtifactFileInfo[]> {
    const rel = safeArtifactPath(userPath);
    const prefix = this.dirPrefix(rel);
    const out: ArtifactFileInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.send(rel, () =>
        this.client.send(new (s3sdk().ListObjectsV2Command)({ Bucket: this.bucket, Prefix: prefix, Delimiter: "/", ContinuationToken: token })),
      );
      for (const p of page.CommonPrefixes ?? []) {
        const name = (p.Prefix ?? "").slice(prefix.length).replace(/\/$/, "");
        if (name !== "") out.push({ path: joinArtifactPath(rel, name), isDir: true });
      }
      for (const obj of page.Contents ?? []) {
        const name = (obj.Key ?? "").slice(prefix.length);
        if (name === "") continue; // a folder marker object
        out.push({ path: joinArtifactPath(rel, name), isDir: false, fileSize: obj.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  private async isDir(rel: string): Promise<boolean> {
    if (rel === "") return true;
    const page = await this.send(rel, () =>
      this.client.send(new (s3sdk().ListObjectsV2Command)({ Bucket: this.bucket, Prefix: this.dirPrefix(rel), MaxKeys: 1 })),
    );
    return (page.KeyCount ?? page.Contents?.length ?? 0) > 0;
  }

  async stat(userPath: string): Promise<ArtifactFileInfo | null> {
    const rel = safeArtifactPath(userPath);
    if (rel !== "") {
      try {
        const head = await this.client.send(new (s3sdk().HeadObjectCommand)({ Bucket: this.bucket, Key: this.key(rel) }));
        return { path: rel, isDir: false, fileSize: head.ContentLength ?? 0 };
      } catch (err) {
        const mapped = this.fail(err, rel);
        if (mapped.errorCode !== "RESOURCE_DOES_NOT_EXIST") throw mapped;
      }
    }
    return (await this.isDir(rel)) ? { path: rel, isDir: true } : null;
  }

  async openRead(userPath: string, range?: ByteRange): Promise<Readable> {
    const rel = safeArtifactPath(userPath);
    if (rel === "") throw invalidParameter("Artifact path refers to a directory, not a file: ''");
    try {
      const res = await this.client.send(
        new (s3sdk().GetObjectCommand)({ Bucket: this.bucket, Key: this.key(rel), Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
      );
      return res.Body as Readable;
    } catch (err) {
      const mapped = this.fail(err, rel);
      if (mapped.errorCode === "RESOURCE_DOES_NOT_EXIST" && (await this.isDir(rel))) {
        throw invalidParameter(`Artifact path refers to a directory, not a file: '${rel}'`);
      }
      throw mapped;
    }
  }

  async write(userPath: string, body: Readable, opts: WriteOptions = {}): Promise<{ size: number }> {
    const rel = safeArtifactPath(userPath);
    if (rel === "") throw invalidParameter("An artifact path naming a file is required");
    const key = this.key(rel);
    let uploadId: string | undefined;
    let inFlight: Promise<void> | undefined;
    const parts: UploadedPart[] = [];
    let size = 0;
    let chunks: Buffer[] = [];
    let buffered = 0;

    const startPart = async (data: Buffer): Promise<void> => {
      if (uploadId === undefined) {
        const created = await this.send(rel, () => this.client.send(new (s3sdk().CreateMultipartUploadCommand)({ Bucket: this.bucket, Key: key })));
        uploadId = created.UploadId;
      }
      if (inFlight) await inFlight; // at most one part uploading while the next one fills
      const partNumber = parts.length + 1;
      if (partNumber > MAX_PART_NUMBER) throw invalidParameter(`'${rel}' is too large for one artifact`);
      const id = uploadId;
      parts.push({ partNumber, etag: "" });
      inFlight = this.send(rel, () =>
        this.client.send(new (s3sdk().UploadPartCommand)({ Bucket: this.bucket, Key: key, UploadId: id, PartNumber: partNumber, Body: data, ContentLength: data.length })),
      ).then((res) => {
        parts[partNumber - 1] = { partNumber, etag: res.ETag ?? "" };
      });
      // Keep the rejection observed until it is awaited.
      inFlight.catch(() => undefined);
    };

    try {
      // A failed upload leaves the body to its owner (an HTTP request still has a response to send).
      for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        chunks.push(chunk);
        buffered += chunk.length;
        size += chunk.length;
        const target = streamPartSize(parts.length + 1, opts.contentLength);
        if (buffered >= target) {
          const all = Buffer.concat(chunks, buffered);
          chunks = [all.subarray(target)];
          buffered = all.length - target;
          await startPart(all.subarray(0, target));
        }
      }
      const rest = Buffer.concat(chunks, buffered);
      chunks = [];
      if (uploadId === undefined) {
        await this.send(rel, () => this.client.send(new (s3sdk().PutObjectCommand)({ Bucket: this.bucket, Key: key, Body: rest, ContentLength: rest.length })));
        return { size };
      }
      if (rest.length > 0) await startPart(rest);
      if (inFlight) await inFlight;
      const done = uploadId;
      await this.send(rel, () =>
        this.client.send(
          new (s3sdk().CompleteMultipartUploadCommand)({
            Bucket: this.bucket,
            Key: key,
            UploadId: done,
            MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
          }),
        ),
      );
      return { size };
    } catch (err) {
      if (inFlight) await inFlight.catch(() => undefined);
      if (uploadId !== undefined) {
        const id = uploadId;
        await this.client.send(new (s3sdk().AbortMultipartUploadCommand)({ Bucket: this.bucket, Key: key, UploadId: id })).catch(() => undefined);
      }
      throw this.fail(err, rel);
    }
  }

  async delete(userPath: string): Promise<void> {
    const rel = safeArtifactPath(userPath);
    if (rel !== "") {
      await this.send(rel, () => this.client.send(new (s3sdk().DeleteObjectCommand)({ Bucket: this.bucket, Key: this.key(rel) })));
    }
    const prefix = this.dirPrefix(rel);
    let token: string | undefined;
    do {
      const page = await this.send(rel, () =>
        this.client.send(new (s3sdk().ListObjectsV2Command)({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token })),
      );
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! })).filter((o) => o.Key !== undefined);
      if (keys.length > 0) {
        const res = await this.send(rel, () =>
          this.client.send(new (s3sdk().DeleteObjectsCommand)({ Bucket: this.bucket, Delete: { Objects: keys, Quiet: true } })),
        );
        if (res.Errors && res.Errors.length > 0) {
          throw new MlflowError("INTERNAL_ERROR", `Could not delete ${res.Errors.length} object(s) under '${rel}': ${res.Errors[0]?.Code ?? "error"}`);
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async createMultipartUpload(userPath: string): Promise<{ uploadId: string }> {
    const rel = safeArtifactPath(userPath);
    if (rel === "") throw invalidParameter("An artifact path naming a file is required");
    const res = await this.send(rel, () => this.client.send(new (s3sdk().CreateMultipartUploadCommand)({ Bucket: this.bucket, Key: this.key(rel) })));
    if (!res.UploadId) throw new MlflowError("INTERNAL_ERROR", "Artifact storage returned no upload id");
    return { uploadId: res.UploadId };
  }

  async uploadPart(userPath: string, uploadId: string, partNumber: number, body: Readable, opts: WriteOptions = {}): Promise<UploadedPart> {
    const rel = safeArtifactPath(userPath);
    if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
      throw invalidParameter(`Invalid part_number ${partNumber}: must be between 1 and ${MAX_PART_NUMBER}`);
    }
    let data: Readable | Buffer = body;
    let length = opts.contentLength;
    if (length === undefined) {
      // S3 needs each part's length up front.
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > MAX_UNSIZED_PART) {
          throw invalidParameter(`A part sent without Content-Length may be at most ${MAX_UNSIZED_PART} bytes`);
        }
        chunks.push(chunk);
      }
      data = Buffer.concat(chunks, total);
      length = total;
    }
    const res = await this.send(rel, () =>
      this.client.send(
        new (s3sdk().UploadPartCommand)({ Bucket: this.bucket, Key: this.key(rel), UploadId: uploadId, PartNumber: partNumber, Body: data, ContentLength: length }),
      ),
    );
    return { partNumber, etag: (res.ETag ?? "").replace(/"/g, "") };
  }

  async completeMultipartUpload(userPath: string, uploadId: string, parts: UploadedPart[]): Promise<void> {
    const rel = safeArtifactPath(userPath);
    if (parts.length === 0) throw invalidParameter("A multipart upload needs at least one part");
    const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
    await this.send(rel, () =>
      this.client.send(
        new (s3sdk().CompleteMultipartUploadCommand)({
          Bucket: this.bucket,
          Key: this.key(rel),
          UploadId: uploadId,
          MultipartUpload: { Parts: sorted.map((p) => ({ PartNumber: p.partNumber, ETag: `"${p.etag.replace(/"/g, "")}"` })) },
        }),
      ),
    );
  }

  async abortMultipartUpload(userPath: string, uploadId: string): Promise<void> {
    const rel = safeArtifactPath(userPath);
    await this.send(rel, () => this.client.send(new (s3sdk().AbortMultipartUploadCommand)({ Bucket: this.bucket, Key: this.key(rel), UploadId: uploadId })));
  }

  /** Releases the client's sockets. */
  close(): void {
    this.client.destroy();
  }
}
