import { alreadyExists, notFound } from "../errors.js";
import { isUniqueViolation, type SqlDriver, type SqlExecutor } from "../store/index.js";
import { compileRegisteredModelSearch } from "./search-tables.js";
import { dedupe, groupBy, opt, placeholders, type InTx, type SqlQuery } from "./sql.js";
import type { KeyValue, RegisteredModel } from "../wire/index.js";

export interface RegisteredModelRow {
  name: string;
  creation_time: number;
  last_updated_time: number;
  description: string | null;
  user_id: string | null;
}

/** A registered model as this store holds it: without its versions and aliases, which the model-version store keeps. */
export type RegisteredModelRecord = Omit<RegisteredModel, "latest_versions" | "aliases">;

/**
 * The SQL of registered models and their tags (`registered_models`,
 * `registered_model_tags`). Versions and aliases hang off a model's row; the
 * model-version store checks and touches it through {@link row} and
 * {@link touch}, inside its own transactions.
 */
export class RegisteredModelStore {
  constructor(readonly db: SqlDriver) {}

  /** Inserts the model and its tags; `alsoInTx` (the webhook outbox's write) runs in the same transaction. */
  async create(name: string, description: string | undefined, tags: KeyValue[], now: number, alsoInTx?: InTx): Promise<void> {
    try {
      await this.db.transaction(async (tx) => {
        await tx.run("INSERT INTO registered_models (name, creation_time, last_updated_time, description) VALUES (?, ?, ?, ?)", [name, now, now, description ?? null]);
        if (tags.length) {
          await tx.runMany("INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?)", dedupe(tags).map((t) => [name, t.key, t.value]));
        }
        await alsoInTx?.(tx);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw alreadyExists(`Registered Model (name=${name}) already exists.`);
      throw err;
    }
  }

  /** The model's row; RESOURCE_DOES_NOT_EXIST when there is none. */
  async row(name: string, ex: SqlExecutor = this.db): Promise<RegisteredModelRow> {
    const row = await ex.get<RegisteredModelRow>("SELECT * FROM registered_models WHERE name = ?", [name]);
    if (!row) throw notFound(`Registered Model with name=${name} not found`);
    return row;
  }

  /**
   * Marks the model changed (a version, stage or alias of it changed);
   * RESOURCE_DOES_NOT_EXIST when there is no such model. Inside a transaction
   * on PostgreSQL the update also locks the row until commit, so writers under
   * one model take turns (SQLite runs one transaction at a time anyway).
   */
  async touch(name: string, now: number, ex: SqlExecutor = this.db): Promise<void> {
    const r = await ex.run("UPDATE registered_models SET last_updated_time = ? WHERE name = ?", [now, name]);
    if (r.changes === 0) throw notFound(`Registered Model with name=${name} not found`);
  }

  async get(name: string): Promise<RegisteredModelRecord> {
    return (await this.hydrate([await this.row(name)]))[0]!;
  }

  private async hydrate(rows: RegisteredModelRow[]): Promise<RegisteredModelRecord[]> {
    if (rows.length === 0) return [];
    const names = rows.map((r) => r.name);
    const tags = groupBy(
      await this.db.all<{ name: string; key: string; value: string | null }>(`SELECT name, key, value FROM registered_model_tags WHERE name IN (${placeholders(names.length)}) ORDER BY key`, names),
      (t) => t.name,
    );
    return rows.map((r) => ({
      name: r.name,
      creation_timestamp: Number(r.creation_time),
      last_updated_timestamp: Number(r.last_updated_time),
      user_id: opt(r.user_id),
      description: opt(r.description),
      tags: (tags.get(r.name) ?? []).map((t) => ({ key: t.key, value: t.value ?? "" })),
    }));
  }

  async rename(name: string, newName: string, now: number): Promise<void> {
    try {
      await this.db.transaction(async (tx) => {
        await this.row(name, tx);
        // Children follow through ON UPDATE CASCADE.
        await tx.run("UPDATE registered_models SET name = ?, last_updated_time = ? WHERE name = ?", [newName, now, name]);
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw alreadyExists(`Registered Model (name=${newName}) already exists.`);
      throw err;
    }
  }

  async update(name: string, description: string, now: number): Promise<void> {
    const r = await this.db.run("UPDATE registered_models SET description = ?, last_updated_time = ? WHERE name = ?", [description, now, name]);
    if (r.changes === 0) throw notFound(`Registered Model with name=${name} not found`);
  }

  /**
   * Deletes the model and its tags in one transaction, after `deleteChildren`
   * (the model-version store's part: versions, their tags, aliases) has run in it.
   */
  async delete(name: string, deleteChildren: (tx: SqlExecutor) => Promise<void>): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.row(name, tx);
      // Explicit child deletes: a store opened without FK enforcement stays clean too.
      await deleteChildren(tx);
      await tx.run("DELETE FROM registered_model_tags WHERE name = ?", [name]);
      await tx.run("DELETE FROM registered_models WHERE name = ?", [name]);
    });
  }

  async setTag(name: string, key: string, value: string, now: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.row(name, tx);
      await tx.run("INSERT INTO registered_model_tags (name, key, value) VALUES (?, ?, ?) ON CONFLICT (name, key) DO UPDATE SET value = excluded.value", [name, key, value]);
      await this.touch(name, now, tx);
    });
  }

  async deleteTag(name: string, key: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.row(name, tx);
      const r = await tx.run("DELETE FROM registered_model_tags WHERE name = ? AND key = ?", [name, key]);
      if (r.changes === 0) throw notFound(`No tag with key=${key} on registered model ${name}`);
    });
  }

  /** A filter and order_by list as SQL on `rm` (`registry/search-tables.ts`). */
  compileSearch(filter: string | undefined, orderBy: readonly string[] | undefined): SqlQuery {
    return compileRegisteredModelSearch(filter, orderBy, this.db.dialect);
  }

  async search(q: SqlQuery, limit: number, offset: number): Promise<RegisteredModelRecord[]> {
    const rows = await this.db.all<RegisteredModelRow>(`SELECT rm.* FROM registered_models rm WHERE ${q.where} ORDER BY ${q.order} LIMIT ? OFFSET ?`, [...q.params, limit, offset]);
    return this.hydrate(rows);
  }
}
