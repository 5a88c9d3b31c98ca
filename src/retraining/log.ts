/**
 * Where a controller keeps its state and events: the tracking store directly
 * ({@link DeploymentStore}) or a tracking server's `/api/2.0/mloop/deployments`
 * routes ({@link HttpDeploymentLog}), for a controller in another process.
 */
import { ApiError, HttpTransport } from "../client/index.js";
import { MlflowError } from "../errors.js";
import type { AcquireLeaseResponse, DeploymentEventInfo, DeploymentInfo, GetDeploymentResponse, ListDeploymentEventsResponse } from "../wire/index.js";
import type { DeploymentState } from "./states.js";
import type { DeploymentEvent, DeploymentRecord } from "./store.js";

export interface DeploymentLog {
  apply(name: string, spec: unknown): Promise<DeploymentRecord>;
  get(name: string): Promise<DeploymentRecord>;
  transition(name: string, revision: number, to: DeploymentState, reason: string, opts?: { context?: Record<string, unknown>; data?: Record<string, unknown> }): Promise<DeploymentRecord>;
  updateContext(name: string, revision: number, context: Record<string, unknown>): Promise<DeploymentRecord>;
  events(name: string, opts?: { afterSeq?: number; limit?: number }): Promise<DeploymentEvent[]>;
  acquireLease(name: string, purpose: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, purpose: string, holder: string): Promise<void>;
}

/** True when another controller (or an operator) moved the deployment first. */
export function isMovedOn(err: unknown): boolean {
  return (err instanceof MlflowError || err instanceof ApiError) && err.errorCode === "INVALID_STATE";
}

function record(d: DeploymentInfo): DeploymentRecord {
  return { name: d.name, state: d.state, context: d.context, revision: d.revision, spec: d.spec, createdAt: d.created_at, updatedAt: d.updated_at };
}

function event(name: string, e: DeploymentEventInfo): DeploymentEvent {
  return { deployment: name, seq: e.seq, timestampMs: e.timestamp_ms, fromState: e.from_state, toState: e.to_state, reason: e.reason, data: e.data };
}

const BASE = "/api/2.0/mloop/deployments";

export class HttpDeploymentLog implements DeploymentLog {
  constructor(private readonly http: HttpTransport) {}

  async apply(name: string, spec: unknown): Promise<DeploymentRecord> {
    return record((await this.http.request<GetDeploymentResponse>("POST", `${BASE}/apply`, {}, { name, spec })).deployment);
  }

  async get(name: string): Promise<DeploymentRecord> {
    return record((await this.http.request<GetDeploymentResponse>("GET", `${BASE}/get`, { name }, undefined)).deployment);
  }

  async transition(name: string, revision: number, to: DeploymentState, reason: string, opts: { context?: Record<string, unknown>; data?: Record<string, unknown> } = {}): Promise<DeploymentRecord> {
    const body = { name, revision, to_state: to, reason, ...opts };
    return record((await this.http.request<GetDeploymentResponse>("POST", `${BASE}/transition`, {}, body)).deployment);
  }

  async updateContext(name: string, revision: number, context: Record<string, unknown>): Promise<DeploymentRecord> {
    return record((await this.http.request<GetDeploymentResponse>("POST", `${BASE}/update-context`, {}, { name, revision, context })).deployment);
  }

  async events(name: string, opts: { afterSeq?: number; limit?: number } = {}): Promise<DeploymentEvent[]> {
    const res = await this.http.request<ListDeploymentEventsResponse>("GET", `${BASE}/events/list`, { name, after_seq: opts.afterSeq, max_results: opts.limit }, undefined);
    return res.events.map((e) => event(name, e));
  }

  async acquireLease(name: string, purpose: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.http.request<AcquireLeaseResponse>("POST", `${BASE}/leases/acquire`, {}, { name, purpose, holder, ttl_ms: Math.round(ttlMs) })).acquired;
  }

  async releaseLease(name: string, purpose: string, holder: string): Promise<void> {
    await this.http.request("POST", `${BASE}/leases/release`, {}, { name, purpose, holder });
  }
}
