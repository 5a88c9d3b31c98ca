/**
 * MLflow's tracking messages (`service.proto`) in their JSON form, exactly as
 * mloop's server sends them: field names are protobuf's (snake_case), and a
 * field mloop always sends is required here. (MLflow's own server leaves empty
 * lists out; a reader of both should not rely on a list being there.) A proto
 * field mloop does not send is left out until it does: `Metric`'s
 * `dataset_name`, `dataset_digest` and `model_id` in a run's data.
 */
import type { KeyValue, PageResponse, WireNumber } from "./common.js";

export type LifecycleStage = "active" | "deleted";
/** Which entities a search returns (`ViewType`). */
export type ViewType = "ACTIVE_ONLY" | "DELETED_ONLY" | "ALL";

export const RUN_STATUSES = ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: LifecycleStage;
  /** Milliseconds since the epoch. */
  creation_time: number;
  last_update_time: number;
  tags: KeyValue[];
}

/** A metric point (`Metric`); `value` may be non-finite, see {@link WireNumber}. */
export interface Metric {
  key: string;
  value: WireNumber;
  /** Milliseconds since the epoch. */
  timestamp: number;
  step: number;
}

/** A metric point of a bulk history query (`get-history-bulk`, `get-history-bulk-interval`), labelled with its run. */
export interface RunMetric extends Metric {
  run_id: string;
}

export interface RunInfo {
  run_id: string;
  /** The old name of `run_id`, still sent for older clients. */
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

export interface RunData {
  metrics: Metric[];
  params: KeyValue[];
  tags: KeyValue[];
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

/** A logged model a run used (MLflow 3). */
export interface ModelInput {
  model_id: string;
}

/** A logged model a run produced, at a step (MLflow 3). */
export interface ModelOutput {
  model_id: string;
  step: number;
}

export interface RunInputs {
  dataset_inputs: DatasetInput[];
  model_inputs: ModelInput[];
}

export interface RunOutputs {
  model_outputs: ModelOutput[];
}

/** A run: `run.info.run_id`, `run.data.metrics`, … */
export interface Run {
  info: RunInfo;
  data: RunData;
  inputs: RunInputs;
  outputs: RunOutputs;
}

/** One entry of `SearchDatasets` (the UI's dataset list). */
export interface DatasetSummary {
  experiment_id: string;
  name: string;
  digest: string;
  context?: string;
}

// ---- responses -------------------------------------------------------------

export interface CreateExperimentResponse {
  experiment_id: string;
}
export interface GetExperimentResponse {
  experiment: Experiment;
}
export interface SearchExperimentsResponse extends PageResponse {
  experiments: Experiment[];
}
export interface CreateRunResponse {
  run: Run;
}
export interface GetRunResponse {
  run: Run;
}
export interface UpdateRunResponse {
  run_info: RunInfo;
}
export interface SearchRunsResponse extends PageResponse {
  runs: Run[];
}
export interface GetMetricHistoryResponse extends PageResponse {
  metrics: Metric[];
}
export interface GetMetricHistoryBulkResponse {
  metrics: RunMetric[];
}
export interface SearchDatasetsResponse {
  dataset_summaries: DatasetSummary[];
}
