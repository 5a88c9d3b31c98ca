import type { ServerConfig } from "../config.js";
import type { SqlDriver } from "../store/index.js";
import type { TrackingServices } from "../tracking/index.js";
import { LoggedModelService } from "./logged-models.js";
import { LoggedModelStore } from "./logged-models-store.js";
import { ModelVersionStore } from "./model-versions-store.js";
import { ModelRegistryService } from "./models.js";
import { RegisteredModelStore } from "./registered-models-store.js";
import { WebhookService, type DispatcherOptions } from "./webhooks.js";
import { WebhookStore } from "./webhooks-store.js";

export { RegisteredModelStore, type RegisteredModelRecord } from "./registered-models-store.js";
export { ModelVersionStore, type ModelVersionRow } from "./model-versions-store.js";
export { LoggedModelStore, type LoggedModelRow } from "./logged-models-store.js";
export { WebhookStore, type DeliveryRow, type WebhookWithSecret } from "./webhooks-store.js";
export { resolveVersionSource, isWithinRoot } from "./source.js";
export { signPayload, WEBHOOK_EVENTS, SIGNATURE_HEADER, TIMESTAMP_HEADER, DELIVERY_ID_HEADER, type DispatcherOptions } from "./webhooks.js";
export { isPrivateAddress, checkWebhookUrl, resolveTarget, type TargetPolicy } from "./ssrf.js";
export { LoggedModelService } from "./logged-models.js";
export { ModelRegistryService } from "./models.js";
export { WebhookService } from "./webhooks.js";

/** The registry domain's services. */
export interface RegistryServices {
  models: ModelRegistryService;
  loggedModels: LoggedModelService;
  webhooks: WebhookService;
}

/** What the registry needs besides its database: tracking's services (experiments and runs are read through them) and the webhook policy. */
export interface RegistryDeps {
  tracking: Pick<TrackingServices, "experiments" | "runs">;
  config: Pick<ServerConfig, "webhookAllowList" | "webhookDelivery">;
  webhookOptions?: DispatcherOptions;
}

/** Builds the registry services on an open database. */
export function createRegistryServices(db: SqlDriver, deps: RegistryDeps): RegistryServices {
  const registeredModels = new RegisteredModelStore(db);
  const versions = new ModelVersionStore(db, registeredModels);
  const loggedModelStore = new LoggedModelStore(db);
  const webhooks = new WebhookService(new WebhookStore(db), { allowList: deps.config.webhookAllowList }, { ...deps.config.webhookDelivery, ...deps.webhookOptions });
  const runs = deps.tracking.runs;
  const models = new ModelRegistryService(
    { registeredModels, versions, loggedModels: loggedModelStore, findRun: (id) => runs.find(id) },
    { record: (tx, event, name, data) => webhooks.record(tx, event, name, data), committed: () => webhooks.committed() },
  );
  const loggedModels = new LoggedModelService(loggedModelStore, versions, deps.tracking);
  return { models, loggedModels, webhooks };
}
