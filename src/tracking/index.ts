import type { SqlDriver } from "../store/index.js";
import { ExperimentService } from "./experiments.js";
import { RunStore } from "./run-store.js";
import { RunService } from "./runs.js";
import { experimentCompiler } from "./search-tables.js";
import { TrackingStore } from "./store.js";
import { TraceService } from "./traces/service.js";
import { TraceStore } from "./traces/store.js";

/** The tracking domain's services, as the HTTP layer and other domains use them. */
export interface TrackingServices {
  experiments: ExperimentService;
  runs: RunService;
  traces: TraceService;
}

export { joinUri, ExperimentService } from "./experiments.js";
export { RunService, RUN_NAME_TAG, parseRunStatus, type RunLocation } from "./runs.js";
export { parseViewType } from "./experiments.js";
export { validateBatchSize } from "./validation.js";
export { RunStore, INPUT_LINKS, toWire } from "./run-store.js";
export { TrackingStore } from "./store.js";
export type { MetricPoint } from "./types.js";
export { TraceService, SEARCH_MAX_RESULTS as TRACE_SEARCH_MAX_RESULTS, SPANS_LOCATION_TAG, TRACKING_STORE, ARTIFACT_LOCATION_TAG } from "./traces/service.js";
export type { TraceInfoInput, TraceSearch } from "./traces/service.js";
export type { TraceRecord } from "./traces/store.js";
export { decodeExportRequest, encodeExportRequest, EXPORT_RESPONSE, type OtlpExportRequest, type OtlpSpan } from "./traces/otlp.js";
export { traceDataJson } from "./traces/spans.js";
export { traceInfoFromWire, traceInfoToWire, traceInfoToWireV2, traceToWire, keyValueList, parseState } from "./traces/wire.js";

/** Builds the tracking services on an open database. */
export async function createTrackingServices(db: SqlDriver, defaultArtifactRoot: string): Promise<TrackingServices> {
  const store = new TrackingStore(db);
  const experiments = new ExperimentService(store, defaultArtifactRoot, experimentCompiler(db.dialect));
  await experiments.init();
  const runs = new RunService(new RunStore(db), store);
  const traces = new TraceService(new TraceStore(db), experiments, (runId) => runs.locate(runId));
  return { experiments, runs, traces };
}
