/**
 * Alerts: a threshold on any monitored value (`drift_share>=0.5`,
 * `accuracy<0.8`, `drift_score.age>=0.1`, `error_rate>0.05`) fires once when
 * the value crosses into the alerting side, and re-arms only once it is back
 * past the clear level (the threshold, or `clear=` for hysteresis). Actions:
 * a webhook signed as the registry signs its deliveries (same SSRF rules), or
 * a command that gets the event as JSON on stdin.
 */
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { invalidParameter } from "../errors.js";

export type AlertOp = ">" | ">=" | "<" | "<=";

export interface AlertRule {
  /** As written: `accuracy<0.8,clear=0.85`. */
  text: string;
  metric: string;
  op: AlertOp;
  threshold: number;
  /** Where the alert re-arms; defaults to the threshold itself. */
  clear: number;
}

/** Parses `METRIC OP VALUE[,clear=VALUE]`. */
export function parseAlertRule(text: string): AlertRule {
  const m = /^\s*([A-Za-z0-9_.\-/ ]+?)\s*(>=|<=|>|<)\s*(-?[0-9.eE+-]+)\s*(?:,\s*clear\s*=\s*(-?[0-9.eE+-]+))?\s*$/.exec(text);
  if (!m) throw invalidParameter(`Alert rule '${text}' is not METRIC OP VALUE[,clear=VALUE] (e.g. 'drift_share>=0.5' or 'accuracy<0.8,clear=0.85')`);
  const threshold = Number(m[3]);
  const clear = m[4] === undefined ? threshold : Number(m[4]);
  if (!Number.isFinite(threshold) || !Number.isFinite(clear)) throw invalidParameter(`Alert rule '${text}' has a value that is not a number`);
  const op = m[2] as AlertOp;
  if ((op.startsWith(">") && clear > threshold) || (op.startsWith("<") && clear < threshold)) {
    throw invalidParameter(`Alert rule '${text}': clear=${clear} must be on the healthy side of ${threshold}`);
  }
  return { text: text.trim(), metric: m[1]!.trim(), op, threshold, clear };
}

function breached(r: AlertRule, v: number): boolean {
  switch (r.op) {
    case ">":
      return v > r.threshold;
    case ">=":
      return v >= r.threshold;
    case "<":
      return v < r.threshold;
    case "<=":
      return v <= r.threshold;
  }
}

function cleared(r: AlertRule, v: number): boolean {
  if (r.clear === r.threshold) return !breached(r, v);
  return r.op.startsWith(">") ? v <= r.clear : v >= r.clear;
}

export interface AlertEvent {
  id: string;
  rule: string;
  metric: string;
  value: number;
  threshold: number;
  /** `fired` on a crossing into the alerting side, `resolved` on the way back. */
  state: "fired" | "resolved";
  window: { seq: number; start_ms: number; end_ms: number };
  model: string;
  timestamp_ms: number;
}

/** Tracks each rule's state across windows; `firing` survives restarts through the monitor's state file. */
export class AlertEvaluator {
  readonly firing: Set<string>;

  constructor(readonly rules: AlertRule[], firing: string[] = []) {
    this.firing = new Set(firing);
  }

  /** The events one window's values cause; a metric the window lacks changes nothing. */
  evaluate(values: Record<string, number>, window: AlertEvent["window"], model: string): AlertEvent[] {
    const events: AlertEvent[] = [];
    for (const r of this.rules) {
      const v = values[r.metric];
      if (v === undefined || !Number.isFinite(v)) continue;
      const on = this.firing.has(r.text);
      if (!on && breached(r, v)) {
        this.firing.add(r.text);
        events.push(this.event(r, v, "fired", window, model));
      } else if (on && cleared(r, v)) {
        this.firing.delete(r.text);
        events.push(this.event(r, v, "resolved", window, model));
      }
    }
    return events;
  }

  private event(r: AlertRule, value: number, state: AlertEvent["state"], window: AlertEvent["window"], model: string): AlertEvent {
    return { id: crypto.randomUUID(), rule: r.text, metric: r.metric, value, threshold: r.threshold, state, window, model, timestamp_ms: Date.now() };
  }
}

export interface WebhookTarget {
  url: string;
  secret?: string;
  /** `host` or `host:port` entries that may be private (as `mloop server --webhook-allow`). */
  allowList: string[];
  timeoutMs?: number;
}

/** Sends one event to a webhook, pinned to an address that passed the SSRF check; resolves to the HTTP status. */
export async function sendAlertWebhook(target: WebhookTarget, event: AlertEvent): Promise<number> {
  // loaded on the first alert: a batch report never needs the registry
  const { checkWebhookUrl, DELIVERY_ID_HEADER, resolveTarget, SIGNATURE_HEADER, signPayload, TIMESTAMP_HEADER } = await import("../registry/index.js");
  const url = checkWebhookUrl(target.url);
  const addrs = await resolveTarget(url, { allowList: target.allowList });
  const body = JSON.stringify({ entity: "monitor_alert", action: event.state, timestamp: event.timestamp_ms, data: event });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(body)),
    "user-agent": "mloop-monitor",
    [DELIVERY_ID_HEADER]: event.id,
    [TIMESTAMP_HEADER]: timestamp,
  };
  if (target.secret) headers[SIGNATURE_HEADER] = signPayload(target.secret, event.id, timestamp, body);
  const pinned = addrs[0]!;
  const lookup: LookupFunction = (_host, options, cb) => {
    if ((options as { all?: boolean }).all) (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [pinned]);
    else cb(null, pinned.address, pinned.family);
  };
  const mod = url.protocol === "https:" ? https : http;
  return new Promise<number>((resolve, reject) => {
    const req = mod.request(url, { method: "POST", headers, lookup, timeout: target.timeoutMs ?? 10_000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("timeout", () => req.destroy(new Error("webhook timed out")));
    req.on("error", reject);
    req.end(body);
  });
}

/** Runs a shell command with the event as JSON on stdin (and MLOOP_ALERT_* in its environment); resolves to its exit code. */
export function runAlertCommand(command: string, event: AlertEvent): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, {
      shell: true,
      stdio: ["pipe", "inherit", "inherit"],
      env: { ...process.env, MLOOP_ALERT_RULE: event.rule, MLOOP_ALERT_STATE: event.state, MLOOP_ALERT_VALUE: String(event.value), MLOOP_ALERT_WINDOW: String(event.window.seq) },
    });
    child.on("error", () => resolve(127));
    child.on("close", (code) => resolve(code ?? 1));
    child.stdin.end(JSON.stringify(event));
  });
}
