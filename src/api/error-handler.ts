/**
 * The one Fastify error handler of every mloop HTTP app (the tracking server and
 * `mloop serve`): an `MlflowError` goes out as MLflow's `{"error_code", "message"}`
 * with its status; a framework 4xx (bad JSON, 413, 404) gets MLflow's shape too;
 * anything else is logged and answered as a 500 that reveals nothing.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { MlflowError } from "../errors.js";

export const INTERNAL_ERROR_MESSAGE = "Internal server error; see the server log for details.";

export function mlflowErrorHandler(bodyTooLarge?: () => string) {
  return (err: FastifyError | MlflowError, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof MlflowError) {
      if (err.status >= 500) req.log.error(err);
      return reply.status(err.status).send(err.toJSON());
    }
    const status = typeof err.statusCode === "number" ? err.statusCode : 500;
    if (status >= 400 && status < 500) {
      const code = status === 404 ? "ENDPOINT_NOT_FOUND" : status === 413 ? "RESOURCE_LIMIT_EXCEEDED" : "BAD_REQUEST";
      const message = status === 413 && bodyTooLarge ? bodyTooLarge() : err.message;
      return reply.status(status).send({ error_code: code, message });
    }
    req.log.error(err);
    return reply.status(500).send({ error_code: "INTERNAL_ERROR", message: INTERNAL_ERROR_MESSAGE });
  };
}
