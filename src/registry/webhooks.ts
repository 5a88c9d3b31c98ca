import crypto from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { invalidParameter } from "../errors.js";
import { decodePageToken, encodePageToken } from "../paging.js";
import type { SqlExecutor } from "../store/index.js";
import { checkWebhookUrl, resolveTarget, SsrfError, type TargetPolicy } from "./ssrf.js";
import type { DeliveryRow, WebhookStore, WebhookWithSecret } from "./webhooks-store.js";
import type { Webhook, WebhookEventName, WebhookTestResult as TestResult } from "../wire/index.js";

/** The registry events MLflow 3 defines, as `entity.action`. */
export const WEBHOOK_EVENTS = [
  "registered_model.created",
  "model_version.created",
  "model_version_tag.set",
  "model_version_tag.deleted",
  "model_version_alias.created",
  "model_version_alias.deleted",
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export const SIGNATURE_HEADER = "X-MLflow-Signature";
export const TIMESTAMP_HEADER = "X-MLflow-Timestamp";
export const DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id";

const EXAMPLES: Record<WebhookEvent, Record<string, unknown>> = {
  "registered_model.created": { name: "example_model", tags: { example_key: "example_value" }, description: "An example registered model" },
  "model_version.created": { name: "example_model", version: "1", source: "models:/123", run_id: "abcd1234abcd5678", tags: { example_key: "example_value" }, description: "An example model version" },
  "model_version_tag.set": { name: "example_model", version: "1", key: "example_key", value: "example_value" },
  "model_version_tag.deleted": { name: "example_model", version: "1", key: "example_key" },
  "model_version_alias.created": { name: "example_model", alias: "example_alias", version: "1" },
  "model_version_alias.deleted": { name: "example_model", alias: "example_alias" },
};

/** Signature over `<delivery id>.<timestamp>.<body>`, as MLflow signs webhooks: `v1,<base64 HMAC-SHA256>`. */
export function signPayload(secret: string, deliveryId: string, timestamp: string, body: string): string {
  const mac = crypto.createHmac("sha256", secret).update(`${deliveryId}.${timestamp}.${body}`, "utf8").digest("base64");
  return `v1,${mac}`;
}

function eventKey(e: WebhookEventName): string {
  return `${e.entity.toLowerCase()}.${e.action.toLowerCase()}`;
}

/** Reads `events` as the REST API sends them: `[{entity: "MODEL_VERSION", action: "CREATED"}]` (names in any case) or `"model_version.created"` strings. */
export function parseEvents(raw: unknown): WebhookEventName[] {
  if (!Array.isArray(raw) || raw.length === 0) throw invalidParameter("Webhook events must be a non-empty list of {entity, action}");
  const out: WebhookEventName[] = [];
  for (const item of raw) {
    let entity: unknown;
    let action: unknown;
    if (typeof item === "string") [entity, action] = item.split(".");
    else if (item && typeof item === "object") ({ entity, action } = item as { entity?: unknown; action?: unknown });
    if (typeof entity !== "string" || typeof action !== "string") throw invalidParameter(`Invalid webhook event ${JSON.stringify(item)}`);
    const key = `${entity.toLowerCase()}.${action.toLowerCase()}`;
    if (!(WEBHOOK_EVENTS as readonly string[]).includes(key)) {
      throw invalidParameter(`Invalid webhook event '${key}'. Supported events: ${WEBHOOK_EVENTS.join(", ")}`);
    }
    const e = { entity: entity.toUpperCase(), action: action.toUpperCase() };
    if (!out.some((o) => eventKey(o) === key)) out.push(e);
  }
  return out;
}

function parseStatus(raw: unknown): "ACTIVE" | "DISABLED" | undefined {
  if (raw === undefined || raw === null || raw === "") return undefined;
  const s = String(raw).toUpperCase();
  if (s === "ACTIVE" || s === "1" || s === "0") return "ACTIVE";
  if (s === "DISABLED" || s === "2") return "DISABLED";
  throw invalidParameter(`Invalid webhook status '${String(raw)}': use ACTIVE or DISABLED`);
}

function validateName(name: unknown): string {
  if (typeof name !== "string" || !name.trim()) throw invalidParameter("Webhook name must be a non-empty string");
  if (name.length > 256) throw invalidParameter("Webhook name must be at most 256 characters");
  if (!/^[A-Za-z0-9][A-Za-z0-9._ -]*$/.test(name)) throw invalidParameter(`Invalid webhook name '${name}': use letters, digits, '.', '_', '-' and spaces`);
  return name;
}

export interface DispatcherOptions {
  /** First retry delay; later ones double (default 1000 ms). */
  backoffBaseMs?: number;
  /** Longest retry delay (default 60 s). */
  backoffMaxMs?: number;
  /** Attempts before a delivery is given up (default 6). */
  maxAttempts?: number;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  /**
   * How long a replica holds a delivery it is sending (default: the timeout plus 20 s; a shorter
   * lease shortens the timeout to 80% of it). Another replica takes a delivery over only after its lease ran out.
   */
  leaseMs?: number;
  /** How often the outbox is checked for events other replicas wrote or left behind (default 2 s; 0: never). */
  pollIntervalMs?: number;
}

/**
 * Webhook CRUD and delivery. Events go to an outbox table in the database, in
 * the transaction of the registry change they describe (so a crash cannot keep
 * one without the other), and are sent one at a time per webhook and
 * registered model, in the order they happened; a failed send is retried with
 * exponential backoff, and later events for that model wait for it. Several
 * replicas may share the outbox: each leases a delivery before sending it, so
 * one replica sends it; a replica that died loses its leases when they expire.
 */
export class WebhookService {
  private timer: NodeJS.Timeout | undefined;
  private poller: NodeJS.Timeout | undefined;
  /** This replica, as a lease owner. */
  private readonly owner = crypto.randomUUID();
  private running = false;
  private rerun = false;
  private closed = false;
  private readonly opts: Required<DispatcherOptions>;
  private idleWaiters: (() => void)[] = [];
  /** Deliveries this replica is sending now, by sequence number. */
  private readonly inFlight = new Set<number>();

  constructor(
    private readonly store: WebhookStore,
    private readonly policy: TargetPolicy,
    opts: DispatcherOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    this.opts = { backoffBaseMs: 1000, backoffMaxMs: 60_000, maxAttempts: 6, timeoutMs, leaseMs: timeoutMs + 20_000, pollIntervalMs: 2000, ...opts };
    // A send never outlives its lease, so another replica takes a delivery over only from a replica that is gone.
    this.opts.timeoutMs = Math.max(1, Math.min(this.opts.timeoutMs, Math.floor(this.opts.leaseMs * 0.8)));
  }

  private public(w: WebhookWithSecret): Webhook {
    const { secret: _secret, ...rest } = w;
    return rest;
  }

  private async checkUrl(raw: unknown): Promise<string> {
    if (typeof raw !== "string" || !raw) throw invalidParameter("Webhook url must be a non-empty string");
    try {
      const url = checkWebhookUrl(raw);
      await resolveTarget(url, this.policy);
    } catch (err) {
      if (err instanceof SsrfError) throw invalidParameter(err.message);
      throw err;
    }
    return raw;
  }

  async create(inp: { name?: unknown; url?: unknown; events?: unknown; description?: unknown; secret?: unknown; status?: unknown }): Promise<Webhook> {
    const name = validateName(inp.name);
    const url = await this.checkUrl(inp.url);
    const events = parseEvents(inp.events);
    const ts = this.now();
    const w: WebhookWithSecret = {
      webhook_id: crypto.randomUUID().replace(/-/g, ""),
      name,
      description: typeof inp.description === "string" && inp.description ? inp.description : undefined,
      url,
      events,
      status: parseStatus(inp.status) ?? "ACTIVE",
      creation_timestamp: ts,
      last_updated_timestamp: ts,
      secret: typeof inp.secret === "string" && inp.secret ? inp.secret : undefined,
    };
    await this.store.create(w);
    return this.public(w);
  }

  async get(id: string): Promise<Webhook> {
    return this.public(await this.store.get(id));
  }

  async list(maxResults: number | undefined, pageToken: string | undefined): Promise<{ webhooks: Webhook[]; nextPageToken?: string }> {
    const limit = maxResults ?? 100;
    if (limit < 1 || limit > 1000) throw invalidParameter(`Invalid value ${limit} for parameter 'max_results': must be between 1 and 1000`);
    const state = decodePageToken(pageToken);
    const offset = typeof state?.offset === "number" && state.offset >= 0 ? state.offset : 0;
    const rows = await this.store.list(limit + 1, offset);
    return {
      webhooks: rows.slice(0, limit).map((w) => this.public(w)),
      nextPageToken: rows.length > limit ? encodePageToken({ offset: offset + limit }) : undefined,
    };
  }

  async update(id: string, inp: { name?: unknown; url?: unknown; events?: unknown; description?: unknown; secret?: unknown; status?: unknown }): Promise<Webhook> {
    const w = await this.store.get(id);
    if (inp.name !== undefined && inp.name !== null && inp.name !== "") w.name = validateName(inp.name);
    if (inp.url !== undefined && inp.url !== null && inp.url !== "") w.url = await this.checkUrl(inp.url);
    if (Array.isArray(inp.events) && inp.events.length) w.events = parseEvents(inp.events);
    if (typeof inp.description === "string") w.description = inp.description || undefined;
    if (typeof inp.secret === "string") w.secret = inp.secret || undefined;
    w.status = parseStatus(inp.status) ?? w.status;
    w.last_updated_timestamp = this.now();
    await this.store.update(w);
    return this.public(w);
  }

  async delete(id: string): Promise<void> {
    await this.store.delete(id);
  }

  /** Sends one example event now and reports what the receiver answered. */
  async test(id: string, rawEvent: unknown): Promise<TestResult> {
    const w = await this.store.get(id);
    const event = rawEvent && typeof rawEvent === "object" && Object.keys(rawEvent).length ? parseEvents([rawEvent])[0]! : w.events[0]!;
    const key = eventKey(event) as WebhookEvent;
    const body = this.envelope(key, EXAMPLES[key]);
    const res = await this.send(w, crypto.randomUUID(), body);
    return res;
  }

  private envelope(event: WebhookEvent, data: Record<string, unknown>): string {
    const [entity, action] = event.split(".");
    return JSON.stringify({ entity, action, timestamp: new Date(this.now()).toISOString(), data });
  }

  /**
   * Writes an event to the outbox for every active webhook subscribed to it,
   * through `tx`, the transaction of the registry change itself. Call
   * {@link committed} once that transaction has committed.
   */
  async record(tx: SqlExecutor, event: WebhookEvent, modelName: string, data: Record<string, unknown>): Promise<void> {
    const hooks = (await this.store.active(tx)).filter((w) => w.events.some((e) => eventKey(e) === event));
    if (hooks.length === 0) return;
    const body = this.envelope(event, data);
    await this.store.enqueue(
      tx,
      hooks.map((w) => ({ delivery_id: crypto.randomUUID(), webhook_id: w.webhook_id, order_key: modelName, payload: body })),
      this.now(),
    );
  }

  /** Wakes the sender after a transaction that recorded events has committed. */
  committed(): void {
    this.kick();
  }

  /** Starts sending whatever the outbox holds (after a restart too), and checking it for other replicas' events. */
  start(): void {
    this.closed = false;
    if (this.opts.pollIntervalMs > 0 && !this.poller) {
      this.poller = setInterval(() => this.kick(), this.opts.pollIntervalMs);
      this.poller.unref();
    }
    this.kick();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.running || this.inFlight.size > 0) await new Promise((r) => setTimeout(r, 10));
  }

  /** Resolves when nothing is due or in flight (tests and graceful shutdown). */
  whenIdle(): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private idle(): boolean {
    return !this.running && !this.timer && this.inFlight.size === 0;
  }

  private kick(): void {
    if (this.closed) return this.settle();
    if (this.running) {
      this.rerun = true;
      return;
    }
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.running = true;
    void this.pump().finally(() => {
      this.running = false;
      if (this.rerun) {
        this.rerun = false;
        this.kick();
      } else this.settle();
    });
  }

  private settle(): void {
    if (!this.idle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * One look at the outbox: leases every queue head that is due and not being
   * sent, starts sending each (a send that finishes looks again), and sets a
   * timer for the next retry or lease expiry. A slow receiver holds up only its
   * own queue.
   */
  private async pump(): Promise<void> {
    if (this.closed) return;
    let heads: DeliveryRow[];
    try {
      heads = await this.store.queueHeads();
    } catch {
      return; // the database is closing
    }
    const now = this.now();
    // A head another replica is sending is skipped until its lease runs out.
    const wakeAt = (h: DeliveryRow) => Math.max(Number(h.next_attempt_at), h.lease_owner !== null ? Number(h.lease_expires_at) + 1 : 0);
    let next = Infinity;
    for (const h of heads) {
      const seq = Number(h.delivery_seq);
      if (this.inFlight.has(seq)) continue;
      if (wakeAt(h) > now) {
        next = Math.min(next, wakeAt(h));
        continue;
      }
      let claimed: boolean;
      try {
        claimed = await this.store.claim(seq, this.owner, now, this.opts.leaseMs);
      } catch {
        return; // the database is closing
      }
      if (!claimed || this.closed) continue;
      this.inFlight.add(seq);
      void this.attempt(h).finally(() => {
        this.inFlight.delete(seq);
        this.kick();
      });
    }
    if (Number.isFinite(next) && !this.closed) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, Math.max(5, next - now));
      this.timer.unref();
    }
  }

  private async attempt(d: DeliveryRow): Promise<void> {
    let hook: WebhookWithSecret;
    try {
      hook = await this.store.get(d.webhook_id);
    } catch {
      return; // deleted meanwhile (its deliveries went with it), or the database is closing (the lease expires)
    }
    const attempts = Number(d.attempts) + 1;
    const result = hook.status === "ACTIVE" ? await this.send(hook, d.delivery_id, d.payload) : { success: false, error_message: "webhook disabled" };
    try {
      if (result.success) {
        await this.store.finishDelivery(d.delivery_seq, this.owner, "delivered", attempts, null);
      } else if (attempts >= this.opts.maxAttempts || hook.status !== "ACTIVE") {
        await this.store.finishDelivery(d.delivery_seq, this.owner, "failed", attempts, describeFailure(result));
      } else {
        const delay = Math.min(this.opts.backoffMaxMs, this.opts.backoffBaseMs * 2 ** (attempts - 1));
        await this.store.retryDelivery(d.delivery_seq, this.owner, attempts, this.now() + delay, describeFailure(result));
      }
    } catch {
      // the database is closing; the row stays pending, its lease expires and it is sent after restart
    }
  }

  /** One POST, pinned to an address that passed the SSRF check. */
  private async send(w: WebhookWithSecret, deliveryId: string, body: string): Promise<TestResult> {
    let url: URL;
    let addrs: { address: string; family: number }[];
    try {
      url = checkWebhookUrl(w.url);
      addrs = await resolveTarget(url, this.policy);
    } catch (err) {
      return { success: false, error_message: err instanceof Error ? err.message : String(err) };
    }
    const timestamp = String(Math.floor(this.now() / 1000));
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(body)),
      "user-agent": "mloop-webhooks",
      [DELIVERY_ID_HEADER]: deliveryId,
      [TIMESTAMP_HEADER]: timestamp,
    };
    if (w.secret) headers[SIGNATURE_HEADER] = signPayload(w.secret, deliveryId, timestamp, body);
    const pinned = addrs[0]!;
    const lookup: LookupFunction = (_host, options, cb) => {
      if ((options as { all?: boolean }).all) (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [pinned]);
      else cb(null, pinned.address, pinned.family);
    };
    const mod = url.protocol === "https:" ? https : http;
    return new Promise<TestResult>((resolve) => {
      const req = mod.request(url, { method: "POST", headers, lookup, timeout: this.opts.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          if (size < 64 * 1024) chunks.push(c);
          size += c.length;
        });
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          resolve({ success: status >= 200 && status < 300, response_status: status, response_body: Buffer.concat(chunks).toString("utf8").slice(0, 4096) });
        });
        res.on("error", (err) => resolve({ success: false, error_message: err.message }));
      });
      req.on("timeout", () => req.destroy(new Error(`timed out after ${this.opts.timeoutMs} ms`)));
      req.on("error", (err) => resolve({ success: false, error_message: err.message }));
      req.end(body);
    });
  }
}

function describeFailure(r: TestResult): string {
  return r.error_message ?? `HTTP ${r.response_status ?? 0}`;
}
