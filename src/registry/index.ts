import type { FastifyInstance } from "fastify";
import type { ServerConfig } from "../config.js";
import type { SqlDriver } from "../store/driver.js";
import { API_PREFIXES } from "../api/routing.js";
import { LoggedModelService } from "./logged-models.js";
import { ModelRegistryService } from "./models.js";
import { registerRegistryRoutes, type RegistryServices } from "./routes.js";
import { RegistryStore } from "./store.js";
import { WebhookService, type DispatcherOptions } from "./webhooks.js";

export { RegistryStore } from "./store.js";
export { resolveVersionSource, checkSourceSyntax, isWithinRoot } from "./source.js";
export { signPayload, WEBHOOK_EVENTS, SIGNATURE_HEADER, TIMESTAMP_HEADER, DELIVERY_ID_HEADER } from "./webhooks.js";
export { isPrivateAddress } from "./ssrf.js";
export type * from "./types.js";
export type { RegistryServices } from "./routes.js";

/** Builds the registry services on an open database. */
export function createRegistryServices(db: SqlDriver, config: Pick<ServerConfig, "webhookAllowList">, webhookOptions: DispatcherOptions = {}): RegistryServices {
  const store = new RegistryStore(db);
  const webhooks = new WebhookService(store, { allowList: config.webhookAllowList }, webhookOptions);
  const models = new ModelRegistryService(store, (event, name, data) => webhooks.emit(event, name, data));
  const loggedModels = new LoggedModelService(store);
  return { models, loggedModels, webhooks };
}

/**
 * The registry's part of `buildApp`: services, routes, and the webhook sender
 * (started when the app is ready, stopped before the database closes).
 */
export function registerRegistry(app: FastifyInstance, db: SqlDriver, config: ServerConfig, webhookOptions: DispatcherOptions = {}): RegistryServices {
  const services = createRegistryServices(db, config, webhookOptions);
  registerRegistryRoutes(app, services);
  app.addHook("onReady", async () => services.webhooks.start());
  app.addHook("preClose", async () => services.webhooks.close());
  app.decorate("registry", services);
  bridgeLogOutputs(app);
  return services;
}

/**
 * MLflow's service.proto serves LogOutputs at `POST runs/outputs`, the path
 * every MLflow 3 `log_model` calls to link a run to its logged model. Until
 * the tracking routes answer that path themselves, forward it to their
 * `runs/log-outputs` handler; once they do, this steps aside.
 */
function bridgeLogOutputs(app: FastifyInstance): void {
  for (const prefix of API_PREFIXES) {
    const target = `${prefix}runs/log-outputs`;
    const path = `${prefix}runs/outputs`;
    if (app.hasRoute({ method: "POST", url: path }) || !app.hasRoute({ method: "POST", url: target })) continue;
    app.post(path, async (req, reply) => {
      const res = await app.inject({ method: "POST", url: target, headers: { "content-type": "application/json" }, payload: JSON.stringify(req.body ?? {}) });
      return reply.status(res.statusCode).type("application/json").send(res.body);
    });
  }
}

declare module "fastify" {
  interface FastifyInstance {
    registry: RegistryServices;
  }
}
