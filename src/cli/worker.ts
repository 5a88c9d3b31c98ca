import type { Command } from "commander";
import { loadQueueConfig } from "../config.js";
import { startRunWorker } from "../queue/index.js";

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
      const worker = await startRunWorker({ config, concurrency });
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
