/**
 * `mloop deploy apply|status|history|retrain|rollback`: the closed loop
 * (docs/retraining.md). `apply` runs serving, monitoring and the controller
 * as one service against a tracking server (or attaches the monitor and the
 * controller to a running `mloop serve`, `--attach URL`); the other verbs read and move the
 * deployment's stored state through the tracking server's API.
 */
import fs from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { loadServeConfig, resolveTrackingUri } from "../config.js";
import { ApiError, MloopClient, RegistryClient, ServingClient } from "../client/index.js";
import type { DeploymentEvent, DeploymentRecord, DeploymentSpec } from "../retraining/index.js";
import { CliError } from "./errors.js";
import { formatTime, out, paint, printJson, printTable, withExamples } from "./output.js";

async function retraining() {
  return import("../retraining/index.js");
}

function trackingUriOf(flag: string | undefined): string {
  const uri = resolveTrackingUri(flag);
  if (!uri || !/^https?:\/\//.test(uri)) throw new CliError("the deployment commands need a tracking server: --tracking-uri http://… or MLFLOW_TRACKING_URI");
  return uri;
}

async function logFor(trackingUri: string) {
  const r = await retraining();
  return new r.HttpDeploymentLog(new MloopClient({ trackingUri, maxRetries: 3 }).http);
}

/** Errors of the API become one line. */
async function oneLine<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof ApiError) throw new CliError(err.message);
    if (err instanceof CliError) throw err;
    const r = await retraining();
    if (err instanceof r.SpecError) throw new CliError(err.message);
    throw new CliError((err as Error).message);
  }
}

function eventRows(events: DeploymentEvent[]): string[][] {
  return events.map((e) => [String(e.seq), formatTime(e.timestampMs), `${e.fromState ?? "-"} → ${e.toState}`, e.reason]);
}

function printState(d: DeploymentRecord, events: DeploymentEvent[]): void {
  out(`${paint("bold", d.name)}: ${d.state} (revision ${d.revision}, since ${formatTime(d.updatedAt)})`);
  const last = events[events.length - 1];
  if (last) out(`  why: ${last.reason}`);
  for (const [k, v] of Object.entries(d.context)) if (v !== null && typeof v !== "object") out(`  ${k}: ${String(v)}`);
}

interface ApplyOptions {
  trackingUri?: string;
  port?: string;
  python?: string;
  holder?: string;
  interval?: string;
  json?: boolean;
  attach?: string;
  controlToken?: string;
  webhookSecret?: string;
}

/** Where the deployment is served: this process's own scoring server, or a running `mloop serve` it attached to. */
interface Serving {
  /** The scoring server's address. */
  address: string;
  /** Its prediction log folder (the monitor and the controller read it). */
  logDir: string;
  /** The challenger's share in the spec's rollout mode (0: champion only). */
  setShare(share: number): Promise<void>;
  /** Re-read the aliases now. */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

/** Runs serving in this process: `models:/NAME@ALIAS` with `@challenger` beside it, the spec's log folder. */
async function ownServing(spec: DeploymentSpec, trackingUri: string, python: string, o: ApplyOptions, note: (m: string) => void): Promise<Serving> {
  const { model, rollout } = spec;
  const logDir = path.isAbsolute(spec.serving.logDir) ? spec.serving.logDir : path.resolve(spec.baseDir, spec.serving.logDir);
  const serving = await import("../serving/index.js");
  const { buildServingApp } = await import("../api/index.js");
  const serveConfig = loadServeConfig({ trackingUri, port: o.port ?? String(spec.serving.port), logDir, python, pollInterval: "2" });
  const policyOf = (share: number) => (share > 0 && rollout.mode === "shadow" ? serving.makePolicy("shadow", 0, undefined, true) : serving.makePolicy("canary", share, undefined, true));
  const service = await oneLine(
    serving.ServingService.start({
      modelUri: `models:/${model.name}@${model.alias}`,
      challengerUri: `models:/${model.name}@${rollout.challengerAlias}`,
      policy: policyOf(0),
      trackingUri,
      cacheDir: serveConfig.cacheDir,
      logDir,
      logSampleRate: 1,
      logOverflow: serveConfig.logOverflow,
      logMaxPendingBytes: serveConfig.logMaxPendingBytes,
      logFsyncIntervalMs: serveConfig.logFsyncIntervalMs,
      pollIntervalMs: 2000,
      python,
      workers: 1,
      requestTimeoutMs: serveConfig.requestTimeoutMs,
      onnxRuntime: serveConfig.onnxRuntime,
      onEvent: (m) => {
        if (!m.startsWith("[worker")) note(m);
      },
    }),
  );
  const app = await buildServingApp(serveConfig, { service });
  const address = await app.listen({ host: serveConfig.host, port: serveConfig.port });
  return {
    address,
    logDir,
    setShare: async (share) => service.setPolicy(policyOf(share)),
    refresh: () => service.refresh(),
    close: async () => {
      await app.close();
      await service.close();
    },
  };
}

/**
 * Attaches to a running `mloop serve` at `url`: it must serve `models:/NAME@ALIAS` with
 * `--challenger models:/NAME@CHALLENGER` (both following their aliases); the controller reads
 * its prediction log (the folder its /status names, on this machine or a shared file system),
 * sets the canary or shadow through `POST /traffic`, and makes it re-read the aliases it moves
 * through `POST /webhooks/registry`.
 */
async function attachedServing(spec: DeploymentSpec, url: string, o: ApplyOptions, note: (m: string) => void): Promise<Serving> {
  const { model, rollout } = spec;
  let client: ServingClient;
  try {
    client = new ServingClient({ url, timeoutMs: 60_000 });
  } catch (err) {
    throw new CliError(`--attach: ${(err as Error).message}`);
  }
  const st = await oneLine(client.status());
  const champion = st.models.find((m) => m.role === "champion");
  const challenger = st.models.find((m) => m.role === "challenger");
  const want = `models:/${model.name}@${model.alias}`;
  const wantChallenger = `models:/${model.name}@${rollout.challengerAlias}`;
  if (champion?.uri !== want) throw new CliError(`the server at ${url} serves ${champion?.uri ?? "nothing"}, not ${want} (start it as mloop serve ${want} --challenger ${wantChallenger})`);
  if (challenger?.uri !== wantChallenger) throw new CliError(`the server at ${url} has ${challenger ? `the challenger ${challenger.uri}` : "no challenger"}, not ${wantChallenger} (start it with --challenger ${wantChallenger})`);
  const logDir = st.prediction_log.dir;
  if (!fs.existsSync(logDir)) throw new CliError(`the server's prediction log ${logDir} is not on this machine: the controller reads it (run it beside the server, or share the folder)`);
  const traffic = (share: number) => (share > 0 && rollout.mode === "shadow" ? { mode: "shadow" as const } : { mode: "canary" as const, share });
  return {
    address: url,
    logDir,
    setShare: async (share) => {
      const policy = await client.setTraffic(traffic(share), o.controlToken);
      note(`traffic at ${url}: ${policy.mode}${policy.mode === "canary" ? ` ${policy.challenger_share * 100}%` : ""}`);
    },
    refresh: async () => {
      const models = await client.refresh(o.webhookSecret);
      note(`${url} serves ${models.map((m) => `${m.role} ${m.name} version ${m.version}`).join(", ")}`);
    },
    close: async () => {},
  };
}

async function applyDeployment(specFile: string, o: ApplyOptions): Promise<void> {
  const r = await retraining();
  const spec: DeploymentSpec = await oneLine(Promise.resolve().then(() => r.readDeploymentSpec(specFile)));
  const trackingUri = trackingUriOf(o.trackingUri);
  const client = new MloopClient({ trackingUri, maxRetries: 3 });
  const registry = new RegistryClient(client.http);
  const log = await logFor(trackingUri);
  const { model, rollout } = spec;
  const champion = await oneLine(registry.getVersionByAlias(model.name, model.alias));
  try {
    await registry.getVersionByAlias(model.name, rollout.challengerAlias);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw new CliError((err as Error).message);
    await registry.setAlias(model.name, rollout.challengerAlias, champion.version);
  }
  const resolve = (p: string) => (path.isAbsolute(p) ? p : path.resolve(spec.baseDir, p));
  const python = o.python ?? (fs.existsSync(".venv/bin/python") ? path.resolve(".venv/bin/python") : "python3");
  const note = (m: string) => process.stderr.write(`mloop deploy: ${m}\n`);
  const served = o.attach ? await attachedServing(spec, o.attach, o, note) : await ownServing(spec, trackingUri, python, o, note);
  const { logDir, address } = served;
  const stateDir = path.join(logDir, "deploy");
  fs.mkdirSync(stateDir, { recursive: true });
  const monitoring = await import("../monitoring/index.js");

  const emit = (line: Record<string, unknown>, text: string) => (o.json ? printJson(line) : process.stderr.write(`mloop deploy: ${text}\n`));
  // Every transition is printed as it is stored; a promotion gives the monitor the new version's data as its reference.
  let reference = monitoring.buildProfile(await monitoring.readTable(resolve(spec.monitor.reference ?? spec.data.path ?? spec.evaluation.data)));
  let monitorGeneration = 0;
  let monitorFrom = 0;
  const observed: typeof log = Object.create(log) as typeof log;
  observed.transition = async (...args: Parameters<typeof log.transition>) => {
    const d = await log.transition(...args);
    emit({ event: "transition", deployment: d.name, state: d.state, reason: args[3], context: d.context }, `${d.name}: → ${d.state}: ${args[3]}`);
    if (d.state === "promoted" && typeof d.context.data === "string" && fs.existsSync(d.context.data)) {
      reference = monitoring.buildProfile(await monitoring.readTable(d.context.data));
      monitorGeneration++;
      monitorFrom = Date.now();
      monitor = newMonitor();
    }
    return d;
  };
  const newMonitor = () =>
    new monitoring.Monitor({
      logDir,
      stateDir: path.join(stateDir, `monitor-${monitorGeneration}`),
      reference,
      window: { rows: spec.monitor.windowRows },
      model: `models:/${model.name}@${model.alias}`,
      drift: { driftShare: spec.monitor.driftShare },
    });
  let monitor = newMonitor();
  const controller = new r.Controller({
    spec,
    log: observed,
    trackingUri,
    stateDir,
    python,
    ...(o.holder ? { holder: o.holder } : {}),
    logDir,
    setCanaryShare: (share) => served.setShare(share),
    refreshServing: () => served.refresh(),
    onEvent: (m) => emit({ event: "note", message: m }, m),
  });
  const applied = await oneLine(controller.apply());
  // The serving side follows the stored state: a controller resumed during a canary keeps it going, otherwise the champion answers all.
  await oneLine(served.setShare(applied.state === "canary" ? rollout.share : 0));
  emit({ event: "applied", deployment: applied.name, state: applied.state, serving: address, champion: champion.version }, `${spec.name}: ${applied.state}, serving ${model.name} version ${champion.version} at ${address}; prediction log ${logDir}`);
  // Each window is mirrored to a monitoring run (experiment mloop-monitoring), so a trigger names the run and step it came from.
  const monitorExperiment = (await client.getExperimentByName("mloop-monitoring"))?.experiment_id ?? (await client.createExperiment("mloop-monitoring"));
  const monitorUri = `models:/${model.name}@${model.alias}`;
  const found = await client.searchRuns({ experimentIds: [monitorExperiment], filter: `tags.\`mloop.deployment\` = '${spec.name}'`, maxResults: 1 });
  const monitorRunId =
    found.items?.[0]?.info.run_id ??
    (await client.createRun({ experimentId: monitorExperiment, runName: `monitor ${spec.name}`, tags: { "mloop.monitor.model": monitorUri, "mloop.deployment": spec.name } })).info.run_id;
  const interval = Number(o.interval ?? "1") * 1000;
  controller.start(interval);
  let polling = false;
  const pollTimer = setInterval(() => {
    if (polling) return;
    polling = true;
    const m = monitor;
    void m
      .poll()
      .then(async (windows) => {
        for (const w of windows) {
          if (m !== monitor || w.end_ms < monitorFrom) continue;
          const signal = { index: w.seq, driftShare: w.values.drift_share ?? null, accuracy: w.values.accuracy ?? null, closedAtMs: Date.now(), monitorRunId };
          const ts = Date.now();
          await client
            .logBatch(monitorRunId, { metrics: Object.entries(w.values).map(([key, value]) => ({ key: monitoring.metricKey(key), value, timestamp: ts, step: w.seq })) })
            .catch((err: Error) => emit({ event: "error", message: err.message }, `could not log window ${w.seq}: ${err.message}`));
          emit({ event: "window", ...signal }, `window ${w.seq}: ${w.rows} rows, drift_share ${signal.driftShare?.toFixed(3) ?? "-"}, accuracy ${signal.accuracy?.toFixed(3) ?? "-"}`);
          await controller.onWindow(signal);
        }
      })
      .catch((err) => emit({ event: "error", message: (err as Error).message }, `monitor: ${(err as Error).message}`))
      .finally(() => (polling = false));
  }, 500);
  const stop = async () => {
    clearInterval(pollTimer);
    await controller.stop();
    await served.close();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop());
  process.once("SIGTERM", () => void stop());
}

export function registerDeployCommand(program: Command): void {
  const deploy = program.command("deploy").description("Deployments that retrain, evaluate against the champion and roll out by themselves (docs/retraining.md)");

  withExamples(
    deploy
      .command("apply")
      .description("Serve the spec's model, monitor it and run the controller (retrain → evaluate → canary → promote) as one service")
      .argument("<spec>", "the deployment spec (YAML)")
      .option("--tracking-uri <uri>", "tracking server URL (MLFLOW_TRACKING_URI)")
      .option("-p, --port <port>", "scoring port (default: the spec's serving.port)")
      .option("--python <path>", "Python with mlflow and the model's libraries (default ./.venv/bin/python, else python3)")
      .option("--holder <id>", "this controller's lease id (default host/deployment; a replica needs its own)")
      .option("--attach <url>", "attach to a running mloop serve (serving models:/NAME@ALIAS --challenger models:/NAME@challenger) instead of serving here")
      .option("--control-token <token>", "the attached server's --control-token, for POST /traffic")
      .option("--webhook-secret <secret>", "the attached server's --webhook-secret, to sign the alias refresh")
      .option("--interval <seconds>", "how often the controller steps (1)")
      .option("--json", "print every window and transition as a JSON line"),
    "mloop deploy apply examples/churn-loop/deploy.yaml --tracking-uri http://127.0.0.1:5000",
    "mloop deploy apply deploy.yaml --attach http://127.0.0.1:5001",
  ).action((spec: string, o: ApplyOptions) => applyDeployment(spec, o));

  withExamples(
    deploy
      .command("status")
      .description("The state of a deployment (serving, drift detected, retraining, evaluating, canary, promoted, refused, rolled back) and why")
      .argument("<name>", "the deployment's name")
      .option("--tracking-uri <uri>", "tracking server URL (MLFLOW_TRACKING_URI)")
      .option("--json", "print JSON"),
    "mloop deploy status churn",
  ).action(async (name: string, o: { trackingUri?: string; json?: boolean }) => {
    const log = await logFor(trackingUriOf(o.trackingUri));
    const d = await oneLine(log.get(name));
    const events = await oneLine(log.events(name));
    if (o.json) return printJson({ deployment: d, last_event: events[events.length - 1] ?? null });
    printState(d, events);
  });

  withExamples(
    deploy
      .command("history")
      .description("Every decision of a deployment, in order, with its reason")
      .argument("<name>", "the deployment's name")
      .option("--tracking-uri <uri>", "tracking server URL (MLFLOW_TRACKING_URI)")
      .option("--json", "print JSON"),
    "mloop deploy history churn",
  ).action(async (name: string, o: { trackingUri?: string; json?: boolean }) => {
    const log = await logFor(trackingUriOf(o.trackingUri));
    const events = await oneLine(log.events(name, { limit: 10_000 }));
    if (o.json) return printJson({ events });
    printTable(["#", "time", "transition", "reason"], eventRows(events));
  });

  withExamples(
    deploy
      .command("retrain")
      .description("Trigger a retraining now (the running controller starts it)")
      .argument("<name>", "the deployment's name")
      .option("--reason <text>", "recorded with the trigger", "requested from the CLI")
      .option("--tracking-uri <uri>", "tracking server URL (MLFLOW_TRACKING_URI)")
      .option("--json", "print JSON"),
    "mloop deploy retrain churn --reason 'new labels arrived'",
  ).action(async (name: string, o: { trackingUri?: string; reason: string; json?: boolean }) => {
    const r = await retraining();
    const log = await logFor(trackingUriOf(o.trackingUri));
    const d = await oneLine(r.requestRetraining(log, name, o.reason));
    if (o.json) return printJson({ deployment: d });
    out(`${name}: ${d.state} (manual: ${o.reason}); the controller starts the retraining`);
  });

  withExamples(
    deploy
      .command("rollback")
      .description("Move the served alias back to the @previous version (and @previous to the version it left)")
      .argument("<name>", "the deployment's name")
      .option("--reason <text>", "recorded with the rollback", "manual rollback")
      .option("--tracking-uri <uri>", "tracking server URL (MLFLOW_TRACKING_URI)")
      .option("--json", "print JSON"),
    "mloop deploy rollback churn",
  ).action(async (name: string, o: { trackingUri?: string; reason: string; json?: boolean }) => {
    const r = await retraining();
    const uri = trackingUriOf(o.trackingUri);
    const log = await logFor(uri);
    const d = await oneLine(log.get(name));
    const spec = d.spec as DeploymentSpec;
    const res = await oneLine(r.rollbackDeployment(log, new RegistryClient({ trackingUri: uri }), spec, o.reason));
    if (o.json) return printJson(res);
    out(`${name}: @${spec.model.alias} moved from version ${res.from} back to ${res.to}`);
  });
}
