/** Registry entities in MLflow's JSON shapes (snake_case, as on the wire). */
export interface KeyValue {
  key: string;
  value: string;
}

export const STAGES = ["None", "Staging", "Production", "Archived"] as const;
export type Stage = (typeof STAGES)[number];
/** Stage of a deleted version: the row stays so its number is never reused. */
export const DELETED_STAGE = "Deleted_Internal";

export interface ModelVersion {
  name: string;
  version: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  user_id?: string;
  current_stage: string;
  description?: string;
  source: string;
  run_id?: string;
  status: "READY" | "PENDING_REGISTRATION" | "FAILED_REGISTRATION";
  status_message?: string;
  tags: KeyValue[];
  run_link?: string;
  aliases: string[];
  model_id?: string;
}

export interface RegisteredModelAlias {
  alias: string;
  version: string;
}

export interface RegisteredModel {
  name: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  user_id?: string;
  description?: string;
  latest_versions: ModelVersion[];
  tags: KeyValue[];
  aliases: RegisteredModelAlias[];
}

export const LOGGED_MODEL_STATUSES = ["LOGGED_MODEL_STATUS_UNSPECIFIED", "LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"] as const;
export type LoggedModelStatus = (typeof LOGGED_MODEL_STATUSES)[number];

export interface LoggedModel {
  info: {
    model_id: string;
    experiment_id: string;
    name: string;
    creation_timestamp_ms: number;
    last_updated_timestamp_ms: number;
    artifact_uri: string;
    status: LoggedModelStatus;
    model_type?: string;
    source_run_id?: string;
    status_message?: string;
    tags: KeyValue[];
    registrations: { name: string; version: string }[];
  };
  data: { params: KeyValue[]; metrics: LoggedModelMetric[] };
}

/** A metric logged with the model's id (MLflow's `Metric` with `model_id`). */
export interface LoggedModelMetric {
  key: string;
  value: number | string;
  timestamp: number;
  step: number;
  model_id: string;
  run_id: string;
  dataset_name?: string;
  dataset_digest?: string;
}

export interface WebhookEventName {
  entity: string;
  action: string;
}

export interface Webhook {
  webhook_id: string;
  name: string;
  description?: string;
  url: string;
  events: WebhookEventName[];
  status: "ACTIVE" | "DISABLED";
  creation_timestamp: number;
  last_updated_timestamp: number;
}
