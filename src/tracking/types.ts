/** Tracking entities in MLflow's JSON shapes (snake_case, as on the wire). */
export type LifecycleStage = "active" | "deleted";
export type ViewType = "ACTIVE_ONLY" | "DELETED_ONLY" | "ALL";
export type RunStatus = "RUNNING" | "SCHEDULED" | "FINISHED" | "FAILED" | "KILLED";

export interface KeyValue {
  key: string;
  value: string;
}

export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: LifecycleStage;
  creation_time: number;
  last_update_time: number;
  tags: KeyValue[];
}

export interface Metric {
  key: string;
  value: number;
  timestamp: number;
  step: number;
  run_id?: string;
}

export const RUN_STATUSES = ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"] as const;

/** A metric value on the wire: non-finite numbers travel as "NaN", "Infinity", "-Infinity", as in MLflow's JSON. */
export type WireNumber = number | "NaN" | "Infinity" | "-Infinity";

export interface WireMetric {
  key: string;
  value: WireNumber;
  timestamp: number;
  step: number;
}

export interface RunInfo {
  run_id: string;
  run_uuid: string;
  run_name: string;
  experiment_id: string;
  user_id: string;
  status: RunStatus;
  start_time: number;
  end_time?: number;
  artifact_uri: string;
  lifecycle_stage: LifecycleStage;
}

export interface Dataset {
  name: string;
  digest: string;
  source_type: string;
  source: string;
  schema?: string;
  profile?: string;
}

export interface DatasetInput {
  tags: KeyValue[];
  dataset: Dataset;
}

export interface ModelInput {
  model_id: string;
}

export interface ModelOutput {
  model_id: string;
  step: number;
}

export interface Run {
  info: RunInfo;
  data: { metrics: WireMetric[]; params: KeyValue[]; tags: KeyValue[] };
  inputs: { dataset_inputs: DatasetInput[]; model_inputs: ModelInput[] };
  outputs: { model_outputs: ModelOutput[] };
}

/** A metric as logged: `value` may be NaN or ±Infinity. */
export interface MetricPoint {
  key: string;
  value: number;
  timestamp: number;
  step: number;
  /** MLflow 3: the logged model the metric is about, and the dataset it was measured on. */
  model_id?: string;
  dataset_name?: string;
  dataset_digest?: string;
}
