import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTestDatabase, SKIP_POSTGRES_REASON, TEST_POSTGRES_URL } from "../../test/helpers/pg.js";
import { MlflowError } from "../errors.js";
import { openDatabase, type SqlDriver } from "../store/index.js";
import { AuthService, type AuthSettings } from "./index.js";

const SETTINGS: AuthSettings = {
  defaultPermission: "READ",
  adminUsername: "admin",
  adminPassword: "first-admin-pw",
  rateLimits: { perUser: 3, perAddress: 50, windowMs: 60_000 },
};

async function code(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => (e instanceof MlflowError ? e.errorCode : String(e)),
  );
}

/** Users, tokens and permissions through the store seam: the same suite on every backend. */
function authContract(name: string, open: () => Promise<{ db: SqlDriver; dispose: () => Promise<void> }>): void {
  describe(`auth store contract: ${name}`, () => {
    let db: SqlDriver;
    let dispose: () => Promise<void>;
    let now: number;
    let auth: AuthService;

    beforeEach(async () => {
      ({ db, dispose } = await open());
      now = 1_700_000_000_000;
      auth = new AuthService(db, SETTINGS, () => now);
    });
    afterEach(async () => {
      await db.close();
      await dispose();
    });

    it("creates the first admin once, and only when there are no users", async () => {
      expect(await auth.bootstrap()).toEqual({ username: "admin" });
      expect(await auth.bootstrap()).toBeUndefined();
      const admin = await auth.authenticatePassword("admin", "first-admin-pw", "a");
      expect(admin).toMatchObject({ username: "admin", isAdmin: true });
      const generated = new AuthService(db, { ...SETTINGS, adminPassword: undefined });
      expect(await generated.bootstrap()).toBeUndefined();
    });

    it("generates a password when none is configured and reports it", async () => {
      const gen = new AuthService(db, { ...SETTINGS, adminPassword: undefined });
      const first = await gen.bootstrap();
      expect(first?.generatedPassword).toMatch(/^[\w-]{20,}$/);
      expect((await gen.authenticatePassword("admin", first!.generatedPassword!, "a")).isAdmin).toBe(true);
    });

    it("stores passwords only as salted scrypt hashes and refuses a wrong one", async () => {
      await auth.createUser("alice", "s3cret");
      await auth.createUser("bob", "s3cret");
      const rows = await db.all<{ password_hash: string }>("SELECT password_hash FROM auth_users ORDER BY id");
      expect(rows.every((r) => r.password_hash.startsWith("scrypt$") && !r.password_hash.includes("s3cret"))).toBe(true);
      expect(rows[0]!.password_hash).not.toBe(rows[1]!.password_hash);
      expect(await code(auth.authenticatePassword("alice", "nope", "a"))).toBe("UNAUTHENTICATED");
      expect(await code(auth.authenticatePassword("nobody", "s3cret", "a"))).toBe("UNAUTHENTICATED");
      expect((await auth.authenticatePassword("alice", "s3cret", "a")).username).toBe("alice");
    });

    it("refuses duplicate and empty usernames", async () => {
      await auth.createUser("alice", "pw");
      expect(await code(auth.createUser("alice", "pw2"))).toBe("RESOURCE_ALREADY_EXISTS");
      expect(await code(auth.createUser("", "pw"))).toBe("INVALID_PARAMETER_VALUE");
      expect(await code(auth.createUser("carol", ""))).toBe("INVALID_PARAMETER_VALUE");
    });

    it("slows brute force: past the limit even the right password is refused until the window passes", async () => {
      await auth.createUser("alice", "right");
      for (let i = 0; i < 3; i++) expect(await code(auth.authenticatePassword("alice", `guess${i}`, "10.0.0.1"))).toBe("UNAUTHENTICATED");
      expect(await code(auth.authenticatePassword("alice", "right", "10.0.0.2"))).toBe("REQUEST_LIMIT_EXCEEDED");
      now += 61_000;
      expect((await auth.authenticatePassword("alice", "right", "10.0.0.2")).username).toBe("alice");
    });

    it("tokens: stored hashed, expire, and stop working when revoked or their user is deleted", async () => {
      await auth.createUser("alice", "pw");
      const alice = await auth.authenticatePassword("alice", "pw", "a");
      const { token, info } = await auth.createToken(alice, "ci", 60);
      expect(info).toMatchObject({ name: "ci", expiration_time: now + 60_000 });
      const stored = await db.all<{ token_hash: string }>("SELECT token_hash FROM auth_tokens");
      expect(stored.map((r) => r.token_hash)).not.toContain(token);
      expect((await auth.authenticateToken(token, "a")).username).toBe("alice");
      now += 61_000;
      expect(await code(auth.authenticateToken(token, "a"))).toBe("UNAUTHENTICATED");

      const forever = await auth.createToken(alice, "", undefined);
      const other = await auth.createToken(alice, "other", undefined);
      expect((await auth.listTokens(alice)).map((t) => t.name)).toEqual(["ci", "", "other"]);
      await auth.revokeToken(alice, forever.info.id);
      expect(await code(auth.authenticateToken(forever.token, "a"))).toBe("UNAUTHENTICATED");
      expect(await code(auth.revokeToken(alice, forever.info.id))).toBe("RESOURCE_DOES_NOT_EXIST");

      await auth.bootstrap();
      await auth.deleteUser("alice");
      expect(await code(auth.authenticateToken(other.token, "a"))).toBe("UNAUTHENTICATED");
    });

    it("a password change makes the old password fail at once and revokes the user's tokens", async () => {
      await auth.createUser("alice", "old");
      const alice = await auth.authenticatePassword("alice", "old", "a");
      const { token } = await auth.createToken(alice, "t", undefined);
      expect(await code(auth.updatePassword(alice, "alice", "new", "wrong", "a"))).toBe("INVALID_PARAMETER_VALUE");
      await auth.updatePassword(alice, "alice", "new", "old", "a");
      expect(await code(auth.authenticatePassword("alice", "old", "a"))).toBe("UNAUTHENTICATED");
      expect(await code(auth.authenticateToken(token, "a"))).toBe("UNAUTHENTICATED");
      expect((await auth.authenticatePassword("alice", "new", "a")).username).toBe("alice");
    });

    it("permissions: explicit or the default; create, update, delete, rename, drop", async () => {
      await auth.createUser("alice", "pw");
      const alice = await auth.authenticatePassword("alice", "pw", "a");
      const s = auth.store;
      expect(await auth.permissionOf(alice, "experiment", "7")).toBe("READ");
      await s.createPermission("experiment", "7", alice.id, "EDIT");
      expect(await code(s.createPermission("experiment", "7", alice.id, "READ"))).toBe("RESOURCE_ALREADY_EXISTS");
      expect(await auth.can(alice, "experiment", "7", "update")).toBe(true);
      expect(await auth.can(alice, "experiment", "7", "delete")).toBe(false);
      expect(await s.updatePermission("experiment", "7", alice.id, "NO_PERMISSIONS")).toBe(true);
      expect(await auth.can(alice, "experiment", "7", "read")).toBe(false);
      expect(await auth.readScope(alice, "experiment")).toEqual({ except: ["7"] });
      expect(await s.deletePermission("experiment", "7", alice.id)).toBe(true);
      expect(await s.deletePermission("experiment", "7", alice.id)).toBe(false);

      await auth.grantCreator(alice, "registered_model", "m1");
      await s.renameResource("registered_model", "m1", "m2");
      expect(await s.getPermission("registered_model", "m1", alice.id)).toBeUndefined();
      expect(await s.getPermission("registered_model", "m2", alice.id)).toBe("MANAGE");
      await s.deleteResource("registered_model", "m2");
      expect(await s.getPermission("registered_model", "m2", alice.id)).toBeUndefined();

      const strict = new AuthService(db, { ...SETTINGS, defaultPermission: "NO_PERMISSIONS" });
      await s.upsertPermission("experiment", "3", alice.id, "READ");
      await s.upsertPermission("experiment", "4", alice.id, "NO_PERMISSIONS");
      expect(await strict.readScope(alice, "experiment")).toEqual({ only: ["3"] });
    });

    it("keeps at least one admin", async () => {
      await auth.bootstrap();
      expect(await code(auth.deleteUser("admin"))).toBe("INVALID_STATE");
      expect(await code(auth.updateAdmin("admin", false))).toBe("INVALID_STATE");
      await auth.createUser("bob", "pw");
      await auth.updateAdmin("bob", true);
      await auth.deleteUser("admin");
      expect(await code(auth.user("admin"))).toBe("RESOURCE_DOES_NOT_EXIST");
    });
  });
}

authContract("sqlite", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-auth-"));
  const db = await openDatabase(`sqlite:///${path.join(dir, "db.sqlite")}`);
  return { db, dispose: async () => fs.rmSync(dir, { recursive: true, force: true }) };
});

if (TEST_POSTGRES_URL) {
  authContract("postgres", async () => {
    const pg = await createTestDatabase();
    const db = await openDatabase(pg.uri);
    return { db, dispose: () => pg.drop() };
  });
} else {
  describe("auth store contract: postgres", () => {
    it.skip(SKIP_POSTGRES_REASON, () => {});
  });
}
