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
