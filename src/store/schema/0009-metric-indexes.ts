import type { Migration } from "../migrations.js";

/**
 * Ingest: every metric point written updates each index on `metrics` and, for
 * a key new to the run, each index on `latest_metrics`. Two of those indexes
 * are prefixes of others and answer no query the longer one cannot:
 * `metrics_run_key_step (run_uuid, key, step, timestamp)` is the head of the
 * unique `metrics_point`, and `latest_metrics_key_value (key, value)` the head
 * of `latest_metrics_key_value_run`. Dropping them saves a B-tree insert per
 * point and per new key (about a third of the index work of a wide batch).
 */
export const metricIndexes: Migration = {
  version: 9,
  name: "metric-indexes",
  sql: `
DROP INDEX IF EXISTS metrics_run_key_step;
DROP INDEX IF EXISTS latest_metrics_key_value;
`,
};
