/**
 * The SDK's public types: tracking entities exactly as MLflow's REST API
 * sends them (snake_case, defined once in `src/wire/`), so JSON from the
 * server, from `mloop … --json` and from MLflow's own docs all read the same.
 * The SDK's own additions (pages, progress, key/value input) live here.
 */

import type * as wire from "../wire/index.js";

export type {
  Dataset,
  DatasetInput,
  Experiment,
  FileInfo,
  KeyValue,
  LifecycleStage,
  ModelInput,
  ModelOutput,
  RunInfo,
  RunStatus,
  ViewType,
} from "../wire/index.js";

/** A metric as the SDK returns and logs it: `value` is a number, `NaN` and `±Infinity` included (decoded from {@link wire.WireNumber}). */
export type Metric = Omit<wire.Metric, "value"> & { value: number };

/** A metric point from a bulk history query, labelled with its run. */
export type MetricWithRunId = Omit<wire.RunMetric, "value"> & { value: number };

/** A run in MLflow's JSON shape (`run.info.run_id`, `run.data.metrics`, …), its metric values decoded to numbers. */
export type Run = Omit<wire.Run, "data"> & { data: Omit<wire.RunData, "metrics"> & { metrics: Metric[] } };

/** One page of a paginated search. */
export interface Page<T> {
  items: T[];
  /** Pass back as `pageToken` for the next page; absent on the last page. */
  nextPageToken?: string;
}

/** Tags, parameters: a plain object or MLflow's key/value list. */
export type KeyValues = Record<string, string> | readonly wire.KeyValue[];

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
