import type { FastifyInstance, FastifyRequest } from "fastify";
import type { CreateExperimentResponse, CreateRunResponse, EmptyResponse, GetExperimentResponse, GetMetricHistoryBulkResponse, GetMetricHistoryResponse, GetRunResponse, SearchDatasetsResponse, SearchExperimentsResponse, SearchRunsResponse, UpdateRunResponse } from "../wire/index.js";
import { checkFloatLike, checkIntLike, input, optArray, optString, optStringList, optTags, reqString, optInt, requireEntryFields, type Input } from "./params.js";
import { Readable } from "node:stream";
import { invalidParameter, missingParameter } from "../errors.js";
import { joinArtifactPath } from "../artifacts/index.js";
import { resolveArtifactLocation } from "./artifacts.js";
import { mlflowRoute } from "./routing.js";
import type { DomainDeps } from "./deps.js";
import { createTrackingServices, parseRunStatus, parseViewType, validateBatchSize, type RunService, type TrackingServices } from "../tracking/index.js";

/** MLflow accepts a run's id as `run_id` or, from older clients, `run_uuid`. */
function runIdOf(inp: Input): string {
  const id = optString(inp, "run_id") || optString(inp, "run_uuid");
  if (!id) throw missingParameter("run_id");
  return id;
}

function required(inp: Input, name: string): unknown {
  const v = inp[name];
  if (v === undefined || v === null) throw missingParameter(name);
  return v;
}

/**
 * Thin routes: read the request, call a service, shape MLflow's response.
 * The services are also decorated onto the app as `app.tracking`, so the
 * registry and artifact code can look up runs (`app.tracking.runs.locate(id)`).
 */
/** The tracking domain's part of `buildApp`: services on the database, and MLflow's tracking routes. */
export async function registerTracking(app: FastifyInstance, deps: DomainDeps): Promise<TrackingServices> {
  const services = await createTrackingServices(deps.db, deps.config.defaultArtifactRoot);
  registerTrackingRoutes(app, services);
  app.decorate("tracking", services);
  return services;
}

function registerTrackingRoutes(app: FastifyInstance, s: TrackingServices): void {
  mlflowRoute<CreateExperimentResponse>(app, "POST", "experiments/create", async (req) => {
    const inp = input(req);
    const id = await s.experiments.create(reqString(inp, "name"), optString(inp, "artifact_location"), optTags(inp) ?? []);
    return { experiment_id: id };
  });

  mlflowRoute<GetExperimentResponse>(app, "GET", "experiments/get", async (req) => {
    const experiment = await s.experiments.get(reqString(input(req), "experiment_id"));
    return { experiment };
  });

  mlflowRoute<GetExperimentResponse>(app, "GET", "experiments/get-by-name", async (req) => {
    const experiment = await s.experiments.getByName(reqString(input(req), "experiment_name"));
    return { experiment };
  });

  const search = async (req: FastifyRequest): Promise<SearchExperimentsResponse> => {
    const inp = input(req);
    const viewRaw = inp.view_type;
    const res = await s.experiments.search({
      filter: optString(inp, "filter"),
      maxResults: optInt(inp, "max_results"),
      orderBy: optStringList(inp, "order_by"),
      pageToken: optString(inp, "page_token"),
      viewType: parseViewType(typeof viewRaw === "number" ? viewRaw : optString(inp, "view_type")),
      scope: req.authScope,
    });
    return res.nextPageToken ? { experiments: res.experiments, next_page_token: res.nextPageToken } : { experiments: res.experiments };
  };
  mlflowRoute(app, "GET", "experiments/search", search);
  mlflowRoute(app, "POST", "experiments/search", search);

  mlflowRoute<EmptyResponse>(app, "POST", "experiments/update", async (req) => {
    const inp = input(req);
    await s.experiments.rename(reqString(inp, "experiment_id"), optString(inp, "new_name"));
    return {};
  });

  mlflowRoute<EmptyResponse>(app, "POST", "experiments/delete", async (req) => {
    await s.experiments.delete(reqString(input(req), "experiment_id"));
    return {};
  });

  mlflowRoute<EmptyResponse>(app, "POST", "experiments/restore", async (req) => {
    await s.experiments.restore(reqString(input(req), "experiment_id"));
    return {};
  });

  mlflowRoute<EmptyResponse>(app, "POST", "experiments/set-experiment-tag", async (req) => {
    const inp = input(req);
    await s.experiments.setTag(reqString(inp, "experiment_id"), reqString(inp, "key"), optString(inp, "value") ?? "");
    return {};
  });

  mlflowRoute<EmptyResponse>(app, "POST", "experiments/delete-experiment-tag", async (req) => {
    const inp = input(req);
    await s.experiments.deleteTag(reqString(inp, "experiment_id"), reqString(inp, "key"));
    return {};
  });

  registerRunRoutes(app, s.runs);
}

function registerRunRoutes(app: FastifyInstance, runs: RunService): void {
  mlflowRoute<CreateRunResponse>(app, "POST", "runs/create", async (req) => {
    const inp = input(req);
    const run = await runs.create({
      experimentId: optString(inp, "experiment_id"),
      userId: optString(inp, "user_id"),
      runName: optString(inp, "run_name"),
      startTime: optInt(inp, "start_time"),
      tags: optTags(inp) ?? [],
    });
    return { run };
  });

  mlflowRoute<GetRunResponse>(app, "GET", "runs/get", async (req) => ({ run: await runs.get(runIdOf(input(req))) }));

  mlflowRoute<UpdateRunResponse>(app, "POST", "runs/update", async (req) => {
    const inp = input(req);
    const status = inp.status === undefined || inp.status === null ? undefined : parseRunStatus(inp.status);
    const runInfo = await runs.update(runIdOf(inp), { status, endTime: optInt(inp, "end_time"), runName: optString(inp, "run_name") });
    return { run_info: runInfo };
  });

  mlflowRoute<EmptyResponse>(app, "POST", "runs/delete", async (req) => {
    await runs.delete(runIdOf(input(req)));
    return {};
  });

  mlflowRoute<EmptyResponse>(app, "POST", "runs/restore", async (req) => {
    await runs.restore(runIdOf(input(req)));
    return {};
  });

  mlflowRoute<EmptyResponse>(app, "POST", "runs/set-tag", async (req) => {
    const inp = input(req);
    await runs.setTag(runIdOf(inp), reqString(inp, "key"), optString(inp, "value") ?? "");
    return {};
  });

  mlflowRoute<EmptyResponse>(app, "POST", "runs/delete-tag", async (req) => {
    const inp = input(req);
    await runs.deleteTag(runIdOf(inp), reqString(inp, "key"));
    return {};
  });

  mlflowRoute<EmptyResponse>(app, "POST", "runs/log-metric", async (req) => {
    const inp = input(req);
    const runId = runIdOf(inp);
    const key = reqString(inp, "key");
    checkFloatLike(inp, "value");
    checkIntLike(inp, "timestamp");
    checkIntLike(inp, "step");
    await runs.logMetric(runId, {
      key,
      value: required(inp, "value"),
      timestamp: required(inp, "timestamp"),
      step: inp.step,
      modelId: optString(inp, "model_id"),
      datasetName: optString(inp, "dataset_name"),
      datasetDigest: optString(inp, "dataset_digest"),
    });
    return {};
  });

  mlflowRoute<EmptyResponse>(app, "POST", "runs/log-parameter", async (req) => {
    const inp = input(req);
    await runs.logParam(runIdOf(inp), reqString(inp, "key"), optString(inp, "value") ?? "");
    return {};
  });

  mlflowRoute<EmptyResponse>(app, "POST", "runs/log-batch", async (req) => {
    const length = Number(req.headers["content-length"]);
    validateBatchSize(Number.isFinite(length) ? length : Buffer.byteLength(JSON.stringify(req.body ?? {})));
    const inp = input(req);
    const runId = runIdOf(inp);
    const batch = { metrics: optArray(inp, "metrics"), params: optArray(inp, "params"), tags: optArray(inp, "tags") };
    requireEntryFields(batch.metrics, "metrics", ["key", "value", "timestamp"]);
    requireEntryFields(batch.params, "params", ["key"]);
    requireEntryFields(batch.tags, "tags", ["key"]);
    await runs.logBatch(runId, batch);
    return {};
  });

  mlflowRoute<EmptyResponse>(app, "POST", "runs/log-inputs", async (req) => {
    const inp = input(req);
    await runs.logInputs(runIdOf(inp), optArray(inp, "datasets") ?? [], optArray(inp, "models") ?? []);
    return {};
  });

  // service.proto names LogOutputs `runs/outputs` (what MLflow 3's log_model calls); `runs/log-outputs` is kept as an alias.
  const logOutputs = async (req: FastifyRequest): Promise<EmptyResponse> => {
    const inp = input(req);
    await runs.logOutputs(runIdOf(inp), optArray(inp, "models") ?? []);
    return {};
  };
  mlflowRoute(app, "POST", "runs/outputs", logOutputs);
  mlflowRoute(app, "POST", "runs/log-outputs", logOutputs);

  const search = async (req: FastifyRequest): Promise<SearchRunsResponse> => {
    const inp = input(req);
    const viewRaw = inp.run_view_type;
    const res = await runs.search({
      experimentIds: optStringList(inp, "experiment_ids") ?? [],
      filter: optString(inp, "filter"),
      viewType: parseViewType(typeof viewRaw === "number" ? viewRaw : optString(inp, "run_view_type")),
      maxResults: optInt(inp, "max_results"),
      orderBy: optStringList(inp, "order_by"),
      pageToken: optString(inp, "page_token"),
    });
    return res.nextPageToken ? { runs: res.runs, next_page_token: res.nextPageToken } : { runs: res.runs };
  };
  mlflowRoute(app, "POST", "runs/search", search);
  mlflowRoute(app, "GET", "runs/search", search);

  mlflowRoute<CreateRunResponse>(
    app,
    "POST",
    "runs/create-promptlab-run",
    async (req) => {
      const inp = input(req);
      const need = (name: string): void => {
        const v = inp[name];
        if (v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0)) {
          throw invalidParameter(`CreatePromptlabRun request must specify ${name}.`);
        }
      };
      for (const name of ["experiment_id", "prompt_template", "prompt_parameters", "model_route", "model_input", "mlflow_version"]) need(name);
      const run = await runs.createPromptlabRun(
        {
          experimentId: reqString(inp, "experiment_id"),
          runName: optString(inp, "run_name"),
          userId: optString(inp, "user_id"),
          startTime: optInt(inp, "start_time"),
          tags: optTags(inp) ?? [],
          promptTemplate: reqString(inp, "prompt_template"),
          promptParameters: optTags(inp, "prompt_parameters") ?? [],
          modelRoute: reqString(inp, "model_route"),
          modelParameters: optTags(inp, "model_parameters") ?? [],
          modelInput: reqString(inp, "model_input"),
          modelOutput: optString(inp, "model_output") ?? "",
          modelOutputParameters: optTags(inp, "model_output_parameters") ?? [],
        },
        async (artifactUri, path, body) => {
          const loc = await resolveArtifactLocation(app, artifactUri);
          const data = Buffer.from(body);
          await loc.repository.write(joinArtifactPath(loc.path, path), Readable.from([data]), { contentLength: data.length });
        },
      );
      return { run };
    },
    ["/ajax-api/2.0/mlflow/"],
  );

  mlflowRoute<SearchDatasetsResponse>(
    app,
    "POST",
    "experiments/search-datasets",
    async (req) => ({ dataset_summaries: await runs.searchDatasets(optStringList(input(req), "experiment_ids") ?? []) }),
    ["/ajax-api/2.0/mlflow/"],
  );

  mlflowRoute<GetMetricHistoryResponse>(app, "GET", "metrics/get-history", async (req) => {
    const inp = input(req);
    const res = await runs.metricHistory(runIdOf(inp), reqString(inp, "metric_key"), optInt(inp, "max_results"), optString(inp, "page_token"));
    return res.nextPageToken ? { metrics: res.metrics, next_page_token: res.nextPageToken } : { metrics: res.metrics };
  });

  mlflowRoute<GetMetricHistoryBulkResponse>(app, "GET", "metrics/get-history-bulk", async (req) => {
    const inp = input(req);
    const metrics = await runs.metricHistoryBulk(optStringList(inp, "run_id") ?? [], optString(inp, "metric_key"), optInt(inp, "max_results"));
    return { metrics };
  });

  mlflowRoute<GetMetricHistoryBulkResponse>(app, "GET", "metrics/get-history-bulk-interval", async (req) => {
    const inp = input(req);
    const runIds = optStringList(inp, "run_ids");
    if (!runIds || runIds.length === 0) throw missingParameter("run_ids");
    const metrics = await runs.metricHistoryInterval(runIds, reqString(inp, "metric_key"), optInt(inp, "start_step"), optInt(inp, "end_step"), optInt(inp, "max_results"));
    return { metrics };
  });
}

declare module "fastify" {
  interface FastifyInstance {
    /** Tracking services (experiments, runs), set by {@link registerTracking}. */
    tracking: TrackingServices;
  }
}
