/**
 * Monitoring, the door to `src/monitoring/`: reference profiles, drift tests
 * chosen as Evidently's data-drift preset chooses them, live performance from
 * feedback labels, the continuous monitor over `mloop serve`'s prediction log,
 * reports (JSON, HTML), alerts and Prometheus metrics. See docs/monitoring.md.
 */
export { ColumnBuilder, tableFromRecords, tableFromSplit, type Table } from "./columns.js";
export { readTable, readTableFile, readCsv, tableFromJson } from "./files.js";
export { buildProfile, profileLike, serializeProfile, parseProfile, inferKind, PROFILE_FORMAT, type Profile, type ColumnProfile, type ColumnKind, type ProfileOptions } from "./profile.js";
export { driftReport, columnDrift, defaultMethod, DRIFT_METHODS, type DriftMethod, type DriftOptions, type DriftReport, type ColumnDrift } from "./drift.js";
export { performanceReport, predictionRows, labelRows, type PerformanceReport, type TaskType } from "./performance.js";
export { Monitor, metricKey, tableFromPredictionLog, type PerformanceUpdate, type MonitorOptions, type WindowResult, type WindowSpec } from "./monitor.js";
export { batchReport, windowReport, renderHtml, type ReportDocument } from "./report.js";
export { parseAlertRule, AlertEvaluator, sendAlertWebhook, runAlertCommand, type AlertRule, type AlertEvent, type WebhookTarget } from "./alerts.js";
export { MonitorMetrics } from "./metrics.js";
export { ksTwoSample, chiSquareGof, wasserstein, jensenShannon, distOf } from "./stats.js";
export { profileFilePair } from "./parallel.js";
