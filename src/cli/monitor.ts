/**
 * `mloop monitor report` (a batch drift report on two files, no server),
 * `mloop monitor profile MODEL_URI` (store a model version's reference profile),
 * `mloop monitor start MODEL_URI` (watch a running `mloop serve`'s prediction log),
 * `mloop monitor status` (what a running monitor saw).
 */
import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { loadMonitorConfig, resolveTrackingUri, type MonitorConfig } from "../config.js";
import { MloopClient, RegistryClient } from "../client/index.js";
import type { ColumnKind, DriftMethod, DriftOptions, Profile, WindowResult } from "../monitoring/index.js";
import { CliError } from "./errors.js";
import { collect, out, paint, printJson, printTable, withExamples } from "./output.js";

async function monitoring() {
  return import("../monitoring/index.js");
}

interface DriftFlags {
  method?: string;
  perColumn?: string[];
  threshold?: string;
  driftShare?: string;
  numerical?: string;
  categorical?: string;
  columns?: string;
  predictionColumn?: string;
}

function withDriftOptions(cmd: Command): Command {
  return cmd
    .option("--method <method>", "one test for every column: ks, chisquare, chi2_contingency, z, wasserstein, jensenshannon, psi, kl (default: chosen per column as Evidently's DataDriftPreset does)")
    .option("--per-column <column=method>", "a test for one column (repeatable)", collect)
    .option("--threshold <n>", "one threshold for every column (default: 0.05 for p-values, 0.1 for distances)")
    .option("--drift-share <n>", "share of drifted columns at which the dataset drifts", "0.5")
    .option("--numerical <cols>", "comma-separated columns to treat as numerical")
    .option("--categorical <cols>", "comma-separated columns to treat as categorical")
    .option("--columns <cols>", "only these columns (comma-separated)");
}

function list(s: string | undefined): string[] {
  return s ? s.split(",").map((c) => c.trim()).filter(Boolean) : [];
}

async function driftOptions(f: DriftFlags): Promise<DriftOptions> {
  const { DRIFT_METHODS } = await monitoring();
  const method = (m: string, what: string): DriftMethod => {
    if (!(DRIFT_METHODS as readonly string[]).includes(m)) throw new CliError(`${what}: unknown test '${m}' (one of ${DRIFT_METHODS.join(", ")})`);
    return m as DriftMethod;
  };
  const opts: DriftOptions = {};
  if (f.method) opts.method = method(f.method, "--method");
  for (const pc of f.perColumn ?? []) {
    const eq = pc.lastIndexOf("=");
    if (eq <= 0) throw new CliError(`--per-column must be COLUMN=METHOD, got '${pc}'`);
    (opts.perColumnMethod ??= {})[pc.slice(0, eq)] = method(pc.slice(eq + 1), "--per-column");
  }
  const num = (v: string | undefined, what: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new CliError(`${what} must be a positive number, got '${v}'`);
    return n;
  };
  const t = num(f.threshold, "--threshold");
  if (t !== undefined) opts.threshold = t;
  const s = num(f.driftShare, "--drift-share");
  if (s !== undefined) {
    if (s > 1) throw new CliError("--drift-share must be at most 1");
    opts.driftShare = s;
  }
  return opts;
}

function kinds(f: DriftFlags): Record<string, ColumnKind> {
  const k: Record<string, ColumnKind> = {};
  for (const c of list(f.numerical)) k[c] = "numerical";
  for (const c of list(f.categorical)) k[c] = "categorical";
  return k;
}

function fmt(x: number | null | undefined): string {
  if (x === null || x === undefined) return "-";
  return x !== 0 && Math.abs(x) < 1e-4 ? x.toExponential(2) : String(Math.round(x * 10000) / 10000);
}

function printDrift(r: import("../monitoring/index.js").DriftReport): void {
  printTable(
    ["column", "kind", "test", "score", "threshold", "drift", "notes"],
    r.columns.map((c) => [c.column, c.kind, c.method ?? "-", fmt(c.drift_score), fmt(c.stattest_threshold), !c.tested ? paint("dim", "not tested") : c.drift_detected ? paint("red", "DRIFT") : paint("green", "ok"), c.issues.join("; ")]),
  );
  out(
    `${r.dataset_drift ? paint("red", "Dataset drift") : paint("green", "No dataset drift")}: ${r.number_of_drifted_columns} of ${r.number_of_tested_columns} tested column(s) drifted (share ${fmt(r.share_of_drifted_columns)}, threshold ${r.drift_share}); reference ${r.reference_rows} rows, current ${r.current_rows} rows`,
  );
  for (const i of r.issues) out(paint("yellow", `note: ${i}`));
}

/** True for a file holding a stored reference profile rather than data. */
function isProfileFile(file: string): boolean {
  if (!file.endsWith(".json") || !fs.existsSync(file)) return false;
  const fd = fs.openSync(file, "r");
  const head = Buffer.alloc(64);
  fs.readSync(fd, head, 0, 64, 0);
  fs.closeSync(fd);
  return head.toString().includes('"format":"mloop-reference-profile"');
}

/** Reads a reference: a stored profile (`*.json` of format mloop-reference-profile) or a data file. */
async function readReference(file: string, f: DriftFlags): Promise<Profile> {
  const m = await monitoring();
  if (file.endsWith(".json")) {
    const text = fs.readFileSync(file, "utf8");
    if (text.includes(`"format":"${m.PROFILE_FORMAT}"`)) return m.parseProfile(text);
  }
  const cols = list(f.columns);
  const profile = m.buildProfile(await m.readTable(file), { kinds: kinds(f), ...(cols.length ? { columns: cols } : {}) });
  profile.source = path.resolve(file);
  return profile;
}

function modelRef(uri: string): { name: string; version?: string; alias?: string } {
  const m = /^models:\/+([^@/]+)(?:\/([0-9]+)|@(.+))$/.exec(uri);
  if (!m) throw new CliError(`MODEL_URI must be models:/NAME/VERSION or models:/NAME@ALIAS, got '${uri}'`);
  return m[2] ? { name: m[1]!, version: m[2] } : { name: m[1]!, alias: m[3]! };
}

async function resolveVersion(trackingUri: string | undefined, uri: string): Promise<{ name: string; version: string }> {
  const ref = modelRef(uri);
  if (ref.version) return { name: ref.name, version: ref.version };
  const registry = new RegistryClient({ trackingUri: trackingUri ?? resolveTrackingUri(undefined) ?? "http://127.0.0.1:5000" });
  const v = await registry.getVersionByAlias(ref.name, ref.alias!);
  return { name: ref.name, version: String(v.version) };
}

export function registerMonitorCommand(program: Command): void {
  const monitor = program.command("monitor").description("Data drift, prediction drift and live accuracy of served models (docs/monitoring.md)");

  withExamples(
    withDriftOptions(
      monitor
        .command("report")
        .description("A batch drift report of current data against reference data (CSV, TSV, JSON lines, JSON, Parquet), without a server")
        .requiredOption("--reference <file>", "reference data, or a reference profile (.json)")
        .requiredOption("--current <file>", "current data")
        .option("--html <file>", "write the self-contained HTML report here")
        .option("--json <file>", "write the JSON report here ('-' for stdout)")
        .option("--fail-on-drift", "exit with code 3 when the dataset drifts (for CI)"),
    ),
    "mloop monitor report --reference train.csv --current today.csv --html drift.html --json drift.json",
    "mloop monitor report --reference ref.csv --current cur.csv --per-column age=psi --categorical zip",
  ).action(async (o: DriftFlags & { reference: string; current: string; html?: string; json?: string; failOnDrift?: boolean }) => {
    const m = await monitoring();
    const opts = await driftOptions(o);
    let reference: Profile;
    let current: Profile;
    if (isProfileFile(o.reference)) {
      reference = await readReference(o.reference, o);
      current = m.profileLike(await m.readTable(o.current), reference);
    } else {
      const cols = list(o.columns);
      ({ reference, current } = await m.profileFilePair(o.reference, o.current, { kinds: kinds(o), ...(cols.length ? { columns: cols } : {}) }));
      reference.source = path.resolve(o.reference);
    }
    const report = m.driftReport(reference, current, opts);
    const doc = m.batchReport(report, { reference: path.resolve(o.reference), current: path.resolve(o.current) });
    if (o.json === "-") printJson(doc);
    else {
      if (o.json) fs.writeFileSync(o.json, JSON.stringify(doc, null, 2));
      printDrift(report);
    }
    if (o.html) fs.writeFileSync(o.html, m.renderHtml(doc));
    if (o.failOnDrift && report.dataset_drift) process.exitCode = 3;
  });

  withExamples(
    monitor
      .command("profile")
      .description("Compute a model version's reference profile from a data file and store it as the version's artifact (monitoring/reference-profile.json)")
      .argument("[model-uri]", "models:/NAME/VERSION or models:/NAME@ALIAS")
      .option("--reference <file>", "the reference data (the training set): CSV, TSV, JSON lines, JSON, Parquet")
      .option("--from-run-dataset [name]", "the dataset the version's training run logged (mlflow.log_input; a local file source), by name or the one with context 'training'")
      .option("--from-log <dir>", "a time range of a prediction log folder (with --since/--until)")
      .option("--since <time>", "with --from-log: first request time (ISO 8601 or Unix ms)")
      .option("--until <time>", "with --from-log: end of the range (exclusive)")
      .option("--output <file>", "also (or, without MODEL_URI, only) write the profile to this file")
      .option("--numerical <cols>", "comma-separated columns to treat as numerical")
      .option("--categorical <cols>", "comma-separated columns to treat as categorical")
      .option("--columns <cols>", "only these columns (comma-separated)")
      .option("--max-distinct <n>", "numerical columns with more distinct values keep this many quantiles", "200000")
      .option("--tracking-uri <uri>", "tracking server URL (MLFLOW_TRACKING_URI)")
      .option("--json", "print the stored profile's summary as JSON"),
    "mloop monitor profile models:/iris/3 --reference train.csv",
    "mloop monitor profile --reference train.csv --output ref-profile.json",
    "mloop monitor profile models:/iris/3 --from-run-dataset",
    "mloop monitor profile models:/iris/3 --from-log ./mloop-predictions --since 2026-11-01 --until 2026-11-08",
  ).action(async (uri: string | undefined, o: DriftFlags & { reference?: string; fromRunDataset?: string | boolean; fromLog?: string; since?: string; until?: string; output?: string; maxDistinct: string; trackingUri?: string; json?: boolean }) => {
    const m = await monitoring();
    const cols = list(o.columns);
    const maxDistinct = Number(o.maxDistinct);
    if (!Number.isInteger(maxDistinct) || maxDistinct < 100) throw new CliError("--max-distinct must be an integer of at least 100");
    const sources = [o.reference, o.fromRunDataset, o.fromLog].filter((x) => x !== undefined).length;
    if (sources !== 1) throw new CliError("give exactly one reference: --reference FILE, --from-run-dataset [NAME] or --from-log DIR");
    let table: import("../monitoring/index.js").Table;
    let source: string;
    if (o.reference) {
      table = await m.readTable(o.reference);
      source = path.resolve(o.reference);
    } else if (o.fromLog) {
      const time = (v: string | undefined, what: string) => {
        if (v === undefined) return undefined;
        const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
        if (!Number.isFinite(t)) throw new CliError(`${what} must be an ISO 8601 time or Unix milliseconds, got '${v}'`);
        return t;
      };
      const range = { since: time(o.since, "--since"), until: time(o.until, "--until") };
      table = await m.tableFromPredictionLog(path.resolve(o.fromLog), range);
      if (table.rows === 0) throw new CliError(`no answered requests with a table input in ${o.fromLog} in that range`);
      source = `${path.resolve(o.fromLog)} [${o.since ?? "start"}, ${o.until ?? "end"})`;
    } else {
      if (!uri) throw new CliError("--from-run-dataset needs MODEL_URI (its version's training run)");
      ({ table, source } = await runDataset(o.trackingUri, uri, typeof o.fromRunDataset === "string" ? o.fromRunDataset : undefined));
    }
    const profile = m.buildProfile(table, { kinds: kinds(o), maxDistinct, ...(cols.length ? { columns: cols } : {}) });
    profile.source = source;
    const text = m.serializeProfile(profile);
    if (o.output) fs.writeFileSync(o.output, text);
    if (!uri) {
      if (!o.output) throw new CliError("give MODEL_URI to store the profile with the model version, or --output FILE");
      out(`wrote the reference profile of ${profile.rows} rows and ${profile.columns.size} columns to ${o.output}`);
      return;
    }
    const { name, version } = await resolveVersion(o.trackingUri, uri);
    const client = new MloopClient({ trackingUri: resolveTrackingUri(o.trackingUri) });
    const res = await client.http.request<{ profile: { rows: number; columns: { name: string; kind: string; distinct: number }[] } }>("POST", "/api/2.0/mloop/monitoring/profiles/create", {}, { name, version, profile: JSON.parse(text) as unknown });
    if (o.json) printJson(res);
    else out(`stored the reference profile of ${name} version ${version}: ${res.profile.rows} rows, ${res.profile.columns.map((c) => `${c.name} (${c.kind})`).join(", ")}`);
  });

  withExamples(
    withDriftOptions(
      monitor
        .command("start")
        .description("Watch a running `mloop serve`: drift, prediction drift, live accuracy and operations per window of its prediction log")
        .argument("[model-uri]", "models:/NAME/VERSION or models:/NAME@ALIAS (its stored reference profile is the reference unless --reference is given)")
        .option("--reference <file>", "reference data or profile file (otherwise the model version's stored profile)")
        .option("--log-dir <dir>", "the prediction log folder `mloop serve --log-dir` writes, or the s3://bucket/prefix `mloop serve --prediction-log` writes (copied under --state-dir/log) (MLOOP_MONITOR_LOG_DIR)")
        .option("--state-dir <dir>", "where the monitor keeps its position and alert events (default <log-dir>/monitor)")
        .option("--window-rows <n>", "tumbling windows of this many input rows (default 1000)")
        .option("--window-minutes <n>", "or tumbling windows of this many minutes")
        .option("--interval <seconds>", "how often to read the log (5)")
        .option("--alert <rule>", "METRIC OP VALUE[,clear=VALUE], e.g. 'drift_share>=0.5' or 'accuracy<0.8,clear=0.85' (repeatable)", collect)
        .option("--webhook-url <url>", "POST alert events here, signed like the registry's webhooks")
        .option("--webhook-secret <secret>", "HMAC secret of the X-MLflow-Signature header")
        .option("--webhook-allow <host:port>", "a private webhook target to allow (repeatable)", collect)
        .option("--alert-command <cmd>", "run this command on each alert event (the event as JSON on stdin)")
        .option("--task <task>", "classification or regression (default: inferred from the labels)")
        .option("--prediction-column <name>", "the reference column holding the model's predictions", "prediction")
        .option("--experiment <name>", "experiment of the monitoring run (mloop-monitoring)")
        .option("--no-tracking", "do not log metrics to the tracking server")
        .option("--tracking-uri <uri>", "tracking server URL (MLFLOW_TRACKING_URI)")
        .option("--host <host>", "address of the monitor's /status and /metrics (127.0.0.1)")
        .option("--port <port>", "port of the monitor's /status and /metrics (5002; 0 for none)")
        .option("--report-dir <dir>", "write each window's report here (window-N.json and window-N.html)")
        .option("--once", "read what the log holds now, finish the last partial window, and exit")
        .option("--json", "print each finished window as a JSON line"),
    ),
    "mloop monitor start models:/iris@champion --log-dir ./mloop-predictions --window-rows 500 --alert 'drift_share>=0.5' --webhook-url https://hooks.example.com/mloop",
    "mloop monitor start --reference train.csv --log-dir ./mloop-predictions --once --report-dir reports",
  ).action(async (uri: string | undefined, o: DriftFlags & Record<string, unknown>) => {
    const cfg = loadMonitorConfig({
      modelUri: uri,
      logDir: o.logDir as string | undefined,
      stateDir: o.stateDir as string | undefined,
      trackingUri: o.trackingUri as string | undefined,
      windowRows: o.windowRows as string | undefined,
      windowMinutes: o.windowMinutes as string | undefined,
      interval: o.interval as string | undefined,
      host: o.host as string | undefined,
      port: o.port as string | undefined,
      experiment: o.experiment as string | undefined,
      webhookUrl: o.webhookUrl as string | undefined,
      webhookSecret: o.webhookSecret as string | undefined,
      webhookAllow: o.webhookAllow as string[] | undefined,
      alertCommand: o.alertCommand as string | undefined,
    });
    await startMonitor(cfg, o);
  });

  withExamples(
    monitor
      .command("status")
      .description("What a running monitor saw: windows, the last window's values, firing alerts")
      .option("--url <url>", "the monitor's address", "http://127.0.0.1:5002")
      .option("--json", "print the raw status JSON"),
    "mloop monitor status --url http://127.0.0.1:5002",
  ).action(async (o: { url: string; json?: boolean }) => {
    let res: Response;
    try {
      res = await fetch(`${o.url.replace(/\/+$/, "")}/status`);
    } catch {
      throw new CliError(`cannot reach a monitor at ${o.url} (is 'mloop monitor start' running?)`);
    }
    if (!res.ok) throw new CliError(`the monitor at ${o.url} answered ${res.status}`);
    const s = (await res.json()) as { model: string; windows: number; firing_alerts: string[]; last_window: { seq: number; rows: number; values: Record<string, number>; issues: string[] } | null };
    if (o.json) return printJson(s);
    out(`${s.model}: ${s.windows} window(s) finished; firing alerts: ${s.firing_alerts.length ? s.firing_alerts.join(", ") : "none"}`);
    if (s.last_window) {
      out(`last window ${s.last_window.seq}: ${s.last_window.rows} rows`);
      printTable(["value", ""], Object.entries(s.last_window.values).map(([k, v]) => [k, fmt(v)]));
      for (const i of s.last_window.issues) out(paint("yellow", `note: ${i}`));
    }
  });
}

/** The training data a model version's run logged with `mlflow.log_input`, when its source is a file this machine can read. */
async function runDataset(trackingUri: string | undefined, uri: string, name: string | undefined): Promise<{ table: import("../monitoring/index.js").Table; source: string }> {
  const m = await monitoring();
  const { name: model, version } = await resolveVersion(trackingUri, uri);
  const registry = new RegistryClient({ trackingUri: trackingUri ?? resolveTrackingUri(undefined) ?? "http://127.0.0.1:5000" });
  const mv = await registry.getModelVersion(model, version);
  const runId = (mv as { run_id?: string }).run_id;
  if (!runId) throw new CliError(`${model} version ${version} has no run, so no logged dataset: use --reference FILE`);
  const run = await new MloopClient({ trackingUri: resolveTrackingUri(trackingUri) }).getRun(runId);
  const inputs = run.inputs?.dataset_inputs ?? [];
  const context = (d: (typeof inputs)[number]) => d.tags?.find((t) => t.key === "mlflow.data.context")?.value;
  const pick = name ? inputs.find((d) => d.dataset.name === name) : (inputs.find((d) => context(d) === "training") ?? inputs[0]);
  if (!pick) throw new CliError(`run ${runId} logged no dataset${name ? ` named '${name}'` : ""} (mlflow.log_input): use --reference FILE`);
  let src: { uri?: string; url?: string; path?: string } = {};
  try {
    src = JSON.parse(pick.dataset.source) as typeof src;
  } catch {
    src = { uri: pick.dataset.source };
  }
  const where = src.uri ?? src.path ?? src.url ?? "";
  const file = where.startsWith("file://") ? new URL(where).pathname : where;
  if (!file.startsWith("/") || !fs.existsSync(file)) {
    throw new CliError(`dataset '${pick.dataset.name}' of run ${runId} has source '${where || pick.dataset.source}' (${pick.dataset.source_type}), not a file on this machine: use --reference FILE`);
  }
  return { table: await m.readTable(file), source: `${file} (dataset '${pick.dataset.name}' of run ${runId})` };
}

/** The monitoring run of a deployment: found by its tag, created on first use. */
async function monitoringRun(client: MloopClient, experiment: string, model: string): Promise<string> {
  const existing = await client.getExperimentByName(experiment);
  const experimentId = existing ? existing.experiment_id : await client.createExperiment(experiment);
  const page = await client.searchRuns({ experimentIds: [experimentId], filter: `tags.\`mloop.monitor.model\` = '${model.replace(/'/g, "\\'")}'`, maxResults: 1 });
  const found = page.items?.[0];
  if (found) return found.info.run_id;
  const run = await client.createRun({ experimentId, runName: `monitor ${model}`, tags: { "mloop.monitor.model": model } });
  return run.info.run_id;
}

async function startMonitor(cfg: MonitorConfig, o: DriftFlags & Record<string, unknown>): Promise<void> {
  const m = await monitoring();
  const opts = await driftOptions(o);
  const model = cfg.modelUri ?? path.basename(cfg.logDir);
  let reference: Profile;
  if (o.reference) reference = await readReference(String(o.reference), o);
  else {
    if (!cfg.modelUri) throw new CliError("give MODEL_URI (whose stored reference profile is the reference) or --reference FILE");
    const { name, version } = await resolveVersion(cfg.trackingUri, cfg.modelUri);
    const client = new MloopClient({ trackingUri: cfg.trackingUri });
    const res = await client.http.request<{ profile: unknown }>("GET", "/api/2.0/mloop/monitoring/profiles/get", { name, version }, undefined);
    reference = m.parseProfile(JSON.stringify(res.profile));
  }
  let mirror: { sync(): Promise<number> } | undefined;
  if (cfg.logUri) {
    const { S3LogMirror } = await import("../serving/index.js");
    mirror = new S3LogMirror(cfg.logUri, cfg.s3!, cfg.logDir);
    try {
      await mirror.sync();
    } catch (err) {
      throw new CliError(`cannot read the prediction log ${cfg.logUri}: ${(err as Error).message}`);
    }
  }
  if (!fs.existsSync(cfg.logDir)) throw new CliError(`no prediction log folder ${cfg.logDir} (start 'mloop serve --log-dir ${cfg.logDir}' first)`);
  const task = o.task as string | undefined;
  if (task !== undefined && task !== "classification" && task !== "regression") throw new CliError("--task must be classification or regression");
  const alerts = ((o.alert as string[] | undefined) ?? []).map((a) => m.parseAlertRule(a));
  const mon = new m.Monitor({
    logDir: cfg.logDir,
    ...(cfg.stateDir ? { stateDir: cfg.stateDir } : {}),
    reference,
    window: cfg.windowMinutes ? { minutes: cfg.windowMinutes } : { rows: cfg.windowRows! },
    model,
    drift: opts,
    ...(task ? { task: task as "classification" | "regression" } : {}),
    predictionColumn: String(o.predictionColumn ?? "prediction"),
    alerts,
  });
  const metrics = await m.MonitorMetrics.create();
  const useTracking = o.tracking !== false && cfg.trackingUri !== undefined;
  const client = useTracking ? new MloopClient({ trackingUri: cfg.trackingUri, maxRetries: 3 }) : undefined;
  const runId = client ? await monitoringRun(client, cfg.experiment, model) : undefined;
  const reportDir = o.reportDir ? String(o.reportDir) : undefined;
  if (reportDir) fs.mkdirSync(reportDir, { recursive: true });

  const handle = async (w: WindowResult) => {
    metrics.observe(model, w);
    if (client && runId) {
      const ts = Date.now();
      const values = { ...w.values, alerts_fired: w.alerts.filter((a) => a.state === "fired").length };
      const list = Object.entries(values).map(([key, value]) => ({ key: m.metricKey(key), value, timestamp: ts, step: w.seq }));
      try {
        await client.logBatch(runId, { metrics: list });
      } catch (err) {
        process.stderr.write(`mloop: could not log window ${w.seq} to the tracking server: ${(err as Error).message}\n`);
      }
    }
    if (reportDir) {
      const doc = m.windowReport(w, model);
      fs.writeFileSync(path.join(reportDir, `window-${w.seq}.json`), JSON.stringify(doc, null, 2));
      fs.writeFileSync(path.join(reportDir, `window-${w.seq}.html`), m.renderHtml(doc, `${model}: window ${w.seq}`));
    }
    for (const a of w.alerts) {
      if (cfg.webhookUrl) {
        try {
          const status = await m.sendAlertWebhook({ url: cfg.webhookUrl, allowList: cfg.webhookAllow, ...(cfg.webhookSecret ? { secret: cfg.webhookSecret } : {}) }, a);
          if (status >= 300) process.stderr.write(`mloop: alert webhook answered ${status}\n`);
        } catch (err) {
          process.stderr.write(`mloop: alert webhook failed: ${(err as Error).message}\n`);
        }
      }
      if (cfg.alertCommand) await m.runAlertCommand(cfg.alertCommand, a);
    }
    if (o.json) out(JSON.stringify({ seq: w.seq, rows: w.rows, values: w.values, alerts: w.alerts, issues: w.issues }));
    else
      out(
        `window ${w.seq}: ${w.rows} rows, drift share ${fmt(w.drift.share_of_drifted_columns)}${w.drift.dataset_drift ? paint("red", " DATASET DRIFT") : ""}` +
          `${w.performance.metrics.accuracy !== undefined ? `, accuracy ${fmt(w.performance.metrics.accuracy)} (${w.performance.labelled_rows} labelled)` : ""}` +
          `${w.alerts.map((a) => paint("red", ` ALERT ${a.state}: ${a.rule}`)).join("")}${w.issues.length ? paint("yellow", ` (${w.issues.join("; ")})`) : ""}`,
      );
  };

  const handleLate = async (u: import("../monitoring/index.js").PerformanceUpdate) => {
    metrics.observeLateLabels(model, u, mon.windowsDone);
    if (client && runId) {
      const ts = Date.now();
      try {
        await client.logBatch(runId, { metrics: Object.entries(u.values).map(([key, value]) => ({ key: m.metricKey(key), value, timestamp: ts, step: u.seq })) });
      } catch (err) {
        process.stderr.write(`mloop: could not log late labels of window ${u.seq}: ${(err as Error).message}\n`);
      }
    }
    if (o.json) out(JSON.stringify({ seq: u.seq, late_labels: true, values: u.values }));
    else out(`window ${u.seq}: late labels, ${u.performance.labelled_rows} labelled${u.performance.metrics.accuracy !== undefined ? `, accuracy ${fmt(u.performance.metrics.accuracy)}` : ""}`);
  };

  const safePoll = async (): Promise<WindowResult[]> => {
    try {
      await mirror?.sync();
      return await mon.poll();
    } catch (err) {
      // bad input in the log never stops the monitor: say so and go on
      process.stderr.write(`mloop: monitor: ${(err as Error).message}\n`);
      return [];
    }
  };

  const step = async () => {
    for (const w of await safePoll()) await handle(w);
    for (const u of mon.lateLabels()) await handleLate(u);
  };
  if (o.once) {
    await step();
    const last = mon.flush();
    if (last) await handle(last);
    return;
  }
  const api = await import("../api/index.js");
  const app = cfg.port ? api.buildMonitorApp({ monitor: mon, metrics, model, startedAt: Date.now() }) : undefined;
  if (app) {
    await app.listen({ host: cfg.host, port: cfg.port });
    process.stderr.write(`mloop: monitor of ${model} on http://${cfg.host}:${cfg.port} (/status, /metrics), reading ${cfg.logDir}\n`);
  }
  let stopping = false;
  const stop = () => {
    stopping = true;
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  while (!stopping) {
    await step();
    await new Promise((r) => setTimeout(r, cfg.intervalMs));
  }
  await app?.close();
}
