/**
 * DVC-compatible data versioning: the door to `src/data/`.
 *
 * {@link DataRepo} is the whole repository (add, status, commit, checkout,
 * push, fetch, pull, gc, remotes). The lower pieces are exported for the
 * pipelines (`mloop repro`), which hash dependencies and store outputs the
 * same way: {@link hashFiles} (parallel md5), {@link buildTree} (a folder's
 * `.dir` manifest and hash), {@link ObjectCache} (the DVC 3 cache layout) and
 * the `.dvc` file reader and writer. See docs/data.md.
 */
export { DataRepo, findRepoRoot, type CheckoutResult, type OutState, type Phase, type ProgressFn, type RepoOptions, type StatusEntry, type TrackedOut, type TransferResult } from "./repo.js";
export { hashFiles, hashFileSync, md5Bytes, type FileHash, type HashProgress } from "./hash.js";
export { buildTree, parseTree, compareCodePoints, pythonJsonString, type TreeEntry, type TreeInfo } from "./tree.js";
export { ObjectCache, LINK_TYPES, type LinkType } from "./cache.js";
export { readDvcFile, formatDvcFile, writeDvcFile, type DvcFile, type Out } from "./dvcfile.js";
export { DvcIgnore } from "./ignore.js";
export { walkFiles, type WorkspaceFile } from "./workspace.js";
