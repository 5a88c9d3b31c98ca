/**
 * Prometheus metrics of a monitor (prom-client, on a registry of its own):
 * the last finished window's drift, performance and operations per model,
 * windows finished and alerts fired.
 */
import type { Counter, Gauge, Registry } from "prom-client";
import type { PerformanceUpdate, WindowResult } from "./monitor.js";

export class MonitorMetrics {
  readonly registry: Registry;
  private readonly windows: Counter<"model">;
  private readonly alerts: Counter<"model" | "rule" | "state">;
  private readonly driftShare: Gauge<"model">;
  private readonly datasetDrift: Gauge<"model">;
  private readonly featureScore: Gauge<"model" | "feature" | "method">;
  private readonly featureDrifted: Gauge<"model" | "feature">;
  private readonly predictionDrift: Gauge<"model">;
  private readonly performance: Gauge<"model" | "metric">;
  private readonly labelled: Gauge<"model">;
  private readonly rows: Gauge<"model">;
  private readonly errorRate: Gauge<"model" | "version">;
  private readonly requestRate: Gauge<"model">;
  private readonly latency: Gauge<"model" | "version" | "quantile">;

  /** Loads prom-client (only a running monitor needs it) and registers the metrics. */
  static async create(): Promise<MonitorMetrics> {
    return new MonitorMetrics(await import("prom-client"));
  }

  private constructor(prom: typeof import("prom-client")) {
    const { Counter, Gauge, Registry } = prom;
    this.registry = new Registry();
    const registers = [this.registry];
    this.windows = new Counter({ name: "mloop_monitor_windows_total", help: "Monitoring windows finished", labelNames: ["model"], registers });
    this.alerts = new Counter({ name: "mloop_monitor_alerts_total", help: "Alert events by rule and state (fired, resolved)", labelNames: ["model", "rule", "state"], registers });
    this.driftShare = new Gauge({ name: "mloop_monitor_drift_share", help: "Share of drifted columns in the last window", labelNames: ["model"], registers });
    this.datasetDrift = new Gauge({ name: "mloop_monitor_dataset_drift", help: "1 when the last window drifted as a dataset", labelNames: ["model"], registers });
    this.featureScore = new Gauge({ name: "mloop_monitor_feature_drift_score", help: "Drift score (p-value or distance) per feature in the last window", labelNames: ["model", "feature", "method"], registers });
    this.featureDrifted = new Gauge({ name: "mloop_monitor_feature_drift_detected", help: "1 when the feature drifted in the last window", labelNames: ["model", "feature"], registers });
    this.predictionDrift = new Gauge({ name: "mloop_monitor_prediction_drift_score", help: "Drift score of the model's predictions in the last window", labelNames: ["model"], registers });
    this.performance = new Gauge({ name: "mloop_monitor_performance", help: "Live performance from feedback labels in the last window (accuracy, f1, rmse, …)", labelNames: ["model", "metric"], registers });
    this.labelled = new Gauge({ name: "mloop_monitor_labelled_rows", help: "Rows with a feedback label in the last window", labelNames: ["model"], registers });
    this.rows = new Gauge({ name: "mloop_monitor_window_rows", help: "Input rows in the last window", labelNames: ["model"], registers });
    this.errorRate = new Gauge({ name: "mloop_monitor_error_rate", help: "Share of failed requests per version in the last window", labelNames: ["model", "version"], registers });
    this.requestRate = new Gauge({ name: "mloop_monitor_request_rate", help: "Requests per second in the last window", labelNames: ["model"], registers });
    this.latency = new Gauge({ name: "mloop_monitor_latency_ms", help: "Request latency quantiles per version in the last window", labelNames: ["model", "version", "quantile"], registers });
  }

  /** Sets the performance gauges again when late labels re-scored the latest window. */
  observeLateLabels(model: string, u: PerformanceUpdate, latestSeq: number): void {
    if (u.seq !== latestSeq) return; // the gauges show the latest window only
    for (const [metric, v] of Object.entries(u.performance.metrics)) this.performance.set({ model, metric }, v);
    this.labelled.set({ model }, u.performance.labelled_rows);
  }

  /** Sets the gauges from a finished window. */
  observe(model: string, w: WindowResult): void {
    this.windows.inc({ model });
    for (const a of w.alerts) this.alerts.inc({ model, rule: a.rule, state: a.state });
    this.driftShare.set({ model }, w.drift.share_of_drifted_columns);
    this.datasetDrift.set({ model }, w.drift.dataset_drift ? 1 : 0);
    for (const c of w.drift.columns) {
      if (c.drift_score !== null) this.featureScore.set({ model, feature: c.column, method: c.method ?? "" }, c.drift_score);
      if (c.tested) this.featureDrifted.set({ model, feature: c.column }, c.drift_detected ? 1 : 0);
    }
    if (w.prediction_drift?.drift_score != null) this.predictionDrift.set({ model }, w.prediction_drift.drift_score);
    for (const [metric, v] of Object.entries(w.performance.metrics)) this.performance.set({ model, metric }, v);
    this.labelled.set({ model }, w.performance.labelled_rows);
    this.rows.set({ model }, w.rows);
    this.requestRate.set({ model }, w.operations.request_rate_per_s);
    for (const [version, o] of Object.entries(w.operations.versions)) {
      this.errorRate.set({ model, version }, o.error_rate);
      for (const [q, v] of [["0.5", o.latency_p50_ms], ["0.95", o.latency_p95_ms], ["0.99", o.latency_p99_ms]] as const) if (v !== null) this.latency.set({ model, version, quantile: q }, v);
    }
  }
}
