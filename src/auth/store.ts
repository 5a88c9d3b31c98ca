import { isUniqueViolation, type SqlDriver } from "../store/index.js";
import { alreadyExists } from "../errors.js";
import type { Permission } from "./permissions.js";

/** The two kinds of resource a permission is granted on, as MLflow names them. */
export type ResourceKind = "experiment" | "registered_model";

export interface UserRow {
  id: number;
  username: string;
  password_hash: string;
  is_admin: boolean;
  password_changed_at: number;
}

export interface TokenRow {
  id: number;
  user_id: number;
  name: string;
  created_at: number;
  expires_at: number | null;
}

const TABLES: Record<ResourceKind, { table: string; key: string }> = {
  experiment: { table: "auth_experiment_permissions", key: "experiment_id" },
  registered_model: { table: "auth_registered_model_permissions", key: "name" },
};

interface RawUser {
  id: unknown;
  username: string;
  password_hash: string;
  is_admin: unknown;
  password_changed_at: unknown;
}

function toUser(r: RawUser): UserRow {
  return { id: Number(r.id), username: r.username, password_hash: r.password_hash, is_admin: Number(r.is_admin) === 1, password_changed_at: Number(r.password_changed_at) };
}

function toToken(r: Record<string, unknown>): TokenRow {
  return { id: Number(r.id), user_id: Number(r.user_id), name: String(r.name), created_at: Number(r.created_at), expires_at: r.expires_at === null || r.expires_at === undefined ? null : Number(r.expires_at) };
}

const USER_COLUMNS = "id, username, password_hash, is_admin, password_changed_at";

/** SQL for users, tokens and permissions; portable between SQLite and PostgreSQL. */
export class AuthStore {
  constructor(private readonly db: SqlDriver) {}

  async createUser(username: string, passwordHash: string, isAdmin: boolean, now: number): Promise<UserRow> {
    try {
      const row = await this.db.get<RawUser>(
        `INSERT INTO auth_users (username, password_hash, is_admin, created_at, password_changed_at) VALUES (?, ?, ?, ?, ?) RETURNING ${USER_COLUMNS}`,
        [username, passwordHash, isAdmin ? 1 : 0, now, now],
      );
      return toUser(row!);
    } catch (err) {
      if (isUniqueViolation(err)) throw alreadyExists(`User (username=${username}) already exists.`);
      throw err;
    }
  }

  async userByName(username: string): Promise<UserRow | undefined> {
    const r = await this.db.get<RawUser>(`SELECT ${USER_COLUMNS} FROM auth_users WHERE username = ?`, [username]);
    return r && toUser(r);
  }

  async userById(id: number): Promise<UserRow | undefined> {
    const r = await this.db.get<RawUser>(`SELECT ${USER_COLUMNS} FROM auth_users WHERE id = ?`, [id]);
    return r && toUser(r);
  }

  async listUsers(): Promise<UserRow[]> {
    return (await this.db.all<RawUser>(`SELECT ${USER_COLUMNS} FROM auth_users ORDER BY id`)).map(toUser);
  }

  async countUsers(): Promise<number> {
    const r = await this.db.get<{ n: unknown }>("SELECT COUNT(*) AS n FROM auth_users");
    return Number(r?.n ?? 0);
  }

  /** Sets a new password hash and revokes the user's tokens: a password change signs the user out everywhere. */
  async updatePassword(userId: number, passwordHash: string, now: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run("UPDATE auth_users SET password_hash = ?, password_changed_at = ? WHERE id = ?", [passwordHash, now, userId]);
      await tx.run("DELETE FROM auth_tokens WHERE user_id = ?", [userId]);
    });
  }

  async updateAdmin(userId: number, isAdmin: boolean): Promise<void> {
    await this.db.run("UPDATE auth_users SET is_admin = ? WHERE id = ?", [isAdmin ? 1 : 0, userId]);
  }

  /** Removes a user with their tokens and permissions. */
  async deleteUser(userId: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run("DELETE FROM auth_tokens WHERE user_id = ?", [userId]);
      for (const { table } of Object.values(TABLES)) await tx.run(`DELETE FROM ${table} WHERE user_id = ?`, [userId]);
      await tx.run("DELETE FROM auth_users WHERE id = ?", [userId]);
    });
  }

  // ---- tokens ---------------------------------------------------------------

  async createToken(userId: number, name: string, tokenHash: string, now: number, expiresAt: number | null): Promise<TokenRow> {
    const r = await this.db.get<Record<string, unknown>>(
      "INSERT INTO auth_tokens (user_id, name, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?) RETURNING id, user_id, name, created_at, expires_at",
      [userId, name, tokenHash, now, expiresAt],
    );
    return toToken(r!);
  }

  /** The user a live (unexpired) token belongs to. */
  async userByToken(tokenHash: string, now: number): Promise<UserRow | undefined> {
    const r = await this.db.get<RawUser>(
      `SELECT u.id, u.username, u.password_hash, u.is_admin, u.password_changed_at FROM auth_tokens t JOIN auth_users u ON u.id = t.user_id
       WHERE t.token_hash = ? AND (t.expires_at IS NULL OR t.expires_at > ?)`,
      [tokenHash, now],
    );
    return r && toUser(r);
  }

  async listTokens(userId: number): Promise<TokenRow[]> {
    return (await this.db.all<Record<string, unknown>>("SELECT id, user_id, name, created_at, expires_at FROM auth_tokens WHERE user_id = ? ORDER BY id", [userId])).map(toToken);
  }

  /** Deletes one of a user's tokens; false when that user has no such token. */
  async deleteToken(userId: number, tokenId: number): Promise<boolean> {
    const { changes } = await this.db.run("DELETE FROM auth_tokens WHERE id = ? AND user_id = ?", [tokenId, userId]);
    return changes > 0;
  }

  // ---- permissions ----------------------------------------------------------

  async getPermission(kind: ResourceKind, resource: string, userId: number): Promise<Permission | undefined> {
    const { table, key } = TABLES[kind];
    const r = await this.db.get<{ permission: Permission }>(`SELECT permission FROM ${table} WHERE ${key} = ? AND user_id = ?`, [resource, userId]);
    return r?.permission;
  }

  /** Inserts a permission; RESOURCE_ALREADY_EXISTS when the user already has one on the resource. */
  async createPermission(kind: ResourceKind, resource: string, userId: number, permission: Permission): Promise<void> {
    const { table, key } = TABLES[kind];
    try {
      await this.db.run(`INSERT INTO ${table} (${key}, user_id, permission) VALUES (?, ?, ?)`, [resource, userId, permission]);
    } catch (err) {
      if (isUniqueViolation(err)) throw alreadyExists(`Permission on ${kind} '${resource}' for user id ${userId} already exists.`);
      throw err;
    }
  }

  async upsertPermission(kind: ResourceKind, resource: string, userId: number, permission: Permission): Promise<void> {
    const { table, key } = TABLES[kind];
    await this.db.run(
      `INSERT INTO ${table} (${key}, user_id, permission) VALUES (?, ?, ?) ON CONFLICT (${key}, user_id) DO UPDATE SET permission = excluded.permission`,
      [resource, userId, permission],
    );
  }

  /** Changes an existing permission; false when there is none. */
  async updatePermission(kind: ResourceKind, resource: string, userId: number, permission: Permission): Promise<boolean> {
    const { table, key } = TABLES[kind];
    const { changes } = await this.db.run(`UPDATE ${table} SET permission = ? WHERE ${key} = ? AND user_id = ?`, [permission, resource, userId]);
    return changes > 0;
  }

  async deletePermission(kind: ResourceKind, resource: string, userId: number): Promise<boolean> {
    const { table, key } = TABLES[kind];
    const { changes } = await this.db.run(`DELETE FROM ${table} WHERE ${key} = ? AND user_id = ?`, [resource, userId]);
    return changes > 0;
  }

  /** Every explicit permission a user holds on resources of one kind. */
  async userPermissions(kind: ResourceKind, userId: number): Promise<{ resource: string; permission: Permission }[]> {
    const { table, key } = TABLES[kind];
    return this.db.all(`SELECT ${key} AS resource, permission FROM ${table} WHERE user_id = ? ORDER BY ${key}`, [userId]);
  }

  /** Drops every user's permission on a resource (a deleted registered model, whose name may be taken again). */
  async deleteResource(kind: ResourceKind, resource: string): Promise<void> {
    const { table, key } = TABLES[kind];
    await this.db.run(`DELETE FROM ${table} WHERE ${key} = ?`, [resource]);
  }

  /** Moves every permission on a registered model to its new name. */
  async renameResource(kind: ResourceKind, from: string, to: string): Promise<void> {
    const { table, key } = TABLES[kind];
    await this.db.transaction(async (tx) => {
      await tx.run(`DELETE FROM ${table} WHERE ${key} = ?`, [to]);
      await tx.run(`UPDATE ${table} SET ${key} = ? WHERE ${key} = ?`, [to, from]);
    });
  }
}
