import { randomBytes } from "node:crypto";
import { invalidParameter, invalidState, MlflowError, notFound } from "../errors.js";
import type { ResultScope } from "../paging.js";
import type { SqlDriver } from "../store/index.js";
import { cacheKey, decoyHash, generatePassword, hashPassword, hashToken, newToken, verifyPassword } from "./passwords.js";
import { allows, type Need, type Permission } from "./permissions.js";
import { FailedLogins, type RateLimits } from "./rate-limit.js";
import { AuthStore, type ResourceKind, type TokenRow, type UserRow } from "./store.js";

export interface AuthSettings {
  /** What a user may do on a resource nobody granted them anything on (MLflow's `default_permission`, READ there too). */
  defaultPermission: Permission;
  /** Name of the first admin, created when the server starts with no users. */
  adminUsername: string;
  /** Password of the first admin; without one a password is generated and reported once. */
  adminPassword?: string;
  rateLimits: RateLimits;
}

/** Who made a request. */
export interface Principal {
  id: number;
  username: string;
  isAdmin: boolean;
}

/** A user the way MLflow's auth API returns one (never the hash). */
export interface UserJson {
  id: number;
  username: string;
  is_admin: boolean;
  experiment_permissions: { experiment_id: string; user_id: number; permission: Permission }[];
  registered_model_permissions: { name: string; user_id: number; permission: Permission }[];
}

export interface TokenJson {
  id: string;
  name: string;
  creation_time: number;
  expiration_time?: number;
}

/** Too many failed logins: carries how long to wait. */
export class LoginThrottled extends MlflowError {
  constructor(readonly retryAfterSeconds: number) {
    super("REQUEST_LIMIT_EXCEEDED", `Too many failed login attempts; try again in ${retryAfterSeconds} s`);
  }
}

export const unauthenticated = (): MlflowError =>
  new MlflowError("UNAUTHENTICATED", "You are not authenticated. Send a username and password (basic auth, MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD) or a token (MLFLOW_TRACKING_TOKEN).");

export const permissionDenied = (): MlflowError => new MlflowError("PERMISSION_DENIED", "Permission denied");

const VERIFIED_TTL_MS = 5 * 60_000;
const MAX_TOKEN_LIFETIME_S = 10 * 365 * 24 * 3600;

function validUsername(raw: unknown): string {
  if (typeof raw !== "string" || raw.trim() === "") throw invalidParameter("Username cannot be empty.");
  if (raw.length > 255 || /[\u0000-\u001f:]/.test(raw)) throw invalidParameter("Username must be at most 255 characters without ':' or control characters.");
  return raw;
}

function validPassword(raw: unknown): string {
  if (typeof raw !== "string" || raw === "") throw invalidParameter("Password cannot be empty.");
  if (raw.length > 1024) throw invalidParameter("Password must be at most 1024 characters.");
  return raw;
}

/**
 * Users, tokens and permissions, and the decisions made on them: who a
 * request is, and what that user may do to an experiment or registered model.
 * Admins may do everything; others get their explicit permission on a
 * resource, or the default one.
 */
export class AuthService {
  readonly store: AuthStore;
  private readonly failures: FailedLogins;
  /** Keyed digests of (user, stored hash, password) verified recently: scrypt runs once per login, not per request. */
  private readonly verified = new Map<string, number>();
  private readonly secret = randomBytes(32);

  constructor(
    db: SqlDriver,
    readonly settings: AuthSettings,
    private readonly clock: () => number = Date.now,
  ) {
    this.store = new AuthStore(db);
    this.failures = new FailedLogins(settings.rateLimits, clock);
  }

  /**
   * Creates the first admin when there are no users. Returns the password
   * when it was generated, so the caller can print it once.
   */
  async bootstrap(): Promise<{ username: string; generatedPassword?: string } | undefined> {
    if ((await this.store.countUsers()) > 0) return undefined;
    const username = validUsername(this.settings.adminUsername);
    const password = this.settings.adminPassword || generatePassword();
    try {
      await this.store.createUser(username, await hashPassword(password), true, this.clock());
    } catch (err) {
      // Another replica created it first.
      if (err instanceof MlflowError && err.errorCode === "RESOURCE_ALREADY_EXISTS") return undefined;
      throw err;
    }
    return this.settings.adminPassword ? { username } : { username, generatedPassword: password };
  }

  // ---- authentication -------------------------------------------------------

  /** Checks a username and password; throws UNAUTHENTICATED, or REQUEST_LIMIT_EXCEEDED after too many failures. */
  async authenticatePassword(username: string, password: string, address: string): Promise<Principal> {
    const wait = this.failures.retryAfter(username, address);
    if (wait > 0) throw new LoginThrottled(wait);
    const user = await this.store.userByName(username);
    if (user && this.recentlyVerified(user, password)) return principal(user);
    // Unknown users cost a hash too, so timing does not tell which names exist.
    const ok = await verifyPassword(password, user?.password_hash ?? (await decoyHash()));
    if (!user || !ok) {
      this.failures.fail(username, address);
      throw unauthenticated();
    }
    this.failures.succeed(username);
    this.remember(user, password);
    return principal(user);
  }

  /** Checks a bearer token; a revoked or expired token, or one of a deleted user, is refused. */
  async authenticateToken(token: string, address: string): Promise<Principal> {
    const wait = this.failures.retryAfter(undefined, address);
    if (wait > 0) throw new LoginThrottled(wait);
    const user = await this.store.userByToken(hashToken(token), this.clock());
    if (!user) {
      this.failures.fail(undefined, address);
      throw unauthenticated();
    }
    return principal(user);
  }

  private recentlyVerified(user: UserRow, password: string): boolean {
    const key = cacheKey(this.secret, String(user.id), user.password_hash, password);
    const until = this.verified.get(key);
    if (until === undefined) return false;
    if (until > this.clock()) return true;
    this.verified.delete(key);
    return false;
  }

  private remember(user: UserRow, password: string): void {
    if (this.verified.size >= 10_000) this.verified.clear();
    this.verified.set(cacheKey(this.secret, String(user.id), user.password_hash, password), this.clock() + VERIFIED_TTL_MS);
  }

  // ---- users ----------------------------------------------------------------

  async createUser(usernameRaw: unknown, passwordRaw: unknown): Promise<UserJson> {
    const username = validUsername(usernameRaw);
    const password = validPassword(passwordRaw);
    const user = await this.store.createUser(username, await hashPassword(password), false, this.clock());
    return this.userJson(user);
  }

  async user(usernameRaw: unknown): Promise<UserRow> {
    const username = validUsername(usernameRaw);
    const user = await this.store.userByName(username);
    if (!user) throw notFound(`User with username=${username} not found`);
    return user;
  }

  async userJson(user: UserRow): Promise<UserJson> {
    const [exps, models] = await Promise.all([this.store.userPermissions("experiment", user.id), this.store.userPermissions("registered_model", user.id)]);
    return {
      id: user.id,
      username: user.username,
      is_admin: user.is_admin,
      experiment_permissions: exps.map((p) => ({ experiment_id: p.resource, user_id: user.id, permission: p.permission })),
      registered_model_permissions: models.map((p) => ({ name: p.resource, user_id: user.id, permission: p.permission })),
    };
  }

  async listUsers(): Promise<UserJson[]> {
    return Promise.all((await this.store.listUsers()).map((u) => this.userJson(u)));
  }

  /**
   * Changes a password. A user changing their own must give the current one
   * (a stolen token cannot lock its owner out); an admin changing another's
   * need not. The user's tokens are revoked.
   */
  async updatePassword(caller: Principal, usernameRaw: unknown, passwordRaw: unknown, currentRaw: unknown, address: string): Promise<void> {
    const user = await this.user(usernameRaw);
    const password = validPassword(passwordRaw);
    if (!(caller.isAdmin && caller.id !== user.id)) {
      if (typeof currentRaw !== "string" || currentRaw === "") throw invalidParameter("Changing your own password requires 'current_password'.");
      await this.authenticatePassword(user.username, currentRaw, address).catch((err: unknown) => {
        if (err instanceof MlflowError && err.errorCode === "UNAUTHENTICATED") throw invalidParameter("'current_password' is not the user's password.");
        throw err;
      });
    }
    await this.store.updatePassword(user.id, await hashPassword(password), this.clock());
  }

  async updateAdmin(usernameRaw: unknown, isAdmin: unknown): Promise<void> {
    const user = await this.user(usernameRaw);
    if (typeof isAdmin !== "boolean") throw invalidParameter("'is_admin' must be true or false.");
    if (!isAdmin && user.is_admin) await this.keepAnAdmin(user);
    await this.store.updateAdmin(user.id, isAdmin);
  }

  async deleteUser(usernameRaw: unknown): Promise<void> {
    const user = await this.user(usernameRaw);
    if (user.is_admin) await this.keepAnAdmin(user);
    await this.store.deleteUser(user.id);
  }

  /** The last admin cannot be removed: nobody could manage users afterwards. */
  private async keepAnAdmin(user: UserRow): Promise<void> {
    const admins = (await this.store.listUsers()).filter((u) => u.is_admin && u.id !== user.id);
    if (admins.length === 0) throw invalidState(`User '${user.username}' is the last admin; make another user admin first.`);
  }

  // ---- tokens ---------------------------------------------------------------

  /** A new token for the caller; the secret is returned only here. */
  async createToken(caller: Principal, nameRaw: unknown, expiresInRaw: unknown): Promise<{ token: string; info: TokenJson }> {
    const name = nameRaw === undefined || nameRaw === null ? "" : nameRaw;
    if (typeof name !== "string" || name.length > 255) throw invalidParameter("'name' must be a string of at most 255 characters.");
    let expiresAt: number | null = null;
    if (expiresInRaw !== undefined && expiresInRaw !== null) {
      const s = typeof expiresInRaw === "string" && /^\d+$/.test(expiresInRaw) ? Number(expiresInRaw) : expiresInRaw;
      if (typeof s !== "number" || !Number.isSafeInteger(s) || s <= 0 || s > MAX_TOKEN_LIFETIME_S) {
        throw invalidParameter(`'expires_in_seconds' must be a whole number of seconds between 1 and ${MAX_TOKEN_LIFETIME_S}.`);
      }
      expiresAt = this.clock() + s * 1000;
    }
    const token = newToken();
    const row = await this.store.createToken(caller.id, name, hashToken(token), this.clock(), expiresAt);
    return { token, info: tokenJson(row) };
  }

  async listTokens(caller: Principal): Promise<TokenJson[]> {
    return (await this.store.listTokens(caller.id)).map(tokenJson);
  }

  async revokeToken(caller: Principal, idRaw: unknown): Promise<void> {
    const id = typeof idRaw === "number" ? idRaw : typeof idRaw === "string" && /^\d+$/.test(idRaw) ? Number(idRaw) : NaN;
    if (!Number.isSafeInteger(id)) throw invalidParameter("Missing value for required parameter 'token_id'.");
    if (!(await this.store.deleteToken(caller.id, id))) throw notFound(`Token ${id} not found`);
  }

  // ---- permissions ----------------------------------------------------------

  /** The caller's permission on a resource: explicit, else the default. */
  async permissionOf(who: Principal, kind: ResourceKind, resource: string): Promise<Permission> {
    if (who.isAdmin) return "MANAGE";
    return (await this.store.getPermission(kind, resource, who.id)) ?? this.settings.defaultPermission;
  }

  async can(who: Principal, kind: ResourceKind, resource: string, need: Need): Promise<boolean> {
    return who.isAdmin || allows(await this.permissionOf(who, kind, resource), need);
  }

  /** Which resources of a kind a search may show the caller (undefined: all). */
  async readScope(who: Principal, kind: ResourceKind): Promise<ResultScope | undefined> {
    if (who.isAdmin) return undefined;
    const explicit = await this.store.userPermissions(kind, who.id);
    if (allows(this.settings.defaultPermission, "read")) {
      const except = explicit.filter((p) => !allows(p.permission, "read")).map((p) => p.resource);
      return except.length ? { except } : undefined;
    }
    return { only: explicit.filter((p) => allows(p.permission, "read")).map((p) => p.resource) };
  }

  /** The creator of an experiment or registered model manages it. */
  async grantCreator(who: Principal, kind: ResourceKind, resource: string): Promise<void> {
    await this.store.upsertPermission(kind, resource, who.id, "MANAGE");
  }
}

function principal(u: UserRow): Principal {
  return { id: u.id, username: u.username, isAdmin: u.is_admin };
}

function tokenJson(t: TokenRow): TokenJson {
  const out: TokenJson = { id: String(t.id), name: t.name, creation_time: t.created_at };
  if (t.expires_at !== null) out.expiration_time = t.expires_at;
  return out;
}
