/**
 * The closed loop, the door to `src/retraining/`: deployment specs, the
 * controller's state machine and its store (events, leases), the evaluation
 * gate and the rollout. See docs/retraining.md.
 */
export { parseDeploymentSpec, readDeploymentSpec, SpecError, type DeploymentSpec, type GateSpec, type GuardSpec, type MetricDirection } from "./spec.js";
export { DEPLOYMENT_STATES, canTransition, isDeploymentState, type DeploymentState } from "./states.js";
export { DeploymentStore, type DeploymentRecord, type DeploymentEvent } from "./store.js";
export { decideGate, gateTags, type GateCheck, type GateVerdict } from "./gate.js";
export { HttpDeploymentLog, isMovedOn, type DeploymentLog } from "./log.js";
export { Controller, resolveDataVersion, rollbackDeployment, requestRetraining, type DataVersion, type ControllerOptions, type WindowSignal } from "./controller.js";
export { liveStats, exportLabelledRows, type LiveStats } from "./live.js";
