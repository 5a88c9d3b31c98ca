/**
 * The continuous monitor: reads the prediction log that `mloop serve` writes
 * (docs/serving.md) as it grows, cuts it into tumbling windows (per N rows or
 * per N minutes), and for each finished window computes data drift against
 * the reference profile, prediction drift, live performance from feedback
 * labels, and operational figures. Its position in the log is saved after
 * every finished window, so a restart resumes from the last window it finished.
 */
import fs from "node:fs";
import path from "node:path";
import { invalidParameter } from "../errors.js";
import { AlertEvaluator, type AlertEvent, type AlertRule } from "./alerts.js";
import { ColumnBuilder, tableFromBuilders, type Table } from "./columns.js";
import { columnDrift, driftReport, type ColumnDrift, type DriftOptions, type DriftReport } from "./drift.js";
import { labelRows, performanceReport, predictionRows, type JoinedRow, type PerformanceReport, type PredictedRow, type TaskType } from "./performance.js";
import { profileColumn, profileLike, type ColumnProfile, type Profile } from "./profile.js";

export interface WindowSpec {
  /** Close a window once it holds this many input rows. */
  rows?: number;
  /** Or: windows of this many minutes of request time. */
  minutes?: number;
}

export interface MonitorOptions {
  logDir: string;
  /** Where the monitor keeps its position and events (default `<logDir>/monitor`). */
  stateDir?: string;
  reference: Profile;
  window: WindowSpec;
  /** The model this monitor watches (a label for metrics and events). */
  model: string;
  drift?: DriftOptions;
  task?: TaskType;
  /** The reference column holding the model's predictions, when the reference has one (default `prediction`). */
  predictionColumn?: string;
  alerts?: AlertRule[];
  /** Include shadow traffic (default: no; a shadow copy repeats a champion request's inputs). */
  includeShadow?: boolean;
  /** A time window closes this long after its end when no later request came (default 5 s). */
  closeGraceMs?: number;
  now?: () => number;
}

export interface VersionOps {
  requests: number;
  errors: number;
  error_rate: number;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  latency_p99_ms: number | null;
}

export interface WindowResult {
  seq: number;
  start_ms: number;
  end_ms: number;
  rows: number;
  requests: number;
  drift: DriftReport;
  prediction_drift: ColumnDrift | null;
  performance: PerformanceReport;
  operations: { request_rate_per_s: number; error_rate: number; versions: Record<string, VersionOps> };
  /** The window's values under the names alerts and metrics use. */
  values: Record<string, number>;
  alerts: AlertEvent[];
  issues: string[];
}

/** Live performance of an already finished window, recomputed because labels for its requests arrived later. */
export interface PerformanceUpdate {
  seq: number;
  start_ms: number;
  end_ms: number;
  performance: PerformanceReport;
  /** The performance values under the names the window's own values use. */
  values: Record<string, number>;
}

interface RecentWindow {
  seq: number;
  start: number;
  end: number;
  requests: { id: string; ts: number; preds: PredictedRow[] }[];
}

interface Position {
  segment: string;
  offset: number;
}

interface MonitorState {
  version: 1;
  position: Position | null;
  seq: number;
  firing: string[];
  prediction_reference?: { kind: "numerical" | "categorical"; values: (string | number)[]; counts: number[] } | null;
}

/** Lists a log folder's segment files of one prefix, oldest first (serving's `SegmentLog.segments`). */
type SegmentLister = (dir: string, prefix: string) => string[];

/** Reads the lines a log prefix gained since a position, one segment after another; a line without its newline yet waits. */
export class LogTail {
  constructor(
    private readonly dir: string,
    private readonly prefix: string,
    public position: Position | null = null,
  ) {}

  *read(segments: SegmentLister): Generator<{ record: Record<string, unknown>; position: Position }> {
    const files = segments(this.dir, this.prefix).map((f) => path.basename(f));
    let start = 0;
    if (this.position) {
      const i = files.indexOf(this.position.segment);
      start = i >= 0 ? i : files.findIndex((f) => f > this.position!.segment);
      if (start < 0) return;
    }
    for (let i = start; i < files.length; i++) {
      const name = files[i]!;
      let offset = this.position && this.position.segment === name ? this.position.offset : 0;
      const file = path.join(this.dir, name);
      const size = fs.statSync(file).size;
      if (size > offset) {
        const fd = fs.openSync(file, "r");
        const buf = Buffer.alloc(size - offset);
        fs.readSync(fd, buf, 0, buf.length, offset);
        fs.closeSync(fd);
        let lineStart = 0;
        for (;;) {
          const nl = buf.indexOf(10, lineStart);
          if (nl < 0) break;
          const text = buf.toString("utf8", lineStart, nl);
          lineStart = nl + 1;
          const pos = { segment: name, offset: offset + lineStart };
          if (!text.trim()) continue;
          let record: Record<string, unknown>;
          try {
            record = JSON.parse(text) as Record<string, unknown>;
          } catch {
            continue; // a torn line
          }
          yield { record, position: pos };
        }
        offset += lineStart;
      }
      this.position = { segment: name, offset };
    }
  }
}

function percentile(sorted: number[], q: number): number | null {
  if (!sorted.length) return null;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** A metric key MLflow accepts (letters, digits, `_ - . / space`). */
export function metricKey(s: string): string {
  return s.replace(/[^A-Za-z0-9_\-./ ]/g, "_");
}

class OpenWindow {
  builders: Map<string, ColumnBuilder>;
  prediction = new ColumnBuilder("prediction");
  rows = 0;
  requests: { id: string; ts: number; preds: PredictedRow[] }[] = [];
  latencies = new Map<string, number[]>();
  errors = new Map<string, number>();
  requestCount = new Map<string, number>();
  unknownColumns = new Map<string, number>();
  tensorRequests = 0;
  unparsable = 0;
  firstTs = Infinity;
  lastTs = -Infinity;
  lastPosition: Position | null = null;

  constructor(
    readonly start: number,
    readonly end: number,
    columns: string[],
  ) {
    this.builders = new Map(columns.map((c) => [c, new ColumnBuilder(c)]));
  }
}

/**
 * Watches one prediction log folder.
 *
 * @example
 * ```ts
 * const monitor = new Monitor({ logDir: "./mloop-predictions", reference, window: { rows: 1000 }, model: "iris" });
 * for (const w of await monitor.poll()) console.log(w.seq, w.drift.share_of_drifted_columns);
 * ```
 */
export class Monitor {
  private readonly stateFile: string;
  private readonly eventsFile: string;
  private readonly tail: LogTail;
  private readonly feedback: LogTail;
  private readonly labels = new Map<string, { label: unknown; ts: number }>();
  private state: MonitorState;
  private open: OpenWindow | null = null;
  private predictionReference: ColumnProfile | null;
  readonly alerts: AlertEvaluator;
  readonly history: WindowResult[] = [];
  private readonly columns: string[];
  private readonly now: () => number;
  /** The last finished windows' requests, so late labels can re-score them. */
  private readonly recent: RecentWindow[] = [];
  private updates: PerformanceUpdate[] = [];

  constructor(readonly opts: MonitorOptions) {
    if (!opts.window.rows && !opts.window.minutes) throw invalidParameter("A monitor needs a window: rows or minutes");
    if (opts.window.rows !== undefined && !(opts.window.rows >= 1)) throw invalidParameter("--window-rows must be at least 1");
    if (opts.window.minutes !== undefined && !(opts.window.minutes > 0)) throw invalidParameter("--window-minutes must be positive");
    const stateDir = opts.stateDir ?? path.join(opts.logDir, "monitor");
    fs.mkdirSync(stateDir, { recursive: true });
    this.stateFile = path.join(stateDir, "state.json");
    this.eventsFile = path.join(stateDir, "alerts.jsonl");
    this.now = opts.now ?? Date.now;
    this.state = fs.existsSync(this.stateFile) ? (JSON.parse(fs.readFileSync(this.stateFile, "utf8")) as MonitorState) : { version: 1, position: null, seq: 0, firing: [] };
    this.tail = new LogTail(opts.logDir, "predictions", this.state.position);
    this.feedback = new LogTail(opts.logDir, "feedback");
    this.alerts = new AlertEvaluator(opts.alerts ?? [], this.state.firing);
    const predCol = opts.predictionColumn ?? "prediction";
    this.columns = [...opts.reference.columns.keys()].filter((c) => c !== predCol);
    this.predictionReference = opts.reference.columns.get(predCol) ?? restorePredictionReference(this.state.prediction_reference);
  }

  /** The number of windows finished so far (including those before a restart). */
  get windowsDone(): number {
    return this.state.seq;
  }

  /** Reads what the log gained and returns the windows that finished. */
  async poll(): Promise<WindowResult[]> {
    // the log's naming is serving's; its door is loaded on the first poll, so a batch report never loads it
    const { SegmentLog } = await import("../serving/index.js");
    const segments: SegmentLister = (dir, prefix) => SegmentLog.segments(dir, prefix);
    const fresh = new Set<string>();
    for (const { record } of this.feedback.read(segments)) {
      if (typeof record.request_id === "string") {
        this.labels.set(record.request_id, { label: record.label, ts: Number(record.timestamp_ms) || this.now() });
        fresh.add(record.request_id);
      }
    }
    // labels for requests of windows already finished: re-score those windows
    if (fresh.size) {
      for (const w of this.recent) {
        if (!w.requests.some((r) => fresh.has(r.id))) continue;
        const performance = performanceReport(this.join(w.requests), this.opts.task);
        this.updates.push({ seq: w.seq, start_ms: w.start, end_ms: w.end, performance, values: performanceValues(performance) });
      }
    }
    const done: WindowResult[] = [];
    for (const { record, position } of this.tail.read(segments)) {
      if (record.role === "shadow" && !this.opts.includeShadow) {
        if (this.open) this.open.lastPosition = position;
        else this.savePosition(position);
        continue;
      }
      const ts = Number(record.timestamp_ms) || 0;
      if (this.opts.window.minutes) {
        const len = this.opts.window.minutes * 60_000;
        const key = Math.floor(ts / len) * len;
        if (this.open && key >= this.open.end) {
          done.push(this.finish(this.open));
          // windows with no request at all in between are reported as empty (at most 100 in a row)
          let next = this.open.end;
          this.open = null;
          for (let k = 0; next < key && k < 100; k++, next += len) done.push(this.finish(new OpenWindow(next, next + len, this.columns)));
        }
        if (!this.open) this.open = new OpenWindow(key, key + len, this.columns);
      } else if (!this.open) this.open = new OpenWindow(ts, ts, this.columns);
      this.add(this.open, record);
      this.open.lastPosition = position;
      if (this.opts.window.rows && this.open.rows >= this.opts.window.rows) {
        done.push(this.finish(this.open));
        this.open = null;
      }
    }
    if (this.open && this.opts.window.minutes && this.now() >= this.open.end + (this.opts.closeGraceMs ?? 5000)) {
      done.push(this.finish(this.open));
      this.open = null;
    }
    return done;
  }

  /** Requests joined to the labels known now. */
  private join(requests: RecentWindow["requests"]): JoinedRow[] {
    const joined: JoinedRow[] = [];
    for (const req of requests) {
      const fb = this.labels.get(req.id);
      if (!fb) continue;
      const labels = labelRows(fb.label);
      req.preds.forEach((p, i) => joined.push({ predicted: p, label: labels.length === 1 && req.preds.length === 1 ? labels[0]! : (labels[i] ?? null), predictedAtMs: req.ts, labelledAtMs: fb.ts }));
    }
    return joined;
  }

  /**
   * Re-scored performance of finished windows whose labels arrived after they
   * closed (the last 20 windows of this process), oldest first; each call
   * hands over what accumulated since the last.
   */
  lateLabels(): PerformanceUpdate[] {
    const out = this.updates;
    this.updates = [];
    return out;
  }

  /** Finishes the open window now, however full it is (`mloop monitor start --once`); null when none is open. */
  flush(): WindowResult | null {
    if (!this.open) return null;
    const w = this.finish(this.open);
    this.open = null;
    return w;
  }

  private add(w: OpenWindow, r: Record<string, unknown>): void {
    const version = String(r.version ?? "");
    const ts = Number(r.timestamp_ms) || 0;
    w.firstTs = Math.min(w.firstTs, ts);
    w.lastTs = Math.max(w.lastTs, ts);
    w.requestCount.set(version, (w.requestCount.get(version) ?? 0) + 1);
    const lat = w.latencies.get(version) ?? [];
    lat.push(Number(r.latency_ms) || 0);
    w.latencies.set(version, lat);
    if (r.status !== 200) {
      w.errors.set(version, (w.errors.get(version) ?? 0) + 1);
      return;
    }
    const inputs = r.inputs as { columns?: unknown; data?: unknown; tensor?: unknown } | null;
    if (!inputs || !Array.isArray(inputs.columns) || !Array.isArray(inputs.data)) {
      if (inputs && "tensor" in inputs) w.tensorRequests++;
      else w.unparsable++;
      return;
    }
    const cols = inputs.columns as string[];
    const data = inputs.data as unknown[][];
    const idx: (ColumnBuilder | undefined)[] = cols.map((c) => w.builders.get(c));
    cols.forEach((c, i) => {
      if (!idx[i]) w.unknownColumns.set(c, (w.unknownColumns.get(c) ?? 0) + data.length);
    });
    const absent = [...w.builders.values()].filter((b) => !cols.includes(b.name));
    for (const row of data) {
      for (let i = 0; i < cols.length; i++) idx[i]?.push(Array.isArray(row) ? row[i] : undefined);
      for (const b of absent) b.pushMissing();
    }
    w.rows += data.length;
    const preds = predictionRows(r.predictions);
    for (const p of preds) w.prediction.push(p.label);
    if (typeof r.request_id === "string") w.requests.push({ id: r.request_id, ts, preds });
  }

  private finish(w: OpenWindow): WindowResult {
    const seq = ++this.state.seq;
    const start = this.opts.window.minutes ? w.start : Number.isFinite(w.firstTs) ? w.firstTs : w.start;
    const end = this.opts.window.minutes ? w.end : Number.isFinite(w.lastTs) ? w.lastTs : w.end;
    const issues: string[] = [];
    const table = tableFromBuilders([...w.builders.values()], w.rows);
    const current = profileLike(table, this.opts.reference);
    const drift = driftReport(this.opts.reference, current, this.opts.drift);
    if (w.unknownColumns.size) issues.push(`requests carried column(s) the reference does not have: ${[...w.unknownColumns.keys()].join(", ")}`);
    if (w.tensorRequests) issues.push(`${w.tensorRequests} tensor request(s) have no columns and were left out of the drift tests`);
    if (w.unparsable) issues.push(`${w.unparsable} request(s) had inputs that could not be read`);

    // prediction drift: against the reference's prediction column, or the first window's predictions
    let predictionDrift: ColumnDrift | null = null;
    if (w.prediction.length > 0) {
      const kind = this.predictionReference?.kind ?? (w.prediction.textRows > w.prediction.numericRows || !w.prediction.fractional ? "categorical" : "numerical");
      const cur = profileColumn(w.prediction, kind);
      if (!this.predictionReference) {
        this.predictionReference = cur;
        issues.push("prediction drift: the reference has no prediction column, so this window's predictions became the prediction reference");
      } else {
        predictionDrift = columnDrift("prediction", this.predictionReference, cur, this.predictionReference.count, w.prediction.length, this.opts.drift);
      }
    }

    const performance = performanceReport(this.join(w.requests), this.opts.task);
    this.recent.push({ seq, start, end, requests: w.requests });
    if (this.recent.length > RECENT_WINDOWS) this.recent.shift();

    const versions: Record<string, VersionOps> = {};
    let requests = 0;
    let errors = 0;
    for (const [v, n] of w.requestCount) {
      const e = w.errors.get(v) ?? 0;
      const lat = (w.latencies.get(v) ?? []).sort((a, b) => a - b);
      versions[v] = { requests: n, errors: e, error_rate: n ? e / n : 0, latency_p50_ms: percentile(lat, 0.5), latency_p95_ms: percentile(lat, 0.95), latency_p99_ms: percentile(lat, 0.99) };
      requests += n;
      errors += e;
    }
    const spanS = Math.max((end - start) / 1000, this.opts.window.minutes ? this.opts.window.minutes * 60 : 1);
    const operations = { request_rate_per_s: requests / spanS, error_rate: requests ? errors / requests : 0, versions };

    const values: Record<string, number> = {
      rows: w.rows,
      requests,
      request_rate: operations.request_rate_per_s,
      error_rate: operations.error_rate,
      drift_share: drift.share_of_drifted_columns,
      dataset_drift: drift.dataset_drift ? 1 : 0,
      drifted_columns: drift.number_of_drifted_columns,
    };
    for (const c of drift.columns) {
      if (c.drift_score !== null) values[metricKey(`drift_score.${c.column}`)] = c.drift_score;
      if (c.tested) values[metricKey(`drift_detected.${c.column}`)] = c.drift_detected ? 1 : 0;
      values[metricKey(`missing_share.${c.column}`)] = c.current.missing_share;
    }
    if (predictionDrift?.drift_score != null) {
      values.prediction_drift_score = predictionDrift.drift_score;
      values.prediction_drift = predictionDrift.drift_detected ? 1 : 0;
    }
    Object.assign(values, performanceValues(performance));
    const all = Object.values(versions);
    const allLat = [...w.latencies.values()].flat().sort((a, b) => a - b);
    if (all.length) {
      values.latency_p50_ms = percentile(allLat, 0.5)!;
      values.latency_p99_ms = percentile(allLat, 0.99)!;
    }

    const alerts = this.alerts.evaluate(values, { seq, start_ms: start, end_ms: end }, this.opts.model);
    for (const a of alerts) fs.appendFileSync(this.eventsFile, JSON.stringify(a) + "\n");
    const result: WindowResult = { seq, start_ms: start, end_ms: end, rows: w.rows, requests, drift, prediction_drift: predictionDrift, performance, operations, values, alerts, issues };
    this.history.push(result);
    if (this.history.length > 100) this.history.shift();
    this.state.firing = [...this.alerts.firing];
    this.state.prediction_reference = savePredictionReference(this.predictionReference);
    if (w.lastPosition) this.savePosition(w.lastPosition);
    else this.saveState();
    return result;
  }

  private savePosition(p: Position): void {
    this.state.position = p;
    this.saveState();
  }

  private saveState(): void {
    const tmp = `${this.stateFile}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.state));
    fs.renameSync(tmp, this.stateFile);
  }

  /** The alert events recorded so far (all runs of this monitor). */
  events(): AlertEvent[] {
    if (!fs.existsSync(this.eventsFile)) return [];
    return fs
      .readFileSync(this.eventsFile, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AlertEvent);
  }
}

const RECENT_WINDOWS = 20;

function performanceValues(p: PerformanceReport): Record<string, number> {
  const values: Record<string, number> = { labelled_rows: p.labelled_rows, ...p.metrics };
  if (p.label_delay_median_s !== null) values.label_delay_s = p.label_delay_median_s;
  return values;
}

function savePredictionReference(p: ColumnProfile | null): MonitorState["prediction_reference"] {
  if (!p) return null;
  if (p.kind === "categorical") return { kind: p.kind, values: [...p.categories.keys()], counts: [...p.categories.values()] };
  return { kind: p.kind, values: [...p.dist.values], counts: [...p.dist.counts] };
}

function restorePredictionReference(s: MonitorState["prediction_reference"]): ColumnProfile | null {
  if (!s) return null;
  const b = new ColumnBuilder("prediction");
  s.values.forEach((v, i) => {
    for (let k = 0; k < s.counts[i]!; k++) b.push(v);
  });
  return profileColumn(b, s.kind);
}

/**
 * The input rows (and, as column `prediction`, the predicted labels) of the
 * answered requests a prediction log folder holds in `[since, until)`: a
 * reference taken from the log itself, e.g. the first week after a release.
 */
export async function tableFromPredictionLog(dir: string, range: { since?: number | undefined; until?: number | undefined } = {}): Promise<Table> {
  const { readSegmentLog } = await import("../serving/index.js");
  const builders = new Map<string, ColumnBuilder>();
  const prediction = new ColumnBuilder("prediction");
  let rows = 0;
  for (const r of readSegmentLog(dir, "predictions")) {
    const ts = Number(r.timestamp_ms);
    if (r.status !== 200 || r.role === "shadow") continue;
    if ((range.since !== undefined && ts < range.since) || (range.until !== undefined && ts >= range.until)) continue;
    const inputs = r.inputs as { columns?: unknown; data?: unknown } | null;
    if (!inputs || !Array.isArray(inputs.columns) || !Array.isArray(inputs.data)) continue;
    const cols = inputs.columns as string[];
    for (const c of cols) {
      if (!builders.has(c)) {
        const b = new ColumnBuilder(c);
        for (let i = 0; i < rows; i++) b.pushMissing();
        builders.set(c, b);
      }
    }
    const idx = cols.map((c) => builders.get(c)!);
    const absent = [...builders.values()].filter((b) => !idx.includes(b));
    for (const row of inputs.data as unknown[][]) {
      idx.forEach((b, i) => b.push(Array.isArray(row) ? row[i] : undefined));
      for (const b of absent) b.pushMissing();
    }
    const preds = predictionRows(r.predictions);
    for (let i = 0; i < (inputs.data as unknown[]).length; i++) prediction.push(preds[i]?.label ?? null);
    rows += (inputs.data as unknown[]).length;
  }
  return tableFromBuilders(rows ? [...builders.values(), prediction] : [...builders.values()], rows);
}
