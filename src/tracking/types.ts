/** Tracking's own shapes; the REST messages themselves are in `src/wire/`. */

/** A metric as logged and validated: `value` may be NaN or ±Infinity (the wire form is `wire.Metric`). */
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
