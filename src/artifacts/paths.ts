import fs from "node:fs/promises";
import path from "node:path";
import { invalidParameter } from "../errors.js";

/**
 * Name of the folder inside a local artifact root where uploads are staged
 * before they are moved into place. Clients can never address it.
 */
export const STAGING_DIR = ".mloop-uploads";

/** The longest file name common file systems (ext4, xfs, APFS, NTFS) and S3 keys' segments take. */
const MAX_SEGMENT_BYTES = 255;
const MAX_PATH_LENGTH = 4096;
const MAX_DECODE_ROUNDS = 8;

function rejectPath(raw: string, why: string): never {
  const shown = raw.length > 200 ? `${raw.slice(0, 200)}…` : raw;
  throw invalidParameter(`Invalid path '${shown.replace(/[\u0000-\u001f]/g, "?")}': ${why}`);
}

/** Every form the path takes when something downstream decodes it once more. */
function decodedForms(raw: string): string[] {
  const forms = [raw];
  let current = raw;
  for (let i = 0; i < MAX_DECODE_ROUNDS; i++) {
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      break;
    }
    if (next === current) break;
    forms.push(next);
    current = next;
  }
  const nfkc = current.normalize("NFKC");
  if (nfkc !== current) forms.push(nfkc);
  return forms;
}

function checkForm(raw: string, form: string): void {
  if (/[\u0000-\u001f\u007f]/.test(form)) rejectPath(raw, "control characters and NUL bytes are not allowed");
  if (form.includes("\\")) rejectPath(raw, "backslashes are not allowed");
  if (form.includes("#") || form.includes("?")) rejectPath(raw, "'#' and '?' are not allowed");
  if (form.startsWith("/")) rejectPath(raw, "absolute paths are not allowed");
  if (/^[a-z]:/i.test(form)) rejectPath(raw, "drive letters are not allowed");
  if (/^[a-z][a-z0-9+.-]*:\//i.test(form) || /^file:/i.test(form)) rejectPath(raw, "URIs are not allowed");
  for (const segment of form.split("/")) {
    if (segment === "..") rejectPath(raw, "'..' segments are not allowed");
  }
}

/**
 * Validates a user-supplied artifact path and returns it normalised: relative,
 * `/`-separated, no empty or `.` segments, `""` for the root. Anything that
 * could name a location outside the root is refused with
 * INVALID_PARAMETER_VALUE: `..` (also percent-encoded, double-encoded or as
 * full-width dots), backslashes, absolute paths, drive letters and schemes,
 * NUL and control bytes, `#` and `?`, and the staging folder.
 *
 * This is a purely textual check; {@link resolveUnderRoot} adds the symlink
 * check for the local filesystem.
 */
export function safeArtifactPath(raw: string | undefined | null): string {
  if (raw === undefined || raw === null) return "";
  if (typeof raw !== "string") rejectPath(String(raw), "must be a string");
  if (raw.length > MAX_PATH_LENGTH) rejectPath(raw, `longer than ${MAX_PATH_LENGTH} characters`);
  for (const form of decodedForms(raw)) checkForm(raw, form);
  const segments = raw.split("/").filter((s) => s !== "" && s !== ".");
  // File systems refuse names over 255 bytes (ENAMETOOLONG); say so as a bad path, not a server error.
  if (segments.some((s) => Buffer.byteLength(s) > MAX_SEGMENT_BYTES)) rejectPath(raw, `has a name longer than ${MAX_SEGMENT_BYTES} bytes`);
  if (segments[0] === STAGING_DIR) rejectPath(raw, `'${STAGING_DIR}' is reserved`);
  return segments.join("/");
}

/** Joins normalised artifact paths; empty parts are skipped. */
export function joinArtifactPath(...parts: (string | undefined)[]): string {
  return parts.filter((p): p is string => p !== undefined && p !== "").join("/");
}

function isInside(root: string, candidate: string): boolean {
  return candidate === root || candidate.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

async function realpathOrNull(p: string): Promise<string | null> {
  try {
    return await fs.realpath(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") return null;
    throw err;
  }
}

/**
 * Resolves a user-supplied artifact path to a filesystem path under `realRoot`
 * (which must already be a realpath). Runs {@link safeArtifactPath}, then
 * follows symlinks: the deepest existing ancestor and, if it exists, the
 * target itself must stay inside the root. Returns the real path of an
 * existing target, or the joined path of one that does not exist yet.
 */
export async function resolveUnderRoot(realRoot: string, userPath: string): Promise<{ rel: string; abs: string }> {
  const rel = safeArtifactPath(userPath);
  const joined = rel === "" ? realRoot : path.join(realRoot, ...rel.split("/"));
  if (!isInside(realRoot, joined)) rejectPath(userPath, "leaves the artifact root");

  const real = await realpathOrNull(joined);
  if (real !== null) {
    if (!isInside(realRoot, real)) rejectPath(userPath, "resolves outside the artifact root");
    return { rel, abs: real };
  }
  // The target does not exist (or is a dangling symlink): check the chain of ancestors.
  let leafIsLink = false;
  try {
    leafIsLink = (await fs.lstat(joined)).isSymbolicLink();
  } catch {
    // absent
  }
  if (leafIsLink) rejectPath(userPath, "is a symbolic link that leads outside the artifact root");
  let ancestor = path.dirname(joined);
  while (isInside(realRoot, ancestor) && ancestor !== realRoot) {
    const r = await realpathOrNull(ancestor);
    if (r !== null) {
      if (!isInside(realRoot, r)) rejectPath(userPath, "resolves outside the artifact root");
      return { rel, abs: path.join(r, path.relative(ancestor, joined)) };
    }
    ancestor = path.dirname(ancestor);
  }
  return { rel, abs: joined };
}
