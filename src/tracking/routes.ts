import type { FastifyInstance } from "fastify";
import { input, optString, optStringList, optTags, reqString, optInt } from "../api/params.js";
import { mlflowRoute } from "../api/routing.js";
import { parseViewType, type ExperimentService } from "./experiments.js";

export interface TrackingServices {
  experiments: ExperimentService;
}

/** Thin routes: read the request, call a service, shape MLflow's response. */
export function registerTrackingRoutes(app: FastifyInstance, s: TrackingServices): void {
  mlflowRoute(app, "POST", "experiments/create", async (req) => {
    const inp = input(req);
    const id = await s.experiments.create(inp.name, optString(inp, "artifact_location"), optTags(inp) ?? []);
    return { experiment_id: id };
  });

  mlflowRoute(app, "GET", "experiments/get", async (req) => {
    const experiment = await s.experiments.get(reqString(input(req), "experiment_id"));
    return { experiment };
  });

  mlflowRoute(app, "GET", "experiments/get-by-name", async (req) => {
    const experiment = await s.experiments.getByName(reqString(input(req), "experiment_name"));
    return { experiment };
  });

  const search = async (req: Parameters<Parameters<typeof mlflowRoute>[3]>[0]) => {
    const inp = input(req);
    const viewRaw = inp.view_type;
    const res = await s.experiments.search({
      filter: optString(inp, "filter"),
      maxResults: optInt(inp, "max_results"),
      orderBy: optStringList(inp, "order_by"),
      pageToken: optString(inp, "page_token"),
      viewType: parseViewType(typeof viewRaw === "number" ? viewRaw : optString(inp, "view_type")),
    });
    return res.nextPageToken ? { experiments: res.experiments, next_page_token: res.nextPageToken } : { experiments: res.experiments };
  };
  mlflowRoute(app, "GET", "experiments/search", search);
  mlflowRoute(app, "POST", "experiments/search", search);

  mlflowRoute(app, "POST", "experiments/update", async (req) => {
    const inp = input(req);
    await s.experiments.rename(reqString(inp, "experiment_id"), optString(inp, "new_name"));
    return {};
  });

  mlflowRoute(app, "POST", "experiments/delete", async (req) => {
    await s.experiments.delete(reqString(input(req), "experiment_id"));
    return {};
  });

  mlflowRoute(app, "POST", "experiments/restore", async (req) => {
    await s.experiments.restore(reqString(input(req), "experiment_id"));
    return {};
  });

  mlflowRoute(app, "POST", "experiments/set-experiment-tag", async (req) => {
    const inp = input(req);
    await s.experiments.setTag(reqString(inp, "experiment_id"), reqString(inp, "key"), optString(inp, "value") ?? "");
    return {};
  });

  mlflowRoute(app, "POST", "experiments/delete-experiment-tag", async (req) => {
    const inp = input(req);
    await s.experiments.deleteTag(reqString(inp, "experiment_id"), reqString(inp, "key"));
    return {};
  });
}
