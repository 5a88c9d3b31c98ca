import type { Migration } from "../migrations.js";

/**
 * Metrics logged with a `model_id` (MLflow 3) also belong to that logged model: `get_logged_model`
 * lists them and `search_logged_models(datasets=…)` filters on the dataset they were measured on.
 * Absent dataset fields are stored as '' so the unique key holds on both databases.
 */
export const loggedModelMetrics: Migration = {
  version: 6,
  name: "logged-model-metrics",
  sql: `
CREATE TABLE logged_model_metrics (
  model_id TEXT NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,
  metric_name TEXT NOT NULL,
  metric_timestamp_ms BIGINT NOT NULL,
  metric_step BIGINT NOT NULL,
  metric_value {{DOUBLE}} NOT NULL,
  is_nan SMALLINT NOT NULL DEFAULT 0,
  experiment_id BIGINT NOT NULL,
  run_id TEXT NOT NULL,
  dataset_name TEXT NOT NULL DEFAULT '',
  dataset_digest TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (model_id, metric_name, metric_timestamp_ms, metric_step, run_id, dataset_name, dataset_digest)
);
CREATE INDEX logged_model_metrics_dataset ON logged_model_metrics (dataset_name, dataset_digest, model_id);
`,
};
