/** The HTTP layer's door: the app builder the CLI starts, and the in-process server `mloop run` records into. */
export { buildApp, type AppOptions } from "./app.js";
export { startEmbeddedServer } from "./embedded.js";
export { buildServingApp, type ServingDeps } from "./serving.js";
export { buildMonitorApp, registerMonitoring, type MonitorAppDeps } from "./monitoring.js";
