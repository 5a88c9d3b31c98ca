import type { FastifyInstance, FastifyRequest } from "fastify";
import type { EmptyResponse, GetModelVersionDownloadUriResponse, ListWebhooksResponse, LoggedModelResponse, ModelVersionResponse, ModelVersionsResponse, RegisteredModelResponse, SearchLoggedModelsResponse, SearchModelVersionsResponse, SearchRegisteredModelsResponse, TestWebhookResponse, WebhookResponse } from "../wire/index.js";
import { invalidParameter } from "../errors.js";
import { optArray, optBool, optInt, optString, optStringList, optTags, reqString, type Input } from "./params.js";
import { mlflowRoute } from "./routing.js";
import { createRegistryServices, type RegistryServices } from "../registry/index.js";
import type { TrackingServices } from "../tracking/index.js";
import type { DomainDeps } from "./deps.js";

/** Query string for GET; JSON body otherwise, with the query string filling gaps (DELETE). */
function inputOf(req: FastifyRequest): Input {
  const query = (req.query && typeof req.query === "object" ? req.query : {}) as Input;
  if (req.method === "GET" || req.method === "HEAD") return query;
  const body = req.body;
  if (body === undefined || body === null || body === "") return query;
  if (typeof body !== "object" || Array.isArray(body)) throw invalidParameter("Request body must be a JSON object");
  return { ...query, ...(body as Input) };
}

function params(req: FastifyRequest): Record<string, string> {
  return (req.params ?? {}) as Record<string, string>;
}

/** `params` entries `[{key, value}]`. */
function keyValues(inp: Input, name: string): { key: string; value: string }[] {
  return optTags(inp, name) ?? [];
}

/**
 * The registry's part of `buildApp`: services, routes, and the webhook sender
 * (started when the app is ready, stopped before the database closes).
 */
export function registerRegistry(app: FastifyInstance, deps: DomainDeps, domains: { tracking: TrackingServices }): RegistryServices {
  const services = createRegistryServices(deps.db, { tracking: domains.tracking, config: deps.config });
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

/** Thin routes: read the request, call a service, shape MLflow's response. */
function registerRegistryRoutes(app: FastifyInstance, s: RegistryServices): void {
  // ---- logged models (MLflow 3) --------------------------------------------
  mlflowRoute<LoggedModelResponse>(app, "POST", "logged-models", async (req) => {
    const inp = inputOf(req);
    const model = await s.loggedModels.create({
      experimentId: reqString(inp, "experiment_id"),
      name: optString(inp, "name"),
      modelType: optString(inp, "model_type"),
      sourceRunId: optString(inp, "source_run_id"),
      params: keyValues(inp, "params"),
      tags: keyValues(inp, "tags"),
    });
    return { model };
  });

  const searchLogged = async (req: FastifyRequest): Promise<SearchLoggedModelsResponse> => {
    const inp = inputOf(req);
    const orderBy = optArray(inp, "order_by") as { field_name?: unknown; ascending?: unknown }[] | undefined;
    const res = await s.loggedModels.search({
      experimentIds: optStringList(inp, "experiment_ids") ?? [],
      filter: optString(inp, "filter"),
      orderBy,
      maxResults: optInt(inp, "max_results"),
      pageToken: optString(inp, "page_token"),
      datasets: optArray(inp, "datasets") as { dataset_name?: unknown; dataset_digest?: unknown }[] | undefined,
    });
    return res.nextPageToken ? { models: res.models, next_page_token: res.nextPageToken } : { models: res.models };
  };
  mlflowRoute(app, "POST", "logged-models/search", searchLogged);

  mlflowRoute<LoggedModelResponse>(app, "GET", "logged-models/:model_id", async (req) => {
    const allow = optBool(inputOf(req), "allow_deleted") ?? false;
    return { model: await s.loggedModels.get(params(req).model_id!, allow) };
  });

  mlflowRoute<LoggedModelResponse>(app, "PATCH", "logged-models/:model_id", async (req) => {
    const inp = inputOf(req);
    if (inp.status === undefined || inp.status === null) throw invalidParameter("Missing value for required parameter 'status'. See the API docs for more information about request parameters.");
    return { model: await s.loggedModels.finalize(params(req).model_id!, inp.status) };
  });

  mlflowRoute<EmptyResponse>(app, "DELETE", "logged-models/:model_id", async (req) => {
    await s.loggedModels.delete(params(req).model_id!);
    return {};
  });

  mlflowRoute<EmptyResponse>(app, "PATCH", "logged-models/:model_id/tags", async (req) => {
    await s.loggedModels.setTags(params(req).model_id!, keyValues(inputOf(req), "tags"));
    return {};
  });

  mlflowRoute<EmptyResponse>(app, "DELETE", "logged-models/:model_id/tags/:tag_key", async (req) => {
    const p = params(req);
    await s.loggedModels.deleteTag(p.model_id!, p.tag_key!);
    return {};
  });

  mlflowRoute<EmptyResponse>(app, "POST", "logged-models/:model_id/params", async (req) => {
    await s.loggedModels.logParams(params(req).model_id!, keyValues(inputOf(req), "params"));
    return {};
  });

  // ---- registered models ----------------------------------------------------
  mlflowRoute<RegisteredModelResponse>(app, "POST", "registered-models/create", async (req) => {
    const inp = inputOf(req);
    const registered_model = await s.models.createRegisteredModel(inp.name, optString(inp, "description"), optTags(inp) ?? []);
    return { registered_model };
  });

  mlflowRoute<RegisteredModelResponse>(app, "GET", "registered-models/get", async (req) => ({ registered_model: await s.models.getRegisteredModel(optString(inputOf(req), "name")) }));

  mlflowRoute<RegisteredModelResponse>(app, "POST", "registered-models/rename", async (req) => {
    const inp = inputOf(req);
    return { registered_model: await s.models.renameRegisteredModel(optString(inp, "name"), optString(inp, "new_name")) };
  });

  mlflowRoute<RegisteredModelResponse>(app, "PATCH", "registered-models/update", async (req) => {
    const inp = inputOf(req);
    return { registered_model: await s.models.updateRegisteredModel(optString(inp, "name"), optString(inp, "description")) };
  });

  mlflowRoute<EmptyResponse>(app, "DELETE", "registered-models/delete", async (req) => {
    await s.models.deleteRegisteredModel(optString(inputOf(req), "name"));
    return {};
  });

  const searchModels = async (req: FastifyRequest): Promise<SearchRegisteredModelsResponse> => {
    const inp = inputOf(req);
    return s.models.searchRegisteredModels({
      filter: optString(inp, "filter"),
      maxResults: optInt(inp, "max_results"),
      orderBy: optStringList(inp, "order_by"),
      pageToken: optString(inp, "page_token"),
      scope: req.authScope,
    });
  };
  mlflowRoute(app, "GET", "registered-models/search", searchModels);
  mlflowRoute(app, "POST", "registered-models/search", searchModels);

  const latest = async (req: FastifyRequest): Promise<ModelVersionsResponse> => {
    const inp = inputOf(req);
    return { model_versions: await s.models.getLatestVersions(optString(inp, "name"), optStringList(inp, "stages")) };
  };
  mlflowRoute(app, "GET", "registered-models/get-latest-versions", latest);
  mlflowRoute(app, "POST", "registered-models/get-latest-versions", latest);

  mlflowRoute<EmptyResponse>(app, "POST", "registered-models/set-tag", async (req) => {
    const inp = inputOf(req);
    await s.models.setRegisteredModelTag(optString(inp, "name"), optString(inp, "key"), optString(inp, "value") ?? "");
    return {};
  });

  mlflowRoute<EmptyResponse>(app, "DELETE", "registered-models/delete-tag", async (req) => {
    const inp = inputOf(req);
    await s.models.deleteRegisteredModelTag(optString(inp, "name"), optString(inp, "key"));
    return {};
  });

  mlflowRoute<EmptyResponse>(app, "POST", "registered-models/alias", async (req) => {
    const inp = inputOf(req);
    await s.models.setAlias(optString(inp, "name"), optString(inp, "alias"), inp.version === undefined ? undefined : String(inp.version));
    return {};
  });

  mlflowRoute<EmptyResponse>(app, "DELETE", "registered-models/alias", async (req) => {
    const inp = inputOf(req);
    await s.models.deleteAlias(optString(inp, "name"), optString(inp, "alias"));
    return {};
  });

  mlflowRoute<ModelVersionResponse>(app, "GET", "registered-models/alias", async (req) => {
    const inp = inputOf(req);
    return { model_version: await s.models.getVersionByAlias(optString(inp, "name"), optString(inp, "alias")) };
  });

  // ---- model versions -------------------------------------------------------
  mlflowRoute<ModelVersionResponse>(app, "POST", "model-versions/create", async (req) => {
    const inp = inputOf(req);
    const model_version = await s.models.createModelVersion({
      name: optString(inp, "name"),
      source: optString(inp, "source"),
      runId: optString(inp, "run_id"),
      modelId: optString(inp, "model_id"),
      tags: optTags(inp) ?? [],
      runLink: optString(inp, "run_link"),
      description: optString(inp, "description"),
    });
    return { model_version };
  });

  mlflowRoute<ModelVersionResponse>(app, "GET", "model-versions/get", async (req) => {
    const inp = inputOf(req);
    return { model_version: await s.models.getModelVersion(optString(inp, "name"), versionOf(inp)) };
  });

  mlflowRoute<ModelVersionResponse>(app, "PATCH", "model-versions/update", async (req) => {
    const inp = inputOf(req);
    return { model_version: await s.models.updateModelVersion(optString(inp, "name"), versionOf(inp), optString(inp, "description")) };
  });

  mlflowRoute<ModelVersionResponse>(app, "POST", "model-versions/transition-stage", async (req) => {
    const inp = inputOf(req);
    return {
      model_version: await s.models.transitionStage(optString(inp, "name"), versionOf(inp), optString(inp, "stage"), optBool(inp, "archive_existing_versions") ?? false),
    };
  });

  mlflowRoute<EmptyResponse>(app, "DELETE", "model-versions/delete", async (req) => {
    const inp = inputOf(req);
    await s.models.deleteModelVersion(optString(inp, "name"), versionOf(inp));
    return {};
  });

  const searchVersions = async (req: FastifyRequest): Promise<SearchModelVersionsResponse> => {
    const inp = inputOf(req);
    return s.models.searchModelVersions({
      filter: optString(inp, "filter"),
      maxResults: optInt(inp, "max_results"),
      orderBy: optStringList(inp, "order_by"),
      pageToken: optString(inp, "page_token"),
      scope: req.authScope,
    });
  };
  mlflowRoute(app, "GET", "model-versions/search", searchVersions);
  mlflowRoute(app, "POST", "model-versions/search", searchVersions);

  mlflowRoute<GetModelVersionDownloadUriResponse>(app, "GET", "model-versions/get-download-uri", async (req) => {
    const inp = inputOf(req);
    return { artifact_uri: await s.models.getDownloadUri(optString(inp, "name"), versionOf(inp)) };
  });

  mlflowRoute<EmptyResponse>(app, "POST", "model-versions/set-tag", async (req) => {
    const inp = inputOf(req);
    await s.models.setModelVersionTag(optString(inp, "name"), versionOf(inp), optString(inp, "key"), optString(inp, "value") ?? "");
    return {};
  });

  mlflowRoute<EmptyResponse>(app, "DELETE", "model-versions/delete-tag", async (req) => {
    const inp = inputOf(req);
    await s.models.deleteModelVersionTag(optString(inp, "name"), versionOf(inp), optString(inp, "key"));
    return {};
  });

  // ---- webhooks -------------------------------------------------------------
  mlflowRoute<WebhookResponse>(app, "POST", "webhooks", async (req) => {
    const inp = inputOf(req);
    return { webhook: await s.webhooks.create(inp) };
  });

  mlflowRoute<ListWebhooksResponse>(app, "GET", "webhooks", async (req) => {
    const inp = inputOf(req);
    const res = await s.webhooks.list(optInt(inp, "max_results"), optString(inp, "page_token"));
    return res.nextPageToken ? { webhooks: res.webhooks, next_page_token: res.nextPageToken } : { webhooks: res.webhooks };
  });

  mlflowRoute<WebhookResponse>(app, "GET", "webhooks/:webhook_id", async (req) => ({ webhook: await s.webhooks.get(params(req).webhook_id!) }));

  mlflowRoute<WebhookResponse>(app, "PATCH", "webhooks/:webhook_id", async (req) => ({ webhook: await s.webhooks.update(params(req).webhook_id!, inputOf(req)) }));

  mlflowRoute<EmptyResponse>(app, "DELETE", "webhooks/:webhook_id", async (req) => {
    await s.webhooks.delete(params(req).webhook_id!);
    return {};
  });

  mlflowRoute<TestWebhookResponse>(app, "POST", "webhooks/:webhook_id/test", async (req) => {
    const inp = inputOf(req);
    return { result: await s.webhooks.test(params(req).webhook_id!, inp.event) };
  });
}

function versionOf(inp: Input): string | undefined {
  const v = inp.version;
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.length === 1 ? String(v[0]) : undefined;
  return typeof v === "number" || typeof v === "string" ? String(v) : JSON.stringify(v);
}
