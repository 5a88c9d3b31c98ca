import type { Migration } from "../migrations.js";

/**
 * Runs: a logged metric point is stored once (a client retrying a batch must
 * not double it), which also makes the history index unique. A covering
 * (key, value, is_nan, run_uuid) index lets a search ordered by a metric walk
 * the values in order and stop after one page.
 */
export const trackingRuns: Migration = {
  version: 3,
  name: "tracking-runs",
  sql: `
DROP INDEX metrics_run_key_step;
CREATE UNIQUE INDEX metrics_point ON metrics (run_uuid, key, step, timestamp, value, is_nan);
CREATE INDEX runs_experiment_stage ON runs (experiment_id, lifecycle_stage, start_time, run_uuid);
CREATE INDEX latest_metrics_key_value_run ON latest_metrics (key, value, is_nan, run_uuid);
CREATE INDEX inputs_source ON inputs (source_type, source_id);
`,
};
