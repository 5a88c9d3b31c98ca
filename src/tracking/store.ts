import { alreadyExists, notFound } from "../errors.js";
import { isUniqueViolation, type SqlDriver, type SqlExecutor, type SqlValue } from "../store/index.js";
import type { Experiment, KeyValue, LifecycleStage, ViewType } from "../wire/index.js";

interface ExperimentRow {
  experiment_id: number;
  name: string;
  artifact_location: string | null;
  lifecycle_stage: LifecycleStage;
  creation_time: number | null;
  last_update_time: number | null;
}

export function lifecycleFilter(view: ViewType, column = "lifecycle_stage"): string {
  if (view === "ACTIVE_ONLY") return `${column} = 'active'`;
  if (view === "DELETED_ONLY") return `${column} = 'deleted'`;
  return "1 = 1";
}

/**
 * All SQL of tracking lives here, written once for both engines against the
 * {@link SqlDriver} seam.
 */
export class TrackingStore {
  constructor(readonly db: SqlDriver) {}

  // ---- experiments ---------------------------------------------------------

  async createExperiment(
    name: string,
    artifactLocationFor: (id: string) => string,
    explicitLocation: string | undefined,
    tags: KeyValue[],
    now: number,
  ): Promise<string> {
    try {
      return await this.db.transaction(async (tx) => {
        const row = await tx.get<{ experiment_id: number }>(
          "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (?, ?, 'active', ?, ?) RETURNING experiment_id",
          [name, explicitLocation ?? null, now, now],
        );
        const id = String(row!.experiment_id);
        if (explicitLocation === undefined) {
          await tx.run("UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?", [artifactLocationFor(id), Number(id)]);
        }
        if (tags.length > 0) {
          await tx.runMany(
            "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
            tags.map((t) => [Number(id), t.key, t.value]),
          );
        }
        return id;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw alreadyExists(`Experiment(name=${name}) already exists.`);
      throw err;
    }
  }

  /** The Default experiment is created by the migration without a location; give it one. */
  async ensureDefaultExperimentLocation(location: string): Promise<void> {
    await this.db.run("UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0 AND artifact_location IS NULL", [location]);
  }

  private async experimentTags(ex: SqlExecutor, ids: number[]): Promise<Map<number, KeyValue[]>> {
    const out = new Map<number, KeyValue[]>();
    if (ids.length === 0) return out;
    const rows = await ex.all<{ experiment_id: number; key: string; value: string | null }>(
      `SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id IN (${ids.map(() => "?").join(",")}) ORDER BY key`,
      ids,
    );
    for (const r of rows) {
      const id = Number(r.experiment_id);
      let list = out.get(id);
      if (!list) out.set(id, (list = []));
      list.push({ key: r.key, value: r.value ?? "" });
    }
    return out;
  }

  private async hydrate(ex: SqlExecutor, rows: ExperimentRow[]): Promise<Experiment[]> {
    const tags = await this.experimentTags(ex, rows.map((r) => Number(r.experiment_id)));
    return rows.map((r) => ({
      experiment_id: String(r.experiment_id),
      name: r.name,
      artifact_location: r.artifact_location ?? "",
      lifecycle_stage: r.lifecycle_stage,
      creation_time: Number(r.creation_time ?? 0),
      last_update_time: Number(r.last_update_time ?? 0),
      tags: tags.get(Number(r.experiment_id)) ?? [],
    }));
  }

  private static parseId(id: string): number | undefined {
    return /^\d{1,15}$/.test(id) ? Number(id) : undefined;
  }

  async getExperiment(id: string): Promise<Experiment> {
    const exp = await this.findExperiment(id);
    if (!exp) throw notFound(`No Experiment with id=${id} exists`);
    return exp;
  }

  /** The experiment, or undefined when there is none (or `id` is not an experiment id). */
  async findExperiment(id: string): Promise<Experiment | undefined> {
    const num = TrackingStore.parseId(id);
    const row = num === undefined ? undefined : await this.db.get<ExperimentRow>("SELECT * FROM experiments WHERE experiment_id = ?", [num]);
    return row ? (await this.hydrate(this.db, [row]))[0] : undefined;
  }

  async getExperimentByName(name: string): Promise<Experiment | undefined> {
    const row = await this.db.get<ExperimentRow>("SELECT * FROM experiments WHERE name = ?", [name]);
    return row ? (await this.hydrate(this.db, [row]))[0] : undefined;
  }

  /**
   * One page of experiments. `where`/`order` are SQL fragments built by the
   * search module from a parsed filter (never from raw user text).
   */
  async searchExperiments(where: string, params: SqlValue[], order: string, limit: number, offset: number): Promise<Experiment[]> {
    const rows = await this.db.all<ExperimentRow>(
      `SELECT e.* FROM experiments e WHERE ${where} ORDER BY ${order} LIMIT ? OFFSET ?`,
      [...params, limit, offset],
    );
    return this.hydrate(this.db, rows);
  }

  async renameExperiment(id: string, name: string, now: number): Promise<void> {
    const exp = await this.getExperiment(id);
    try {
      await this.db.run("UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?", [name, now, Number(exp.experiment_id)]);
    } catch (err) {
      if (isUniqueViolation(err)) throw alreadyExists(`Experiment(name=${name}) already exists.`);
      throw err;
    }
  }

  async setExperimentLifecycle(id: string, stage: LifecycleStage, now: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run("UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE experiment_id = ?", [stage, now, Number(id)]);
      // Runs follow their experiment, as in MLflow.
      await tx.run(
        "UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE experiment_id = ?",
        [stage, stage === "deleted" ? now : null, Number(id)],
      );
    });
  }

  async setExperimentTag(id: string, key: string, value: string, now: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run(
        "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
        [Number(id), key, value],
      );
      await tx.run("UPDATE experiments SET last_update_time = ? WHERE experiment_id = ?", [now, Number(id)]);
    });
  }

  async deleteExperimentTag(id: string, key: string): Promise<boolean> {
    const r = await this.db.run("DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?", [Number(id), key]);
    return r.changes > 0;
  }
}
