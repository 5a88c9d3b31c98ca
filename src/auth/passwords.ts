import { createHash, createHmac, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";

/**
 * Password hashing with node's built-in scrypt (memory-hard, salted, no
 * native add-on to build). The cost parameters are stored with each hash,
 * so raising them later leaves old hashes verifiable.
 */
const COST = { N: 1 << 15, r: 8, p: 1 };
const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_LENGTH, { ...opts, maxmem: 256 * opts.N! * opts.r! }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** `scrypt$N$r$p$salt$hash`, salt and hash in base64. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, COST);
  return ["scrypt", COST.N, COST.r, COST.p, salt.toString("base64"), key.toString("base64")].join("$");
}

/** Checks a password against a stored hash in constant time; a malformed hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![N, r, p].every((n) => Number.isSafeInteger(n) && n > 0)) return false;
  const expected = Buffer.from(parts[5]!, "base64");
  const key = await derive(password, Buffer.from(parts[4]!, "base64"), { N, r, p });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** A hash that never verifies, spent on unknown users so their logins take as long as known ones. */
let dummyHash: Promise<string> | undefined;
export function decoyHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(16).toString("hex"));
  return dummyHash;
}

const TOKEN_PREFIX = "mlp_";

/** A new bearer token: 32 random bytes. Only its SHA-256 is stored. */
export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

/**
 * A token's stored form. A token carries 256 random bits, so a fast hash is
 * enough (nothing to brute-force), and looking the hash up by index reveals
 * nothing an attacker can steer.
 */
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Keyed digest for in-memory caches, so a cache key never holds a secret in the clear. */
export function cacheKey(secret: Buffer, ...parts: string[]): string {
  const h = createHmac("sha256", secret);
  for (const p of parts) h.update(p).update("\0");
  return h.digest("base64");
}

/** A printable random password for a generated first admin. */
export function generatePassword(): string {
  return randomBytes(18).toString("base64url");
}
