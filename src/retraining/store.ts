/**
 * The closed loop's SQL: deployments with their controller state, the event
 * of every transition, and leases. Every state change is a compare-and-set on
 * `revision` in one transaction with its event, so two controllers cannot
 * both move a deployment, and a restart reads back exactly where it was.
 */
import { invalidState, notFound } from "../errors.js";
import type { SqlDriver, SqlExecutor } from "../store/index.js";
import { canTransition, type DeploymentState } from "./states.js";

export interface DeploymentRecord {
  name: string;
  state: DeploymentState;
  /** What the current state is working on: trigger, run ids, versions, times. */
  context: Record<string, unknown>;
  revision: number;
  spec: unknown;
  createdAt: number;
  updatedAt: number;
}

export interface DeploymentEvent {
  deployment: string;
  seq: number;
  timestampMs: number;
  fromState: DeploymentState | null;
  toState: DeploymentState;
  reason: string;
  data: Record<string, unknown>;
}

interface DeploymentRow {
  name: string;
  state: string;
  context: string;
  revision: number | string;
  spec: string;
  created_at: number | string;
  updated_at: number | string;
}

interface EventRow {
  deployment: string;
  seq: number | string;
  timestamp_ms: number | string;
  from_state: string | null;
  to_state: string;
  reason: string;
  data: string;
}

function toRecord(r: DeploymentRow): DeploymentRecord {
  return {
    name: r.name,
    state: r.state as DeploymentState,
    context: JSON.parse(r.context) as Record<string, unknown>,
    revision: Number(r.revision),
    spec: JSON.parse(r.spec),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

function toEvent(r: EventRow): DeploymentEvent {
  return {
    deployment: r.deployment,
    seq: Number(r.seq),
    timestampMs: Number(r.timestamp_ms),
    fromState: r.from_state as DeploymentState | null,
    toState: r.to_state as DeploymentState,
    reason: r.reason,
    data: JSON.parse(r.data) as Record<string, unknown>,
  };
}

async function insertEvent(tx: SqlExecutor, e: DeploymentEvent): Promise<void> {
  await tx.run("INSERT INTO deployment_events (deployment, seq, timestamp_ms, from_state, to_state, reason, data) VALUES (?, ?, ?, ?, ?, ?, ?)", [
    e.deployment,
    e.seq,
    e.timestampMs,
    e.fromState,
    e.toState,
    e.reason,
    JSON.stringify(e.data),
  ]);
}

export class DeploymentStore {
  constructor(private readonly db: SqlDriver) {}

  /** Creates the deployment in `serving` (with an event), or stores the new spec of an existing one. */
  async apply(name: string, spec: unknown, now = Date.now()): Promise<DeploymentRecord> {
    return this.db.transaction(async (tx) => {
      const existing = await tx.get<DeploymentRow>("SELECT * FROM deployments WHERE name = ?", [name]);
      if (existing) {
        await tx.run("UPDATE deployments SET spec = ?, updated_at = ? WHERE name = ?", [JSON.stringify(spec), now, name]);
        return toRecord({ ...existing, spec: JSON.stringify(spec), updated_at: now });
      }
      await tx.run("INSERT INTO deployments (name, state, context, revision, spec, created_at, updated_at) VALUES (?, 'serving', '{}', 1, ?, ?, ?)", [
        name,
        JSON.stringify(spec),
        now,
        now,
      ]);
      await insertEvent(tx, { deployment: name, seq: 1, timestampMs: now, fromState: null, toState: "serving", reason: "deployment applied", data: {} });
      return { name, state: "serving", context: {}, revision: 1, spec, createdAt: now, updatedAt: now };
    });
  }

  async find(name: string): Promise<DeploymentRecord | undefined> {
    const row = await this.db.get<DeploymentRow>("SELECT * FROM deployments WHERE name = ?", [name]);
    return row ? toRecord(row) : undefined;
  }

  async get(name: string): Promise<DeploymentRecord> {
    const d = await this.find(name);
    if (!d) throw notFound(`Deployment '${name}' does not exist.`);
    return d;
  }

  async list(): Promise<DeploymentRecord[]> {
    return (await this.db.all<DeploymentRow>("SELECT * FROM deployments ORDER BY name")).map(toRecord);
  }

  /**
   * Moves the deployment from the state it had at `revision` to `to`, with its
   * reason; `context` replaces the state's context. Refused (INVALID_STATE)
   * when another controller moved it first or the state machine has no such edge.
   */
  async transition(
    name: string,
    revision: number,
    to: DeploymentState,
    reason: string,
    opts: { context?: Record<string, unknown>; data?: Record<string, unknown>; now?: number } = {},
  ): Promise<DeploymentRecord> {
    const now = opts.now ?? Date.now();
    return this.db.transaction(async (tx) => {
      const row = await tx.get<DeploymentRow>("SELECT * FROM deployments WHERE name = ?", [name]);
      if (!row) throw notFound(`Deployment '${name}' does not exist.`);
      const current = toRecord(row);
      if (current.revision !== revision) throw invalidState(`Deployment '${name}' moved on (revision ${current.revision}, expected ${revision}); state is ${current.state}.`);
      if (!canTransition(current.state, to)) throw invalidState(`Deployment '${name}' cannot go from ${current.state} to ${to}.`);
      const context = opts.context ?? current.context;
      const { changes } = await tx.run("UPDATE deployments SET state = ?, context = ?, revision = ?, updated_at = ? WHERE name = ? AND revision = ?", [
        to,
        JSON.stringify(context),
        revision + 1,
        now,
        name,
        revision,
      ]);
      if (changes !== 1) throw invalidState(`Deployment '${name}' moved on; state was ${current.state}.`);
      const seqRow = await tx.get<{ n: number | string | null }>("SELECT MAX(seq) AS n FROM deployment_events WHERE deployment = ?", [name]);
      await insertEvent(tx, { deployment: name, seq: Number(seqRow?.n ?? 0) + 1, timestampMs: now, fromState: current.state, toState: to, reason, data: opts.data ?? {} });
      return { ...current, state: to, context, revision: revision + 1, updatedAt: now };
    });
  }

  /** Changes the current state's context without a transition (same compare-and-set). */
  async updateContext(name: string, revision: number, context: Record<string, unknown>, now = Date.now()): Promise<DeploymentRecord> {
    const { changes } = await this.db.run("UPDATE deployments SET context = ?, revision = ?, updated_at = ? WHERE name = ? AND revision = ?", [
      JSON.stringify(context),
      revision + 1,
      now,
      name,
      revision,
    ]);
    if (changes !== 1) throw invalidState(`Deployment '${name}' moved on (expected revision ${revision}).`);
    return this.get(name);
  }

  /** Events in order; `afterSeq` pages on. */
  async events(name: string, opts: { afterSeq?: number; limit?: number } = {}): Promise<DeploymentEvent[]> {
    const rows = await this.db.all<EventRow>("SELECT * FROM deployment_events WHERE deployment = ? AND seq > ? ORDER BY seq LIMIT ?", [
      name,
      opts.afterSeq ?? 0,
      Math.min(opts.limit ?? 1000, 10_000),
    ]);
    return rows.map(toEvent);
  }

  /**
   * Takes (or renews) the lease `purpose` on a deployment for `holder` until
   * `now + ttlMs`. True when `holder` has it: nobody had it, it expired, or
   * `holder` already held it. One statement, so replicas racing on
   * PostgreSQL or SQLite cannot both win.
   */
  async acquireLease(name: string, purpose: string, holder: string, ttlMs: number, now = Date.now()): Promise<boolean> {
    await this.db.run(
      `INSERT INTO deployment_leases (deployment, purpose, holder, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (deployment, purpose) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
       WHERE deployment_leases.holder = excluded.holder OR deployment_leases.expires_at <= ?`,
      [name, purpose, holder, now + ttlMs, now],
    );
    const row = await this.db.get<{ holder: string }>("SELECT holder FROM deployment_leases WHERE deployment = ? AND purpose = ?", [name, purpose]);
    return row?.holder === holder;
  }

  async leaseHolder(name: string, purpose: string, now = Date.now()): Promise<string | undefined> {
    const row = await this.db.get<{ holder: string; expires_at: number | string }>("SELECT holder, expires_at FROM deployment_leases WHERE deployment = ? AND purpose = ?", [name, purpose]);
    return row && Number(row.expires_at) > now ? row.holder : undefined;
  }

  async releaseLease(name: string, purpose: string, holder: string): Promise<void> {
    await this.db.run("DELETE FROM deployment_leases WHERE deployment = ? AND purpose = ? AND holder = ?", [name, purpose, holder]);
  }
}
