/** The closed loop's messages (`/api/2.0/mloop/deployments/...`), in the same snake_case as MLflow's. */

export type DeploymentStateName = "serving" | "drift_detected" | "retraining" | "evaluating" | "canary" | "promoted" | "refused" | "rolled_back";

export interface DeploymentInfo {
  name: string;
  state: DeploymentStateName;
  /** What the current state works on: trigger, run ids, versions, times. */
  context: Record<string, unknown>;
  revision: number;
  spec: unknown;
  created_at: number;
  updated_at: number;
  /** The versions serving now with their traffic shares: the champion, and during a canary (or shadow) the challenger. */
  served: ServedVersionInfo[];
}

export interface ServedVersionInfo {
  role: "champion" | "challenger";
  alias: string;
  /** The version the alias points at (null when the alias is not set yet). */
  version: string | null;
  /** The share of requests this version answers, 0–1 (a shadow challenger answers none: `shadow_share` of requests are mirrored to it). */
  share: number;
  mode: "serving" | "canary" | "shadow";
  shadow_share?: number;
}

export interface DeploymentEventInfo {
  seq: number;
  timestamp_ms: number;
  from_state: DeploymentStateName | null;
  to_state: DeploymentStateName;
  reason: string;
  /** The ids the decision links: monitoring window, runs, versions, aliases, numbers. */
  data: Record<string, unknown>;
}

export interface GetDeploymentResponse {
  deployment: DeploymentInfo;
}

export interface ListDeploymentsResponse {
  deployments: DeploymentInfo[];
}

export interface ListDeploymentEventsResponse {
  events: DeploymentEventInfo[];
}

export interface AcquireLeaseResponse {
  acquired: boolean;
  holder: string | null;
}
