/**
 * The traffic policy between the champion and one challenger: `canary` sends
 * a share of requests to the challenger (sticky by a request header when one
 * is named), `shadow` has the champion answer and sends the challenger a copy.
 */
import fs from "node:fs";
import YAML from "yaml";
import { invalidParameter } from "../errors.js";

export interface TrafficPolicy {
  mode: "single" | "canary" | "shadow";
  /** Share of requests the challenger answers (canary), 0..1. */
  share: number;
  /** Header whose value pins a caller to one side (canary). */
  stickyHeader?: string;
}

/** The policy file: champion and challenger URIs plus the policy. */
export interface PolicyFile {
  champion?: string;
  challenger?: string;
  policy: TrafficPolicy;
}

/**
 * Reads a policy YAML file:
 *
 * @example
 * ```yaml
 * champion: models:/fraud@champion
 * challenger: models:/fraud@challenger
 * mode: canary        # or shadow
 * share: 0.1
 * sticky_header: X-User-Id
 * ```
 */
export function readPolicyFile(file: string): PolicyFile {
  let doc: Record<string, unknown>;
  try {
    doc = (YAML.parse(fs.readFileSync(file, "utf8")) ?? {}) as Record<string, unknown>;
  } catch (err) {
    throw invalidParameter(`cannot read the traffic policy ${file}: ${(err as Error).message.split("\n")[0]}`);
  }
  const known = new Set(["champion", "challenger", "mode", "share", "sticky_header"]);
  for (const k of Object.keys(doc)) if (!known.has(k)) throw invalidParameter(`${file}: unknown key '${k}' (expected ${[...known].join(", ")})`);
  const str = (k: string) => (doc[k] === undefined ? undefined : String(doc[k]));
  return {
    champion: str("champion"),
    challenger: str("challenger"),
    policy: makePolicy(str("mode"), doc.share === undefined ? undefined : Number(doc.share), str("sticky_header"), doc.challenger !== undefined),
  };
}

/** Checks and completes a policy from its parts. */
export function makePolicy(mode: string | undefined, share: number | undefined, stickyHeader: string | undefined, hasChallenger: boolean): TrafficPolicy {
  const m = mode ?? (hasChallenger ? "canary" : "single");
  if (m !== "single" && m !== "canary" && m !== "shadow") throw invalidParameter(`traffic mode must be canary or shadow, got '${m}'`);
  if (m !== "single" && !hasChallenger) throw invalidParameter(`traffic mode '${m}' needs a challenger model`);
  if (m === "single" && hasChallenger) return { mode: "canary", share: share ?? 0.1, stickyHeader: stickyHeader?.toLowerCase() };
  const s = share ?? (m === "canary" ? 0.1 : 0);
  if (!Number.isFinite(s) || s < 0 || s > 1) throw invalidParameter(`the canary share must be between 0 and 1, got '${share}'`);
  return { mode: m, share: s, stickyHeader: stickyHeader?.toLowerCase() };
}

/** FNV-1a of a string, scaled to [0, 1): a stable place for a sticky key. */
export function stickyPoint(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // final avalanche so neighbouring keys spread out
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return (h >>> 0) / 2 ** 32;
}

/** Whether this request goes to the challenger (canary). */
export function routesToChallenger(policy: TrafficPolicy, stickyValue: string | undefined, random = Math.random): boolean {
  if (policy.mode !== "canary" || policy.share <= 0) return false;
  const point = stickyValue !== undefined && stickyValue !== "" ? stickyPoint(stickyValue) : random();
  return point < policy.share;
}
