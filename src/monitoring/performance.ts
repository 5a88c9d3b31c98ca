/**
 * Live performance: predictions joined to their feedback labels by request
 * id. Classifiers get accuracy, precision, recall and F1 (binary: of the
 * positive class; more classes: macro averages) and ROC AUC when the model
 * gave a score; regressors RMSE, MAE and R².
 */

export type TaskType = "classification" | "regression";

/** One prediction row: the predicted value and, for a binary classifier, the score of the positive class. */
export interface PredictedRow {
  label: string | number | null;
  score?: number;
}

export interface PerformanceReport {
  task: TaskType | null;
  /** Rows with both a prediction and a label. */
  labelled_rows: number;
  /** Median and mean seconds from prediction to label. */
  label_delay_median_s: number | null;
  label_delay_mean_s: number | null;
  metrics: Record<string, number>;
  issues: string[];
}

const SCORE_KEYS = ["probability", "probabilities", "score", "scores", "proba"];
const LABEL_KEYS = ["output_label", "label", "prediction", "predicted_label", "class", "predictions", "output"];

/**
 * The predicted value of one row of a model's `predictions`: a scalar, a
 * one-element list, or a record (`output_label`, `label`, `prediction`, …
 * and `i0`/`i1` or `probabilities` for scores, as MLflow's ONNX and sklearn
 * flavors shape them).
 */
export function predictedRow(p: unknown): PredictedRow {
  if (typeof p === "number" || typeof p === "string") return { label: p };
  if (typeof p === "boolean") return { label: p ? 1 : 0 };
  if (Array.isArray(p)) {
    if (p.length === 1) return predictedRow(p[0]);
    if (p.length === 2 && p.every((x) => typeof x === "number")) return { label: (p[1] as number) >= (p[0] as number) ? 1 : 0, score: p[1] as number };
    return { label: null };
  }
  if (p && typeof p === "object") {
    const o = p as Record<string, unknown>;
    let label: PredictedRow["label"] = null;
    for (const k of LABEL_KEYS) {
      if (k in o) {
        const v = predictedRow(o[k]).label;
        if (v !== null) {
          label = v;
          break;
        }
      }
    }
    let score: number | undefined;
    for (const k of SCORE_KEYS) {
      const v = o[k];
      if (typeof v === "number") score = v;
      else if (Array.isArray(v) && v.length === 2 && typeof v[1] === "number") score = v[1];
      if (score !== undefined) break;
    }
    if (score === undefined && typeof o.i1 === "number" && typeof o.i0 === "number" && !("i2" in o)) score = o.i1;
    if (label === null) {
      const first = Object.values(o)[0];
      if (typeof first === "number" || typeof first === "string") label = first;
    }
    const out: PredictedRow = { label };
    if (score !== undefined) out.score = score;
    return out;
  }
  return { label: null };
}

/** Rows of a `predictions` value: a list (one per input row) or `{name: list}`. */
export function predictionRows(predictions: unknown): PredictedRow[] {
  if (Array.isArray(predictions)) return predictions.map(predictedRow);
  if (predictions && typeof predictions === "object") {
    const vals = Object.values(predictions as Record<string, unknown>);
    if (vals.length && Array.isArray(vals[0])) return (vals[0] as unknown[]).map(predictedRow);
  }
  return predictions === undefined || predictions === null ? [] : [predictedRow(predictions)];
}

/** The labels of one feedback record, one per row of its request (a scalar labels a one-row request). */
export function labelRows(label: unknown): (string | number | null)[] {
  const one = (v: unknown): string | number | null => (typeof v === "number" || typeof v === "string" ? v : typeof v === "boolean" ? (v ? 1 : 0) : null);
  return Array.isArray(label) ? label.map(one) : [one(label)];
}

/** Classification when every label is a string or an integer and there are at most 20 classes; regression otherwise. */
export function inferTask(labels: (string | number)[]): TaskType {
  const distinct = new Set(labels);
  if (labels.some((l) => typeof l === "string")) return "classification";
  if (labels.every((l) => Number.isInteger(l)) && distinct.size <= 20) return "classification";
  return "regression";
}

function key(v: string | number): string {
  return typeof v === "number" ? String(v) : v;
}

/** ROC AUC by the rank-sum (Mann–Whitney) formula, ties averaged; null with one class only. */
export function rocAuc(scores: number[], positive: boolean[]): number | null {
  const n = scores.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  const ranks = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[idx[j + 1]!] === scores[idx[i]!]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[idx[k]!] = r;
    i = j + 1;
  }
  let np = 0;
  let sum = 0;
  for (let i = 0; i < n; i++)
    if (positive[i]) {
      np++;
      sum += ranks[i]!;
    }
  const nn = n - np;
  if (np === 0 || nn === 0) return null;
  return (sum - (np * (np + 1)) / 2) / (np * nn);
}

function classification(pred: (string | number)[], truth: (string | number)[], scores: (number | undefined)[], issues: string[]): Record<string, number> {
  const classes = [...new Set([...truth.map(key), ...pred.map(key)])].sort();
  const n = truth.length;
  let correct = 0;
  for (let i = 0; i < n; i++) if (key(pred[i]!) === key(truth[i]!)) correct++;
  const out: Record<string, number> = { accuracy: correct / n };
  const prf = (c: string) => {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < n; i++) {
      const p = key(pred[i]!) === c;
      const t = key(truth[i]!) === c;
      if (p && t) tp++;
      else if (p) fp++;
      else if (t) fn++;
    }
    const precision = tp + fp ? tp / (tp + fp) : 0;
    const recall = tp + fn ? tp / (tp + fn) : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { precision, recall, f1 };
  };
  if (classes.length <= 2) {
    // the positive class: "1" / "true" when present, else the larger label
    const pos = classes.find((c) => c === "1" || c.toLowerCase() === "true") ?? classes[classes.length - 1]!;
    Object.assign(out, prf(pos));
    if (scores.every((s) => s !== undefined) && n > 0) {
      const auc = rocAuc(scores as number[], truth.map((t) => key(t) === pos));
      if (auc !== null) out.roc_auc = auc;
      else issues.push("ROC AUC needs labels of both classes");
    }
  } else {
    let p = 0;
    let r = 0;
    let f = 0;
    for (const c of classes) {
      const m = prf(c);
      p += m.precision;
      r += m.recall;
      f += m.f1;
    }
    Object.assign(out, { precision: p / classes.length, recall: r / classes.length, f1: f / classes.length });
  }
  return out;
}

function regression(pred: number[], truth: number[]): Record<string, number> {
  const n = truth.length;
  let se = 0;
  let ae = 0;
  let mean = 0;
  for (const t of truth) mean += t / n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const e = pred[i]! - truth[i]!;
    se += e * e;
    ae += Math.abs(e);
    ss += (truth[i]! - mean) ** 2;
  }
  const out: Record<string, number> = { rmse: Math.sqrt(se / n), mae: ae / n };
  if (ss > 0) out.r2 = 1 - se / ss;
  return out;
}

/** Predictions with their labels (and when each was made / labelled). */
export interface JoinedRow {
  predicted: PredictedRow;
  label: string | number | null;
  predictedAtMs: number;
  labelledAtMs: number;
}

/**
 * Performance metrics over joined rows; rows without a usable prediction or
 * label are counted out and reported.
 *
 * @example
 * ```ts
 * performanceReport([{ predicted: { label: 1 }, label: 1, predictedAtMs: 0, labelledAtMs: 5000 }]).metrics.accuracy; // 1
 * ```
 */
export function performanceReport(rows: JoinedRow[], task?: TaskType): PerformanceReport {
  const issues: string[] = [];
  const usable = rows.filter((r) => r.label !== null && r.predicted.label !== null);
  if (usable.length < rows.length) issues.push(`${rows.length - usable.length} labelled row(s) had no usable prediction or label`);
  if (usable.length === 0) return { task: task ?? null, labelled_rows: 0, label_delay_median_s: null, label_delay_mean_s: null, metrics: {}, issues: rows.length ? issues : ["no labelled rows in this window"] };
  const delays = usable.map((r) => Math.max(0, r.labelledAtMs - r.predictedAtMs) / 1000).sort((a, b) => a - b);
  const median = delays.length % 2 ? delays[(delays.length - 1) / 2]! : (delays[delays.length / 2 - 1]! + delays[delays.length / 2]!) / 2;
  const mean = delays.reduce((s, d) => s + d, 0) / delays.length;
  const truth = usable.map((r) => r.label!);
  const t = task ?? inferTask(truth);
  let metrics: Record<string, number>;
  if (t === "regression") {
    const pred = usable.map((r) => Number(r.predicted.label));
    const tr = truth.map(Number);
    const ok = pred.map((p, i) => Number.isFinite(p) && Number.isFinite(tr[i]!));
    const bad = ok.filter((x) => !x).length;
    if (bad) issues.push(`${bad} row(s) with a non-numeric prediction or label left out of the regression metrics`);
    metrics = ok.some(Boolean) ? regression(pred.filter((_, i) => ok[i]), tr.filter((_, i) => ok[i])) : {};
  } else {
    metrics = classification(usable.map((r) => r.predicted.label!), truth, usable.map((r) => r.predicted.score), issues);
  }
  return { task: t, labelled_rows: usable.length, label_delay_median_s: median, label_delay_mean_s: mean, metrics, issues };
}
