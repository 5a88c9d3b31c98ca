/**
 * `GET|POST /graphql`: MLflow's GraphQL endpoint (its UI's run pages and charts ask it), resolved
 * through the same services as the REST routes. With auth on, the route admits signed-in users
 * (auth-rules.ts) and each resolver checks the caller's read permission on what it returns.
 *
 * The engine (graphql-js and the schema, `graphql-exec.ts`) is loaded on the first GraphQL
 * request: building it costs more start-up time than the rest of the routes together.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { GRAPHQL_DEFAULTS } from "../config.js";
import type { RegistryServices } from "../registry/index.js";
import type { TrackingServices } from "../tracking/index.js";
import type { DomainDeps } from "./deps.js";

export function registerGraphql(app: FastifyInstance, deps: DomainDeps, domains: { tracking: TrackingServices; registry: RegistryServices }): void {
  const limits = deps.config.graphql ?? GRAPHQL_DEFAULTS;
  let engine: Promise<typeof import("./graphql-exec.js")> | undefined;
  const handler = async (req: FastifyRequest) => {
    const { accessOf, readRequest, runGraphql } = await (engine ??= import("./graphql-exec.js"));
    const request = readRequest(req);
    return runGraphql({ app, tracking: domains.tracking, registry: domains.registry, access: accessOf(app.auth, req.principal) }, request, limits, (err) => req.log.error(err));
  };
  app.get("/graphql", handler);
  app.post("/graphql", handler);
}
