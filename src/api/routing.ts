import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

/** A route's handler; `R` is the wire message it answers (a type from `src/wire/`). */
export type Handler<R = unknown> = (req: FastifyRequest, reply: FastifyReply) => Promise<R>;
export type Method = "GET" | "POST" | "PATCH" | "DELETE" | "PUT";

/** The prefixes MLflow serves its REST API under; the UI uses the ajax one. */
export const API_PREFIXES = ["/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"] as const;

/**
 * Registers an MLflow endpoint under every prefix (`experiments/create` → `/api/2.0/mlflow/experiments/create`, …).
 * Name the reply's wire type, `mlflowRoute<GetRunResponse>(…)`, so the handler is checked against it.
 */
export function mlflowRoute<R = unknown>(app: FastifyInstance, method: Method, path: string, handler: Handler<R>, prefixes: readonly string[] = API_PREFIXES): void {
  for (const prefix of prefixes) {
    app.route({ method, url: `${prefix}${path}`, handler });
  }
}

/** True for paths that belong to the HTTP API rather than the web UI (MLflow's `/graphql` included). */
export function isApiPath(url: string): boolean {
  return /^\/(api|ajax-api)\/|^\/graphql(\?|\/|$)/.test(url);
}
