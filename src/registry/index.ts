import type { ServerConfig } from "../config.js";
import type { SqlDriver } from "../store/index.js";
import { LoggedModelService } from "./logged-models.js";
import { ModelRegistryService } from "./models.js";
import { RegistryStore } from "./store.js";
import { WebhookService, type DispatcherOptions } from "./webhooks.js";

export { RegistryStore } from "./store.js";
export { resolveVersionSource, isWithinRoot } from "./source.js";
export { signPayload, WEBHOOK_EVENTS, SIGNATURE_HEADER, TIMESTAMP_HEADER, DELIVERY_ID_HEADER, type DispatcherOptions } from "./webhooks.js";
export { isPrivateAddress } from "./ssrf.js";
export { LoggedModelService } from "./logged-models.js";
export { ModelRegistryService } from "./models.js";
export { WebhookService } from "./webhooks.js";
export type * from "./types.js";

/** The registry domain's services. */
export interface RegistryServices {
  models: ModelRegistryService;
  loggedModels: LoggedModelService;
  webhooks: WebhookService;
}

/** Builds the registry services on an open database. */
export function createRegistryServices(db: SqlDriver, config: Pick<ServerConfig, "webhookAllowList">, webhookOptions: DispatcherOptions = {}): RegistryServices {
  const store = new RegistryStore(db);
  const webhooks = new WebhookService(store, { allowList: config.webhookAllowList }, webhookOptions);
  const models = new ModelRegistryService(store, (event, name, data) => webhooks.emit(event, name, data));
  const loggedModels = new LoggedModelService(store);
  return { models, loggedModels, webhooks };
}
