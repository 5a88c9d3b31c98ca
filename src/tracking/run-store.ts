import { randomUUID } from "node:crypto";
import type { SqlDriver, SqlExecutor, SqlValue } from "../store/index.js";
import type { CompiledRunSearch } from "./search-tables.js";
import type {
  Dataset,
  DatasetInput,
  DatasetSummary,
  KeyValue,
  LifecycleStage,
  Metric,
  ModelInput,
  ModelOutput,
  Run,
  RunMetric,
  RunStatus,
  WireNumber,
} from "../wire/index.js";
import type { MetricPoint } from "./types.js";

/** The columns of `runs` a service needs to decide whether a write is allowed. */
export interface RunRow {
  run_uuid: string;
  name: string | null;
  experiment_id: number | string;
  user_id: string | null;
  status: RunStatus;
  start_time: number | null;
  end_time: number | null;
  deleted_time: number | null;
  lifecycle_stage: LifecycleStage;
  artifact_uri: string | null;
}

export interface NewRun {
  runId: string;
  experimentId: string;
  name: string;
  userId: string;
  status: RunStatus;
  startTime: number;
  artifactUri: string;
  tags: KeyValue[];
}

/** A metric with the run it belongs to, as the bulk history endpoints return it. */
interface MetricRow {
  run_uuid?: string;
  key: string;
  value: number;
  timestamp: number;
  step: number;
  is_nan: number;
}

/** A row of `inputs` as run hydration reads it. */
interface InputLink {
  input_uuid: string;
  source_type: string;
  source_id: string;
  destination_type: string;
  destination_id: string;
  step: number;
}

/** How the `inputs` table links runs, datasets and logged models. */
export const INPUT_LINKS = {
  /** A dataset used by a run: DATASET(dataset_uuid) → RUN(run_id). */
  dataset: { source: "DATASET", destination: "RUN" },
  /** A logged model a run read: MODEL_INPUT(model_id) → RUN(run_id). */
  modelInput: { source: "MODEL_INPUT", destination: "RUN" },
  /** A logged model a run produced: RUN(run_id) → MODEL_OUTPUT(model_id), with the step it was logged at. */
  modelOutput: { source: "RUN", destination: "MODEL_OUTPUT" },
} as const;

/** Non-finite numbers in MLflow's JSON spelling. */
export function toWire(value: number, isNan: number | boolean = false): WireNumber {
  if (isNan || Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "Infinity";
  if (value === -Infinity) return "-Infinity";
  return value;
}

function wireMetric(r: MetricRow): Metric {
  return { key: r.key, value: toWire(Number(r.value), Number(r.is_nan)), timestamp: Number(r.timestamp), step: Number(r.step) };
}

/** A stored value: NaN is kept as 0 with is_nan set, the way MLflow's schema does. */
function storedValue(v: number): [number, number] {
  return Number.isNaN(v) ? [0, 1] : [v, 0];
}

function placeholders(n: number): string {
  return Array.from({ length: n }, () => "?").join(", ");
}

/** Rows per multi-row INSERT on PostgreSQL (one round trip each) and on SQLite (fewer statement steps). */
const PG_CHUNK = 500;
const SQLITE_CHUNK = 50;

/**
 * SQL for runs, params, metrics, tags and inputs, written once for SQLite
 * and PostgreSQL against the {@link SqlDriver} seam.
 */
export class RunStore {
  constructor(readonly db: SqlDriver) {}

  /** Inserts many rows with one statement shape; PostgreSQL gets multi-row VALUES to save round trips. */
  private async insertMany(ex: SqlExecutor, head: string, columns: number, tail: string, rows: SqlValue[][]): Promise<void> {
    if (rows.length === 0) return;
    const one = `(${placeholders(columns)})`;
    if (rows.length === 1) {
      await ex.run(`${head} VALUES ${one} ${tail}`, rows[0]!);
      return;
    }
    // Fixed-size chunks keep the number of distinct statements (and prepared-statement cache entries) small.
    const size = ex.dialect === "sqlite" ? SQLITE_CHUNK : PG_CHUNK;
    const full = Math.floor(rows.length / size) * size;
    if (full > 0) {
      const sql = `${head} VALUES ${Array.from({ length: size }, () => one).join(", ")} ${tail}`;
      const chunks: SqlValue[][] = [];
      for (let i = 0; i < full; i += size) {
        // A plain loop: Array.prototype.flat costs more than the insert itself for 1000-row batches.
        const flat: SqlValue[] = new Array(size * columns);
        let j = 0;
        for (let r = i; r < i + size; r++) {
          const row = rows[r]!;
          for (let c = 0; c < columns; c++) flat[j++] = row[c]!;
        }
        chunks.push(flat);
      }
      await ex.runMany(sql, chunks);
    }
    const rest = rows.slice(full);
    if (rest.length === 0) return;
    if (ex.dialect === "sqlite") await ex.runMany(`${head} VALUES ${one} ${tail}`, rest);
    else await ex.run(`${head} VALUES ${rest.map(() => one).join(", ")} ${tail}`, rest.flat());
  }

  // ------------------------------------------------------------ runs

  async createRun(r: NewRun): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, deleted_time, source_type, source_name, entry_point_name, source_version, lifecycle_stage, artifact_uri)
         VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, 'UNKNOWN', '', '', '', 'active', ?)`,
        [r.runId, r.name, Number(r.experimentId), r.userId, r.status, r.startTime, r.artifactUri],
      );
      await this.upsertTags(tx, r.runId, r.tags);
    });
  }

  async getRunRow(runId: string): Promise<RunRow | undefined> {
    return this.db.get<RunRow>(
      "SELECT run_uuid, name, experiment_id, user_id, status, start_time, end_time, deleted_time, lifecycle_stage, artifact_uri FROM runs WHERE run_uuid = ?",
      [runId],
    );
  }

  async updateRun(runId: string, fields: { status?: RunStatus; endTime?: number; name?: string }): Promise<void> {
    await this.db.transaction(async (tx) => {
      const sets: string[] = [];
      const params: SqlValue[] = [];
      if (fields.status !== undefined) {
        sets.push("status = ?");
        params.push(fields.status);
      }
      if (fields.endTime !== undefined) {
        sets.push("end_time = ?");
        params.push(fields.endTime);
      }
      if (fields.name !== undefined) {
        sets.push("name = ?");
        params.push(fields.name);
      }
      if (sets.length) await tx.run(`UPDATE runs SET ${sets.join(", ")} WHERE run_uuid = ?`, [...params, runId]);
      if (fields.name !== undefined) await this.upsertTags(tx, runId, [{ key: "mlflow.runName", value: fields.name }]);
    });
  }

  async setRunLifecycle(runIds: readonly string[], stage: LifecycleStage, deletedTime: number | null): Promise<void> {
    if (runIds.length === 0) return;
    await this.db.run(`UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_uuid IN (${placeholders(runIds.length)})`, [
      stage,
      deletedTime,
      ...runIds,
    ]);
  }

  /** Removes runs and everything logged to them (the garbage collector's last step). */
  async purgeRuns(runIds: readonly string[]): Promise<void> {
    if (runIds.length === 0) return;
    await this.db.transaction(async (tx) => {
      const ph = placeholders(runIds.length);
      for (const table of ["metrics", "latest_metrics", "params", "tags"]) {
        await tx.run(`DELETE FROM ${table} WHERE run_uuid IN (${ph})`, runIds);
      }
      await tx.run(`DELETE FROM input_tags WHERE input_uuid IN (SELECT input_uuid FROM inputs WHERE destination_type = 'RUN' AND destination_id IN (${ph}))`, runIds);
      await tx.run(`DELETE FROM inputs WHERE (destination_type = 'RUN' AND destination_id IN (${ph})) OR (source_type = 'RUN' AND source_id IN (${ph}))`, [...runIds, ...runIds]);
      await tx.run(`DELETE FROM runs WHERE run_uuid IN (${ph})`, runIds);
    });
  }

  // ------------------------------------------------------------ tags, params, metrics

  private async upsertTags(ex: SqlExecutor, runId: string, tags: readonly KeyValue[]): Promise<void> {
    if (tags.length === 0) return;
    const last = new Map<string, string>();
    for (const t of tags) last.set(t.key, t.value);
    await this.insertMany(
      ex,
      "INSERT INTO tags (run_uuid, key, value)",
      3,
      "ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
      [...last].map(([k, v]) => [runId, k, v]),
    );
    const runName = last.get("mlflow.runName");
    if (runName !== undefined) await ex.run("UPDATE runs SET name = ? WHERE run_uuid = ?", [runName, runId]);
  }

  async setTags(runId: string, tags: readonly KeyValue[]): Promise<void> {
    await this.db.transaction((tx) => this.upsertTags(tx, runId, tags));
  }

  async deleteTag(runId: string, key: string): Promise<boolean> {
    const r = await this.db.run("DELETE FROM tags WHERE run_uuid = ? AND key = ?", [runId, key]);
    return r.changes > 0;
  }

  /**
   * Metrics, params and tags in one transaction. Returns the first param
   * whose stored value differs from the new one (nothing is written then).
   */
  async logBatch(
    runId: string,
    metrics: readonly MetricPoint[],
    params: readonly KeyValue[],
    tags: readonly KeyValue[],
  ): Promise<{ conflict?: { key: string; old: string; new: string } }> {
    return this.db.transaction(async (tx) => {
      if (params.length > 0) {
        const existing = await tx.all<{ key: string; value: string }>(
          `SELECT key, value FROM params WHERE run_uuid = ? AND key IN (${placeholders(params.length)})`,
          [runId, ...params.map((p) => p.key)],
        );
        const old = new Map(existing.map((r) => [r.key, r.value]));
        for (const p of params) {
          const was = old.get(p.key);
          if (was !== undefined && was !== p.value) {
            // Rolling back keeps the batch all-or-nothing.
            throw new ParamConflict({ key: p.key, old: was, new: p.value });
          }
        }
        const fresh = params.filter((p) => !old.has(p.key));
        await this.insertMany(tx, "INSERT INTO params (run_uuid, key, value)", 3, "ON CONFLICT (run_uuid, key) DO NOTHING", fresh.map((p) => [runId, p.key, p.value]));
        if (fresh.length > 0 && tx.dialect === "postgres") {
          // Another replica may have inserted one of these keys after the SELECT above: the insert
          // waited for its commit and skipped the row. Read them again (READ COMMITTED: this statement
          // sees that commit) and refuse a value that is not ours, as one server would. SQLite needs
          // no second look: its write transactions (BEGIN IMMEDIATE) run one after another, across processes too.
          const now = await tx.all<{ key: string; value: string }>(
            `SELECT key, value FROM params WHERE run_uuid = ? AND key IN (${placeholders(fresh.length)})`,
            [runId, ...fresh.map((p) => p.key)],
          );
          const stored = new Map(now.map((r) => [r.key, r.value]));
          for (const p of fresh) {
            const was = stored.get(p.key);
            if (was !== undefined && was !== p.value) throw new ParamConflict({ key: p.key, old: was, new: p.value });
          }
        }
      }
      if (metrics.length > 0) await this.insertMetrics(tx, runId, metrics);
      const modelMetrics = metrics.filter((m) => m.model_id);
      if (modelMetrics.length > 0) await this.insertLoggedModelMetrics(tx, runId, modelMetrics);
      await this.upsertTags(tx, runId, tags);
      return {};
    }).catch((err: unknown) => {
      if (err instanceof ParamConflict) return { conflict: err.conflict };
      throw err;
    });
  }

  /** Distinct (experiment, dataset name, digest, context) of the datasets runs of these experiments used. */
  async datasetSummaries(experimentIds: number[], limit: number): Promise<DatasetSummary[]> {
    const rows = await this.db.all<{ experiment_id: number | string; name: string; digest: string; context: string | null }>(
      `SELECT DISTINCT d.experiment_id, d.name, d.digest, t.value AS context
       FROM datasets d
       JOIN inputs i ON i.source_type = 'DATASET' AND i.source_id = d.dataset_uuid
       LEFT JOIN input_tags t ON t.input_uuid = i.input_uuid AND t.name = 'mlflow.data.context'
       WHERE d.experiment_id IN (${placeholders(experimentIds.length)})
       ORDER BY d.experiment_id, d.name, d.digest, t.value
       LIMIT ?`,
      [...experimentIds, limit],
    );
    return rows.map((r) => ({ experiment_id: String(r.experiment_id), name: r.name, digest: r.digest, ...(r.context !== null ? { context: r.context } : {}) }));
  }

  /** Metrics logged with a `model_id` also belong to that logged model (when it exists). */
  private async insertLoggedModelMetrics(tx: SqlExecutor, runId: string, metrics: readonly MetricPoint[]): Promise<void> {
    for (const m of metrics) {
      const [value, isNan] = storedValue(m.value);
      await tx.run(
        `INSERT INTO logged_model_metrics (model_id, metric_name, metric_timestamp_ms, metric_step, metric_value, is_nan, experiment_id, run_id, dataset_name, dataset_digest)
         SELECT model_id, ?, ?, ?, ?, ?, experiment_id, ?, ?, ? FROM logged_models WHERE model_id = ?
         ON CONFLICT DO NOTHING`,
        [m.key, m.timestamp, m.step, value, isNan, runId, m.dataset_name ?? "", m.dataset_digest ?? "", m.model_id!],
      );
    }
  }

  private async insertMetrics(tx: SqlExecutor, runId: string, metrics: readonly MetricPoint[]): Promise<void> {
    const rows: SqlValue[][] = [];
    // The newest point per key, by (step, timestamp, value), feeds latest_metrics with one upsert per key.
    const latest = new Map<string, { value: number; isNan: number; timestamp: number; step: number }>();
    for (const m of metrics) {
      const [value, isNan] = storedValue(m.value);
      rows.push([runId, m.key, value, m.timestamp, m.step, isNan]);
      const cur = latest.get(m.key);
      if (
        !cur ||
        m.step > cur.step ||
        (m.step === cur.step && (m.timestamp > cur.timestamp || (m.timestamp === cur.timestamp && value > cur.value)))
      ) {
        latest.set(m.key, { value, isNan, timestamp: m.timestamp, step: m.step });
      }
    }
    await this.insertMany(
      tx,
      "INSERT INTO metrics (run_uuid, key, value, timestamp, step, is_nan)",
      6,
      "ON CONFLICT (run_uuid, key, step, timestamp, value, is_nan) DO NOTHING",
      rows,
    );
    await this.insertMany(
      tx,
      "INSERT INTO latest_metrics (run_uuid, key, value, timestamp, step, is_nan)",
      6,
      `ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value, timestamp = excluded.timestamp, step = excluded.step, is_nan = excluded.is_nan
       WHERE excluded.step > latest_metrics.step
          OR (excluded.step = latest_metrics.step AND (excluded.timestamp > latest_metrics.timestamp
          OR (excluded.timestamp = latest_metrics.timestamp AND excluded.value > latest_metrics.value)))`,
      [...latest].map(([key, l]) => [runId, key, l.value, l.timestamp, l.step, l.isNan]),
    );
  }

  // ------------------------------------------------------------ inputs and outputs

  async logInputs(runId: string, experimentId: string, datasets: readonly DatasetInput[], models: readonly ModelInput[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      for (const d of datasets) {
        const ds = d.dataset;
        const row = await tx.get<{ dataset_uuid: string }>(
          `INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type, dataset_source, dataset_schema, dataset_profile)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (experiment_id, name, digest) DO UPDATE SET name = excluded.name
           RETURNING dataset_uuid`,
          [randomUUID().replace(/-/g, ""), Number(experimentId), ds.name, ds.digest, ds.source_type, ds.source, ds.schema ?? null, ds.profile ?? null],
        );
        const input = await tx.get<{ input_uuid: string }>(
          `INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step)
           VALUES (?, 'DATASET', ?, 'RUN', ?, 0)
           ON CONFLICT (source_type, source_id, destination_type, destination_id) DO UPDATE SET step = inputs.step
           RETURNING input_uuid`,
          [randomUUID().replace(/-/g, ""), row!.dataset_uuid, runId],
        );
        if (d.tags.length > 0) {
          await this.insertMany(
            tx,
            "INSERT INTO input_tags (input_uuid, name, value)",
            3,
            "ON CONFLICT (input_uuid, name) DO UPDATE SET value = excluded.value",
            d.tags.map((t) => [input!.input_uuid, t.key, t.value]),
          );
        }
      }
      await this.insertMany(
        tx,
        "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step)",
        6,
        "ON CONFLICT (source_type, source_id, destination_type, destination_id) DO NOTHING",
        models.map((m) => [randomUUID().replace(/-/g, ""), INPUT_LINKS.modelInput.source, m.model_id, INPUT_LINKS.modelInput.destination, runId, 0]),
      );
    });
  }

  async logOutputs(runId: string, models: readonly ModelOutput[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.insertMany(
        tx,
        "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step)",
        6,
        "ON CONFLICT (source_type, source_id, destination_type, destination_id) DO UPDATE SET step = excluded.step",
        [...new Map(models.map((m) => [m.model_id, m.step])).entries()].map(([modelId, step]) => [
          randomUUID().replace(/-/g, ""),
          INPUT_LINKS.modelOutput.source,
          runId,
          INPUT_LINKS.modelOutput.destination,
          modelId,
          step,
        ]),
      );
    });
  }

  /** The runs that logged a model as an output, oldest link first. */
  async runsProducingModel(modelId: string): Promise<{ run_id: string; step: number }[]> {
    const rows = await this.db.all<{ source_id: string; step: number }>(
      "SELECT source_id, step FROM inputs WHERE destination_type = ? AND destination_id = ? AND source_type = ? ORDER BY source_id",
      [INPUT_LINKS.modelOutput.destination, modelId, INPUT_LINKS.modelOutput.source],
    );
    return rows.map((r) => ({ run_id: r.source_id, step: Number(r.step) }));
  }

  // ------------------------------------------------------------ reading runs

  /** Full runs (info, latest metrics, params, tags, inputs, outputs) in the order of `ids`; unknown ids are skipped. */
  async getRuns(ids: readonly string[]): Promise<Run[]> {
    if (ids.length === 0) return [];
    const ph = placeholders(ids.length);
    const list = [...ids];
    const [rows, metrics, params, tags, links] = this.db.dialect === "postgres" ? await this.hydratePostgres(list) : await Promise.all([
      this.db.all<RunRow>(
        `SELECT run_uuid, name, experiment_id, user_id, status, start_time, end_time, deleted_time, lifecycle_stage, artifact_uri FROM runs WHERE run_uuid IN (${ph})`,
        list,
      ),
      this.db.all<MetricRow>(`SELECT run_uuid, key, value, timestamp, step, is_nan FROM latest_metrics WHERE run_uuid IN (${ph}) ORDER BY key`, list),
      this.db.all<{ run_uuid: string; key: string; value: string }>(`SELECT run_uuid, key, value FROM params WHERE run_uuid IN (${ph}) ORDER BY key`, list),
      this.db.all<{ run_uuid: string; key: string; value: string | null }>(`SELECT run_uuid, key, value FROM tags WHERE run_uuid IN (${ph}) ORDER BY key`, list),
      this.db.all<InputLink>(
        `SELECT input_uuid, source_type, source_id, destination_type, destination_id, step FROM inputs
         WHERE (destination_type = 'RUN' AND destination_id IN (${ph})) OR (source_type = 'RUN' AND source_id IN (${ph}))
         ORDER BY input_uuid`,
        [...list, ...list],
      ),
    ]);
    const byRun = <T extends { run_uuid?: string }>(items: T[]) => {
      const m = new Map<string, T[]>();
      for (const it of items) {
        const k = it.run_uuid!;
        let arr = m.get(k);
        if (!arr) m.set(k, (arr = []));
        arr.push(it);
      }
      return m;
    };
    const metricMap = byRun(metrics);
    const paramMap = byRun(params);
    const tagMap = byRun(tags);

    const datasetLinks = links.filter((l) => l.source_type === "DATASET");
    const datasets = new Map<string, Dataset>();
    const inputTags = new Map<string, KeyValue[]>();
    if (datasetLinks.length > 0) {
      const dsIds = [...new Set(datasetLinks.map((l) => l.source_id))];
      const inIds = datasetLinks.map((l) => l.input_uuid);
      const [dsRows, tagRows] = await Promise.all([
        this.db.all<{ dataset_uuid: string; name: string; digest: string; dataset_source_type: string; dataset_source: string; dataset_schema: string | null; dataset_profile: string | null }>(
          `SELECT dataset_uuid, name, digest, dataset_source_type, dataset_source, dataset_schema, dataset_profile FROM datasets WHERE dataset_uuid IN (${placeholders(dsIds.length)})`,
          dsIds,
        ),
        this.db.all<{ input_uuid: string; name: string; value: string }>(
          `SELECT input_uuid, name, value FROM input_tags WHERE input_uuid IN (${placeholders(inIds.length)}) ORDER BY name`,
          inIds,
        ),
      ]);
      for (const d of dsRows) {
        const ds: Dataset = { name: d.name, digest: d.digest, source_type: d.dataset_source_type, source: d.dataset_source };
        if (d.dataset_schema !== null) ds.schema = d.dataset_schema;
        if (d.dataset_profile !== null) ds.profile = d.dataset_profile;
        datasets.set(d.dataset_uuid, ds);
      }
      for (const t of tagRows) {
        let arr = inputTags.get(t.input_uuid);
        if (!arr) inputTags.set(t.input_uuid, (arr = []));
        arr.push({ key: t.name, value: t.value });
      }
    }

    const rowMap = new Map(rows.map((r) => [r.run_uuid, r]));
    const out: Run[] = [];
    for (const id of list) {
      const r = rowMap.get(id);
      if (!r) continue;
      const mine = links.filter((l) => l.destination_id === id || l.source_id === id);
      out.push({
        info: runInfo(r),
        data: {
          metrics: (metricMap.get(id) ?? []).map(wireMetric),
          params: (paramMap.get(id) ?? []).map((p) => ({ key: p.key, value: p.value })),
          tags: (tagMap.get(id) ?? []).map((t) => ({ key: t.key, value: t.value ?? "" })),
        },
        inputs: {
          dataset_inputs: mine
            .filter((l) => l.source_type === "DATASET" && datasets.has(l.source_id))
            .map((l) => ({ tags: inputTags.get(l.input_uuid) ?? [], dataset: datasets.get(l.source_id)! })),
          model_inputs: mine.filter((l) => l.source_type === INPUT_LINKS.modelInput.source).map((l) => ({ model_id: l.source_id })),
        },
        outputs: {
          model_outputs: mine
            .filter((l) => l.destination_type === INPUT_LINKS.modelOutput.destination)
            .map((l) => ({ model_id: l.destination_id, step: Number(l.step) })),
        },
      });
    }
    return out;
  }

  /**
   * The rows {@link getRuns} reads, from PostgreSQL in one statement and one round trip: each run's
   * latest metrics, params, tags and input links aggregated as JSON arrays beside its row (the
   * per-table queries would each take a pooled connection and a plan).
   */
  private async hydratePostgres(list: string[]): Promise<[RunRow[], MetricRow[], { run_uuid: string; key: string; value: string }[], { run_uuid: string; key: string; value: string | null }[], InputLink[]]> {
    const rows = await this.db.all<RunRow & { m: [string, number | string, number, number, number][]; p: [string, string][]; t: [string, string | null][]; i: [string, string, string, string, string, number][] }>(
      `SELECT r.run_uuid, r.name, r.experiment_id, r.user_id, r.status, r.start_time, r.end_time, r.deleted_time, r.lifecycle_stage, r.artifact_uri,
         (SELECT COALESCE(json_agg(json_build_array(x.key, x.value, x.timestamp, x.step, x.is_nan) ORDER BY x.key), '[]') FROM latest_metrics x WHERE x.run_uuid = r.run_uuid) AS m,
         (SELECT COALESCE(json_agg(json_build_array(x.key, x.value) ORDER BY x.key), '[]') FROM params x WHERE x.run_uuid = r.run_uuid) AS p,
         (SELECT COALESCE(json_agg(json_build_array(x.key, x.value) ORDER BY x.key), '[]') FROM tags x WHERE x.run_uuid = r.run_uuid) AS t,
         (SELECT COALESCE(json_agg(json_build_array(x.input_uuid, x.source_type, x.source_id, x.destination_type, x.destination_id, x.step) ORDER BY x.input_uuid), '[]')
            FROM inputs x WHERE (x.destination_type = 'RUN' AND x.destination_id = r.run_uuid) OR (x.source_type = 'RUN' AND x.source_id = r.run_uuid)) AS i
       FROM runs r WHERE r.run_uuid = ANY(CAST(? AS TEXT[]))`,
      [list as unknown as SqlValue],
    );
    const metrics: MetricRow[] = [];
    const params: { run_uuid: string; key: string; value: string }[] = [];
    const tags: { run_uuid: string; key: string; value: string | null }[] = [];
    const links: InputLink[] = [];
    for (const r of rows) {
      const id = r.run_uuid;
      // JSON spells ±Infinity as a string; NaN is stored as 0 with is_nan set.
      for (const [key, value, timestamp, step, is_nan] of r.m) metrics.push({ run_uuid: id, key, value: Number(value), timestamp: Number(timestamp), step: Number(step), is_nan: Number(is_nan) });
      for (const [key, value] of r.p) params.push({ run_uuid: id, key, value });
      for (const [key, value] of r.t) tags.push({ run_uuid: id, key, value });
      for (const [input_uuid, source_type, source_id, destination_type, destination_id, step] of r.i) {
        links.push({ input_uuid, source_type, source_id, destination_type, destination_id, step: Number(step) });
      }
    }
    // Links are ordered by input_uuid across the page, as the per-table query returns them.
    links.sort((a, b) => (a.input_uuid < b.input_uuid ? -1 : a.input_uuid > b.input_uuid ? 1 : 0));
    return [rows, metrics, params, tags, links];
  }

  /**
   * One page of run ids matching a compiled search, in order: the page
   * starts at `offset` of the concatenated segments. A segment is counted
   * only when the page starts beyond its end.
   */
  async searchRunIds(experimentIds: readonly number[], lifecycle: string, q: CompiledRunSearch, limit: number, offset: number): Promise<string[]> {
    if (experimentIds.length === 0) return [];
    const scope = `r.experiment_id IN (${placeholders(experimentIds.length)}) AND (${lifecycle})`;
    const out: string[] = [];
    let skip = offset;
    for (const seg of q.segments) {
      const params = [...seg.fromParams, ...experimentIds, ...seg.whereParams];
      const rows = await this.db.all<{ run_uuid: string }>(
        `SELECT r.run_uuid FROM ${seg.from} WHERE ${scope} AND ${seg.where} ORDER BY ${seg.order} LIMIT ? OFFSET ?`,
        [...params, limit - out.length, skip],
      );
      out.push(...rows.map((r) => r.run_uuid));
      if (out.length >= limit) break;
      if (rows.length > 0 || skip === 0) {
        skip = 0;
        continue;
      }
      const count = await this.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${seg.from} WHERE ${scope} AND ${seg.where}`, params);
      skip = Math.max(0, skip - Number(count?.n ?? 0));
    }
    return out;
  }

  // ------------------------------------------------------------ metric history

  async metricHistory(runId: string, key: string, limit: number, offset: number): Promise<Metric[]> {
    const rows = await this.db.all<MetricRow>(
      "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ? AND key = ? ORDER BY step, timestamp, value LIMIT ? OFFSET ?",
      [runId, key, limit, offset],
    );
    return rows.map(wireMetric);
  }

  async metricHistoryBulk(runIds: readonly string[], key: string, limit: number): Promise<RunMetric[]> {
    const rows = await this.db.all<MetricRow>(
      `SELECT run_uuid, key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid IN (${placeholders(runIds.length)}) AND key = ?
       ORDER BY run_uuid, step, timestamp, value LIMIT ?`,
      [...runIds, key, limit],
    );
    return rows.map((r) => ({ ...wireMetric(r), run_id: r.run_uuid! }));
  }

  /**
   * Up to `maxPoints` points of one run's metric between two steps, chosen as MLflow 3.17 chooses
   * them ({@link ntileSample}: evenly spread, the first and the last point kept). Over many steps
   * every lookup is an index seek, so a million points cost the same as a thousand.
   */
  async sampledMetricHistory(runId: string, key: string, startStep: number | undefined, endStep: number | undefined, maxPoints: number): Promise<RunMetric[]> {
    const lo = startStep ?? Number.MIN_SAFE_INTEGER;
    const hi = endStep ?? Number.MAX_SAFE_INTEGER;
    const first = await this.db.get<{ step: number }>(
      "SELECT step FROM metrics WHERE run_uuid = ? AND key = ? AND step >= ? AND step <= ? ORDER BY step ASC LIMIT 1",
      [runId, key, lo, hi],
    );
    if (!first) return [];
    const last = await this.db.get<{ step: number }>(
      "SELECT step FROM metrics WHERE run_uuid = ? AND key = ? AND step >= ? AND step <= ? ORDER BY step DESC LIMIT 1",
      [runId, key, lo, hi],
    );
    const min = Number(first.step);
    const max = Number(last!.step);
    const m = Math.max(1, maxPoints);
    let rows: MetricRow[];
    if (max - min + 1 <= m) {
      // Few steps: sample the points themselves, exactly as MLflow does (NTILE over the points in
      // (step, timestamp, value, is_nan) order, the metrics_point index's order). A bounded count
      // first: with at most m points (the usual case) they are all the answer.
      const order = "ORDER BY step, timestamp, value, is_nan";
      const where = "WHERE run_uuid = ? AND key = ? AND step >= ? AND step <= ?";
      const few = await this.db.all<MetricRow>(`SELECT key, value, timestamp, step, is_nan FROM metrics ${where} ${order} LIMIT ?`, [runId, key, min, max, m + 1]);
      if (few.length <= m) {
        rows = few;
      } else {
        // Many points on few steps (e.g. every value logged at step 0): pick ranks in SQL.
        const counted = await this.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM metrics ${where}`, [runId, key, min, max]);
        const ranks = ntileSample(Number(counted!.n), m);
        rows = await this.db.all<MetricRow>(
          `SELECT key, value, timestamp, step, is_nan FROM (
             SELECT key, value, timestamp, step, is_nan, ROW_NUMBER() OVER (${order}) - 1 AS i FROM metrics ${where}) ranked
           WHERE i IN (${ranks.map(() => "?").join(", ")}) ORDER BY i`,
          [runId, key, min, max, ...ranks],
        );
      }
    } else {
      // Many steps: MLflow's NTILE choice of points, computed as if each step in [min, max] held one
      // point (exact for the usual one value per step); each chosen step seeks the first logged step
      // at or after it through the index, so a million points cost a few hundred seeks, not a scan.
      const ts = ntileSample(max - min + 1, m).map((i) => min + i);
      if (this.db.dialect === "sqlite") {
        // One statement: each target step (a JSON array bound once) seeks the first logged step
        // at or after it through the (run_uuid, key, step, …) index; the IN list then fetches
        // every point at those steps. A correlated scalar subquery keeps SQLite on index seeks.
        rows = await this.db.all<MetricRow>(
          `SELECT key, value, timestamp, step, is_nan FROM metrics
           WHERE run_uuid = ? AND key = ? AND step IN (
             SELECT (SELECT x.step FROM metrics x WHERE x.run_uuid = ? AND x.key = ? AND x.step >= t.value AND x.step <= ? ORDER BY x.step LIMIT 1)
             FROM json_each(?) t)
           ORDER BY step, timestamp, value, is_nan`,
          [runId, key, runId, key, max, JSON.stringify(ts)],
        );
      } else {
        // One round trip: each target step (a JSON array bound once) seeks the first logged step at
        // or after it through the index, in an init plan run once; the points at those steps are
        // then one index scan. (A join against a VALUES list let the planner, on a table without
        // statistics yet, redo every seek for each point of the run: minutes instead of milliseconds.)
        rows = await this.db.all<MetricRow>(
          `SELECT m.key, m.value, m.timestamp, m.step, m.is_nan FROM metrics m
           WHERE m.run_uuid = ? AND m.key = ? AND m.step = ANY(ARRAY(
             SELECT (SELECT x.step FROM metrics x WHERE x.run_uuid = ? AND x.key = ? AND x.step >= CAST(t.v AS BIGINT) AND x.step <= ? ORDER BY x.step LIMIT 1)
             FROM jsonb_array_elements_text(CAST(? AS JSONB)) AS t(v)))
           ORDER BY m.step, m.timestamp, m.value`,
          [runId, key, runId, key, max, JSON.stringify(ts)],
        );
      }
    }
    return rows.map((r) => ({ ...wireMetric(r), run_id: runId }));
  }
}

/**
 * Which of `n` ordered points MLflow 3.17's `get_metric_history_bulk_interval` keeps for
 * `max_results` = m: the first point of each of NTILE(m)'s buckets, the last bucket's replaced by
 * the very last point; all points when n ≤ m.
 */
export function ntileSample(n: number, m: number): number[] {
  if (n <= m) return Array.from({ length: n }, (_, i) => i);
  const q = Math.floor(n / m);
  const r = n % m;
  const out: number[] = [];
  for (let b = 0; b < m - 1; b++) out.push(b * q + Math.min(b, r));
  out.push(n - 1);
  return out;
}

class ParamConflict extends Error {
  constructor(readonly conflict: { key: string; old: string; new: string }) {
    super("param conflict");
  }
}

export function runInfo(r: RunRow): Run["info"] {
  const info: Run["info"] = {
    run_id: r.run_uuid,
    run_uuid: r.run_uuid,
    run_name: r.name ?? "",
    experiment_id: String(r.experiment_id),
    user_id: r.user_id ?? "",
    status: r.status,
    start_time: Number(r.start_time ?? 0),
    artifact_uri: r.artifact_uri ?? "",
    lifecycle_stage: r.lifecycle_stage,
  };
  if (r.end_time !== null && r.end_time !== undefined) info.end_time = Number(r.end_time);
  return info;
}
