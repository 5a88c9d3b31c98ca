/**
 * The controller's state machine. Every edge is an event with its reason;
 * `promoted`, `refused` and `rolled_back` return to `serving` once recorded.
 */
export const DEPLOYMENT_STATES = ["serving", "drift_detected", "retraining", "evaluating", "canary", "promoted", "refused", "rolled_back"] as const;
export type DeploymentState = (typeof DEPLOYMENT_STATES)[number];

const EDGES: Record<DeploymentState, readonly DeploymentState[]> = {
  serving: ["drift_detected", "rolled_back"],
  drift_detected: ["retraining", "refused"],
  retraining: ["evaluating", "refused"],
  evaluating: ["canary", "promoted", "refused"],
  canary: ["promoted", "rolled_back"],
  promoted: ["serving", "rolled_back"],
  refused: ["serving"],
  rolled_back: ["serving"],
};

export function canTransition(from: DeploymentState, to: DeploymentState): boolean {
  return EDGES[from].includes(to);
}

export function isDeploymentState(s: string): s is DeploymentState {
  return (DEPLOYMENT_STATES as readonly string[]).includes(s);
}
