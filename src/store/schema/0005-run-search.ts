import type { Migration } from "../migrations.js";

/**
 * Run search: a search ordered by a metric or param walks that key's values
 * in order and looks each candidate run up by id to check its experiment and
 * lifecycle stage and to read its start time. A covering index answers that
 * lookup with one index seek instead of a seek plus a table read.
 */
export const runSearch: Migration = {
  version: 5,
  name: "run-search",
  sql: `
CREATE INDEX runs_uuid_scope ON runs (run_uuid, experiment_id, lifecycle_stage, start_time);
`,
};
