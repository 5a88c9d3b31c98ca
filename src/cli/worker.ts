import type { Command } from "commander";
import { loadQueueConfig, processEnv } from "../config.js";
import type { EnvManager } from "../projects/index.js";

export function registerWorkerCommand(program: Command): void {
  program
    .command("worker")
    .description("Run queued project runs (submitted with `mloop run --backend queue`) from a Redis-backed queue")
    .option("--redis-url <url>", "Redis holding the queue (MLOOP_REDIS_URL); default redis://127.0.0.1:6379")
    .option("--queue <name>", "queue name (MLOOP_QUEUE_NAME); default mloop-runs")
    .option("--concurrency <n>", "runs executed at once by this worker", "1")
    .addHelpText("after", "\nExample:\n  MLOOP_REDIS_URL=redis://queue-host:6379 mloop worker --concurrency 2\n")
    .action(async (opts: { redisUrl?: string; queue?: string; concurrency: string }) => {
      const config = loadQueueConfig({ redisUrl: opts.redisUrl, queueName: opts.queue });
      const concurrency = Number(opts.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`--concurrency must be a positive integer, got '${opts.concurrency}'`);
      const { startRunWorker } = await import("../queue/index.js");
      // Each run executes as `mloop run … --run-id` with this very program.
      const cli = [process.execPath, ...process.execArgv.filter((a) => !a.startsWith("--inspect")), process.argv[1]!];
      const worker = await startRunWorker({ config, concurrency, cli });
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.stderr.write(`mloop worker ${worker.id} stopping: waiting for running runs to end\n`);
          void worker.close().then(resolve);
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
    });
}

export interface QueueRunOptions {
  entryPoint: string;
  params: [string, string][];
  experimentName?: string;
  experimentId?: string;
  runName?: string;
  /** Queue this existing run (`--run-id`) instead of creating one. */
  runId?: string;
  version?: string;
  envManager?: EnvManager;
  trackingUri?: string;
}

/**
 * `mloop run --backend queue`: submits the project run, prints its id, streams
 * its output back from whichever worker runs it and ends with MLflow's
 * `=== Run (ID='…') succeeded ===` line. Returns the exit code. The project
 * (a folder workers read at the same path, or a git URL each worker clones)
 * and its parameters are checked before anything is queued.
 */
export async function runOnQueue(uri: string, opts: QueueRunOptions): Promise<number> {
  const trackingUri = opts.trackingUri;
  if (!trackingUri || !/^https?:\/\//.test(trackingUri)) {
    throw new Error("--backend queue needs a tracking server that workers can reach: set --tracking-uri or MLFLOW_TRACKING_URI to http(s)://…");
  }
  const config = loadQueueConfig();
  // The queue (BullMQ, Redis) is loaded only by the commands that use it.
  const { followRun, submitRun } = await import("../queue/index.js");
  const submitted = await submitRun({
    config,
    trackingUri,
    uri,
    entryPoint: opts.entryPoint,
    parameters: Object.fromEntries(opts.params),
    experimentName: opts.experimentName ?? processEnv().MLFLOW_EXPERIMENT_NAME,
    experimentId: opts.experimentId ?? processEnv().MLFLOW_EXPERIMENT_ID,
    runName: opts.runName,
    runId: opts.runId,
    version: opts.version,
    envManager: opts.envManager,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stderr.write(`=== Queued run (ID='${submitted.runId}') on '${config.queueName}'; waiting for a worker ===\n`);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  try {
    const end = await followRun(config, submitted.runId, (line) => process.stdout.write(`${line}\n`), stop.signal);
    if (!end) {
      process.stderr.write(`=== Stopped following run (ID='${submitted.runId}'); it stays queued or running ===\n`);
      return 130;
    }
    if (end.status === "FINISHED") {
      process.stderr.write(`=== Run (ID='${submitted.runId}') succeeded ===\n`);
      return 0;
    }
    process.stderr.write(`=== Run (ID='${submitted.runId}') failed ===${end.reason ? ` ${end.reason}` : ""}\n`);
    return 1;
  } finally {
    process.removeListener("SIGINT", onSignal);
  }
}
