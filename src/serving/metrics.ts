/**
 * Prometheus metrics of a serving process (prom-client, on a registry of its
 * own): requests, errors and latency per model version and role, the
 * prediction log's lag and drops, Python worker restarts.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { PyfuncStats } from "./pyfunc.js";
import type { SegmentLogStats } from "./segment-log.js";

export class ServingMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<"model" | "version" | "role" | "status">;
  readonly latency: Histogram<"model" | "version" | "role">;

  constructor(sources: { predictionLog: () => SegmentLogStats; feedbackLog: () => SegmentLogStats; workerRestarts: () => number; pyfunc: () => PyfuncStats }) {
    const registers = [this.registry];
    this.requests = new Counter({ name: "mloop_serving_requests_total", help: "Scoring requests by model version, role and HTTP status", labelNames: ["model", "version", "role", "status"], registers });
    this.latency = new Histogram({
      name: "mloop_serving_request_duration_seconds",
      help: "Time from a parsed request to its prediction, by model version and role",
      labelNames: ["model", "version", "role"],
      buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
    new Gauge({
      name: "mloop_prediction_log_lag_seconds",
      help: "Age of the oldest prediction not yet written to the log",
      registers,
      collect() {
        this.set(sources.predictionLog().lagSeconds);
      },
    });
    new Gauge({
      name: "mloop_prediction_log_pending",
      help: "Predictions waiting to be written to the log",
      registers,
      collect() {
        this.set(sources.predictionLog().pendingLines);
      },
    });
    new Gauge({
      name: "mloop_prediction_log_written_total",
      help: "Predictions written to the log",
      registers,
      collect() {
        this.set(sources.predictionLog().written);
      },
    });
    new Gauge({
      name: "mloop_prediction_log_dropped_total",
      help: "Predictions the log dropped under overload (back-pressure timed out, or the drop policy)",
      registers,
      collect() {
        this.set(sources.predictionLog().dropped);
      },
    });
    new Gauge({
      name: "mloop_feedback_written_total",
      help: "Feedback labels written",
      registers,
      collect() {
        this.set(sources.feedbackLog().written);
      },
    });
    new Gauge({
      name: "mloop_pyfunc_worker_restarts_total",
      help: "Python workers restarted after they died",
      registers,
      collect() {
        this.set(sources.workerRestarts());
      },
    });
    new Gauge({
      name: "mloop_pyfunc_requests_total",
      help: "Requests the Python workers scored, by path: fast (float64 rows, batched) or mlflow (MLflow's own invocations)",
      labelNames: ["path"],
      registers,
      collect() {
        const s = sources.pyfunc();
        this.set({ path: "fast" }, s.fast);
        this.set({ path: "mlflow" }, s.mlflow);
      },
    });
    new Gauge({
      name: "mloop_pyfunc_batches_total",
      help: "Fast-path predict calls of the Python workers",
      registers,
      collect() {
        this.set(sources.pyfunc().batches);
      },
    });
    new Gauge({
      name: "mloop_pyfunc_largest_batch",
      help: "Most requests one fast-path predict call held",
      registers,
      collect() {
        this.set(sources.pyfunc().largestBatch);
      },
    });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
