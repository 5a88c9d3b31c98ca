/**
 * The REST messages, defined once: MLflow's `service.proto` and
 * `model_registry.proto` shapes (and mloop serve's) that the server sends, the
 * SDK in `client/` reads and the web UI imports (type-only).
 */
export type * from "./common.js";
export * from "./tracking.js";
export * from "./registry.js";
export type * from "./artifacts.js";
export type * from "./serving.js";
export type * from "./traces.js";
export type * from "./retraining.js";
