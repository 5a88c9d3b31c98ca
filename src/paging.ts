import { invalidParameter } from "./errors.js";

/** Opaque page tokens: base64 of a JSON object. */
export function encodePageToken(state: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(state)).toString("base64");
}

export function decodePageToken(token: string | undefined): Record<string, unknown> | undefined {
  if (token === undefined || token === "") return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, "base64").toString("utf8"));
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw invalidParameter(`Invalid page token '${token.slice(0, 100)}'`);
}

/** An offset page token with bounds checks. */
export function offsetFromToken(token: string | undefined): number {
  const state = decodePageToken(token);
  if (!state) return 0;
  const offset = state.offset;
  if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) {
    throw invalidParameter(`Invalid page token '${String(token).slice(0, 100)}'`);
  }
  return offset;
}

/**
 * A restriction on which rows a search may return, by id or name: `only`
 * these, or all `except` these. The auth layer computes it from the caller's
 * permissions and the search applies it in SQL, so pages stay full.
 */
export interface ResultScope {
  only?: readonly string[];
  except?: readonly string[];
}

/** The SQL condition of a {@link ResultScope} on `column` (always true when there is no scope). */
export function scopeClause(column: string, scope: ResultScope | undefined): { sql: string; params: string[] } {
  if (!scope) return { sql: "1 = 1", params: [] };
  const parts: string[] = [];
  const params: string[] = [];
  if (scope.only) {
    if (scope.only.length === 0) return { sql: "1 = 0", params: [] };
    parts.push(`${column} IN (${scope.only.map(() => "?").join(", ")})`);
    params.push(...scope.only);
  }
  if (scope.except && scope.except.length > 0) {
    parts.push(`${column} NOT IN (${scope.except.map(() => "?").join(", ")})`);
    params.push(...scope.except);
  }
  return { sql: parts.length ? parts.join(" AND ") : "1 = 1", params };
}
