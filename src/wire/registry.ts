/**
 * MLflow's model registry (`model_registry.proto`), logged model (MLflow 3,
 * `service.proto`) and webhook messages in their JSON form, as mloop's server
 * sends them (a field it always sends is required here). Proto fields mloop
 * does not send are left out until it does: `RegisteredModel.deployment_job_id`
 * and `deployment_job_state`, `ModelVersion.model_params`, `model_metrics` and
 * `deployment_job_state`, `LoggedModelInfo.creator_id`.
 */
import type { KeyValue, PageResponse, WireNumber } from "./common.js";

export const STAGES = ["None", "Staging", "Production", "Archived"] as const;
/** A model version's stage (deprecated in MLflow in favour of aliases, still served). */
export type Stage = (typeof STAGES)[number];

export type ModelVersionStatus = "READY" | "PENDING_REGISTRATION" | "FAILED_REGISTRATION";

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
  status: ModelVersionStatus;
  status_message?: string;
  tags: KeyValue[];
  run_link?: string;
  aliases: string[];
  /** The MLflow 3 logged model this version registers. */
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

/** A metric logged with a model's id (`Metric` with `model_id`). */
export interface LoggedModelMetric {
  key: string;
  value: WireNumber;
  timestamp: number;
  step: number;
  model_id: string;
  run_id: string;
  dataset_name?: string;
  dataset_digest?: string;
}

export interface LoggedModelRegistrationInfo {
  name: string;
  version: string;
}

export interface LoggedModelInfo {
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
  registrations: LoggedModelRegistrationInfo[];
}

export interface LoggedModelData {
  params: KeyValue[];
  metrics: LoggedModelMetric[];
}

/** An MLflow 3 logged model. */
export interface LoggedModel {
  info: LoggedModelInfo;
  data: LoggedModelData;
}

/** `WebhookEvent` in `webhooks.proto`: an entity and an action, e.g. `MODEL_VERSION` / `CREATED`. */
export interface WebhookEventName {
  entity: string;
  action: string;
}

export type WebhookStatus = "ACTIVE" | "DISABLED";

export interface Webhook {
  webhook_id: string;
  name: string;
  description?: string;
  url: string;
  events: WebhookEventName[];
  status: WebhookStatus;
  creation_timestamp: number;
  last_updated_timestamp: number;
}

export interface WebhookTestResult {
  success: boolean;
  response_status?: number;
  response_body?: string;
  error_message?: string;
}

// ---- responses -------------------------------------------------------------

export interface RegisteredModelResponse {
  registered_model: RegisteredModel;
}
export interface SearchRegisteredModelsResponse extends PageResponse {
  registered_models: RegisteredModel[];
}
export interface ModelVersionResponse {
  model_version: ModelVersion;
}
export interface ModelVersionsResponse {
  model_versions: ModelVersion[];
}
export interface SearchModelVersionsResponse extends PageResponse {
  model_versions: ModelVersion[];
}
export interface GetModelVersionDownloadUriResponse {
  artifact_uri: string;
}
export interface LoggedModelResponse {
  model: LoggedModel;
}
export interface SearchLoggedModelsResponse extends PageResponse {
  models: LoggedModel[];
}
export interface WebhookResponse {
  webhook: Webhook;
}
export interface ListWebhooksResponse extends PageResponse {
  webhooks: Webhook[];
}
export interface TestWebhookResponse {
  result: WebhookTestResult;
}
