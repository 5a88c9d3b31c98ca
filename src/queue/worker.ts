import os from "node:os";
import { Job, Worker, type QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import type { QueueConfig } from "../config.js";
import { MloopClient } from "../client/index.js";
import { projectExecutor, type Executor } from "./execute.js";
import { connectionFor, openQueueEvents, TAGS, type QueuedRun } from "./jobs.js";
import { LogWriter, logStreamKey, readLog } from "./logs.js";

export interface RunWorkerOptions {
  config: QueueConfig;
  /** Runs processed at once by this worker (default 1). */
  concurrency?: number;
  /** How a run is executed (default: `mloop run … --run-id` through `cli`). */
  execute?: Executor;
  /** The command starting mloop on this machine, e.g. `[process.execPath, "/path/bin/mloop.js"]` (default: this package's bin). */
  cli?: string[];
  /** Where this worker's own messages go (default: stderr). */
  log?: (line: string) => void;
}

export interface RunWorker {
  readonly id: string;
  /** Resolves when the worker has stopped taking jobs and running ones ended. */
  close(): Promise<void>;
}

const LOG_ARTIFACT = "mloop-run.log";

/**
 * Consumes queued project runs. Each job's MLflow run moves SCHEDULED →
 * RUNNING → FINISHED/FAILED; output streams to Redis and, at the end, to the
 * run's `mloop-run.log` artifact. A worker that dies mid-run stops renewing
 * its lock: another worker takes the job again (up to `maxStalledCount`
 * times), after which the run is marked FAILED with the reason in the
 * `mloop.queue.failure_reason` tag. Every worker watches for such final
 * failures, so the run is never left RUNNING.
 */
export async function startRunWorker(opts: RunWorkerOptions): Promise<RunWorker> {
  const { config } = opts;
  const id = `${os.hostname()}:${process.pid}`;
  const say = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const execute = opts.execute ?? projectExecutor(opts.cli);
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  const clients = new Map<string, MloopClient>();
  const clientFor = (uri: string) => {
    let c = clients.get(uri);
    if (!c) clients.set(uri, (c = new MloopClient({ trackingUri: uri, maxRetries: 8 })));
    return c;
  };

  const markFailed = async (data: QueuedRun, reason: string) => {
    const client = clientFor(data.trackingUri);
    const run = await client.getRun(data.runId).catch(() => undefined);
    // `mloop run` may already have ended an attempt FAILED or KILLED; the queue's verdict is final (a FINISHED run stays so).
    if (run?.info.status === "FINISHED") return;
    await client.setTags(data.runId, { [TAGS.failureReason]: reason.slice(0, 5000), [TAGS.backend]: "queue" });
    await client.updateRun(data.runId, { status: "FAILED", endTime: Date.now() });
    const logs = new LogWriter(redis, logStreamKey(config, data.runId));
    logs.line(`[mloop worker ${id}] run failed: ${reason}`);
    await logs.flush();
    await uploadLog(data).catch(() => undefined);
    await logs.end("FAILED", reason);
  };

  const uploadLog = async (data: QueuedRun) => {
    const lines = await readLog(redis, logStreamKey(config, data.runId));
    await clientFor(data.trackingUri).logText(data.runId, `${lines.join("\n")}\n`, LOG_ARTIFACT);
  };

  const worker = new Worker<QueuedRun>(
    config.queueName,
    async (job, _token, signal) => {
      const data = job.data;
      const client = clientFor(data.trackingUri);
      const logs = new LogWriter(redis, logStreamKey(config, data.runId));
      const attempt = job.attemptsMade + (job.stalledCounter ?? 0) + 1;
      logs.line(`[mloop worker ${id}] attempt ${attempt}: running ${data.uri} (entry point ${data.entryPoint})`);
      await client.setTags(data.runId, { [TAGS.worker]: id, [TAGS.attempt]: String(attempt) });
      await client.updateRun(data.runId, { status: "RUNNING" });
      let problem: string | undefined;
      const { exitCode } = await execute(data, {
        onLine: (l) => {
          // `mloop run` reports a problem found before the command starts (a bad parameter, an unreachable git URL) as one `mloop: …` line.
          if (l.startsWith("mloop: ")) problem = l.slice("mloop: ".length);
          logs.line(l);
        },
        env: {
          MLFLOW_RUN_ID: data.runId,
          MLFLOW_TRACKING_URI: data.trackingUri,
          MLFLOW_EXPERIMENT_ID: data.experimentId,
        },
        signal,
      });
      await logs.flush();
      // `mloop run` tags the run with its own (local) backend; the run was executed by the queue.
      await client.setTag(data.runId, TAGS.backend, "queue").catch(() => undefined);
      if (exitCode !== 0) throw new Error(problem ?? `the run's command exited with code ${exitCode} on worker ${id}`);
      // The log artifact is stored before the run is FINISHED and its stream ends, so whoever sees
      // the end (`mloop run --backend queue` following the stream, a poller) finds the log there.
      logs.line(`[mloop worker ${id}] run succeeded`);
      await logs.flush();
      await uploadLog(data).catch((err: unknown) => say(`mloop worker: could not store the log of run ${data.runId}: ${String(err)}`));
      await client.updateRun(data.runId, { status: "FINISHED", endTime: Date.now() });
      await logs.end("FINISHED");
      return { runId: data.runId, worker: id };
    },
    {
      connection: connectionFor(config),
      concurrency: opts.concurrency ?? 1,
      lockDuration: config.lockDurationMs,
      stalledInterval: config.stalledIntervalMs,
      maxStalledCount: config.maxStalledCount,
    },
  );

  // Failures this worker saw itself: the last attempt marks the run FAILED.
  worker.on("failed", (job, err) => {
    if (!job) return;
    const final = job.attemptsMade >= (job.opts.attempts ?? 1);
    say(`mloop worker: run ${job.data.runId} attempt failed: ${err.message}${final ? "" : " (will retry)"}`);
    if (final) markFailed(job.data, err.message).catch((e: unknown) => say(`mloop worker: could not mark run ${job.data.runId} FAILED: ${String(e)}`));
  });
  worker.on("error", (err) => say(`mloop worker: ${err.message}`));

  // Failures nobody processed: a job whose worker died too often is failed by the stalled check.
  const events: QueueEvents = openQueueEvents(config);
  events.on("failed", ({ jobId, failedReason }) => {
    void (async () => {
      const job = await Job.fromId<QueuedRun>(worker as never, jobId).catch(() => undefined);
      if (!job || (await job.getState()) !== "failed") return;
      await markFailed(job.data, failedReason || "the run's worker stopped");
    })().catch((e: unknown) => say(`mloop worker: could not mark job ${jobId} FAILED: ${String(e)}`));
  });
  events.on("error", (err) => say(`mloop worker: ${err.message}`));

  await worker.waitUntilReady();
  await events.waitUntilReady();
  say(`mloop worker ${id} consuming queue '${config.queueName}' on ${config.redisUrl.replace(/\/\/[^@/]*@/, "//***@")}`);

  return {
    id,
    async close() {
      await worker.close();
      await events.close();
      redis.disconnect();
    },
  };
}
