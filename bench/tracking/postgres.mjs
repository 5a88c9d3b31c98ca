#!/usr/bin/env node
/**
 * mloop server vs mlflow server, side by side on the same PostgreSQL server (each on its own
 * database): the PostgreSQL column of bench/tracking.
 *
 *   npm run build && node bench/tracking/postgres.mjs
 *
 * PostgreSQL: BENCH_POSTGRES_URL=postgresql://user@host:port/db (databases are created next to
 * it and dropped afterwards), otherwise a throwaway cluster from scripts/pg-start.sh.
 * mlflow needs psycopg2 in its venv (test/compat/requirements-mlflow3.txt has it).
 *
 * Measures (a) log-batch ingest from concurrent clients (1000 metrics per request),
 * (b) run search (filter on a param and a metric, order by a metric, page of 100, p50) over runs
 * logged through each server's API, (c) start-up time to a healthy /health.
 *
 *   BENCH_CLIENTS=8 BENCH_INGEST_REQUESTS=10   ingest: clients and requests per client
 *   BENCH_PG_RUNS=20000                        runs logged for search (5 params, 5 metrics each)
 *   BENCH_REPEAT=10 BENCH_STARTS=3 BENCH_MLFLOW=.venv/bin/mlflow
 *   BENCH_MLFLOW_WORKERS=N                     mlflow's worker count (default: mlflow's own default)
 *
 * Ingest request bodies are serialized before the clock starts.
 *
 * Prints one table (markdown) on stdout; progress goes to stderr.
 */
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, call as callJson, freePort, log, median, positiveIntEnv as num, requireBuildAndMlflow, running, startServer } from "./common.mjs";

const require = createRequire(import.meta.url);
const pg = require("pg");

const CLIENTS = num("BENCH_CLIENTS", 8);
const INGEST_REQUESTS = num("BENCH_INGEST_REQUESTS", 10);
const RUNS = num("BENCH_PG_RUNS", 20_000);
const REPEAT = num("BENCH_REPEAT", 10);
const STARTS = num("BENCH_STARTS", 3);
const MLFLOW_WORKERS = process.env.BENCH_MLFLOW_WORKERS ? num("BENCH_MLFLOW_WORKERS", 1) : undefined;
const MLFLOW = process.env.BENCH_MLFLOW || path.join(ROOT, ".venv", "bin", "mlflow");

requireBuildAndMlflow(MLFLOW);

const WORK = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-bench-pg-"));

let clusterUri;
let baseUrl = process.env.BENCH_POSTGRES_URL;
if (!baseUrl) {
  log("starting a throwaway PostgreSQL cluster");
  clusterUri = execFileSync("bash", [path.join(ROOT, "scripts/pg-start.sh")], { encoding: "utf8" }).trim().split("\n").at(-1);
  baseUrl = clusterUri;
}

async function admin(sql) {
  const c = new pg.Client({ connectionString: baseUrl });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}
const dbUri = (name) => {
  const u = new URL(baseUrl);
  u.pathname = `/${name}`;
  return u.toString();
};
const suffix = `${process.pid}`;
const DBS = { mloop: `bench_mloop_${suffix}`, mlflow: `bench_mlflow_${suffix}` };

const SERVERS = {
  mlflow: (port) => [
    MLFLOW,
    ["server", "--host", "127.0.0.1", "--port", String(port), ...(MLFLOW_WORKERS ? ["--workers", String(MLFLOW_WORKERS)] : []),
      "--backend-store-uri", dbUri(DBS.mlflow).replace(/^postgres(ql)?:/, "postgresql+psycopg2:"), "--artifacts-destination", path.join(WORK, "mlflow-artifacts")],
  ],
  mloop: (port) => [
    process.execPath,
    [path.join(ROOT, "bin", "mloop.js"), "server", "--host", "127.0.0.1", "--port", String(port), "--no-ui",
      "--backend-store-uri", dbUri(DBS.mloop), "--artifacts-destination", path.join(WORK, "mloop-artifacts")],
  ],
};

async function start(name) {
  const port = await freePort();
  const [cmd, args] = SERVERS[name](port);
  return startServer(name, cmd, args, { cwd: WORK, port });
}

/** POST to an MLflow endpoint. */
const call = (base, route, body) => callJson(base, "POST", `/api/2.0/mlflow/${route}`, body);


async function ingest(base) {
  const exp = await call(base, "experiments/create", { name: `ingest-${Date.now()}` });
  const runs = [];
  for (let c = 0; c < CLIENTS; c++) runs.push((await call(base, "runs/create", { experiment_id: exp.experiment_id, start_time: Date.now() })).run.info.run_id);
  const ts = Date.now();
  const bodies = runs.map((runId) =>
    Array.from({ length: INGEST_REQUESTS }, (_, r) =>
      JSON.stringify({ run_id: runId, metrics: Array.from({ length: 1000 }, (_, i) => ({ key: `m${i % 10}`, value: Math.random(), timestamp: ts + r, step: r * 100 + Math.floor(i / 10) })) }),
    ),
  );
  // A refused or dropped request is counted, not retried; only acknowledged metrics count.
  let ok = 0;
  let failed = 0;
  const t0 = performance.now();
  await Promise.all(
    bodies.map(async (list) => {
      for (const body of list) {
        try {
          const res = await fetch(`${base}/api/2.0/mlflow/runs/log-batch`, { method: "POST", headers: { "content-type": "application/json" }, body });
          await res.arrayBuffer();
          res.status === 200 ? ok++ : failed++;
        } catch {
          failed++;
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return { rate: (ok * 1000) / seconds, failed };
}

async function seedAndSearch(base) {
  const exp = (await call(base, "experiments/create", { name: `search-${Date.now()}` })).experiment_id;
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < RUNS) {
        const i = next++;
        const runId = (await call(base, "runs/create", { experiment_id: exp, start_time: 1_700_000_000_000 + i })).run.info.run_id;
        await call(base, "runs/log-batch", {
          run_id: runId,
          params: Array.from({ length: 5 }, (_, p) => ({ key: `p${p}`, value: String((i + p) % 7) })),
          metrics: Array.from({ length: 5 }, (_, m) => ({ key: `m${m}`, value: ((i * 31 + m) % 1000) / 1000, timestamp: 1, step: 0 })),
        });
      }
    }),
  );
  const times = [];
  let found = 0;
  for (let r = 0; r < REPEAT + 1; r++) {
    const t0 = performance.now();
    const res = await call(base, "runs/search", { experiment_ids: [exp], filter: "params.p1 = '3' and metrics.m2 > 0.5", order_by: ["metrics.m0 DESC"], max_results: 100 });
    if (r > 0) times.push(performance.now() - t0);
    found = res.runs?.length ?? 0;
  }
  return { p50: median(times), found };
}

const results = {};
try {
  await admin(`CREATE DATABASE ${DBS.mloop}`);
  await admin(`CREATE DATABASE ${DBS.mlflow}`);
  const mlflowVersion = execFileSync(MLFLOW, ["--version"], { encoding: "utf8" }).trim().split(" ").at(-1);
  for (const name of ["mloop", "mlflow"]) {
    log(`${name}: starting on PostgreSQL`);
    const startups = [];
    let server = await start(name); // the first start creates the schema; not timed
    await server.stop();
    for (let i = 0; i < STARTS; i++) {
      server = await start(name);
      startups.push(server.startup);
      if (i < STARTS - 1) await server.stop();
    }
    log(`${name}: ingest`);
    const { rate, failed } = await ingest(server.url);
    log(`${name}: logging ${RUNS} runs for search`);
    const search = await seedAndSearch(server.url);
    await server.stop();
    results[name] = { startup: median(startups), rate, failed, search };
    log(`${name}:`, JSON.stringify(results[name]));
  }
  const a = results.mloop;
  const b = results.mlflow;
  const out = [];
  out.push(`mloop vs mlflow server ${mlflowVersion} (${MLFLOW_WORKERS ? `--workers ${MLFLOW_WORKERS}` : "its defaults"}), both on PostgreSQL ${execFileSync("psql", [baseUrl, "-XAtc", "SHOW server_version"], { encoding: "utf8" }).trim()}; ${os.cpus().length} CPUs, Node ${process.versions.node}`);
  out.push("");
  out.push("| PostgreSQL | mloop | mlflow | ratio |");
  out.push("| --- | ---: | ---: | ---: |");
  out.push(`| log-batch ingest, ${CLIENTS} clients × ${INGEST_REQUESTS} × 1000 metrics (metrics/s) | ${Math.round(a.rate)} | ${Math.round(b.rate)} | ${(a.rate / b.rate).toFixed(1)}× |`);
  out.push(`| search ${RUNS} runs, param + metric filter, order by metric, page of 100 (p50 ms) | ${a.search.p50.toFixed(1)} | ${b.search.p50.toFixed(1)} | ${(b.search.p50 / a.search.p50).toFixed(1)}× |`);
  out.push(`| start to healthy /health (median ms) | ${a.startup.toFixed(0)} | ${b.startup.toFixed(0)} | ${(b.startup / a.startup).toFixed(1)}× |`);
  if (a.failed || b.failed) out.push(`\nfailed log-batch requests: mloop ${a.failed}, mlflow ${b.failed} of ${CLIENTS * INGEST_REQUESTS}`);
  if (a.search.found !== b.search.found) out.push(`\nwarning: the two servers returned different page sizes (${a.search.found} vs ${b.search.found})`);
  console.log(out.join("\n"));
} finally {
  for (const kill of running) kill();
  await admin(`DROP DATABASE IF EXISTS ${DBS.mloop} WITH (FORCE)`).catch(() => undefined);
  await admin(`DROP DATABASE IF EXISTS ${DBS.mlflow} WITH (FORCE)`).catch(() => undefined);
  if (clusterUri) execFileSync("bash", [path.join(ROOT, "scripts/pg-stop.sh"), clusterUri]);
  fs.rmSync(WORK, { recursive: true, force: true });
}
