/**
 * mloop's typed TypeScript SDK: the one door to `src/client/`.
 *
 * @example
 * ```ts
 * import { MloopClient } from "mloop/dist/client/index.js";
 * const client = new MloopClient({ trackingUri: "http://127.0.0.1:5000" });
 * await client.withRun({ experimentName: "demo" }, async (run) => {
 *   run.logMetric("loss", 0.1);
 * });
 * ```
 */
export { MloopClient, DEFAULT_TRACKING_URI } from "./client.js";
export type { ClientOptions, CreateRunOptions, LogBatchInput, SearchExperimentsOptions, SearchRunsOptions, StartRunOptions } from "./client.js";
export { ActiveRun, type ActiveRunOptions } from "./active-run.js";
export { ApiError, HttpTransport, type TransportOptions } from "./http.js";
export { BATCH_LIMITS, splitBatch, type MetricInput } from "./batch.js";
export type { TransferOptions } from "./artifacts.js";
export type * from "./types.js";
export { RegistryClient, type RegistryClientOptions, type RegistrySearchOptions, type RegistryPage, type RegisteredModel, type ModelVersion, type Stage, type LoggedModel } from "./registry.js";
export { ServingClient, type ServingClientOptions, type PredictInput, type PredictOptions, type PredictResult, type Feedback, type ServingStatusReply } from "./serving.js";
