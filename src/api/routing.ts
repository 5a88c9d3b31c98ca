import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

export type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
export type Method = "GET" | "POST" | "PATCH" | "DELETE" | "PUT";

/** The prefixes MLflow serves its REST API under; the UI uses the ajax one. */
export const API_PREFIXES = ["/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"] as const;

/** Registers an MLflow endpoint under every prefix (`experiments/create` → `/api/2.0/mlflow/experiments/create`, …). */
export function mlflowRoute(app: FastifyInstance, method: Method, path: string, handler: Handler, prefixes: readonly string[] = API_PREFIXES): void {
  for (const prefix of prefixes) {
    app.route({ method, url: `${prefix}${path}`, handler });
  }
}

/** True for paths that belong to the HTTP API rather than the web UI (MLflow's `/graphql` included). */
export function isApiPath(url: string): boolean {
  return /^\/(api|ajax-api)\/|^\/graphql(\?|\/|$)/.test(url);
}
