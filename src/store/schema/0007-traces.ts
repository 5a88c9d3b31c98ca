import type { Migration } from "../migrations.js";

/**
 * Traces (MLflow 3): one `trace_info` row per trace, its tags and request
 * metadata as key/value rows, its spans (MLflow's span dict in `content`,
 * the searchable fields beside it), its assessments, and the runs it was
 * linked to. Everything hangs off `trace_info` and goes with it, except the
 * run links: a client may link a trace whose spans are still on their way.
 */
export const traces: Migration = {
  version: 7,
  name: "traces",
  sql: `
CREATE TABLE trace_info (
  request_id TEXT PRIMARY KEY,
  experiment_id BIGINT NOT NULL REFERENCES experiments(experiment_id) ON DELETE CASCADE,
  timestamp_ms BIGINT NOT NULL,
  execution_time_ms BIGINT,
  status TEXT NOT NULL,
  client_request_id TEXT,
  request_preview TEXT,
  response_preview TEXT
);
CREATE INDEX trace_info_experiment_time ON trace_info (experiment_id, timestamp_ms DESC, request_id);
CREATE TABLE trace_tags (
  request_id TEXT NOT NULL REFERENCES trace_info(request_id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT,
  PRIMARY KEY (request_id, key)
);
CREATE INDEX trace_tags_key_value ON trace_tags (key, value);
CREATE TABLE trace_request_metadata (
  request_id TEXT NOT NULL REFERENCES trace_info(request_id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT,
  PRIMARY KEY (request_id, key)
);
CREATE INDEX trace_request_metadata_key_value ON trace_request_metadata (key, value);
CREATE TABLE spans (
  trace_id TEXT NOT NULL REFERENCES trace_info(request_id) ON DELETE CASCADE,
  experiment_id BIGINT NOT NULL,
  span_id TEXT NOT NULL,
  parent_span_id TEXT,
  name TEXT,
  type TEXT,
  status TEXT,
  start_time_unix_nano BIGINT,
  end_time_unix_nano BIGINT,
  content TEXT NOT NULL,
  PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX spans_experiment_name ON spans (experiment_id, name);
CREATE TABLE assessments (
  assessment_id TEXT PRIMARY KEY,
  trace_id TEXT NOT NULL REFERENCES trace_info(request_id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  assessment_type TEXT NOT NULL,
  value TEXT,
  numeric_value {{DOUBLE}},
  valid INTEGER NOT NULL DEFAULT 1,
  created_timestamp BIGINT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX assessments_trace ON assessments (trace_id, created_timestamp);
CREATE TABLE trace_run_links (
  request_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  PRIMARY KEY (request_id, run_id)
);
CREATE INDEX trace_run_links_run ON trace_run_links (run_id);
`,
};
