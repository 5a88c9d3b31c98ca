import { Command, CommanderError } from "commander";
import { ConfigError } from "../config.js";
import { MlflowError } from "../errors.js";
import { VERSION } from "../version.js";
import { registerServerCommand } from "./server.js";
import { registerWorkerCommand } from "./worker.js";
import { registerExperimentsCommand } from "./experiments.js";
import { registerRunsCommand } from "./runs.js";
import { registerArtifactsCommand } from "./artifacts.js";
import { registerModelsCommand } from "./models.js";
import { registerRunCommand } from "./run.js";
import { registerDataCommand } from "./data.js";
import { registerServeCommand } from "./serve.js";
import { registerPipelineCommands } from "./pipelines.js";
import { registerMonitorCommand } from "./monitor.js";
import { registerDeployCommand } from "./deploy.js";
import { ApiError } from "../client/index.js";
import { CliError } from "./errors.js";

export { CliError };

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("mloop")
    .description("The machine-learning lifecycle in one tool: tracking, registry, projects, data, serving, monitoring")
    .version(VERSION)
    .showSuggestionAfterError()
    .exitOverride();
  registerServerCommand(program);
  registerWorkerCommand(program);
  registerExperimentsCommand(program);
  registerRunsCommand(program);
  registerArtifactsCommand(program);
  registerModelsCommand(program);
  registerRunCommand(program);
  registerDataCommand(program);
  registerServeCommand(program);
  registerPipelineCommands(program);
  registerMonitorCommand(program);
  registerDeployCommand(program);
  return program;
}

/** Runs the CLI; every failure is one line on stderr and a non-zero exit code. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed help, version or its own error line
      process.exitCode = err.exitCode;
      return;
    }
    const message =
      err instanceof MlflowError
        ? `${err.errorCode}: ${err.message}`
        : err instanceof ApiError
          ? err.errorCode === "CONNECTION_ERROR" || err.status === 0
            ? `${err.message}${err.errorCode === "CONNECTION_ERROR" ? " (is the server running? set --tracking-uri or MLFLOW_TRACKING_URI)" : ""}`
            : `${err.errorCode}: ${err.message}`
        : err instanceof ConfigError || err instanceof CliError
          ? err.message
          : err instanceof Error
            ? err.message
            : String(err);
    process.stderr.write(`mloop: ${message.split("\n")[0]}\n`);
    process.exitCode = err instanceof CliError ? err.exitCode : 1;
  }
}
