#!/usr/bin/env node
/**
 * Log-batch ingest: mloop server against mlflow server at its own defaults (the headline), mlflow
 * with one worker (second column) and FastTrackML (`fml server`, a Go server of MLflow's API), all
 * on SQLite, side by side in one run.
 *
 *   npm run build && node bench/tracking/ingest.mjs
 *
 * Two workloads, each request a log-batch of 1000 metrics:
 *   narrow  20 keys x 50 consecutive steps (a training loop logging a few curves)
 *   wide    1000 distinct keys x 1 step     (a wide evaluation run, one value per key)
 * Every request body is serialized before the clock starts; clients keep their connections alive,
 * and the load generator's own CPU share is printed so that it is visibly not the bottleneck.
 *
 *   BENCH_CLIENTS=8 BENCH_INGEST_REQUESTS=20   concurrent clients, requests per client and workload
 *   BENCH_MLFLOW=.venv/bin/mlflow              mlflow executable
 *   BENCH_FML=.venv-fml/bin/fml                FastTrackML (pip install fasttrackml); skipped if absent
 *   BENCH_SERVERS=mlflow,mlflow-1,fml,mloop    which servers to run
 */
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { ROOT, call, freePort, log, positiveIntEnv as env, requireBuildAndMlflow, running, startServer } from "./common.mjs";

const CLIENTS = env("BENCH_CLIENTS", 8);
const REQUESTS = env("BENCH_INGEST_REQUESTS", 20);
const MLFLOW = process.env.BENCH_MLFLOW || path.join(ROOT, ".venv", "bin", "mlflow");
const FML = process.env.BENCH_FML || path.join(ROOT, ".venv-fml", "bin", "fml");
const WANTED = (process.env.BENCH_SERVERS || "mlflow,mlflow-1,fml,mloop").split(",");

requireBuildAndMlflow(MLFLOW);
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-ingest-"));

const SERVERS = {
  mlflow: {
    label: "mlflow server (defaults)",
    command: (port, dir) => [MLFLOW, ["server", "--host", "127.0.0.1", "--port", String(port), "--backend-store-uri", `sqlite:///${dir}/mlflow.db`, "--artifacts-destination", `${dir}/artifacts`]],
  },
  "mlflow-1": {
    label: "mlflow server --workers 1",
    command: (port, dir) => [MLFLOW, ["server", "--host", "127.0.0.1", "--port", String(port), "--workers", "1", "--backend-store-uri", `sqlite:///${dir}/mlflow.db`, "--artifacts-destination", `${dir}/artifacts`]],
  },
  fml: {
    label: "FastTrackML (fml server)",
    command: (port, dir) => [FML, ["server", "--listen-address", `127.0.0.1:${port}`, "--database-uri", `sqlite://${dir}/fml.db`, "--default-artifact-root", `${dir}/artifacts`]],
  },
  mloop: {
    label: "mloop server",
    command: (port, dir) => [process.execPath, [path.join(ROOT, "bin", "mloop.js"), "server", "--host", "127.0.0.1", "--port", String(port), "--backend-store-uri", `sqlite:///${dir}/mlruns.db`, "--artifacts-destination", `${dir}/artifacts`, "--no-ui"]],
  },
};

const WORKLOADS = {
  narrow: (i) => {
    const metrics = [];
    for (let k = 0; k < 20; k++) for (let s = 0; s < 50; s++) metrics.push({ key: `metric_${k}`, value: Math.sin(i * 50 + s + k), timestamp: 1_767_225_600_000 + i, step: i * 50 + s });
    return metrics;
  },
  wide: (i) => {
    const metrics = [];
    for (let k = 0; k < 1000; k++) metrics.push({ key: `eval_metric_${k}`, value: Math.cos(i + k), timestamp: 1_767_225_600_000 + i, step: i });
    return metrics;
  },
};

/** POSTs pre-serialized bodies over keep-alive connections; resolves with acknowledged requests. */
function post(agent, url, body) {
  return new Promise((resolve) => {
    const req = http.request(url, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": body.length } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode === 200));
    });
    req.on("error", () => resolve(false));
    req.end(body);
  });
}

async function measure(name) {
  const dir = path.join(WORK, name);
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const [cmd, args] = SERVERS[name].command(port, dir);
  const server = await startServer(name, cmd, args, { cwd: dir, port });
  const out = {};
  try {
    for (const [workload, metricsOf] of Object.entries(WORKLOADS)) {
      const exp = await call(server.url, "POST", "/api/2.0/mlflow/experiments/create", { name: `ingest-${workload}` });
      const runIds = [];
      for (let c = 0; c < CLIENTS; c++) runIds.push((await call(server.url, "POST", "/api/2.0/mlflow/runs/create", { experiment_id: exp.experiment_id, start_time: Date.now() })).run.info.run_id);
      const bodies = runIds.map((runId) => Array.from({ length: REQUESTS }, (_, i) => Buffer.from(JSON.stringify({ run_id: runId, metrics: metricsOf(i) }))));
      const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
      const url = `${server.url}/api/2.0/mlflow/runs/log-batch`;
      let ok = 0;
      let failed = 0;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await Promise.all(
        bodies.map(async (list) => {
          for (const body of list) (await post(agent, url, body)) ? ok++ : failed++;
        }),
      );
      const wall = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      agent.destroy();
      out[workload] = { rate: (ok * 1000) / wall, failed, generatorCpu: (cpu.user + cpu.system) / 1e6 / wall };
      log(`${name} ${workload}: ${Math.round(out[workload].rate)} metrics/s, ${failed} failed, load generator at ${(out[workload].generatorCpu * 100).toFixed(0)}% of a core`);
    }
  } finally {
    await server.stop();
  }
  return out;
}

async function main() {
  const names = WANTED.filter((n) => SERVERS[n] && (n !== "fml" || fs.existsSync(FML)));
  if (WANTED.includes("fml") && !fs.existsSync(FML)) log(`no FastTrackML at ${FML} (python3 -m venv .venv-fml && .venv-fml/bin/pip install fasttrackml): skipped`);
  const results = {};
  for (const name of names) {
    log(`${name}: start`);
    results[name] = await measure(name);
  }
  const fmt = (n) => Math.round(n).toLocaleString("en-US");
  const lines = [];
  lines.push(`log-batch ingest, metrics/s: ${CLIENTS} concurrent clients x ${REQUESTS} requests of 1000 metrics per workload, pre-serialized bodies, keep-alive; all on SQLite; ${os.cpus().length} CPUs`);
  lines.push("");
  lines.push(`| workload | ${names.map((n) => SERVERS[n].label).join(" | ")} | mloop vs mlflow defaults | mloop vs mlflow --workers 1 | mloop vs FastTrackML |`);
  lines.push(`|---|${names.map(() => "---:").join("|")}|---:|---:|---:|`);
  for (const workload of Object.keys(WORKLOADS)) {
    const r = (n) => results[n]?.[workload]?.rate;
    const ratio = (n) => (r(n) && r("mloop") ? `${(r("mloop") / r(n)).toFixed(1)}x` : "-");
    lines.push(`| ${workload} | ${names.map((n) => `${fmt(r(n))}${results[n][workload].failed ? ` (${results[n][workload].failed} failed)` : ""}`).join(" | ")} | ${ratio("mlflow")} | ${ratio("mlflow-1")} | ${ratio("fml")} |`);
  }
  const maxCpu = Math.max(...names.flatMap((n) => Object.values(results[n]).map((w) => w.generatorCpu)));
  lines.push("");
  lines.push(`load generator: at most ${(maxCpu * 100).toFixed(0)}% of one core`);
  console.log(lines.join("\n"));
}

main()
  .catch((err) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const kill of running) kill();
    fs.rmSync(WORK, { recursive: true, force: true });
  });
