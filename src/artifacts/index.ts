export type { ArtifactRepository, ArtifactFileInfo, ByteRange, UploadedPart, WriteOptions } from "./repository.js";
export { MAX_PART_NUMBER } from "./repository.js";
export { safeArtifactPath, resolveUnderRoot, joinArtifactPath } from "./paths.js";
export { artifactRepositoryFromUri, type RepositoryOptions } from "./factory.js";
export { LocalArtifactRepository } from "./local.js";
export { S3ArtifactRepository, parseS3Uri } from "./s3.js";
export { guessContentType } from "./mime.js";
