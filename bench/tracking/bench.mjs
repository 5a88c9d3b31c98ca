#!/usr/bin/env node
/**
 * mloop server vs mlflow server, side by side on the same machine, both on SQLite.
 *
 *   npm run build && node bench/tracking/bench.mjs
 *
 * Measures (a) log-batch ingest from concurrent clients (1000 metrics per request), (b) run
 * search over a large store (filter + order + page of 100, p50), (c) the sampled history of a
 * 1M-point metric (get-history-bulk-interval, 320 points, p50), (d) start-up time to a healthy
 * /health. Sizes come from the environment (defaults are the full size):
 *
 *   BENCH_CLIENTS=8 BENCH_INGEST_REQUESTS=10   ingest: clients and requests per client
 *   BENCH_RUNS=100000 BENCH_PARAMS=20 BENCH_METRICS=10   search store
 *   BENCH_HISTORY_POINTS=1000000               points of the sampled metric
 *   BENCH_REPEAT=10                            timed repetitions of search and history
 *   BENCH_STARTS=3                             start-ups timed per server
 *   BENCH_MLFLOW=.venv/bin/mlflow
 *
 * mlflow runs at its own defaults (the headline: its default worker count) and again with
 * `--workers 1` on the same seeded store for search, history and start-up (the second column);
 * bench/tracking/ingest.mjs compares ingest against both.
 *   BENCH_DIR=<folder to keep the stores in>   default: a temporary folder, removed afterwards
 *
 * The search and history stores are seeded by direct inserts into each server's own SQLite
 * schema (the same rows in the same tables: runs, params, latest_metrics, metrics, tags), which
 * is what logging those values through either API leaves behind; ingest goes through the APIs.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { ROOT, call, log, median, positiveIntEnv as env, requireBuildAndMlflow, running, startServer, freePort } from "./common.mjs";

const require = createRequire(import.meta.url);
const Database = require("better-sqlite3");

const CLIENTS = env("BENCH_CLIENTS", 8);
const INGEST_REQUESTS = env("BENCH_INGEST_REQUESTS", 10);
const RUNS = env("BENCH_RUNS", 100_000);
const PARAMS = env("BENCH_PARAMS", 20);
const METRICS = env("BENCH_METRICS", 10);
const HISTORY_POINTS = env("BENCH_HISTORY_POINTS", 1_000_000);
const REPEAT = env("BENCH_REPEAT", 10);
const STARTS = env("BENCH_STARTS", 3);
const MLFLOW = process.env.BENCH_MLFLOW || path.join(ROOT, ".venv", "bin", "mlflow");

requireBuildAndMlflow(MLFLOW);

const keep = Boolean(process.env.BENCH_DIR);
const WORK = process.env.BENCH_DIR ? path.resolve(process.env.BENCH_DIR) : fs.mkdtempSync(path.join(os.tmpdir(), "mloop-bench-"));
fs.mkdirSync(WORK, { recursive: true });

/** The two servers: how to start each one on its own folder. */
const SERVERS = {
  mlflow: {
    dir: path.join(WORK, "mlflow"),
    db: path.join(WORK, "mlflow", "mlflow.db"),
    command: (port, s) => [
      MLFLOW,
      ["server", "--host", "127.0.0.1", "--port", String(port),
        "--backend-store-uri", `sqlite:///${s.db}`, "--artifacts-destination", path.join(s.dir, "artifacts")],
    ],
  },
  /** The same mlflow store served by one worker. */
  "mlflow-1": {
    dir: path.join(WORK, "mlflow"),
    db: path.join(WORK, "mlflow", "mlflow.db"),
    command: (port, s) => [
      MLFLOW,
      ["server", "--host", "127.0.0.1", "--port", String(port), "--workers", "1",
        "--backend-store-uri", `sqlite:///${s.db}`, "--artifacts-destination", path.join(s.dir, "artifacts")],
    ],
  },
  mloop: {
    dir: path.join(WORK, "mloop"),
    db: path.join(WORK, "mloop", "mlruns.db"),
    command: (port, s) => [
      process.execPath,
      [path.join(ROOT, "bin", "mloop.js"), "server", "--host", "127.0.0.1", "--port", String(port),
        "--backend-store-uri", `sqlite:///${s.db}`, "--artifacts-destination", path.join(s.dir, "artifacts")],
    ],
  },
};

/** Starts a server on its own folder; resolves once /health answers 200, with the time that took. */
async function start(name) {
  const s = SERVERS[name];
  fs.mkdirSync(s.dir, { recursive: true });
  const port = await freePort();
  const [cmd, args] = s.command(port, s);
  return startServer(name, cmd, args, { cwd: s.dir, port });
}

const API = "/api/2.0/mlflow/";

// --- (a) ingest ---------------------------------------------------------------------------------

async function ingest(server) {
  const exp = await call(server.url, "POST", API + "experiments/create", { name: "bench-ingest" });
  const runs = [];
  for (let c = 0; c < CLIENTS; c++) {
    const r = await call(server.url, "POST", API + "runs/create", { experiment_id: exp.experiment_id, start_time: Date.now() });
    runs.push(r.run.info.run_id);
  }
  // 1000 metrics per request: 10 keys x 100 consecutive steps.
  const body = (runId, i) => {
    const ts = Date.now();
    const metrics = [];
    for (let k = 0; k < 10; k++) for (let s = 0; s < 100; s++) metrics.push({ key: `metric_${k}`, value: Math.sin(i * 100 + s + k), timestamp: ts, step: i * 100 + s });
    return { run_id: runId, metrics };
  };
  // A failed request (e.g. mlflow's "database is locked") is counted, not retried.
  const failures = [];
  const okPerRun = runs.map(() => 0);
  const t0 = performance.now();
  await Promise.all(
    runs.map(async (runId, c) => {
      for (let i = 0; i < INGEST_REQUESTS; i++) {
        try {
          await call(server.url, "POST", API + "runs/log-batch", body(runId, i));
          okPerRun[c]++;
        } catch (err) {
          failures.push(String(err.message ?? err).slice(0, 160));
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const stored = okPerRun.reduce((a, b) => a + b, 0) * 1000;
  // Every acknowledged batch arrived.
  const check = await call(server.url, "GET", API + "metrics/get-history", { run_id: runs[0], metric_key: "metric_0", max_results: 25000 });
  if (check.metrics.length < okPerRun[0] * 100) throw new Error(`${server.name}: ingest stored ${check.metrics.length} points of metric_0, expected ${okPerRun[0] * 100}`);
  if (failures.length) log(`${server.name}: ${failures.length} of ${CLIENTS * INGEST_REQUESTS} log-batch requests failed, e.g. ${failures[0]}`);
  return { rate: stored / seconds, failed: failures.length };
}

// --- seeding (b) and (c) --------------------------------------------------------------------------

function hex32(rng) {
  return crypto.createHash("md5").update(String(rng)).digest("hex");
}

/** The same rows into either store: both use MLflow's table and column names for runs data. */
function seed(dbPath, searchExperimentId, historyExperimentId) {
  const db = new Database(dbPath);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = OFF");
  const now = Date.UTC(2026, 0, 1);
  const insRun = db.prepare(
    "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id) " +
      "VALUES (?, ?, 'LOCAL', '', '', 'bench', 'FINISHED', ?, ?, '', 'active', ?, ?)",
  );
  const insParam = db.prepare("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)");
  const insTag = db.prepare("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)");
  const insLatest = db.prepare("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, 0, ?)");
  const insMetric = db.prepare("INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, 0, ?)");
  const run = (id, name, exp, t) => {
    insRun.run(id, name, t, t + 60_000, `mlflow-artifacts:/${exp}/${id}/artifacts`, exp);
    insTag.run("mlflow.runName", name, id);
    insTag.run("mlflow.user", "bench", id);
  };
  const chunk = 5000;
  for (let base = 0; base < RUNS; base += chunk) {
    db.transaction(() => {
      for (let i = base; i < Math.min(RUNS, base + chunk); i++) {
        const id = hex32(`run-${i}`);
        const t = now + i * 1000;
        run(id, `run-${i}`, searchExperimentId, t);
        for (let p = 0; p < PARAMS; p++) insParam.run(`param_${p}`, `v${(i * (p + 1)) % 10}`, id);
        for (let m = 0; m < METRICS; m++) {
          const value = ((i * 7919 + m * 104729) % 100_000) / 100_000;
          insMetric.run(`metric_${m}`, value, t, 0, id);
          insLatest.run(`metric_${m}`, value, t, 0, id);
        }
      }
    })();
  }
  const historyRun = hex32("history");
  db.transaction(() => run(historyRun, "history", historyExperimentId, now))();
  let written = 0;
  for (let base = 0; base < HISTORY_POINTS; base += 50_000) {
    db.transaction(() => {
      for (let s = base; s < Math.min(HISTORY_POINTS, base + 50_000); s++) {
        insMetric.run("loss", 1 / (1 + s / 1000) + Math.sin(s) * 0.01, now + s, s, historyRun);
        written++;
      }
    })();
  }
  const last = HISTORY_POINTS - 1;
  db.prepare("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES ('loss', ?, ?, ?, 0, ?)").run(1 / (1 + last / 1000) + Math.sin(last) * 0.01, now + last, last, historyRun);
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.exec("ANALYZE");
  db.close();
  return { historyRun, written };
}

// --- (b) search, (c) sampled history -------------------------------------------------------------

const SEARCH = {
  filter: "metrics.metric_0 > 0.5 AND params.param_0 = 'v3'",
  order_by: ["metrics.metric_1 DESC"],
  max_results: 100,
};

async function search(server, experimentId) {
  const times = [];
  let ids;
  for (let i = 0; i < REPEAT + 1; i++) {
    const t0 = performance.now();
    const res = await call(server.url, "POST", API + "runs/search", { experiment_ids: [experimentId], ...SEARCH });
    const ms = performance.now() - t0;
    if (i > 0) times.push(ms); // the first one warms caches
    ids = res.runs.map((r) => r.info.run_id);
  }
  return { p50: median(times), ids };
}

async function history(server, runId) {
  const times = [];
  let points;
  for (let i = 0; i < REPEAT + 1; i++) {
    const t0 = performance.now();
    const res = await call(server.url, "GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval", { run_ids: runId, metric_key: "loss", max_results: 320 });
    const ms = performance.now() - t0;
    if (i > 0) times.push(ms);
    points = res.metrics.length;
  }
  return { p50: median(times), points };
}

// --- main ------------------------------------------------------------------------------------------

const results = {};
const fmt = (n, digits = 1) => (n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(digits));

async function main() {
  log(`work folder ${WORK}`);
  log(`sizes: ${CLIENTS} clients x ${INGEST_REQUESTS} requests x 1000 metrics; ${RUNS} runs x ${PARAMS} params x ${METRICS} metrics; ${HISTORY_POINTS} history points`);
  const ids = {};
  for (const name of ["mlflow", "mloop"]) {
    fs.rmSync(SERVERS[name].dir, { recursive: true, force: true });
    log(`${name}: start on an empty store`);
    const s = await start(name);
    results[name] = { emptyStartup: s.startup };
    log(`${name}: ingest`);
    const ing = await ingest(s);
    results[name].ingest = ing.rate;
    results[name].ingestFailed = ing.failed;
    log(`${name}: ${fmt(results[name].ingest)} metrics/s`);
    const a = await call(s.url, "POST", API + "experiments/create", { name: "bench-search" });
    const b = await call(s.url, "POST", API + "experiments/create", { name: "bench-history" });
    ids[name] = { search: a.experiment_id, history: b.experiment_id };
    await s.stop();
    log(`${name}: seed ${RUNS} runs and a ${HISTORY_POINTS}-point metric by direct inserts`);
    const t0 = performance.now();
    ids[name].historyRun = seed(SERVERS[name].db, ids[name].search, ids[name].history).historyRun;
    log(`${name}: seeded in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }

  results["mlflow-1"] = {};
  for (const name of ["mlflow", "mlflow-1", "mloop"]) {
    const startups = [];
    let s;
    for (let i = 0; i < STARTS; i++) {
      s = await start(name);
      startups.push(s.startup);
      if (i < STARTS - 1) await s.stop();
    }
    results[name].startup = median(startups);
    log(`${name}: start-up ${fmt(results[name].startup)} ms; search`);
    const sr = await search(s, ids[name === "mlflow-1" ? "mlflow" : name].search);
    results[name].search = sr.p50;
    results[name].searchIds = sr.ids;
    log(`${name}: search p50 ${fmt(sr.p50)} ms; history`);
    const hr = await history(s, ids[name === "mlflow-1" ? "mlflow" : name].historyRun);
    results[name].history = hr.p50;
    results[name].historyPoints = hr.points;
    log(`${name}: history p50 ${fmt(hr.p50)} ms (${hr.points} points)`);
    await s.stop();
  }

  const same = JSON.stringify(results.mlflow.searchIds) === JSON.stringify(results.mloop.searchIds);
  const mlflowVersion = (await import("node:child_process")).execFileSync(path.join(path.dirname(MLFLOW), "python"), ["-c", "import mlflow; print(mlflow.__version__)"]).toString().trim();
  const one = results["mlflow-1"];
  // [label, mlflow defaults, mlflow --workers 1, mloop, higher is better]
  const rows = [
    ["log-batch ingest, metrics/s (higher is better)", results.mlflow.ingest, undefined, results.mloop.ingest, true],
    ["search runs p50, ms", results.mlflow.search, one.search, results.mloop.search, false],
    ["sampled history p50, ms", results.mlflow.history, one.history, results.mloop.history, false],
    ["start-up to healthy, seeded store, ms", results.mlflow.startup, one.startup, results.mloop.startup, false],
    ["start-up to healthy, empty store, ms", results.mlflow.emptyStartup, undefined, results.mloop.emptyStartup, false],
  ];
  const ratio = (ref, b, higher) => (ref === undefined ? "-" : `${(higher ? b / ref : ref / b).toFixed(1)}x`);
  const out = [];
  out.push(`mloop vs mlflow server ${mlflowVersion} at its defaults and with --workers 1, all on SQLite; ${os.cpus().length} CPUs, Node ${process.versions.node}`);
  out.push(`ingest: ${CLIENTS} concurrent clients x ${INGEST_REQUESTS} log-batch requests of 1000 metrics, through the API`);
  out.push(`search: ${RUNS} runs x ${PARAMS} params x ${METRICS} metrics, seeded by direct inserts into each server's SQLite schema; filter "${SEARCH.filter}", order_by ${SEARCH.order_by[0]}, page of ${SEARCH.max_results}; p50 of ${REPEAT}`);
  out.push(`history: get-history-bulk-interval of a ${HISTORY_POINTS}-point metric (seeded by direct inserts), max_results 320 -> mlflow ${results.mlflow.historyPoints} / mloop ${results.mloop.historyPoints} points; p50 of ${REPEAT}`);
  out.push(`failed log-batch requests: mlflow ${results.mlflow.ingestFailed}, mloop ${results.mloop.ingestFailed} of ${CLIENTS * INGEST_REQUESTS} (ingest counts acknowledged metrics only)`);
  out.push(`start-up: spawn to first 200 from /health, median of ${STARTS}`);
  out.push(`same search page from both servers: ${same ? "yes" : "NO"}`);
  out.push("");
  out.push(`| measure | mlflow (defaults) | mlflow --workers 1 | mloop | mloop vs mlflow defaults | mloop vs --workers 1 |`);
  out.push(`|---|---:|---:|---:|---:|---:|`);
  for (const [label, a, w1, b, higher] of rows) {
    out.push(`| ${label} | ${fmt(a)} | ${w1 === undefined ? "-" : fmt(w1)} | ${fmt(b)} | ${ratio(a, b, higher)} | ${ratio(w1, b, higher)} |`);
  }
  console.log(out.join("\n"));
}

main()
  .catch((err) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const kill of running) kill();
    if (!keep) fs.rmSync(WORK, { recursive: true, force: true });
  });
