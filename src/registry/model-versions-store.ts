import { notFound } from "../errors.js";
import { isUniqueViolation, type SqlDriver, type SqlExecutor, type SqlValue } from "../store/index.js";
import type { RegisteredModelStore } from "./registered-models-store.js";
import { compileModelVersionSearch } from "./search-tables.js";
import { dedupe, groupBy, opt, placeholders, type InTx, type SqlQuery } from "./sql.js";
import type { KeyValue, ModelVersion, RegisteredModelAlias } from "../wire/index.js";

/** Stage of a deleted version: the row stays so its number is never reused. */
export const DELETED_STAGE = "Deleted_Internal";

export interface ModelVersionRow {
  name: string;
  version: number;
  creation_time: number;
  last_updated_time: number;
  description: string | null;
  user_id: string | null;
  current_stage: string;
  source: string;
  storage_location: string | null;
  run_id: string | null;
  run_link: string | null;
  model_id: string | null;
  status: string;
  status_message: string | null;
}

export type NewModelVersion = Pick<ModelVersionRow, "name" | "description" | "source" | "storage_location" | "run_id" | "run_link" | "model_id">;

const versionKey = (name: string, version: number | string) => `${name}\u0000${Number(version)}`;

/**
 * The SQL of model versions, their tags, stages and the aliases that point at
 * them (`model_versions`, `model_version_tags`, `registered_model_aliases`).
 * Every change also checks and touches the parent registered model, in the
 * same transaction, through the {@link RegisteredModelStore}.
 */
export class ModelVersionStore {
  constructor(
    readonly db: SqlDriver,
    private readonly models: RegisteredModelStore,
  ) {}

  /** Inserts the next version of `v.name` and returns its number; `alsoInTx` runs in the same transaction, given that number. */
  async create(v: NewModelVersion, tags: KeyValue[], now: number, alsoInTx?: (tx: SqlExecutor, version: number) => Promise<void>): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.db.transaction(async (tx) => {
          // Touching the model first locks its row: concurrent creators number their versions one after another.
          await this.models.touch(v.name, now, tx);
          const max = await tx.get<{ m: number | null }>("SELECT MAX(version) AS m FROM model_versions WHERE name = ?", [v.name]);
          const version = Number(max?.m ?? 0) + 1;
          await tx.run(
            `INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, current_stage, source, storage_location, run_id, run_link, model_id, status)
             VALUES (?, ?, ?, ?, ?, 'None', ?, ?, ?, ?, ?, 'READY')`,
            [v.name, version, now, now, v.description, v.source, v.storage_location, v.run_id, v.run_link, v.model_id],
          );
          if (tags.length) {
            await tx.runMany("INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?)", dedupe(tags).map((t) => [v.name, version, t.key, t.value]));
          }
          await alsoInTx?.(tx, version);
          return version;
        });
      } catch (err) {
        // Two writers still picked the same number: take the next one.
        if (isUniqueViolation(err) && attempt < 5) continue;
        throw err;
      }
    }
  }

  /** The version's row (deleted versions excluded); RESOURCE_DOES_NOT_EXIST when there is none. */
  async row(name: string, version: number, ex: SqlExecutor = this.db): Promise<ModelVersionRow> {
    const row = await ex.get<ModelVersionRow>(`SELECT * FROM model_versions WHERE name = ? AND version = ? AND current_stage <> '${DELETED_STAGE}'`, [name, version]);
    if (!row) throw notFound(`Model Version (name=${name}, version=${version}) not found`);
    return row;
  }

  async get(name: string, version: number): Promise<ModelVersion> {
    return (await this.hydrate([await this.row(name, version)]))[0]!;
  }

  private async hydrate(rows: ModelVersionRow[], opts: { tags: boolean } = { tags: true }): Promise<ModelVersion[]> {
    if (rows.length === 0) return [];
    const names = [...new Set(rows.map((r) => r.name))];
    const aliasRows = await this.db.all<{ name: string; alias: string; version: number }>(
      `SELECT name, alias, version FROM registered_model_aliases WHERE name IN (${placeholders(names.length)}) ORDER BY alias`,
      names,
    );
    const aliases = groupBy(aliasRows, (a) => versionKey(a.name, a.version));
    const tags = new Map<string, KeyValue[]>();
    if (opts.tags) {
      // Tags per (name, version) pair, fetched in chunks to stay under parameter limits.
      for (let i = 0; i < rows.length; i += 400) {
        const chunk = rows.slice(i, i + 400);
        const cond = chunk.map(() => "(name = ? AND version = ?)").join(" OR ");
        const trows = await this.db.all<{ name: string; version: number; key: string; value: string | null }>(
          `SELECT name, version, key, value FROM model_version_tags WHERE ${cond} ORDER BY key`,
          chunk.flatMap((r) => [r.name, Number(r.version)]),
        );
        for (const t of trows) {
          const k = versionKey(t.name, t.version);
          let l = tags.get(k);
          if (!l) tags.set(k, (l = []));
          l.push({ key: t.key, value: t.value ?? "" });
        }
      }
    }
    return rows.map((r) => ({
      name: r.name,
      version: String(r.version),
      creation_timestamp: Number(r.creation_time),
      last_updated_timestamp: Number(r.last_updated_time),
      user_id: opt(r.user_id),
      current_stage: r.current_stage,
      description: opt(r.description),
      source: r.source,
      run_id: opt(r.run_id) || undefined,
      status: r.status as ModelVersion["status"],
      status_message: opt(r.status_message),
      tags: tags.get(versionKey(r.name, r.version)) ?? [],
      run_link: opt(r.run_link) || undefined,
      aliases: (aliases.get(versionKey(r.name, r.version)) ?? []).map((a) => a.alias),
      model_id: opt(r.model_id) || undefined,
    }));
  }

  async update(name: string, version: number, description: string, now: number): Promise<void> {
    await this.row(name, version);
    await this.db.run("UPDATE model_versions SET description = ?, last_updated_time = ? WHERE name = ? AND version = ?", [description, now, name, version]);
  }

  /** Moves a version to `stage`; with `archiveExisting`, the versions in Staging or Production before it go to Archived. */
  async transitionStage(name: string, version: number, stage: string, archiveExisting: boolean, now: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.row(name, version, tx);
      if (archiveExisting && (stage === "Staging" || stage === "Production")) {
        await tx.run(
          "UPDATE model_versions SET current_stage = 'Archived', last_updated_time = ? WHERE name = ? AND version <> ? AND current_stage = ?",
          [now, name, version, stage],
        );
      }
      await tx.run("UPDATE model_versions SET current_stage = ?, last_updated_time = ? WHERE name = ? AND version = ?", [stage, now, name, version]);
      await this.models.touch(name, now, tx);
    });
  }

  /** Deletes a version: its row stays, marked deleted, so its number is never given again. */
  async delete(name: string, version: number, now: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.row(name, version, tx);
      await tx.run("DELETE FROM registered_model_aliases WHERE name = ? AND version = ?", [name, version]);
      await tx.run("DELETE FROM model_version_tags WHERE name = ? AND version = ?", [name, version]);
      await tx.run(
        `UPDATE model_versions SET current_stage = '${DELETED_STAGE}', description = NULL, run_link = NULL, last_updated_time = ? WHERE name = ? AND version = ?`,
        [now, name, version],
      );
      await this.models.touch(name, now, tx);
    });
  }

  /** Removes every version of a model, their tags and the model's aliases (its deletion, inside its transaction). */
  async deleteAllOf(name: string, tx: SqlExecutor): Promise<void> {
    await tx.run("DELETE FROM model_version_tags WHERE name = ?", [name]);
    await tx.run("DELETE FROM registered_model_aliases WHERE name = ?", [name]);
    await tx.run("DELETE FROM model_versions WHERE name = ?", [name]);
  }

  async setTag(name: string, version: number, key: string, value: string, alsoInTx?: InTx): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.row(name, version, tx);
      await tx.run(
        "INSERT INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?) ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
        [name, version, key, value],
      );
      await alsoInTx?.(tx);
    });
  }

  async deleteTag(name: string, version: number, key: string, alsoInTx?: InTx): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.row(name, version, tx);
      const r = await tx.run("DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?", [name, version, key]);
      if (r.changes === 0) throw notFound(`No tag with key=${key} on model version (name=${name}, version=${version})`);
      await alsoInTx?.(tx);
    });
  }

  /** The newest version in each stage (or in each of `stages`, matched case-insensitively) of one model. */
  async latest(name: string, stages: string[] | undefined): Promise<ModelVersion[]> {
    await this.models.row(name);
    const params: SqlValue[] = [name];
    let stageSql = `current_stage <> '${DELETED_STAGE}'`;
    if (stages && stages.length) {
      stageSql = `LOWER(current_stage) IN (${placeholders(stages.length)})`;
      params.push(...stages.map((s) => s.toLowerCase()));
    }
    const rows = await this.db.all<ModelVersionRow>(
      `SELECT mv.* FROM model_versions mv JOIN (
         SELECT current_stage, MAX(version) AS version FROM model_versions WHERE name = ? AND ${stageSql} GROUP BY current_stage
       ) l ON l.version = mv.version WHERE mv.name = ? ORDER BY mv.version`,
      [...params, name],
    );
    return this.hydrate(rows);
  }

  /** The newest version in each stage of each model, without tags (what a registered model lists as `latest_versions`). */
  async latestOfEach(names: string[]): Promise<ModelVersion[]> {
    if (names.length === 0) return [];
    const rows = await this.db.all<ModelVersionRow>(
      `SELECT mv.* FROM model_versions mv JOIN (
         SELECT name, current_stage, MAX(version) AS version FROM model_versions
         WHERE name IN (${placeholders(names.length)}) AND current_stage <> '${DELETED_STAGE}' GROUP BY name, current_stage
       ) l ON l.name = mv.name AND l.version = mv.version ORDER BY mv.version`,
      names,
    );
    return this.hydrate(rows, { tags: false });
  }

  /** The aliases of each model, by alias name. */
  async aliasesOf(names: string[]): Promise<Map<string, RegisteredModelAlias[]>> {
    if (names.length === 0) return new Map();
    const rows = await this.db.all<{ name: string; alias: string; version: number }>(
      `SELECT name, alias, version FROM registered_model_aliases WHERE name IN (${placeholders(names.length)}) ORDER BY alias`,
      names,
    );
    const out = new Map<string, RegisteredModelAlias[]>();
    for (const [name, list] of groupBy(rows, (a) => a.name)) out.set(name, list.map((a) => ({ alias: a.alias, version: String(a.version) })));
    return out;
  }

  /** The live versions registered from each logged model. */
  async registrationsOf(modelIds: string[]): Promise<Map<string, { name: string; version: string }[]>> {
    if (modelIds.length === 0) return new Map();
    const rows = await this.db.all<{ model_id: string; name: string; version: number }>(
      `SELECT model_id, name, version FROM model_versions WHERE model_id IN (${placeholders(modelIds.length)}) AND current_stage <> '${DELETED_STAGE}' ORDER BY name, version`,
      modelIds,
    );
    const out = new Map<string, { name: string; version: string }[]>();
    for (const [id, list] of groupBy(rows, (r) => r.model_id)) out.set(id, list.map((r) => ({ name: r.name, version: String(r.version) })));
    return out;
  }

  /** A filter and order_by list as SQL on `mv` (`registry/search-tables.ts`), deleted versions left out. */
  compileSearch(filter: string | undefined, orderBy: readonly string[] | undefined): SqlQuery {
    const q = compileModelVersionSearch(filter, orderBy, this.db.dialect);
    const live = `mv.current_stage <> '${DELETED_STAGE}'`;
    return { ...q, where: q.where === "1 = 1" ? live : `${live} AND ${q.where}` };
  }

  async search(q: SqlQuery, limit: number, offset: number): Promise<ModelVersion[]> {
    const rows = await this.db.all<ModelVersionRow>(`SELECT mv.* FROM model_versions mv WHERE ${q.where} ORDER BY ${q.order} LIMIT ? OFFSET ?`, [...q.params, limit, offset]);
    return this.hydrate(rows);
  }

  // ---- aliases --------------------------------------------------------------

  /** Points `alias` at a live version, moving it if it pointed elsewhere. */
  async setAlias(name: string, alias: string, version: number, now: number, alsoInTx?: InTx): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.row(name, version, tx);
      await tx.run(
        "INSERT INTO registered_model_aliases (name, alias, version) VALUES (?, ?, ?) ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
        [name, alias, version],
      );
      await this.models.touch(name, now, tx);
      await alsoInTx?.(tx);
    });
  }

  /** Removes an alias; false when the model had no such alias. `alsoInTx` runs in the same transaction, only for a real removal. */
  async deleteAlias(name: string, alias: string, now: number, alsoInTx?: InTx): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await this.models.row(name, tx);
      const r = await tx.run("DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?", [name, alias]);
      if (r.changes > 0) {
        await this.models.touch(name, now, tx);
        await alsoInTx?.(tx);
      }
      return r.changes > 0;
    });
  }

  async versionByAlias(name: string, alias: string): Promise<number> {
    await this.models.row(name);
    const row = await this.db.get<{ version: number }>("SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?", [name, alias]);
    if (!row) throw notFound(`Registered model alias ${alias} not found.`);
    return Number(row.version);
  }
}
