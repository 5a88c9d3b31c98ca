import type { Migration } from "../migrations.js";

/**
 * The closed loop's records (`src/retraining/`): one row per deployment with
 * its controller state (a compare-and-set counter, `revision`, so two
 * controllers never both move it), every transition as an event with its
 * reason and the ids it links (window, runs, versions), and leases (one
 * retraining per deployment at a time, across replicas).
 */
export const deployments: Migration = {
  version: 11,
  name: "deployments",
  sql: `
CREATE TABLE deployments (
  name TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  context TEXT NOT NULL,
  revision BIGINT NOT NULL,
  spec TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE deployment_events (
  id {{ID}},
  deployment TEXT NOT NULL REFERENCES deployments(name) ON DELETE CASCADE,
  seq BIGINT NOT NULL,
  timestamp_ms BIGINT NOT NULL,
  from_state TEXT,
  to_state TEXT NOT NULL,
  reason TEXT NOT NULL,
  data TEXT NOT NULL,
  UNIQUE (deployment, seq)
);
CREATE TABLE deployment_leases (
  deployment TEXT NOT NULL,
  purpose TEXT NOT NULL,
  holder TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (deployment, purpose)
);
`,
};
