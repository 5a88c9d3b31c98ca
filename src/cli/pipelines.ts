/**
 * `mloop repro`, `mloop dag`, `mloop status`: DVC pipelines (`dvc.yaml`,
 * `dvc.lock`) run with caching, each stage that runs recorded as a tracking
 * run under one parent run. Errors are one line naming the file, the stage
 * and the field.
 */
import path from "node:path";
import { Option, type Command } from "commander";
import { processEnv, resolveTrackingUri } from "../config.js";
import { MlflowError } from "../errors.js";
import type { DiffRow, RunRecorder, Tracking } from "../pipelines/index.js";
import type * as PipelinesModule from "../pipelines/index.js";
import { RegistryClient } from "../client/index.js";
import { CliError } from "./errors.js";
import { out, positiveInt, printJson, printTable, withExamples } from "./output.js";

function plain(err: unknown): unknown {
  return err instanceof MlflowError ? new CliError(err.message) : err;
}

// The pipeline modules (YAML, git, the data cache) are loaded when a pipeline command runs, not at every CLI start.
let P: typeof PipelinesModule;

async function oneLine<T>(fn: () => Promise<T>): Promise<T> {
  try {
    P ??= await import("../pipelines/index.js");
    return await fn();
  } catch (err) {
    throw plain(err);
  }
}

interface ReproFlags {
  cd?: string;
  dry?: boolean;
  force?: boolean;
  singleItem?: boolean;
  downstream?: boolean;
  jobs?: number;
  runCache: boolean;
  track: boolean;
  trackingUri?: string;
  experimentName?: string;
  runName?: string;
  json?: boolean;
}

export function registerPipelineCommands(program: Command): void {
  withExamples(
    program
      .command("repro")
      .description("Reproduce the dvc.yaml pipeline: run the stale stages in order (or restore them from the run cache), update dvc.lock, record each stage as a run")
      .argument("[targets...]", "stages to reproduce (with their upstream stages); default: all")
      .option("--cd <dir>", "work in this folder instead of the current one")
      .option("--dry", "print the commands that would run, run nothing")
      .option("-f, --force", "run the selected stages even if nothing changed (and skip the run cache)")
      .option("-s, --single-item", "only the targets, not their upstream stages")
      .option("--downstream", "the targets and the stages that depend on them")
      .option("-j, --jobs <n>", "stages to run at once when they do not depend on each other", positiveInt("--jobs"), 1)
      .option("--no-run-cache", "always run the commands, never restore outputs from the run cache")
      .option("--no-track", "do not record stage runs in the tracking server")
      .option("--tracking-uri <uri>", "tracking server URL or sqlite:///… store (MLFLOW_TRACKING_URI); default: ./mlruns.db beside dvc.yaml")
      .option("--experiment-name <name>", "experiment of the stage runs (MLFLOW_EXPERIMENT_NAME), created if missing")
      .option("--run-name <name>", "name of the parent run")
      .option("--json", "print each stage's outcome as JSON"),
    "mloop repro",
    "mloop repro train --force",
    "mloop repro -j 4 --experiment-name churn",
  ).action((targets: string[], flags: ReproFlags) =>
    oneLine(async () => {
      const env = processEnv();
      let tracking: Tracking | undefined;
      let recorder: RunRecorder | undefined;
      const cwd = flags.cd ?? process.cwd();
      const stdout = flags.json ? process.stderr : process.stdout;
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      try {
        const result = await P.reproduce({
          cwd,
          targets,
          dry: flags.dry,
          force: flags.force,
          singleItem: flags.singleItem,
          downstream: flags.downstream,
          jobs: flags.jobs,
          runCache: flags.runCache,
          stdout,
          signal: abort.signal,
          beforeFirstRun: flags.track && !flags.dry
            ? async () => {
                const { root } = P.openPipeline(cwd);
                tracking = await P.openTracking(resolveTrackingUri(flags.trackingUri), root, async (o) => (await import("../api/index.js")).startEmbeddedServer(o), env);
                recorder = new P.RunRecorder({ root, tracking, experimentName: flags.experimentName ?? env.MLFLOW_EXPERIMENT_NAME, runName: flags.runName, log: (l) => process.stderr.write(`${l}\n`) });
                return recorder;
              }
            : undefined,
        });
        await recorder?.finish(result.failed !== undefined, abort.signal.aborted);
        if (flags.json) printJson({ parent_run_id: recorder?.parentRunId, stages: result.stages.map((s) => ({ name: s.name, action: s.action, run_id: s.runId, reasons: s.reasons, error: s.error })) });
        if (result.failed) throw new CliError(result.failed.error ?? `failed to reproduce '${result.failed.name}'`, abort.signal.aborted ? 130 : 1);
      } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        await tracking?.close();
      }
    }),
  );

  withExamples(
    program
      .command("status")
      .description("Which pipeline stages are stale and why (changed deps, params, outs or command), as `dvc status` shows them")
      .argument("[targets...]", "stages to check (with their upstream stages); default: all")
      .option("--cd <dir>", "work in this folder instead of the current one")
      .option("-s, --single-item", "only the targets")
      .option("--downstream", "the targets and the stages that depend on them")
      .option("-q, --quiet", "print nothing; exit 1 when something is stale")
      .option("--json", "print machine-readable JSON"),
    "mloop status",
    "mloop status train --json",
  ).action((targets: string[], flags: { cd?: string; singleItem?: boolean; downstream?: boolean; quiet?: boolean; json?: boolean }) =>
    oneLine(async () => {
      const stale = await P.pipelineStatus({ cwd: flags.cd, targets, singleItem: flags.singleItem, downstream: flags.downstream });
      if (flags.quiet) {
        process.exitCode = stale.length ? 1 : 0;
        return;
      }
      if (flags.json) {
        const obj: Record<string, unknown[]> = {};
        for (const s of stale) {
          const deps: Record<string, string> = {};
          const outs: Record<string, string> = {};
          const extra: string[] = [];
          for (const r of s.reasons) {
            if (r.kind === "deps" || r.kind === "params") deps[r.key ? `${r.path}: ${r.key}` : r.path!] = r.state!;
            else if (r.kind === "outs") outs[r.path!] = r.state!;
            else extra.push(r.kind === "cmd" ? "changed command" : r.kind === "always_changed" ? "always changed" : "not in dvc.lock");
          }
          obj[s.name] = [...(Object.keys(deps).length ? [{ "changed deps": deps }] : []), ...(Object.keys(outs).length ? [{ "changed outs": outs }] : []), ...extra];
        }
        printJson(obj);
        return;
      }
      process.stdout.write(P.formatStatus(stale));
    }),
  );

  withExamples(
    program
      .command("dag")
      .description("Print the pipeline's stage graph (each stage with the stages it depends on), or Graphviz dot / mermaid")
      .argument("[target]", "show only this stage and its upstream stages")
      .option("--cd <dir>", "work in this folder instead of the current one")
      .addOption(new Option("--format <format>", "text, dot or mermaid").choices(["text", "dot", "mermaid"]).default("text"))
      .option("--dot", "same as --format dot")
      .option("--mermaid", "same as --format mermaid")
      .option("-o, --outs", "a graph of the outputs instead of the stages")
      .option("--json", "print nodes and edges as JSON"),
    "mloop dag",
    "mloop dag train --dot | dot -Tsvg > dag.svg",
  ).action((target: string | undefined, flags: { cd?: string; format: "text" | "dot" | "mermaid"; dot?: boolean; mermaid?: boolean; outs?: boolean; json?: boolean }) =>
    oneLine(async () => {
      const { graph } = P.openPipeline(flags.cd ?? process.cwd());
      const names = P.selectStages(graph, { targets: target ? [target] : undefined });
      if (flags.json) {
        printJson({ nodes: names, edges: names.flatMap((n) => [...graph.upstream.get(n)!].filter((u) => names.includes(u)).map((u) => ({ source: u, target: n }))) });
        return;
      }
      const format = flags.dot ? "dot" : flags.mermaid ? "mermaid" : flags.format;
      out(P.formatDag(graph, names, format, flags.outs));
    }),
  );

  withExamples(
    program
      .command("lineage")
      .description("Walk from a model version or run back to its stage run, git commit and the md5 of every data file that went in, and forward to the aliases serving it")
      .argument("<uri>", "models:/<name>/<version>, models:/<name>@<alias>, runs:/<run_id> or request:<prediction request id>")
      .option("--prediction-log <dir>", "the serving prediction log to find request:<id> in (MLOOP_SERVE_LOG_DIR)", "mloop-predictions")
      .option("--cd <dir>", "folder whose default store (./mlruns.db) to read when no tracking URI is set")
      .option("--tracking-uri <uri>", "tracking server URL or sqlite:///… store (MLFLOW_TRACKING_URI)")
      .option("--json", "print the chain as JSON"),
    "mloop lineage models:/churn/3",
    "mloop lineage models:/churn@champion --json",
    "mloop lineage request:7f0c2a9e-… --prediction-log /var/lib/mloop/predictions",
  ).action((uri: string, flags: { cd?: string; trackingUri?: string; json?: boolean; predictionLog: string }) =>
    oneLine(async () => {
      const env = processEnv();
      let prediction: { requestId: string; timestampMs?: number; role?: string; status?: number } | undefined;
      if (uri.startsWith("request:")) {
        const requestId = uri.slice("request:".length);
        const dir = path.resolve(flags.cd ?? process.cwd(), env.MLOOP_SERVE_LOG_DIR && flags.predictionLog === "mloop-predictions" ? env.MLOOP_SERVE_LOG_DIR : flags.predictionLog);
        const { readPredictionLog } = await import("../serving/index.js");
        const found = readPredictionLog(dir).predictions.find((p) => p.request_id === requestId);
        if (!found) throw new CliError(`no prediction with request id '${requestId}' in ${dir}`);
        prediction = { requestId, timestampMs: found.timestamp_ms as number | undefined, role: found.role as string | undefined, status: found.status as number | undefined };
        uri = `models:/${String(found.model)}/${String(found.version)}`;
      }
      const tracking = await P.openTracking(resolveTrackingUri(flags.trackingUri), flags.cd ?? process.cwd(), async (o) => (await import("../api/index.js")).startEmbeddedServer(o), env);
      try {
        const lineage = { ...(prediction ? { prediction } : {}), ...(await P.traceLineage(tracking.client, new RegistryClient({ trackingUri: tracking.uri }), uri)) };
        if (flags.json) printJson(lineage);
        else process.stdout.write(P.formatLineage(lineage));
      } finally {
        await tracking.close();
      }
    }),
  );

  registerComparisonCommands(program);
}

function rootOf(cd: string | undefined): string {
  return P.openPipeline(cd ?? process.cwd()).root;
}

function printDiff(rows: DiffRow[], a: string, b: string, what: string, json: boolean | undefined, withChange: boolean): void {
  if (json) {
    const obj: Record<string, Record<string, { old?: unknown; new?: unknown; diff?: number }>> = {};
    for (const r of rows) (obj[r.path] ??= {})[r.key] = { ...(r.old !== undefined ? { old: r.old } : {}), ...(r.new !== undefined ? { new: r.new } : {}), ...(r.change !== undefined ? { diff: r.change } : {}) };
    printJson(obj);
    return;
  }
  if (rows.length === 0) return;
  printTable(["Path", what, a, b, ...(withChange ? ["Change"] : [])], rows.map((r) => [r.path, r.key, P.showValue(r.old), P.showValue(r.new), ...(withChange ? [r.change === undefined ? "-" : String(r.change)] : [])]));
}

function revPair(revs: string[]): [string, string] {
  if (revs.length > 2) throw new CliError("give at most two revisions: [a_rev] [b_rev]");
  return [revs[0] ?? "HEAD", revs[1] ?? P.WORKSPACE];
}

function num(name: string): (raw: string) => number {
  return (raw) => {
    const n = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(n)) throw new CliError(`${name} must be a number, got '${raw}'`);
    return n;
  };
}

function registerComparisonCommands(program: Command): void {
  const metrics = program.command("metrics").description("Metrics of the pipeline (stage metrics files, JSON/YAML/TOML/CSV): show them, compare two revisions");
  withExamples(
    metrics
      .command("show")
      .description("Print the metrics of the workspace (or of a revision)")
      .argument("[rev]", "git revision; default the workspace")
      .option("--cd <dir>", "work in this folder instead of the current one")
      .option("--json", "print machine-readable JSON"),
    "mloop metrics show",
    "mloop metrics show HEAD~1 --json",
  ).action((rev: string | undefined, flags: { cd?: string; json?: boolean }) =>
    oneLine(async () => {
      const values = P.readMetrics(P.openRevision(rootOf(flags.cd), rev ?? P.WORKSPACE));
      if (flags.json) return printJson(values);
      const rows = Object.entries(values).flatMap(([f, kv]) => Object.entries(kv).map(([k, v]) => [f, k, P.showValue(v)]));
      if (rows.length === 0) return out("No metrics files.");
      printTable(["Path", "Metric", "Value"], rows);
    }),
  );
  withExamples(
    metrics
      .command("diff")
      .description("Compare metrics between two revisions (default HEAD and the workspace)")
      .argument("[revs...]", "a_rev [b_rev]; default HEAD workspace")
      .option("--cd <dir>", "work in this folder instead of the current one")
      .option("-a, --all", "also list unchanged metrics")
      .option("--json", "print machine-readable JSON"),
    "mloop metrics diff",
    "mloop metrics diff main --json",
  ).action((revs: string[], flags: { cd?: string; all?: boolean; json?: boolean }) =>
    oneLine(async () => {
      const root = rootOf(flags.cd);
      const [a, b] = revPair(revs);
      printDiff(P.diffValues(P.readMetrics(P.openRevision(root, a)), P.readMetrics(P.openRevision(root, b)), flags.all), a, b, "Metric", flags.json, true);
    }),
  );

  const params = program.command("params").description("Params the pipeline's stages read");
  withExamples(
    params
      .command("diff")
      .description("Compare the params stages read between two revisions (default HEAD and the workspace)")
      .argument("[revs...]", "a_rev [b_rev]; default HEAD workspace")
      .option("--cd <dir>", "work in this folder instead of the current one")
      .option("-a, --all", "also list unchanged params")
      .option("--json", "print machine-readable JSON"),
    "mloop params diff",
    "mloop params diff main --json",
  ).action((revs: string[], flags: { cd?: string; all?: boolean; json?: boolean }) =>
    oneLine(async () => {
      const root = rootOf(flags.cd);
      const [a, b] = revPair(revs);
      printDiff(P.diffValues(P.readParams(P.openRevision(root, a)), P.readParams(P.openRevision(root, b)), flags.all), a, b, "Param", flags.json, false);
    }),
  );

  const plots = program.command("plots").description("Plots of the pipeline (stage plots files and dvc.yaml plots definitions)");
  withExamples(
    plots
      .command("diff")
      .description("Draw the plots of several revisions into SVG files, one chart per plot with a series per revision")
      .argument("[revs...]", "revisions to compare; default HEAD and the workspace")
      .option("--cd <dir>", "work in this folder instead of the current one")
      .option("-o, --out <dir>", "folder for the SVG files", "dvc_plots")
      .option("--json", "print the files written as JSON"),
    "mloop plots diff main",
    "mloop plots diff v1 v2 -o plots/",
  ).action((revs: string[], flags: { cd?: string; out: string; json?: boolean }) =>
    oneLine(async () => {
      const root = rootOf(flags.cd);
      const names = revs.length === 0 ? ["HEAD", P.WORKSPACE] : revs.length === 1 ? [revs[0]!, P.WORKSPACE] : revs;
      const rendered = await P.renderPlots(names.map((r) => P.openRevision(root, r)), path.resolve(flags.cd ?? process.cwd(), flags.out));
      if (flags.json) return printJson(rendered);
      if (rendered.length === 0) return out("No plots.");
      for (const p of rendered) out(`${p.id}: ${p.svg}`);
    }),
  );

  withExamples(
    program
      .command("report")
      .description("Write a Markdown report (for a pull-request comment) and a self-contained HTML one comparing params, metrics and plots with a base revision")
      .requiredOption("--base <rev>", "the revision to compare with (e.g. main, origin/main)")
      .option("--target <rev>", "the revision to report on (default: the workspace)", "workspace")
      .option("--cd <dir>", "work in this folder instead of the current one")
      .option("-o, --out <dir>", "folder for report.md, report.html and plots/", "mloop-report")
      .option("--json", "print the compared values and files as JSON instead of the Markdown"),
    "mloop report --base main",
    "mloop report --base origin/main -o report && gh pr comment --body-file report/report.md",
  ).action((flags: { base: string; target: string; cd?: string; out: string; json?: boolean }) =>
    oneLine(async () => {
      const root = rootOf(flags.cd);
      const report = await P.buildReport(root, flags.base, path.resolve(flags.cd ?? process.cwd(), flags.out), flags.target);
      if (flags.json) return printJson({ dir: report.dir, metrics: report.metrics, params: report.params, plots: report.plots });
      process.stdout.write(report.markdown);
    }),
  );

  withExamples(
    program
      .command("gate")
      .description("Exit non-zero with one line when a metric is out of bounds or got worse than at a base revision")
      .requiredOption("--metric <name>", "metric key (or <file>:<key>) in the pipeline's metrics files")
      .option("--min <value>", "lowest acceptable value", num("--min"))
      .option("--max <value>", "highest acceptable value", num("--max"))
      .option("--not-worse-than <rev>", "fail when the metric is worse than at this revision")
      .option("--tolerance <delta>", "how much worse than the base still passes", num("--tolerance"), 0)
      .option("--lower-is-better", "smaller values are better (loss, error)")
      .option("--cd <dir>", "work in this folder instead of the current one")
      .option("--json", "print the verdict as JSON"),
    "mloop gate --metric accuracy --min 0.9 --not-worse-than main --tolerance 0.01",
    "mloop gate --metric loss --lower-is-better --not-worse-than origin/main",
  ).action((flags: { metric: string; min?: number; max?: number; notWorseThan?: string; tolerance: number; lowerIsBetter?: boolean; cd?: string; json?: boolean }) =>
    oneLine(async () => {
      const root = rootOf(flags.cd);
      const current = P.readMetrics(P.openRevision(root, P.WORKSPACE));
      const base = flags.notWorseThan ? P.readMetrics(P.openRevision(root, flags.notWorseThan)) : undefined;
      const verdict = P.judge(current, base, flags, flags.notWorseThan);
      if (flags.json) printJson(verdict);
      if (!verdict.ok) throw new CliError(verdict.message);
      if (!flags.json) out(verdict.message);
    }),
  );
}
