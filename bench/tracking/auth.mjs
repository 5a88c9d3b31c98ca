#!/usr/bin/env node
/**
 * What auth costs: the same mloop server with auth off and with `--auth`, side by side, on SQLite.
 * With auth on, every request is made by a non-admin user with EDIT on the experiment (basic
 * auth: user lookup, verified-password cache, run → experiment lookup, permission lookup).
 *
 *   npm run build && node bench/tracking/auth.mjs
 *
 * Workloads (bodies serialized before the clock starts, keep-alive connections):
 *   ingest   BENCH_CLIENTS clients x BENCH_INGEST_REQUESTS log-batch requests of 1000 metrics
 *   search   BENCH_SEARCH_REQUESTS runs/search calls (filter + order_by, page of 100) over 2000 runs
 * Off and on alternate for BENCH_ROUNDS rounds (default 3) and the medians are compared, so load
 * from other processes on the machine falls on both alike.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, call, freePort, log, median, positiveIntEnv as env, running, startServer } from "./common.mjs";

const CLIENTS = env("BENCH_CLIENTS", 8);
const REQUESTS = env("BENCH_INGEST_REQUESTS", 40);
const SEARCHES = env("BENCH_SEARCH_REQUESTS", 200);
const ROUNDS = env("BENCH_ROUNDS", 3);
const RUNS = 2000;

if (!fs.existsSync(path.join(ROOT, "dist", "cli", "index.js"))) {
  console.error("bench: dist/ is missing: run `npm run build` first");
  process.exit(2);
}
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-auth-bench-"));
const basic = (u, p) => ({ authorization: "Basic " + Buffer.from(`${u}:${p}`).toString("base64") });

async function measure(auth) {
  const dir = fs.mkdtempSync(path.join(WORK, auth ? "on-" : "off-"));
  const port = await freePort();
  const args = [path.join(ROOT, "bin", "mloop.js"), "server", "--host", "127.0.0.1", "--port", String(port), "--backend-store-uri", `sqlite:///${dir}/mlruns.db`, "--artifacts-destination", `${dir}/artifacts`, "--no-ui"];
  if (auth) args.push("--auth");
  const server = await startServer(auth ? "mloop --auth" : "mloop", process.execPath, args, { cwd: dir, port, env: { MLOOP_AUTH_ADMIN_PASSWORD: "bench-admin" } });
  try {
    let as = {};
    if (auth) {
      await call(server.url, "POST", "/api/2.0/mlflow/users/create", { username: "owner", password: "owner-pw" }, basic("admin", "bench-admin"));
      await call(server.url, "POST", "/api/2.0/mlflow/users/create", { username: "writer", password: "writer-pw" }, basic("admin", "bench-admin"));
    }
    const owner = auth ? basic("owner", "owner-pw") : {};
    const { experiment_id: exp } = await call(server.url, "POST", "/api/2.0/mlflow/experiments/create", { name: "bench" }, owner);
    if (auth) {
      await call(server.url, "POST", "/api/2.0/mlflow/experiments/permissions/create", { experiment_id: exp, username: "writer", permission: "EDIT" }, owner);
      as = basic("writer", "writer-pw");
    }
    // Ingest: one run per client.
    const runIds = [];
    for (let c = 0; c < CLIENTS; c++) runIds.push((await call(server.url, "POST", "/api/2.0/mlflow/runs/create", { experiment_id: exp }, as)).run.info.run_id);
    const bodies = runIds.map((runId, c) =>
      Array.from({ length: REQUESTS }, (_, i) =>
        JSON.stringify({ run_id: runId, metrics: Array.from({ length: 1000 }, (_, k) => ({ key: `m${k % 20}`, value: Math.sin(i + k + c), timestamp: 1_767_225_600_000 + i, step: i * 50 + Math.floor(k / 20) })) }),
      ),
    );
    const headers = { "content-type": "application/json", ...as };
    const t0 = performance.now();
    await Promise.all(
      bodies.map(async (list) => {
        for (const body of list) {
          const res = await fetch(`${server.url}/api/2.0/mlflow/runs/log-batch`, { method: "POST", headers, body });
          if (res.status !== 200) throw new Error(`log-batch -> ${res.status}: ${await res.text()}`);
          await res.arrayBuffer();
        }
      }),
    );
    const ingest = (CLIENTS * REQUESTS * 1000) / ((performance.now() - t0) / 1000);

    // Search: runs with a param and a metric each.
    for (let i = 0; i < RUNS; i += 1) {
      const { run } = await call(server.url, "POST", "/api/2.0/mlflow/runs/create", { experiment_id: exp }, as);
      await call(server.url, "POST", "/api/2.0/mlflow/runs/log-batch", { run_id: run.info.run_id, params: [{ key: "lr", value: String(i % 10) }], metrics: [{ key: "acc", value: i / RUNS, timestamp: 1, step: 0 }] }, as);
    }
    const searchBody = JSON.stringify({ experiment_ids: [exp], filter: "params.lr = '3'", order_by: ["metrics.acc DESC"], max_results: 100 });
    const times = [];
    for (let i = 0; i < SEARCHES; i++) {
      const s0 = performance.now();
      const res = await fetch(`${server.url}/api/2.0/mlflow/runs/search`, { method: "POST", headers, body: searchBody });
      if (res.status !== 200) throw new Error(`runs/search -> ${res.status}`);
      await res.arrayBuffer();
      times.push(performance.now() - s0);
    }
    return { ingest, search: median(times) };
  } finally {
    await server.stop();
  }
}

try {
  log(`ingest: ${CLIENTS} clients x ${REQUESTS} log-batch of 1000 metrics; search: ${SEARCHES} runs/search over ${RUNS} runs`);
  const offs = [];
  const ons = [];
  for (let r = 0; r < ROUNDS; r++) {
    offs.push(await measure(false));
    ons.push(await measure(true));
    log(`round ${r + 1}: off ${Math.round(offs.at(-1).ingest)} metrics/s, ${offs.at(-1).search.toFixed(2)} ms; on ${Math.round(ons.at(-1).ingest)} metrics/s, ${ons.at(-1).search.toFixed(2)} ms`);
  }
  const pick = (xs) => ({ ingest: median(xs.map((x) => x.ingest)), search: median(xs.map((x) => x.search)) });
  const off = pick(offs);
  const on = pick(ons);
  console.log(`| mloop server (median of ${ROUNDS} rounds) | ingest (metrics/s) | runs/search p50 (ms) |`);
  console.log("| --- | ---: | ---: |");
  console.log(`| auth off | ${Math.round(off.ingest)} | ${off.search.toFixed(2)} |`);
  console.log(`| --auth (non-admin, EDIT) | ${Math.round(on.ingest)} | ${on.search.toFixed(2)} |`);
  console.log(`ingest with auth: ${((1 - on.ingest / off.ingest) * 100).toFixed(1)}% slower; search p50: ${((on.search / off.search - 1) * 100).toFixed(1)}% slower (target: under 10%)`);
} finally {
  for (const kill of running) kill();
  fs.rmSync(WORK, { recursive: true, force: true });
}
