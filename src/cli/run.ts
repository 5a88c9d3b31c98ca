import { Option, type Command } from "commander";
import { processEnv, resolveTrackingUri } from "../config.js";
import type { EnvManager } from "../projects/index.js";
import { CliError } from "./errors.js";
import { collect, withExamples } from "./output.js";
import { runOnQueue } from "./worker.js";

interface RunOptions {
  entryPoint: string;
  paramList?: string[];
  experimentName?: string;
  experimentId?: string;
  runName?: string;
  version?: string;
  envManager?: EnvManager | "docker";
  runId?: string;
  storageDir?: string;
  backend: string;
  trackingUri?: string;
}

export function registerRunCommand(program: Command): void {
  // `mloop run … --version <ref>` is the project's git version, as in `mlflow run`; the program's own
  // --version then only counts before the command name.
  program.enablePositionalOptions();
  withExamples(
    program
      .command("run")
      .description("Run an MLproject project (a folder, folder#subdir or git URL) and record it as a run with its git provenance")
      .argument("<uri>", "project: a local folder, folder#subdir, or a git URL (https://, ssh://, git@host:repo, file://)")
      .option("-e, --entry-point <name>", "entry point, or a .py/.sh file of the project", "main")
      .option("-P, --param-list <key=value>", "a parameter (repeatable); undeclared ones are passed as --key value", collect)
      .option("--experiment-name <name>", "experiment to record the run in, created if missing (MLFLOW_EXPERIMENT_NAME)")
      .option("--experiment-id <id>", "experiment id to record the run in (MLFLOW_EXPERIMENT_ID)")
      .option("--run-name <name>", "name of the run")
      .option("-v, --version <ref>", "git commit, branch or tag to run")
      .addOption(
        new Option("--env-manager <manager>", "local: the current Python; virtualenv: a cached venv built from python_env.yaml (default when the project has one)").choices([
          "local",
          "virtualenv",
          "conda",
          "docker",
          "uv",
        ]),
      )
      .option("--run-id <id>", "continue this existing run instead of creating one")
      .option("--storage-dir <dir>", "where remote 'path' parameters are downloaded (MLFLOW_TMP_DIR)")
      .option("-b, --backend <backend>", "execution backend", "local")
      .option("--tracking-uri <uri>", "tracking server URL or sqlite:///… store (MLFLOW_TRACKING_URI); default: ./mlruns.db with ./mlartifacts, as `mloop server` here uses"),
    "mloop run examples/sklearn-classifier --experiment-name iris -P max_iter=300",
    "mloop run https://github.com/org/repo.git#training --version v1.2 -e train -P alpha=0.5",
    "mloop run . -e scripts/evaluate.py --env-manager local",
  ).action(async (uri: string, opts: RunOptions) => {
    if (opts.envManager === "docker") throw new CliError("--env-manager docker needs Docker, which mloop run does not support; use --env-manager local or virtualenv");
    // loaded when a project runs, not on every start of the CLI
    const { parseParamList, ProjectError, runProject } = await import("../projects/index.js");
    const env = processEnv();
    if (opts.backend === "queue") {
      process.exitCode = await runOnQueue(uri, { entryPoint: opts.entryPoint, params: parseParamList(opts.paramList ?? []), experimentName: opts.experimentName, experimentId: opts.experimentId, runName: opts.runName, runId: opts.runId, version: opts.version, envManager: opts.envManager, trackingUri: resolveTrackingUri(opts.trackingUri) });
      return;
    }
    try {
      const result = await runProject({
        uri,
        entryPoint: opts.entryPoint,
        params: parseParamList(opts.paramList ?? []),
        experimentName: opts.experimentName,
        experimentId: opts.experimentId,
        runName: opts.runName,
        version: opts.version,
        envManager: opts.envManager,
        runId: opts.runId,
        storageDir: opts.storageDir ?? env.MLFLOW_TMP_DIR,
        backend: opts.backend,
        trackingUri: resolveTrackingUri(opts.trackingUri),
        forwardSignals: true,
        embeddedServer: async (o) => (await import("../api/index.js")).startEmbeddedServer(o),
      });
      process.exitCode = result.exitCode;
    } catch (err) {
      if (err instanceof ProjectError) throw new CliError(err.message);
      throw err;
    }
  });
}
