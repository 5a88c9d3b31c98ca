import type { Command } from "commander";
import type { Run, ViewType } from "../client/index.js";
import { resolveExperimentId } from "./experiments.js";
import { CliError } from "./errors.js";
import {
  clientFor,
  oneLineErrors,
  collect,
  formatDuration,
  formatTime,
  out,
  paint,
  paintStatus,
  positiveInt,
  printJson,
  printPairs,
  printTable,
  viewOption,
  withCommonOptions,
  withExamples,
  type CommonOptions,
} from "./output.js";

interface RunRef extends CommonOptions {
  runId: string;
}

interface Column {
  label: string;
  value: (run: Run) => string;
}

/** `metrics.auc,params.model` → table columns; anything else is one clear error line. */
export function parseColumns(raw: string | undefined): Column[] {
  if (!raw) return [];
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((spec) => {
      const m = /^(metrics|params|tags)\.(.+)$/.exec(spec);
      if (!m) throw new CliError(`--columns takes metrics.<key>, params.<key> or tags.<key>, got '${spec}'`);
      const [, kind, key] = m as unknown as [string, "metrics" | "params" | "tags", string];
      return {
        label: spec,
        value: (run: Run) => {
          if (kind === "metrics") {
            const metric = run.data.metrics?.find((x) => x.key === key);
            return metric ? formatValue(metric.value) : "";
          }
          return run.data[kind]?.find((x) => x.key === key)?.value ?? "";
        },
      };
    });
}

function formatValue(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
}

export function registerRunsCommand(program: Command): void {
  const group = oneLineErrors(program.command("runs")).description("List, describe, delete and restore runs");
  withExamples(group, "mloop runs list -n fraud-detection --filter \"metrics.auc > 0.9\"");

  withExamples(
    withCommonOptions(
      group
        .command("list")
        .description("List the runs of an experiment, newest first unless --order-by says otherwise")
        .option("-x, --experiment-id <id>", "experiment id")
        .option("-n, --experiment-name <name>", "experiment name")
        .addOption(viewOption())
        .option("--filter <expr>", "MLflow search filter, e.g. \"metrics.rmse < 0.8 AND params.model = 'xgb'\"")
        .option("--order-by <clause>", "ordering, e.g. 'metrics.rmse ASC' (repeatable)", collect)
        .option("--max-results <n>", "show at most n runs", positiveInt("--max-results"))
        .option("-c, --columns <list>", "extra columns, comma-separated: metrics.<key>, params.<key>, tags.<key>"),
    ),
    "mloop runs list -x 1 --filter \"attributes.status = 'FINISHED'\" --order-by 'metrics.rmse ASC' --max-results 10",
    "mloop runs list -n fraud-detection --columns metrics.auc,params.model",
    "mloop runs list -n fraud-detection --json",
  ).action(
    async (
      opts: CommonOptions & { experimentId?: string; experimentName?: string; view: string; filter?: string; orderBy?: string[]; maxResults?: number; columns?: string },
    ) => {
      const columns = parseColumns(opts.columns);
      const client = clientFor(opts);
      const experimentId = await resolveExperimentId(client, opts);
      const runs: Run[] = [];
      const search = {
        experimentIds: [experimentId],
        filter: opts.filter,
        orderBy: opts.orderBy,
        viewType: opts.view.toUpperCase() as ViewType,
        maxResults: opts.maxResults !== undefined ? Math.min(opts.maxResults, 1000) : undefined,
      };
      for await (const run of client.iterRuns(search)) {
        runs.push(run);
        if (opts.maxResults !== undefined && runs.length >= opts.maxResults) break;
      }
      if (opts.json) return printJson(runs);
      printTable(
        ["RUN ID", "NAME", "STATUS", "STARTED", "DURATION", ...columns.map((c) => c.label)],
        runs.map((r) => [
          r.info.run_id,
          r.info.run_name ?? "",
          paintStatus(r.info.status) + (r.info.lifecycle_stage === "deleted" ? paint("dim", " (deleted)") : ""),
          formatTime(r.info.start_time),
          formatDuration(r.info.start_time, r.info.end_time),
          ...columns.map((c) => c.value(r)),
        ]),
      );
    },
  );

  withExamples(
    withCommonOptions(group.command("describe").description("Show a run: its info, parameters, latest metrics and tags").requiredOption("-r, --run-id <id>", "run id")),
    "mloop runs describe -r 4f1c0e5a9b2d4c7e8f3a1b2c3d4e5f60",
  ).action(async (opts: RunRef) => {
    const client = clientFor(opts);
    const run = await client.getRun(opts.runId);
    if (opts.json) return printJson(run);
    const i = run.info;
    printPairs([
      ["run id", i.run_id],
      ["name", i.run_name ?? ""],
      ["experiment id", i.experiment_id],
      ["status", paintStatus(i.status)],
      ["lifecycle", i.lifecycle_stage],
      ["user", i.user_id ?? ""],
      ["started", formatTime(i.start_time)],
      ["ended", formatTime(i.end_time)],
      ["duration", formatDuration(i.start_time, i.end_time)],
      ["artifact uri", i.artifact_uri ?? ""],
    ]);
    const params = [...(run.data.params ?? [])].sort((a, b) => a.key.localeCompare(b.key));
    const metrics = [...(run.data.metrics ?? [])].sort((a, b) => a.key.localeCompare(b.key));
    const tags = [...(run.data.tags ?? [])].sort((a, b) => a.key.localeCompare(b.key));
    const datasets = run.inputs?.dataset_inputs ?? [];
    if (params.length) {
      out("");
      printTable(["PARAM", "VALUE"], params.map((p) => [p.key, p.value]));
    }
    if (metrics.length) {
      out("");
      printTable(["METRIC", "VALUE", "STEP", "LOGGED"], metrics.map((m) => [m.key, formatValue(m.value), String(m.step), formatTime(m.timestamp)]));
    }
    if (tags.length) {
      out("");
      printTable(["TAG", "VALUE"], tags.map((t) => [t.key, t.value]));
    }
    if (datasets.length) {
      out("");
      printTable(["DATASET", "DIGEST", "SOURCE"], datasets.map((d) => [d.dataset.name, d.dataset.digest, d.dataset.source]));
    }
  });

  withExamples(
    withCommonOptions(group.command("delete").description("Mark a run deleted (restore brings it back)").requiredOption("-r, --run-id <id>", "run id")),
    "mloop runs delete -r 4f1c0e5a9b2d4c7e8f3a1b2c3d4e5f60",
  ).action(async (opts: RunRef) => {
    const client = clientFor(opts);
    await client.deleteRun(opts.runId);
    if (opts.json) printJson({ run_id: opts.runId, lifecycle_stage: "deleted" });
    else out(`Deleted run ${opts.runId}`);
  });

  withExamples(
    withCommonOptions(group.command("restore").description("Restore a deleted run").requiredOption("-r, --run-id <id>", "run id")),
    "mloop runs restore -r 4f1c0e5a9b2d4c7e8f3a1b2c3d4e5f60",
  ).action(async (opts: RunRef) => {
    const client = clientFor(opts);
    await client.restoreRun(opts.runId);
    if (opts.json) printJson({ run_id: opts.runId, lifecycle_stage: "active" });
    else out(`Restored run ${opts.runId}`);
  });
}
