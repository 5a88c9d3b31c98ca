/**
 * What the prediction log says about the served versions: per version, the
 * requests, errors and labelled accuracy since a time (the canary's live
 * comparison), and the labelled rows as training data (`data.from_log`).
 */
import fs from "node:fs";
import { labelRows, predictionRows } from "../monitoring/index.js";
import { readPredictionLog } from "../serving/index.js";

export interface LiveStats {
  requests: number;
  errors: number;
  errorRate: number;
  labelled: number;
  correct: number;
  accuracy: number | null;
  /** 95th percentile of the answered (200) requests' latency, ms; null without any. */
  latencyP95Ms: number | null;
}

interface LogRecord {
  request_id?: string;
  timestamp_ms?: number;
  version?: string;
  role?: string;
  status?: number;
  latency_ms?: number;
  inputs?: { columns?: string[]; data?: unknown[][] } | null;
  predictions?: unknown;
}

function empty(): LiveStats {
  return { requests: 0, errors: 0, errorRate: 0, labelled: 0, correct: 0, accuracy: null, latencyP95Ms: null };
}

function labelsById(feedback: { request_id: string; label: unknown }[]): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (const f of feedback) m.set(f.request_id, f.label);
  return m;
}

/**
 * Per model version: requests answered since `sinceMs`, errors, labelled
 * accuracy. Shadow copies are left out unless `opts.shadow`: then they are
 * the challenger's record (in shadow mode it answers no request itself; its
 * copies share the answered request's id, so feedback labels join them too).
 */
export function liveStats(logDir: string, sinceMs: number, opts: { shadow?: boolean } = {}): Map<string, LiveStats> {
  const out = new Map<string, LiveStats>();
  const latencies = new Map<string, number[]>();
  if (!fs.existsSync(logDir)) return out;
  const { predictions, feedback } = readPredictionLog(logDir);
  const labels = labelsById(feedback);
  for (const raw of predictions as LogRecord[]) {
    if ((raw.timestamp_ms ?? 0) < sinceMs || (raw.role === "shadow" && !opts.shadow) || raw.version === undefined) continue;
    const s = out.get(raw.version) ?? empty();
    out.set(raw.version, s);
    s.requests++;
    // Any answer but 200 counts: the two sides get the same kind of traffic, so it is the difference that matters.
    if (raw.status !== 200) {
      s.errors++;
      continue;
    }
    if (typeof raw.latency_ms === "number" && Number.isFinite(raw.latency_ms)) {
      const l = latencies.get(raw.version) ?? [];
      latencies.set(raw.version, l);
      l.push(raw.latency_ms);
    }
    const label = raw.request_id === undefined ? undefined : labels.get(raw.request_id);
    if (label === undefined) continue;
    const ys = labelRows(label);
    const ps = predictionRows(raw.predictions);
    for (let i = 0; i < Math.min(ys.length, ps.length); i++) {
      if (ys[i] === null || ps[i]!.label === null) continue;
      s.labelled++;
      if (String(ys[i]) === String(ps[i]!.label)) s.correct++;
    }
  }
  for (const [version, s] of out) {
    s.errorRate = s.requests ? s.errors / s.requests : 0;
    s.accuracy = s.labelled ? s.correct / s.labelled : null;
    s.latencyP95Ms = percentile(latencies.get(version) ?? [], 0.95);
  }
  return out;
}

/** The nearest-rank percentile `q` (0..1) of `values`; null when there are none. */
export function percentile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function csvField(v: unknown): string {
  const s = v === null || v === undefined ? "" : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Writes the labelled rows of the prediction log (inputs joined with their
 * feedback labels by request id) as CSV, the label in `labelColumn`; returns
 * how many rows. Rows whose columns differ from the first labelled request's are skipped.
 */
export function exportLabelledRows(logDir: string, labelColumn: string, file: string, opts: { sinceMs?: number; header?: string[] } = {}): number {
  const { predictions, feedback } = fs.existsSync(logDir) ? readPredictionLog(logDir) : { predictions: [], feedback: [] };
  const labels = labelsById(feedback);
  let header: string[] | undefined = opts.header;
  const lines: string[] = [];
  for (const raw of predictions as LogRecord[]) {
    if ((raw.timestamp_ms ?? 0) < (opts.sinceMs ?? 0) || raw.role === "shadow" || raw.status !== 200 || !raw.inputs?.columns || !raw.inputs.data) continue;
    const label = raw.request_id === undefined ? undefined : labels.get(raw.request_id);
    if (label === undefined) continue;
    const cols = raw.inputs.columns;
    header ??= [...cols, labelColumn];
    const index = header.map((c) => (c === labelColumn ? -1 : cols.indexOf(c)));
    if (header.some((c, i) => c !== labelColumn && index[i]! < 0)) continue;
    const rows = raw.inputs.data;
    const ys = labelRows(label);
    rows.forEach((row, r) => {
      const y = ys.length === rows.length ? ys[r] : null;
      if (y === null || y === undefined) return;
      lines.push(index.map((i) => csvField(i < 0 ? y : row[i])).join(","));
    });
  }
  fs.writeFileSync(file, [(header ?? [labelColumn]).map(csvField).join(","), ...lines].join("\n") + "\n");
  return lines.length;
}
