/** The run queue: `mloop run --backend queue` submits, `mloop worker` consumes. */
export { submitRun, followRun, type SubmitRunOptions, type SubmittedRun } from "./submit.js";
export { startRunWorker, type RunWorker, type RunWorkerOptions } from "./worker.js";
export { executeProject, projectExecutor, runArguments, type Executor, type ExecuteOptions } from "./execute.js";
export { TAGS as QUEUE_TAGS, type QueuedRun } from "./jobs.js";
