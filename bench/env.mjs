/** What every benchmark script shares: the repository root and its numeric settings. */
import path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "..");

/** A positive integer from the environment, or `dflt`; anything else stops the benchmark. */
export function positiveIntEnv(name, dflt) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`bench: ${name} must be a positive integer, got '${raw}'`);
    process.exit(2);
  }
  return n;
}
