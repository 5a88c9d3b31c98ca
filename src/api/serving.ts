/**
 * The scoring server `mloop serve` runs: a Fastify app of its own (not the
 * tracking server's), speaking MLflow's scoring protocol plus mloop's
 * feedback, status, metrics and registry-webhook routes.
 */
import crypto from "node:crypto";
import Fastify, { type FastifyInstance } from "fastify";
import type { ServeConfig } from "../config.js";
import { mlflowErrorHandler } from "./error-handler.js";
import { MlflowError, invalidParameter } from "../errors.js";
import type { ServingService } from "../serving/index.js";
import { VERSION } from "../version.js";
import type { FeedbackEntry, FeedbackResponse, TrafficResponse } from "../wire/index.js";

export interface ServingDeps {
  service: ServingService;
}

const MAX_FEEDBACK = 10_000;

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function parseJsonBody(body: unknown): Record<string, unknown> {
  if (typeof body !== "string" || body === "") throw new MlflowError("MALFORMED_REQUEST", "the request has no JSON body");
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (err) {
    throw new MlflowError("MALFORMED_REQUEST", `the body is not valid JSON: ${(err as Error).message}`);
  }
  if (!doc || typeof doc !== "object") throw new MlflowError("MALFORMED_REQUEST", "the body must be a JSON object");
  return doc as Record<string, unknown>;
}

function feedbackEntries(doc: Record<string, unknown> | unknown[]): FeedbackEntry[] {
  const items: unknown[] = Array.isArray(doc) ? doc : Array.isArray((doc as { feedback?: unknown }).feedback) ? ((doc as { feedback: unknown[] }).feedback) : [doc];
  if (items.length === 0) throw invalidParameter("no feedback given: send {\"request_id\": …, \"label\": …} or {\"feedback\": [...]}");
  if (items.length > MAX_FEEDBACK) throw invalidParameter(`at most ${MAX_FEEDBACK} labels per request, got ${items.length}`);
  return items.map((item, i) => {
    if (!item || typeof item !== "object" || Array.isArray(item)) throw invalidParameter(`feedback ${i} is not an object`);
    const { request_id: id, label } = item as { request_id?: unknown; label?: unknown };
    if (typeof id !== "string" || id === "" || id.length > 256) throw invalidParameter(`feedback ${i} needs a 'request_id' string (at most 256 characters)`);
    if (label === undefined) throw invalidParameter(`feedback ${i} (request ${id}) has no 'label'`);
    return { request_id: id, label };
  });
}

/** HMAC-SHA256 over `<delivery id>.<timestamp>.<body>`, as MLflow signs webhook deliveries. */
function verifyWebhook(secret: string, headers: Record<string, string | string[] | undefined>, body: string): boolean {
  const sig = header(headers["x-mlflow-signature"]);
  const id = header(headers["x-mlflow-delivery-id"]);
  const ts = header(headers["x-mlflow-timestamp"]);
  if (!sig || !id || !ts) return false;
  const expected = `v1,${crypto.createHmac("sha256", secret).update(`${id}.${ts}.${body}`, "utf8").digest("base64")}`;
  return sameSecret(sig, expected);
}

/** Constant-time equality of two strings, by their UTF-8 bytes (a non-ASCII header is just unequal). */
function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given, "utf8");
  const b = Buffer.from(expected, "utf8");
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** True when `authorization` is `Bearer <token>` (compared in constant time). */
function bearerMatches(token: string, authorization: string | string[] | undefined): boolean {
  return sameSecret(header(authorization) ?? "", `Bearer ${token}`);
}

/** The body of `POST /traffic`: `{mode: "canary", share}` or `{mode: "shadow"}`. */
function trafficOf(doc: Record<string, unknown>): { mode: "canary" | "shadow"; share: number } {
  const { mode, share } = doc;
  for (const k of Object.keys(doc)) if (k !== "mode" && k !== "share") throw invalidParameter(`unknown field '${k}' (expected mode, share)`);
  if (mode !== "canary" && mode !== "shadow") throw invalidParameter(`'mode' must be canary or shadow, got ${JSON.stringify(mode ?? null)}`);
  if (mode === "shadow") {
    if (share !== undefined && typeof share !== "number") throw invalidParameter(`'share' must be a number, got ${JSON.stringify(share)}`);
    return { mode, share: 0 };
  }
  if (typeof share !== "number" || !Number.isFinite(share) || share < 0 || share > 1) throw invalidParameter(`'share' must be a number between 0 and 1 in canary mode, got ${JSON.stringify(share ?? null)}`);
  return { mode, share };
}

/**
 * Builds the scoring server without listening: `mloop serve` calls `listen`, tests call `inject`.
 *
 * @example
 * ```ts
 * const app = await buildServingApp(config, { service });
 * await app.listen({ host: config.host, port: config.port });
 * ```
 */
export async function buildServingApp(config: ServeConfig, deps: ServingDeps): Promise<FastifyInstance> {
  const { service } = deps;
  const app = Fastify({
    logger: { level: config.logLevel },
    bodyLimit: config.bodyLimitBytes,
    forceCloseConnections: true,
  });

  // Every body arrives as text: /invocations parses it by its content type, and the Python worker gets it unchanged.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => done(null, body));

  app.setErrorHandler(mlflowErrorHandler(() => `The request body is larger than the limit of ${config.bodyLimitBytes} bytes (--body-limit-mb)`));
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({ error_code: "ENDPOINT_NOT_FOUND", message: `No endpoint ${req.method} ${req.url.split("?")[0]}` }),
  );

  app.addHook("onSend", async (_req, reply) => {
    if (!reply.hasHeader("x-mloop-model-version")) reply.header("x-mloop-model-version", service.championVersion);
  });

  const ping = async (_req: unknown, reply: import("fastify").FastifyReply) => reply.type("application/json").send("\n");
  app.get("/ping", ping);
  app.get("/health", ping);
  app.get("/version", async (_req, reply) => reply.type("application/json").send(VERSION));

  const sticky = config.stickyHeader?.toLowerCase();
  app.post("/invocations", async (req, reply) => {
    const res = await service.score({
      body: typeof req.body === "string" ? req.body : "",
      contentType: req.headers["content-type"],
      requestId: header(req.headers["x-request-id"]),
      stickyValue: sticky ? header(req.headers[sticky]) : undefined,
    });
    return reply
      .status(res.status)
      .header("content-type", "application/json")
      .header("x-request-id", res.requestId)
      .header("x-mloop-model-name", res.model)
      .header("x-mloop-model-version", res.version)
      .send(res.body);
  });

  app.post("/feedback", async (req, reply) => {
    const entries = feedbackEntries(parseJsonBody(req.body));
    const accepted = await service.addFeedback(entries);
    return reply.send({ accepted } satisfies FeedbackResponse);
  });

  app.get("/status", async () => service.status());

  // A deployment controller attached to this server (`mloop deploy apply --attach`) drives the canary or shadow through this.
  app.post("/traffic", async (req, reply) => {
    if (config.controlToken && !bearerMatches(config.controlToken, req.headers.authorization)) {
      throw new MlflowError("UNAUTHENTICATED", "POST /traffic needs 'Authorization: Bearer <token>' with the server's --control-token");
    }
    const { mode, share } = trafficOf(parseJsonBody(req.body));
    service.setPolicy({ mode, share, stickyHeader: service.opts.policy.stickyHeader });
    service.event(`traffic: ${mode}${mode === "canary" ? ` ${share * 100}%` : ""}`);
    return reply.send({ policy: service.status().policy } satisfies TrafficResponse);
  });

  app.get("/metrics", async (_req, reply) => reply.type(service.metrics.contentType).send(await service.metrics.text()));

  // The registry calls this when an alias moves (an MLflow webhook on model_version_alias.created);
  // it only makes the server re-read its aliases now, so an unsigned call can do no more than polling does.
  app.post("/webhooks/registry", async (req, reply) => {
    const body = typeof req.body === "string" ? req.body : "";
    if (config.webhookSecret && !verifyWebhook(config.webhookSecret, req.headers, body)) {
      throw new MlflowError("UNAUTHENTICATED", "the webhook delivery's X-MLflow-Signature does not match --webhook-secret");
    }
    await service.refresh();
    return reply.send({ models: service.status().models.map((m) => ({ role: m.role, name: m.name, version: m.version })) });
  });

  app.addHook("onClose", async () => service.close());
  return app;
}
