#!/usr/bin/env node
/**
 * mloop serve vs mlflow models serve, side by side on the same machine and the same models.
 *
 *   npm run build && node bench/serving/bench.mjs
 *
 * A tracking server (mloop server) gets two models from the real mlflow client
 * (test/serving/make_models.py): a scikit-learn LogisticRegression converted with skl2onnx and
 * logged with mlflow.onnx.log_model, and the same classifier logged with mlflow.sklearn.log_model.
 * Each is served by `mlflow models serve --env-manager local` (its defaults otherwise: one
 * uvicorn worker) and by `mloop serve` (its defaults: prediction log on, two Python workers for
 * pyfunc), one server at a time, and loaded by bench/serving/loadgen (Go, keep-alive
 * connections, pre-built bodies; it prints its own CPU share) at concurrency 1 and 32 with
 * batches of 1 and 100 rows. Prints requests/s, p50 and p99 and the ratio.
 *
 *   BENCH_DURATION=8s BENCH_WARMUP=2s      measured time and warm-up per point
 *   BENCH_MLFLOW=.venv/bin/mlflow BENCH_PYTHON=.venv/bin/python
 *   BENCH_SKIP_PYFUNC=1                     only the ONNX model
 *   BENCH_SKIP_ONNX=1                       only the pyfunc (scikit-learn) model
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, freePort, log, running } from "../tracking/common.mjs";

const MLFLOW = process.env.BENCH_MLFLOW ?? path.join(ROOT, ".venv", "bin", "mlflow");
const PYTHON = process.env.BENCH_PYTHON ?? path.join(ROOT, ".venv", "bin", "python");
const DURATION = process.env.BENCH_DURATION ?? "8s";
const WARMUP = process.env.BENCH_WARMUP ?? "2s";
const FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"];

function stop(msg) {
  console.error(`bench: ${msg}`);
  for (const kill of running) kill();
  process.exit(2);
}

if (!fs.existsSync(path.join(ROOT, "dist", "cli", "index.js"))) stop("dist/ is missing: run `npm run build` first");
if (!fs.existsSync(MLFLOW)) stop(`no mlflow at ${MLFLOW}: run scripts/setup-python.sh (or set BENCH_MLFLOW)`);
if (spawnSync("go", ["version"]).status !== 0) stop("the load generator needs Go (https://go.dev/dl/) on PATH");

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-bench-serving-"));
const loadgen = path.join(dir, "loadgen");
{
  const res = spawnSync("go", ["build", "-o", loadgen, "."], { cwd: path.join(ROOT, "bench", "serving", "loadgen"), encoding: "utf8" });
  if (res.status !== 0) stop(`go build of the load generator failed: ${res.stderr}`);
}

const env = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MLOOP_") && !k.startsWith("MLFLOW_"))),
  PATH: `${path.dirname(MLFLOW)}:${process.env.PATH}`,
};

/** Starts a process in its own group; resolves once `<url><probe>` answers 200. */
async function start(name, cmd, args, port, probe) {
  const child = spawn(cmd, args, { cwd: dir, env, stdio: ["ignore", "ignore", "pipe"], detached: true });
  let err = "";
  child.stderr.on("data", (d) => (err = (err + d.toString()).slice(-4000)));
  const exited = new Promise((r) => child.once("exit", r));
  const kill = () => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // gone
    }
  };
  running.add(kill);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (child.exitCode !== null) stop(`${name} exited with ${child.exitCode}:\n${err}`);
    try {
      if ((await fetch(`${url}${probe}`)).status === 200) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) stop(`${name} did not come up:\n${err}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    pid: child.pid,
    async stop() {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // gone
      }
      const t = setTimeout(kill, 5000);
      await exited;
      clearTimeout(t);
      running.delete(kill);
    },
  };
}

function body(rows) {
  const data = Array.from({ length: rows }, (_, i) => [4.3 + (i % 36) / 10, 2 + (i % 24) / 10, 1 + (i % 59) / 10, 0.1 + (i % 24) / 10]);
  const file = path.join(dir, `body-${rows}.json`);
  fs.writeFileSync(file, JSON.stringify({ dataframe_split: { columns: FEATURES, data } }));
  return file;
}

function load(url, file, c) {
  const res = spawnSync(loadgen, ["-url", `${url}/invocations`, "-body", file, "-c", String(c), "-d", DURATION, "-warmup", WARMUP], { encoding: "utf8" });
  if (res.status !== 0) stop(`loadgen failed: ${res.stderr}`);
  return JSON.parse(res.stdout);
}

const trackingPort = await freePort();
log("starting the tracking server and logging the models with the mlflow client");
const tracking = await start(
  "mloop server",
  process.execPath,
  [path.join(ROOT, "bin", "mloop.js"), "server", "--port", String(trackingPort), "--backend-store-uri", `sqlite:///${path.join(dir, "mlruns.db")}`, "--artifacts-destination", path.join(dir, "artifacts"), "--no-ui"],
  trackingPort,
  "/health",
);
env.MLFLOW_TRACKING_URI = tracking.url;
{
  const res = spawnSync(PYTHON, [path.join(ROOT, "test", "serving", "make_models.py"), path.join(dir, "models.json")], { cwd: dir, env, encoding: "utf8" });
  if (res.status !== 0) stop(`make_models.py failed: ${res.stderr.slice(-2000)}`);
}

const bodies = { 1: body(1), 100: body(100) };
const points = [
  [1, 1],
  [32, 1],
  [1, 100],
  [32, 100],
];

async function measure(label, model, which) {
  const results = {};
  for (const tool of ["mlflow", "mloop"]) {
    const port = await freePort();
    log(`${label}: starting ${tool}`);
    const server =
      tool === "mlflow"
        ? await start("mlflow models serve", MLFLOW, ["models", "serve", "-m", model, "--env-manager", "local", "-h", "127.0.0.1", "-p", String(port)], port, "/ping")
        : await start(
            "mloop serve",
            process.execPath,
            [path.join(ROOT, "bin", "mloop.js"), "serve", model, "--port", String(port), "--python", PYTHON, "--log-dir", path.join(dir, `log-${label}`), "--cache-dir", path.join(dir, "cache")],
            port,
            "/ping",
          );
    for (const [c, rows] of which) {
      const r = load(server.url, bodies[rows], c);
      results[`${tool} c${c} b${rows}`] = r;
      log(`${label} ${tool} c=${c} rows=${rows}: ${r.rps.toFixed(0)} req/s p50 ${r.p50_ms} ms p99 ${r.p99_ms} ms (errors ${r.errors}, loadgen CPU ${(r.loadgen_cpu_share * 100).toFixed(0)}%)`);
    }
    await server.stop();
  }
  return which.map(([c, rows]) => {
    const a = results[`mlflow c${c} b${rows}`];
    const b = results[`mloop c${c} b${rows}`];
    return { label, c, rows, mlflow: a, mloop: b };
  });
}

const table = process.env.BENCH_SKIP_ONNX === "1" ? [] : [...(await measure("onnx", "models:/iris-onnx@champion", points))];
if (process.env.BENCH_SKIP_PYFUNC !== "1") table.push(...(await measure("pyfunc", "models:/iris-sklearn@champion", [[1, 1], [32, 1]])));
await tracking.stop();

const f = (n) => (n >= 100 ? n.toFixed(0) : n.toFixed(2));
console.log(`\nmloop serve vs mlflow models serve (${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(1)}; ${DURATION} per point)\n`);
console.log("| model | concurrency | rows/request | mlflow req/s | mloop req/s | ratio | mlflow p50 / p99 ms | mloop p50 / p99 ms |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const r of table) {
  console.log(`| ${r.label} | ${r.c} | ${r.rows} | ${f(r.mlflow.rps)} | ${f(r.mloop.rps)} | ${(r.mloop.rps / r.mlflow.rps).toFixed(1)}× | ${r.mlflow.p50_ms} / ${r.mlflow.p99_ms} | ${r.mloop.p50_ms} / ${r.mloop.p99_ms} |`);
}
fs.rmSync(dir, { recursive: true, force: true });
