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
  return services;
}

declare module "fastify" {
  interface FastifyInstance {
    registry: RegistryServices;
  }
}
