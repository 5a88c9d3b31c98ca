import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import type { QueueConfig } from "../config.js";
import { MloopClient } from "../client/index.js";
import { isGitUrl, prepareProject, stripCredentials, type EnvManager } from "../projects/index.js";
import { openQueue, TAGS, type QueuedRun } from "./jobs.js";
import { followLog, logStreamKey, type EndStatus } from "./logs.js";

export interface SubmitRunOptions {
  config: QueueConfig;
  trackingUri: string;
  /** Project folder (workers must see it at the same path: a shared volume or the same checkout), `folder#subdir`, or a git URL. */
  uri: string;
  entryPoint?: string;
  parameters?: Record<string, string>;
  /** Git commit, branch or tag to run. */
  version?: string;
  envManager?: EnvManager;
  experimentId?: string;
  experimentName?: string;
  runName?: string;
  /** Queue this existing run (e.g. one a deployment controller created and recorded first) instead of creating one. */
  runId?: string;
  env?: Record<string, string>;
  /** Where warnings found while checking the project go (default: nowhere). */
  log?: (line: string) => void;
}

export interface SubmittedRun {
  runId: string;
  experimentId: string;
  jobId: string;
}

/** A local folder becomes absolute (keeping `#subdir`); git URLs stay as given. */
function normalizeUri(uri: string): string {
  const hash = uri.indexOf("#");
  const base = hash < 0 ? uri : uri.slice(0, hash);
  if (isGitUrl(base)) return uri;
  return `${path.resolve(base)}${hash < 0 ? "" : uri.slice(hash)}`;
}

/**
 * Checks the project as `mloop run` would (fetch at the version, entry point,
 * typed parameters, environment manager) so a bad submission fails here with
 * a ProjectError and creates no run; then creates the MLflow run (status
 * SCHEDULED) and puts the project run on the queue, keyed by the run id so
 * submitting twice never runs twice.
 */
export async function submitRun(opts: SubmitRunOptions): Promise<SubmittedRun> {
  const entryPoint = opts.entryPoint ?? "main";
  const uri = normalizeUri(opts.uri);
  const parameters = opts.parameters ?? {};
  await prepareProject(
    { uri, entryPoint, params: Object.entries(parameters), version: opts.version, envManager: opts.envManager },
    opts.log ?? (() => undefined),
  );
  const client = new MloopClient({ trackingUri: opts.trackingUri });
  let experimentId = opts.experimentId;
  if (!experimentId && opts.experimentName) {
    experimentId = (await client.getExperimentByName(opts.experimentName))?.experiment_id ?? (await client.createExperiment(opts.experimentName));
  }
  const tags = {
    [TAGS.backend]: "queue",
    [TAGS.queue]: opts.config.queueName,
    [TAGS.entryPoint]: entryPoint,
    [TAGS.sourceName]: stripCredentials(uri),
    [TAGS.sourceType]: "PROJECT",
  };
  let runId: string;
  if (opts.runId) {
    const existing = await client.getRun(opts.runId);
    runId = existing.info.run_id;
    experimentId = existing.info.experiment_id;
    await client.setTags(runId, tags);
  } else {
    experimentId ??= "0";
    const run = await client.createRun({ experimentId, runName: opts.runName, userId: os.userInfo().username, tags });
    runId = run.info.run_id;
  }
  await client.updateRun(runId, { status: "SCHEDULED" });
  const queue = openQueue(opts.config);
  try {
    const data: QueuedRun = {
      runId,
      experimentId,
      trackingUri: opts.trackingUri,
      uri,
      entryPoint,
      parameters,
      version: opts.version,
      envManager: opts.envManager,
      runName: opts.runName,
      env: opts.env,
      submittedAt: Date.now(),
    };
    const job = await queue.add("run", data, {
      jobId: runId,
      attempts: opts.config.attempts,
      backoff: { type: "exponential", delay: 1000 },
      removeOnComplete: { age: 7 * 24 * 3600 },
      removeOnFail: { age: 30 * 24 * 3600 },
    });
    await client.setTag(runId, TAGS.jobId, job.id ?? runId);
    return { runId, experimentId, jobId: job.id ?? runId };
  } finally {
    await queue.close();
  }
}

/** Streams a submitted run's output until it ends; returns its final status. */
export async function followRun(
  config: QueueConfig,
  runId: string,
  onLine: (line: string) => void,
  signal?: AbortSignal,
): Promise<{ status: EndStatus; reason: string } | undefined> {
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  try {
    return await followLog(redis, logStreamKey(config, runId), onLine, signal);
  } finally {
    redis.disconnect();
  }
}
