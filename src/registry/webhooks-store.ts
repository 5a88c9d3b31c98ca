import { notFound } from "../errors.js";
import type { SqlDriver, SqlExecutor } from "../store/index.js";
import { opt } from "./sql.js";
import type { Webhook, WebhookEventName } from "../wire/index.js";

interface WebhookRow {
  webhook_id: string;
  name: string;
  description: string | null;
  url: string;
  events: string;
  secret: string | null;
  status: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
}

export interface WebhookWithSecret extends Webhook {
  secret?: string;
}

/** One pending (or finished) send of one event to one webhook. */
export interface DeliveryRow {
  delivery_seq: number;
  delivery_id: string;
  webhook_id: string;
  order_key: string;
  payload: string;
  state: string;
  attempts: number;
  next_attempt_at: number;
  /** The replica sending it now, until `lease_expires_at`; null when nobody is. */
  lease_owner: string | null;
  lease_expires_at: number | null;
}

export interface NewDelivery {
  delivery_id: string;
  webhook_id: string;
  /** Deliveries with the same webhook and order key are sent one after another (the registered model's name). */
  order_key: string;
  payload: string;
}

function toWebhook(r: WebhookRow): WebhookWithSecret {
  return {
    webhook_id: r.webhook_id,
    name: r.name,
    description: opt(r.description),
    url: r.url,
    events: JSON.parse(r.events) as WebhookEventName[],
    status: r.status as Webhook["status"],
    creation_timestamp: Number(r.creation_timestamp),
    last_updated_timestamp: Number(r.last_updated_timestamp),
    secret: opt(r.secret),
  };
}

/** The SQL of webhooks and their delivery outbox (`webhooks`, `webhook_deliveries`). */
export class WebhookStore {
  constructor(readonly db: SqlDriver) {}

  async create(w: WebhookWithSecret): Promise<void> {
    await this.db.run(
      "INSERT INTO webhooks (webhook_id, name, description, url, events, secret, status, creation_timestamp, last_updated_timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      [w.webhook_id, w.name, w.description ?? null, w.url, JSON.stringify(w.events), w.secret ?? null, w.status, w.creation_timestamp, w.last_updated_timestamp],
    );
  }

  /** The webhook; RESOURCE_DOES_NOT_EXIST when there is none. */
  async get(id: string): Promise<WebhookWithSecret> {
    const row = await this.db.get<WebhookRow>("SELECT * FROM webhooks WHERE webhook_id = ?", [id]);
    if (!row) throw notFound(`Webhook with ID ${id} not found.`);
    return toWebhook(row);
  }

  /** Newest first. */
  async list(limit: number, offset: number): Promise<WebhookWithSecret[]> {
    const rows = await this.db.all<WebhookRow>("SELECT * FROM webhooks ORDER BY creation_timestamp DESC, webhook_id LIMIT ? OFFSET ?", [limit, offset]);
    return rows.map(toWebhook);
  }

  async active(ex: SqlExecutor = this.db): Promise<WebhookWithSecret[]> {
    const rows = await ex.all<WebhookRow>("SELECT * FROM webhooks WHERE status = 'ACTIVE'");
    return rows.map(toWebhook);
  }

  async update(w: WebhookWithSecret): Promise<void> {
    await this.db.run(
      "UPDATE webhooks SET name = ?, description = ?, url = ?, events = ?, secret = ?, status = ?, last_updated_timestamp = ? WHERE webhook_id = ?",
      [w.name, w.description ?? null, w.url, JSON.stringify(w.events), w.secret ?? null, w.status, w.last_updated_timestamp, w.webhook_id],
    );
  }

  /** Deletes the webhook with its deliveries, sent or not. */
  async delete(id: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run("DELETE FROM webhook_deliveries WHERE webhook_id = ?", [id]);
      const r = await tx.run("DELETE FROM webhooks WHERE webhook_id = ?", [id]);
      if (r.changes === 0) throw notFound(`Webhook with ID ${id} not found.`);
    });
  }

  // ---- the delivery outbox --------------------------------------------------

  /**
   * Adds pending deliveries, due now, through `tx`: the registry change's own
   * transaction, so the change and its events commit (or vanish) together.
   */
  async enqueue(tx: SqlExecutor, rows: NewDelivery[], now: number): Promise<void> {
    if (rows.length === 0) return;
    await tx.runMany(
      "INSERT INTO webhook_deliveries (delivery_id, webhook_id, order_key, payload, state, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)",
      rows.map((r) => [r.delivery_id, r.webhook_id, r.order_key, r.payload, now, now]),
    );
  }

  /** The head of every (webhook, model) queue: later events wait for earlier ones. */
  async queueHeads(): Promise<DeliveryRow[]> {
    return this.db.all<DeliveryRow>(
      `SELECT d.* FROM webhook_deliveries d WHERE d.state = 'pending' AND d.delivery_seq = (
         SELECT MIN(x.delivery_seq) FROM webhook_deliveries x WHERE x.state = 'pending' AND x.webhook_id = d.webhook_id AND x.order_key = d.order_key
       ) ORDER BY d.delivery_seq`,
    );
  }

  /**
   * Takes the lease of a pending delivery for `owner` until `now + leaseMs`, when
   * nobody holds it or its holder's lease ran out. One statement, so of two
   * replicas claiming at once exactly one gets it (true).
   */
  async claim(seq: number, owner: string, now: number, leaseMs: number): Promise<boolean> {
    const r = await this.db.run(
      "UPDATE webhook_deliveries SET lease_owner = ?, lease_expires_at = ? WHERE delivery_seq = ? AND state = 'pending' AND next_attempt_at <= ? AND (lease_owner IS NULL OR lease_expires_at < ?)",
      [owner, now + leaseMs, seq, now, now],
    );
    return r.changes === 1;
  }

  /** Records the outcome and releases the lease; false when `owner` no longer held it (it expired and another replica took over). */
  async finishDelivery(seq: number, owner: string, state: "delivered" | "failed", attempts: number, error: string | null): Promise<boolean> {
    const r = await this.db.run(
      "UPDATE webhook_deliveries SET state = ?, attempts = ?, last_error = ?, lease_owner = NULL, lease_expires_at = NULL WHERE delivery_seq = ? AND lease_owner = ?",
      [state, attempts, error, seq, owner],
    );
    return r.changes === 1;
  }

  async retryDelivery(seq: number, owner: string, attempts: number, nextAttemptAt: number, error: string): Promise<boolean> {
    const r = await this.db.run(
      "UPDATE webhook_deliveries SET attempts = ?, next_attempt_at = ?, last_error = ?, lease_owner = NULL, lease_expires_at = NULL WHERE delivery_seq = ? AND lease_owner = ?",
      [attempts, nextAttemptAt, error, seq, owner],
    );
    return r.changes === 1;
  }
}
