/**
 * `mloop serve MODEL_URI` (the scoring server), `mloop serve status` (what a
 * running server serves) and `mloop predict MODEL_URI --input FILE` (batch scoring).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { loadServeConfig, type ServeConfig, type ServeFlags } from "../config.js";
import { ServingClient } from "../client/index.js";
import { CliError } from "./errors.js";
import { out, paint, positiveInt, printJson, printTable, withExamples } from "./output.js";

function serveFlags(modelUri: string | undefined, opts: Record<string, unknown>): ServeFlags {
  const s = (k: string) => (opts[k] === undefined ? undefined : String(opts[k]));
  return {
    modelUri,
    host: s("host"),
    port: s("port"),
    trackingUri: s("trackingUri"),
    challenger: s("challenger"),
    trafficMode: s("trafficMode"),
    canaryShare: s("canaryShare"),
    stickyHeader: s("stickyHeader"),
    policy: s("policy"),
    logDir: s("logDir"),
    predictionLog: s("predictionLog"),
    logFlushInterval: s("logFlushInterval"),
    logSampleRate: s("logSampleRate"),
    logOverflow: s("logOverflow"),
    pollInterval: s("pollInterval"),
    webhookSecret: s("webhookSecret"),
    controlToken: s("controlToken"),
    python: s("python"),
    workers: s("workers"),
    batchMaxRows: s("batchMaxRows"),
    envManager: s("envManager"),
    timeout: s("timeout"),
    bodyLimitMb: s("bodyLimitMb"),
    cacheDir: s("cacheDir"),
    onnxRuntime: s("onnxRuntime"),
    logLevel: s("logLevel"),
  };
}

/** The service options of a config, with the policy file's champion, challenger and policy merged under the flags. */
async function serviceOptions(config: ServeConfig) {
  const { makePolicy, readPolicyFile } = await import("../serving/index.js");
  const file = config.policyFile ? readPolicyFile(config.policyFile) : undefined;
  const modelUri = config.modelUri ?? file?.champion;
  if (!modelUri) throw new CliError("no model to serve: give MODEL_URI (models:/name@alias, models:/name/3, runs:/…, a folder) or 'champion' in --policy");
  const challengerUri = config.challengerUri ?? file?.challenger;
  const policy = makePolicy(
    config.trafficMode ?? (file?.policy.mode !== "single" ? file?.policy.mode : undefined),
    config.canaryShare ?? (file ? file.policy.share : undefined),
    config.stickyHeader ?? file?.policy.stickyHeader,
    challengerUri !== undefined,
  );
  return {
    modelUri,
    challengerUri,
    policy,
    trackingUri: config.trackingUri,
    cacheDir: config.cacheDir,
    logDir: config.logDir,
    predictionLogUri: config.predictionLogUri,
    s3: config.s3,
    logFlushIntervalMs: config.logFlushIntervalMs,
    logSampleRate: config.logSampleRate,
    logOverflow: config.logOverflow,
    logMaxPendingBytes: config.logMaxPendingBytes,
    logFsyncIntervalMs: config.logFsyncIntervalMs,
    pollIntervalMs: config.pollIntervalMs,
    python: config.python,
    workers: config.workers,
    batchMaxRows: config.batchMaxRows,
    requestTimeoutMs: config.requestTimeoutMs,
    onnxRuntime: config.onnxRuntime,
  };
}

export function registerServeCommand(program: Command): void {
  const serve = program
    .command("serve")
    .description("Serve a model with MLflow's scoring protocol (/invocations), following its alias, with canary/shadow traffic and a prediction log")
    .argument("[model-uri]", "models:/name@alias, models:/name/3, models:/<model_id>, runs:/<run_id>/path or a model folder (MLOOP_SERVE_MODEL_URI)")
    .option("-h, --host <host>", "address to listen on (MLOOP_SERVE_HOST); default 127.0.0.1")
    .option("-p, --port <port>", "port to listen on (MLOOP_SERVE_PORT); default 5001")
    .option("--tracking-uri <uri>", "tracking server with the registry (MLFLOW_TRACKING_URI)")
    .option("--challenger <uri>", "a second model for canary or shadow traffic (MLOOP_SERVE_CHALLENGER)")
    .option("--traffic-mode <mode>", "canary or shadow (MLOOP_SERVE_TRAFFIC_MODE); default canary when a challenger is given")
    .option("--canary-share <share>", "share of requests the challenger answers, 0..1 (MLOOP_SERVE_CANARY_SHARE); default 0.1")
    .option("--sticky-header <name>", "request header that pins a caller to one side of a canary (MLOOP_SERVE_STICKY_HEADER)")
    .option("--policy <file>", "traffic policy YAML: champion, challenger, mode, share, sticky_header (MLOOP_SERVE_POLICY)")
    .option("--log-dir <dir>", "prediction log and feedback folder (MLOOP_SERVE_LOG_DIR); default ./mloop-predictions")
    .option("--prediction-log <uri>", "where the prediction log goes: a folder (as --log-dir) or s3://bucket/prefix for Parquet objects on S3-compatible storage, spooled in --log-dir first (MLOOP_SERVE_PREDICTION_LOG; S3 settings from MLFLOW_S3_ENDPOINT_URL, AWS_*)")
    .option("--log-flush-interval <seconds>", "how often the S3 prediction log's spool is uploaded (MLOOP_SERVE_LOG_FLUSH_INTERVAL); default 5")
    .option("--log-sample-rate <rate>", "share of requests recorded in the prediction log, 0..1 (MLOOP_SERVE_LOG_SAMPLE_RATE); default 1")
    .option("--log-overflow <policy>", "when the log falls behind: wait (back-pressure, at most 1 s) or drop (MLOOP_SERVE_LOG_OVERFLOW); default wait")
    .option("--poll-interval <seconds>", "how often aliases are re-read; 0 turns polling off (MLOOP_SERVE_POLL_INTERVAL); default 10")
    .option("--webhook-secret <secret>", "require this secret's signature on POST /webhooks/registry (MLOOP_SERVE_WEBHOOK_SECRET)")
    .option("--control-token <token>", "require 'Authorization: Bearer <token>' on POST /traffic, the route a deployment controller sets the canary/shadow through (MLOOP_SERVE_CONTROL_TOKEN)")
    .option("--python <path>", "Python with mlflow and the model's libraries, for pyfunc models (MLOOP_SERVE_PYTHON); default ./.venv/bin/python, else python3")
    .option("--env-manager <manager>", "local: use --python as it is (MLOOP_SERVE_ENV_MANAGER); the only manager so far")
    .option("--workers <n>", "Python workers per pyfunc model version (MLOOP_SERVE_WORKERS); default 2")
    .option("--batch-max-rows <n>", "most rows the Python worker predicts in one call when it batches waiting requests; 0 scores each request alone through MLflow's code (MLOOP_SERVE_BATCH_MAX_ROWS); default 4096")
    .option("--timeout <seconds>", "longest a Python worker may take on one request (MLOOP_SERVE_TIMEOUT); default 60")
    .option("--body-limit-mb <mb>", "largest request body (MLOOP_SERVE_BODY_LIMIT_MB); default 20")
    .option("--cache-dir <dir>", "where downloaded model versions are kept (MLOOP_SERVE_CACHE_DIR)")
    .option("--onnx-runtime <runtime>", "node (in-process onnxruntime) or python (the pyfunc worker) for ONNX models (MLOOP_SERVE_ONNX_RUNTIME); default node")
    .option("--log-level <level>", "fatal, error, warn, info, debug (MLOOP_LOG_LEVEL)");
  withExamples(
    serve,
    "mloop serve models:/fraud@champion --tracking-uri http://127.0.0.1:5000",
    "mloop serve models:/fraud@champion --challenger models:/fraud@challenger --canary-share 0.05 --sticky-header X-User-Id",
    "mloop serve ./model --port 8080",
  );
  serve.action(async (modelUri: string | undefined, opts: Record<string, unknown>) => {
    const config = loadServeConfig(serveFlags(modelUri, opts));
    const options = await serviceOptions(config);
    const { ServingService } = await import("../serving/index.js");
    const { buildServingApp } = await import("../api/index.js");
    const verbose = config.logLevel === "info" || config.logLevel === "debug";
    const service = await ServingService.start({
      ...options,
      onEvent: (message) => {
        if (verbose || !message.startsWith("[worker")) process.stderr.write(`mloop serve: ${message}\n`);
      },
    });
    const app = await buildServingApp(config, { service });
    const address = await app.listen({ host: config.host, port: config.port });
    const st = service.status();
    const models = st.models.map((m) => `${m.name} version ${m.version} (${m.runtime}${m.role === "challenger" ? `, ${options.policy.mode} ${options.policy.mode === "canary" ? `${m.share * 100}%` : ""}`.trimEnd() : ""})`);
    process.stderr.write(`mloop serve listening at ${address}: ${models.join(" + ")}; prediction log ${config.predictionLogUri ?? config.logDir}\n`);
    const stop = async () => {
      await app.close();
      process.exit(0);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });

  const status = serve
    .command("status")
    .description("Show what a running scoring server serves: versions, shares, requests, latency, error rates")
    .option("--url <url>", "the server; default http://MLOOP_SERVE_HOST:MLOOP_SERVE_PORT (127.0.0.1:5001)")
    .option("--json", "print the status as JSON");
  withExamples(status, "mloop serve status --url http://127.0.0.1:5001");
  status.action(async (opts: { url?: string; json?: boolean }) => {
    const client = servingClient(opts.url);
    const st = await client.status();
    if (opts.json) return printJson(st);
    out(`${paint("bold", "traffic")}: ${st.policy.mode}${st.policy.mode === "canary" ? ` (challenger ${Math.round(st.policy.challenger_share * 1000) / 10}%${st.policy.sticky_header ? `, sticky by ${st.policy.sticky_header}` : ""})` : ""}; up ${st.uptime_s}s`);
    printTable(
      ["ROLE", "MODEL", "VERSION", "RUNTIME", "SHARE", "REQUESTS", "ERRORS", "ERROR RATE", "P50 MS", "P99 MS"],
      st.models.map((m) => [
        m.role,
        m.name,
        m.version,
        m.runtime,
        `${Math.round(m.share * 1000) / 10}%`,
        String(m.requests),
        String(m.errors),
        `${(m.error_rate * 100).toFixed(2)}%`,
        m.latency_ms.p50 === null ? "-" : String(m.latency_ms.p50),
        m.latency_ms.p99 === null ? "-" : String(m.latency_ms.p99),
      ]),
    );
    out(`prediction log: ${st.prediction_log.written} written, ${st.prediction_log.dropped} dropped, ${st.prediction_log.pendingLines} pending (${st.prediction_log.dir}); feedback: ${st.feedback.written}`);
  });

  const predict = program
    .command("predict")
    .description("Score a file with a model (in-process, or through a running server with --url) and write the predictions to a file")
    .argument("<model-uri>", "models:/name@alias, models:/name/3, models:/<model_id>, runs:/<run_id>/path or a model folder")
    .requiredOption("-i, --input <file>", "a .json scoring body (dataframe_split, dataframe_records, instances, inputs) or a .csv file")
    .option("-o, --output <file>", "where to write {\"predictions\": […]}; default stdout")
    .option("--content-type <type>", "json or csv; default from the file extension")
    .option("--batch-size <rows>", "rows per request", positiveInt("--batch-size"), 1000)
    .option("--url <url>", "score through this running mloop serve instead of loading the model here")
    .option("--tracking-uri <uri>", "tracking server with the registry (MLFLOW_TRACKING_URI)")
    .option("--python <path>", "Python for pyfunc models (MLOOP_SERVE_PYTHON)")
    .option("--cache-dir <dir>", "where downloaded model versions are kept (MLOOP_SERVE_CACHE_DIR)");
  withExamples(predict, "mloop predict models:/fraud@champion --input batch.csv --output predictions.json");
  predict.action(async (modelUri: string, opts: { input: string; output?: string; contentType?: string; batchSize: number; url?: string; trackingUri?: string; python?: string; cacheDir?: string }) => {
    let text: string;
    try {
      text = fs.readFileSync(opts.input, "utf8");
    } catch (err) {
      throw new CliError(`cannot read ${opts.input}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const kind = opts.contentType ?? (opts.input.toLowerCase().endsWith(".csv") ? "csv" : "json");
    if (kind !== "json" && kind !== "csv") throw new CliError(`--content-type must be json or csv, got '${kind}'`);
    const contentType = kind === "csv" ? "text/csv" : "application/json";
    const { parseScoringRequest } = await import("../serving/index.js");
    const parsed = parseScoringRequest(text, contentType);
    const bodies: string[] = [];
    if (parsed.input.kind === "frame") {
      const frame = parsed.input;
      for (let start = 0; start < frame.rows; start += opts.batchSize) {
        const end = Math.min(frame.rows, start + opts.batchSize);
        const data: unknown[][] = [];
        for (let r = start; r < end; r++) data.push(frame.columns.map((_, c) => frame.data[c]![r] ?? null));
        bodies.push(JSON.stringify({ dataframe_split: { columns: frame.columns, data }, ...(parsed.params ? { params: parsed.params } : {}) }));
      }
    } else bodies.push(text);

    let score: (body: string) => Promise<string>;
    let close = async () => undefined as void;
    if (opts.url) {
      const client = servingClient(opts.url);
      score = async (body) => JSON.stringify((await client.predict(JSON.parse(body) as Record<string, unknown>)).predictions);
    } else {
      const config = loadServeConfig({ modelUri, trackingUri: opts.trackingUri, python: opts.python, cacheDir: opts.cacheDir, workers: 1, pollInterval: 0 });
      const { ServingService } = await import("../serving/index.js");
      const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-predict-"));
      const service = await ServingService.start({ ...(await serviceOptions(config)), logDir: scratch, logSampleRate: 0, pollIntervalMs: 0 });
      close = async () => {
        await service.close();
        fs.rmSync(scratch, { recursive: true, force: true });
      };
      score = async (body) => {
        const res = await service.score({ body, contentType: "application/json" });
        if (res.status !== 200) {
          const e = JSON.parse(res.body) as { error_code: string; message: string };
          throw new CliError(`${e.error_code}: ${e.message}`);
        }
        return res.body.slice('{"predictions": '.length, -1);
      };
    }
    const bar = await progressBar(parsed.input.kind === "frame" ? parsed.input.rows : 1);
    const parts: string[] = [];
    try {
      let done = 0;
      for (const body of bodies) {
        parts.push(await score(body));
        done += parsed.input.kind === "frame" ? Math.min(opts.batchSize, parsed.input.rows - done) : 1;
        bar.update(done);
      }
    } finally {
      bar.stop();
      await close();
    }
    // Table predictions are lists: the batches' lists join into one.
    const joined = parts.length === 1 ? parts[0]! : `[${parts.map((p) => p.trim().replace(/^\[/, "").replace(/\]$/, "")).filter(Boolean).join(",")}]`;
    const result = `{"predictions": ${joined}}\n`;
    if (opts.output) {
      fs.writeFileSync(opts.output, result);
      process.stderr.write(`mloop predict: ${parsed.input.kind === "frame" ? parsed.input.rows : 1} rows scored into ${opts.output}\n`);
    } else process.stdout.write(result);
  });
}

/** The client of `--url`, else of the host and port `mloop serve` would use (MLOOP_SERVE_HOST, MLOOP_SERVE_PORT). */
function servingClient(url: string | undefined): ServingClient {
  try {
    const config = loadServeConfig();
    return new ServingClient({ url: url ?? `http://${config.host}:${config.port}` });
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

/** A rows progress bar on an interactive stderr; nothing otherwise. */
async function progressBar(total: number): Promise<{ update(n: number): void; stop(): void }> {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const mod = (await import("cli-progress")) as unknown as { default?: typeof import("cli-progress") } & typeof import("cli-progress");
  const lib = mod.default ?? mod;
  const bar = new lib.SingleBar({ stream: process.stderr, format: "scoring [{bar}] {percentage}% {value}/{total} rows ETA {eta_formatted}", barsize: 20, hideCursor: true, clearOnComplete: true }, lib.Presets.shades_classic);
  bar.start(Math.max(1, total), 0);
  return { update: (n) => bar.update(n), stop: () => bar.stop() };
}

