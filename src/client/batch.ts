import type * as wire from "../wire/index.js";
import type { KeyValue, KeyValues, Metric } from "./types.js";

/** MLflow's log-batch limits (`mlflow/utils/validation.py`). */
export const BATCH_LIMITS = {
  metrics: 1000,
  params: 100,
  tags: 100,
  entities: 1000,
  /** The server rejects request bodies over 1 MB; stay under it with room for the envelope. */
  bytes: 900_000,
} as const;

/** A metric to log: `step` defaults to 0 and `timestamp` to now. */
export interface MetricInput {
  key: string;
  value: number;
  step?: number;
  timestamp?: number;
}

export interface Batch {
  metrics: Metric[];
  params: KeyValue[];
  tags: KeyValue[];
}

/**
 * Splits metrics, params and tags into log-batch requests that each stay
 * within MLflow's limits, keeping the order of every list.
 *
 * @example
 * ```ts
 * const batches = splitBatch(metrics, params, tags);
 * for (const b of batches) await http.post("runs/log-batch", { run_id, ...b });
 * ```
 */
export function splitBatch(metrics: readonly Metric[], params: readonly KeyValue[], tags: readonly KeyValue[]): Batch[] {
  const out: Batch[] = [];
  let m = 0;
  let p = 0;
  let t = 0;
  while (m < metrics.length || p < params.length || t < tags.length) {
    const batch: Batch = { metrics: [], params: [], tags: [] };
    let bytes = 0;
    let entities = 0;
    const fits = (size: number) => entities < BATCH_LIMITS.entities && (entities === 0 || bytes + size <= BATCH_LIMITS.bytes);
    while (p < params.length && batch.params.length < BATCH_LIMITS.params) {
      const size = entitySize(params[p]!);
      if (!fits(size)) break;
      batch.params.push(params[p++]!);
      bytes += size;
      entities++;
    }
    while (t < tags.length && batch.tags.length < BATCH_LIMITS.tags) {
      const size = entitySize(tags[t]!);
      if (!fits(size)) break;
      batch.tags.push(tags[t++]!);
      bytes += size;
      entities++;
    }
    while (m < metrics.length && batch.metrics.length < BATCH_LIMITS.metrics) {
      const size = metrics[m]!.key.length + 80;
      if (!fits(size)) break;
      batch.metrics.push(metrics[m++]!);
      bytes += size;
      entities++;
    }
    out.push(batch);
  }
  return out;
}

function entitySize(kv: KeyValue): number {
  return kv.key.length + kv.value.length + 32;
}

/**
 * `{a: "1"}` or `[{key: "a", value: "1"}]` → `[{key: "a", value: "1"}]`, values as strings.
 *
 * @example
 * ```ts
 * toKeyValues({ depth: 6 }); // [{ key: "depth", value: "6" }]
 * ```
 */
export function toKeyValues(input: KeyValues | Record<string, unknown> | undefined): KeyValue[] {
  if (!input) return [];
  if (Array.isArray(input)) return input.map((kv: KeyValue) => ({ key: kv.key, value: String(kv.value) }));
  return Object.entries(input).map(([key, value]) => ({ key, value: String(value) }));
}

/**
 * A metric as MLflow's JSON carries it: non-finite values travel as the strings "NaN", "Infinity", "-Infinity".
 *
 * @example
 * ```ts
 * encodeMetric({ key: "loss", value: NaN, step: 0, timestamp: 0 }).value; // "NaN"
 * ```
 */
export function encodeMetric(m: Metric): wire.Metric {
  return { key: m.key, value: Number.isFinite(m.value) ? m.value : (String(m.value) as wire.WireNumber), timestamp: m.timestamp, step: m.step };
}

/**
 * The reverse of {@link encodeMetric}; int64 fields may also arrive as strings.
 *
 * @example
 * ```ts
 * decodeMetric({ key: "loss", value: "Infinity", step: "3", timestamp: 0 }); // { …, value: Infinity, step: 3 }
 * ```
 */
export function decodeMetric<T extends { key: string; value: unknown; timestamp?: unknown; step?: unknown }>(m: T): T & Metric {
  return { ...m, value: Number(m.value), timestamp: Number(m.timestamp ?? 0), step: Number(m.step ?? 0) };
}

/**
 * Fills a metric's defaults: step 0, timestamp now.
 *
 * @example
 * ```ts
 * toMetric({ key: "auc", value: 0.9 }); // { key: "auc", value: 0.9, step: 0, timestamp: Date.now() }
 * ```
 */
export function toMetric(m: MetricInput, now = Date.now()): Metric {
  return { key: m.key, value: m.value, step: m.step ?? 0, timestamp: m.timestamp ?? now };
}
