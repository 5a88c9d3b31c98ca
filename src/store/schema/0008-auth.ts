import type { Migration } from "../migrations.js";

/**
 * Users, their bearer tokens, and per-experiment / per-registered-model
 * permissions (MLflow's basic-auth model). Passwords and tokens are stored
 * only as hashes. Permission rows name their resource by id or name without a
 * foreign key: an experiment id is never reused, and a registered model's
 * rows are removed or renamed with the model by the auth layer.
 */
export const auth: Migration = {
  version: 8,
  name: "auth",
  sql: `
CREATE TABLE auth_users (
  id {{ID}},
  username TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  is_admin INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  password_changed_at BIGINT NOT NULL
);
CREATE TABLE auth_tokens (
  id {{ID}},
  user_id BIGINT NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  expires_at BIGINT
);
CREATE INDEX auth_tokens_user ON auth_tokens (user_id);
CREATE TABLE auth_experiment_permissions (
  experiment_id TEXT NOT NULL,
  user_id BIGINT NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
  permission TEXT NOT NULL,
  PRIMARY KEY (experiment_id, user_id)
);
CREATE INDEX auth_experiment_permissions_user ON auth_experiment_permissions (user_id);
CREATE TABLE auth_registered_model_permissions (
  name TEXT NOT NULL,
  user_id BIGINT NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
  permission TEXT NOT NULL,
  PRIMARY KEY (name, user_id)
);
CREATE INDEX auth_registered_model_permissions_user ON auth_registered_model_permissions (user_id);
`,
};
