/**
 * The SDK's public types: tracking entities exactly as MLflow's REST API
 * sends them (snake_case), so JSON from the server, from `mloop … --json`
 * and from MLflow's own docs all read the same.
 */

export type LifecycleStage = "active" | "deleted";
/** Which entities a search returns, as in MLflow's `ViewType`. */
export type ViewType = "ACTIVE_ONLY" | "DELETED_ONLY" | "ALL";
export type RunStatus = "RUNNING" | "SCHEDULED" | "FINISHED" | "FAILED" | "KILLED";

/** A tag or parameter on the wire. */
export interface KeyValue {
  key: string;
  value: string;
}

export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: LifecycleStage;
  creation_time?: number;
  last_update_time?: number;
  tags?: KeyValue[];
}

/** A metric as logged. `value` may be `NaN` or `±Infinity`. */
export interface Metric {
  key: string;
  value: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  step: number;
}

/** A metric point from a bulk history query, labelled with its run. */
export interface MetricWithRunId extends Metric {
  run_id: string;
}

export interface RunInfo {
  run_id: string;
  run_uuid?: string;
  run_name?: string;
  experiment_id: string;
  user_id?: string;
  status: RunStatus;
  start_time?: number;
  end_time?: number;
  artifact_uri?: string;
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
  tags?: KeyValue[];
  dataset: Dataset;
}

export interface ModelInput {
  model_id: string;
}

/** A run in MLflow's JSON shape: `run.info.run_id`, `run.data.metrics`, … */
export interface Run {
  info: RunInfo;
  data: { metrics?: Metric[]; params?: KeyValue[]; tags?: KeyValue[] };
  inputs?: { dataset_inputs?: DatasetInput[]; model_inputs?: ModelInput[] };
  outputs?: { model_outputs?: { model_id: string; step: number }[] };
}

/** One entry of an artifact listing; `path` is relative to the run's artifact root. */
export interface FileInfo {
  path: string;
  is_dir: boolean;
  file_size?: number;
}

/** One page of a paginated search. */
export interface Page<T> {
  items: T[];
  /** Pass back as `pageToken` for the next page; absent on the last page. */
  nextPageToken?: string;
}

/** Tags, parameters: a plain object or MLflow's key/value list. */
export type KeyValues = Record<string, string> | readonly KeyValue[];

/** Progress of an artifact upload or download. */
export interface TransferProgress {
  /** Bytes moved so far, over all files. */
  bytes: number;
  /** Total bytes to move (known before the first byte moves). */
  totalBytes: number;
  /** Files finished so far. */
  files: number;
  totalFiles: number;
}
