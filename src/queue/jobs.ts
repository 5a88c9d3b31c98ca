import { Queue, QueueEvents } from "bullmq";
import type { QueueConfig } from "../config.js";
import type { EnvManager } from "../projects/index.js";

/** What a queued project run carries: enough for any worker to run it and log to its MLflow run. */
export interface QueuedRun {
  /** The MLflow run created at submission; the job id is this run id. */
  runId: string;
  experimentId: string;
  trackingUri: string;
  /** The project, as `mloop run` takes it: a local folder (absolute, readable by workers), `folder#subdir`, or a git URL. */
  uri: string;
  entryPoint: string;
  parameters: Record<string, string>;
  /** Git commit, branch or tag to run. */
  version?: string;
  /** As `mloop run --env-manager`; unset: decided from the project (virtualenv when it has python_env.yaml). */
  envManager?: EnvManager;
  runName?: string;
  /** Extra environment for the run's process. */
  env?: Record<string, string>;
  submittedAt: number;
}

/** Tags a queued run carries (MLflow's own `mlflow.*` tags where one exists). */
export const TAGS = {
  jobId: "mloop.queue.job_id",
  queue: "mloop.queue.name",
  worker: "mloop.queue.worker",
  attempt: "mloop.queue.attempt",
  failureReason: "mloop.queue.failure_reason",
  backend: "mlflow.project.backend",
  entryPoint: "mlflow.project.entryPoint",
  sourceName: "mlflow.source.name",
  sourceType: "mlflow.source.type",
} as const;

/** BullMQ connection options from a redis:// URL; commands wait for Redis instead of failing while it restarts. */
export function connectionFor(config: QueueConfig): { url: string; maxRetriesPerRequest: null; enableReadyCheck: boolean } {
  return { url: config.redisUrl, maxRetriesPerRequest: null, enableReadyCheck: true };
}

export function openQueue(config: QueueConfig): Queue<QueuedRun> {
  return new Queue<QueuedRun>(config.queueName, { connection: connectionFor(config) });
}

export function openQueueEvents(config: QueueConfig): QueueEvents {
  return new QueueEvents(config.queueName, { connection: connectionFor(config) });
}
