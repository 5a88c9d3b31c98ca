import type { Command } from "commander";
import type { Experiment, MloopClient, ViewType } from "../client/index.js";
import { CliError } from "./errors.js";
import {
  clientFor,
  oneLineErrors,
  collect,
  formatTime,
  out,
  paint,
  positiveInt,
  printJson,
  printTable,
  viewOption,
  withCommonOptions,
  withExamples,
  type CommonOptions,
} from "./output.js";

interface ExperimentRef {
  experimentId?: string;
  experimentName?: string;
}

/** The id of the experiment named by `--experiment-id` or `--experiment-name`; one clear line when there is none. */
export async function resolveExperimentId(client: MloopClient, ref: ExperimentRef): Promise<string> {
  if (ref.experimentId !== undefined && ref.experimentName !== undefined) {
    throw new CliError("give --experiment-id or --experiment-name, not both");
  }
  if (ref.experimentId !== undefined) return ref.experimentId;
  if (ref.experimentName === undefined) throw new CliError("give --experiment-id or --experiment-name");
  const exp = await client.getExperimentByName(ref.experimentName);
  if (!exp) throw new CliError(`experiment '${ref.experimentName}' does not exist`);
  return exp.experiment_id;
}

/** `key=value` → `[key, value]`, or one line saying what is wrong. */
export function parseTag(raw: string): [string, string] {
  const i = raw.indexOf("=");
  if (i <= 0) throw new CliError(`tags are written key=value, got '${raw}'`);
  return [raw.slice(0, i), raw.slice(i + 1)];
}

function refOptions(cmd: Command): Command {
  return cmd.option("-x, --experiment-id <id>", "experiment id").option("-n, --experiment-name <name>", "experiment name");
}

export function registerExperimentsCommand(program: Command): void {
  const group = oneLineErrors(program.command("experiments")).description("Create, list, rename, delete and restore experiments");
  withExamples(group, "mloop experiments list --tracking-uri http://127.0.0.1:5000");

  withExamples(
    withCommonOptions(
      group
        .command("create")
        .description("Create an experiment and print its id")
        .requiredOption("-n, --experiment-name <name>", "name of the new experiment")
        .option("-l, --artifact-location <uri>", "where its runs store artifacts (default: the server's artifact root)")
        .option("-t, --tag <key=value>", "experiment tag (repeatable)", collect),
    ),
    "mloop experiments create -n fraud-detection --tag team=risk",
  ).action(async (opts: CommonOptions & { experimentName: string; artifactLocation?: string; tag?: string[] }) => {
    const client = clientFor(opts);
    const tags = Object.fromEntries((opts.tag ?? []).map(parseTag));
    const id = await client.createExperiment(opts.experimentName, { artifactLocation: opts.artifactLocation, tags });
    if (opts.json) printJson({ experiment_id: id });
    else out(`Created experiment '${opts.experimentName}' with id ${id}`);
  });

  withExamples(
    withCommonOptions(
      group
        .command("list")
        .alias("search")
        .description("List experiments (alias: search, as in MLflow's CLI)")
        .addOption(viewOption())
        .option("--filter <expr>", "MLflow search filter, e.g. \"name LIKE 'fraud%'\"")
        .option("--order-by <clause>", "ordering, e.g. 'last_update_time DESC' (repeatable)", collect)
        .option("--max-results <n>", "show at most n experiments", positiveInt("--max-results")),
    ),
    "mloop experiments list --filter \"tags.team = 'risk'\" --order-by 'name ASC'",
    "mloop experiments list --view all --json",
  ).action(async (opts: CommonOptions & { view: string; filter?: string; orderBy?: string[]; maxResults?: number }) => {
    const client = clientFor(opts);
    const experiments: Experiment[] = [];
    const search = { filter: opts.filter, orderBy: opts.orderBy, viewType: opts.view.toUpperCase() as ViewType };
    for await (const exp of client.iterExperiments({ ...search, maxResults: opts.maxResults !== undefined ? Math.min(opts.maxResults, 1000) : undefined })) {
      experiments.push(exp);
      if (opts.maxResults !== undefined && experiments.length >= opts.maxResults) break;
    }
    if (opts.json) return printJson(experiments);
    printTable(
      ["ID", "NAME", "ARTIFACT LOCATION", ...(opts.view === "active_only" ? [] : ["STAGE"]), "LAST UPDATED"],
      experiments.map((e) => [
        e.experiment_id,
        e.name,
        e.artifact_location,
        ...(opts.view === "active_only" ? [] : [e.lifecycle_stage === "deleted" ? paint("red", "deleted") : "active"]),
        formatTime(e.last_update_time ?? e.creation_time),
      ]),
    );
  });

  withExamples(
    withCommonOptions(refOptions(group.command("rename").description("Rename an experiment")).requiredOption("--new-name <name>", "the new name")),
    "mloop experiments rename -n fraud --new-name fraud-detection",
  ).action(async (opts: CommonOptions & ExperimentRef & { newName: string }) => {
    const client = clientFor(opts);
    const id = await resolveExperimentId(client, opts);
    await client.renameExperiment(id, opts.newName);
    if (opts.json) printJson({ experiment_id: id, name: opts.newName });
    else out(`Renamed experiment ${id} to '${opts.newName}'`);
  });

  withExamples(
    withCommonOptions(refOptions(group.command("delete").description("Mark an experiment and its runs deleted (restore brings them back)"))),
    "mloop experiments delete -x 3",
  ).action(async (opts: CommonOptions & ExperimentRef) => {
    const client = clientFor(opts);
    const id = await resolveExperimentId(client, opts);
    await client.deleteExperiment(id);
    if (opts.json) printJson({ experiment_id: id, lifecycle_stage: "deleted" });
    else out(`Deleted experiment ${id}`);
  });

  withExamples(
    withCommonOptions(refOptions(group.command("restore").description("Restore a deleted experiment"))),
    "mloop experiments restore -n fraud-detection",
  ).action(async (opts: CommonOptions & ExperimentRef) => {
    const client = clientFor(opts);
    const id = await resolveExperimentId(client, opts);
    await client.restoreExperiment(id);
    if (opts.json) printJson({ experiment_id: id, lifecycle_stage: "active" });
    else out(`Restored experiment ${id}`);
  });
}
