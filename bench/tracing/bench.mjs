#!/usr/bin/env node
/**
 * Tracing: OTLP span ingest and trace search, mloop server against mlflow server at its own
 * defaults, both on SQLite, side by side in one run.
 *
 *   npm run build && node bench/tracing/bench.mjs
 *
 * 1. ingest: BENCH_CLIENTS clients POST /v1/traces (OTLP protobuf, as OpenTelemetry's exporters
 *    and MLflow 3.4+'s client send it), each request one trace of BENCH_SPANS spans with inputs,
 *    outputs and a few attributes. Spans per second over the whole run.
 * 2. search: the store is filled to BENCH_TRACES traces (batches of 100 one-span traces per
 *    request, not timed), then POST /api/3.0/mlflow/traces/search with a filter and the default
 *    order, a page of 100; p50 and p95 over BENCH_SEARCHES calls per query.
 * Every request body is built before the clock starts.
 *
 *   BENCH_CLIENTS=8 BENCH_INGEST_TRACES=400 BENCH_SPANS=10 BENCH_TRACES=100000 BENCH_SEARCHES=20
 *   BENCH_MLFLOW=.venv/bin/mlflow   BENCH_SERVERS=mlflow,mloop
 */
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { ROOT, call, freePort, log, median, positiveIntEnv as env, requireBuildAndMlflow, running, startServer } from "../tracking/common.mjs";

const CLIENTS = env("BENCH_CLIENTS", 8);
const INGEST_TRACES = env("BENCH_INGEST_TRACES", 400);
const SPANS = env("BENCH_SPANS", 10);
const TRACES = env("BENCH_TRACES", 100_000);
const SEARCHES = env("BENCH_SEARCHES", 20);
const MLFLOW = process.env.BENCH_MLFLOW || path.join(ROOT, ".venv", "bin", "mlflow");
const WANTED = (process.env.BENCH_SERVERS || "mlflow,mloop").split(",");

requireBuildAndMlflow(MLFLOW);
const { encodeExportRequest } = await import(path.join(ROOT, "dist", "tracking", "index.js"));
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-tracing-"));

const SERVERS = {
  mlflow: {
    label: "mlflow server (defaults)",
    command: (port, dir) => [MLFLOW, ["server", "--host", "127.0.0.1", "--port", String(port), "--backend-store-uri", `sqlite:///${dir}/mlflow.db`, "--artifacts-destination", `${dir}/artifacts`]],
  },
  mloop: {
    label: "mloop server",
    command: (port, dir) => [process.execPath, [path.join(ROOT, "bin", "mloop.js"), "server", "--host", "127.0.0.1", "--port", String(port), "--backend-store-uri", `sqlite:///${dir}/mlruns.db`, "--artifacts-destination", `${dir}/artifacts`, "--no-ui"]],
  },
};

const hex = (n, width) => n.toString(16).padStart(width, "0");
const b64 = (h) => Buffer.from(h, "hex").toString("base64");
const str = (s) => ({ stringValue: s });

/** One trace: a root and `spans - 1` children, each with inputs, outputs and attributes. */
function traceSpans(traceNo, spans, startMs, salt) {
  const traceId = b64(hex(salt, 8) + hex(traceNo, 24));
  const out = [];
  for (let s = 0; s < spans; s++) {
    const start = BigInt(startMs + s) * 1_000_000n;
    out.push({
      traceId,
      spanId: b64(hex(traceNo * 64 + s + 1, 16)),
      parentSpanId: s === 0 ? undefined : b64(hex(traceNo * 64 + 1, 16)),
      name: s === 0 ? "agent" : `step-${s}`,
      startTimeUnixNano: String(start),
      endTimeUnixNano: String(start + 5_000_000n),
      attributes: [
        { key: "mlflow.spanType", value: str(s === 0 ? '"CHAIN"' : '"LLM"') },
        { key: "mlflow.spanInputs", value: str(JSON.stringify({ question: `question ${traceNo}`, context: "lorem ipsum ".repeat(8) })) },
        { key: "mlflow.spanOutputs", value: str(JSON.stringify({ answer: `answer ${traceNo}.${s}` })) },
        { key: "model", value: str("gpt-x") },
        { key: "tokens", value: { intValue: String(100 + s) } },
        { key: "mlflow.traceTag.env", value: str(traceNo % 2 ? "prod" : "dev") },
      ],
      status: { code: traceNo % 10 === 0 ? 2 : 1 },
    });
  }
  return out;
}

function body(spans) {
  return encodeExportRequest({ resourceSpans: [{ resource: { attributes: [{ key: "service.name", value: str("bench") }] }, scopeSpans: [{ spans }] }] });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });

function post(url, headers, payload) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", agent, headers: { ...headers, "content-length": payload.length } }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`${url} -> ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 300)}`))));
    });
    req.on("error", reject);
    req.end(payload);
  });
}

/** Retried answers (503 "database is locked" from mlflow on SQLite), as MLflow's client retries them. */
let retries = 0;

async function postRetrying(url, headers, payload) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await post(url, headers, payload);
    } catch (err) {
      if (!/-> (503|429):/.test(String(err.message)) || attempt >= 20) throw err;
      retries++;
      await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
    }
  }
}

async function runAll(url, experimentId, bodies) {
  const headers = { "content-type": "application/x-protobuf", "x-mlflow-experiment-id": experimentId };
  let next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < bodies.length) await postRetrying(`${url}/v1/traces`, headers, bodies[next++]);
    }),
  );
}

async function measure(name) {
  const dir = fs.mkdtempSync(path.join(WORK, `${name}-`));
  const port = await freePort();
  const [cmd, args] = SERVERS[name].command(port, dir);
  const server = await startServer(name, cmd, args, { cwd: dir, port });
  try {
    const { experiment_id: ingestExp } = await call(server.url, "POST", "/api/2.0/mlflow/experiments/create", { name: "ingest" });
    const ingestBodies = Array.from({ length: INGEST_TRACES }, (_, i) => body(traceSpans(i, SPANS, 1_767_225_600_000 + i * 100, 1)));
    await runAll(server.url, ingestExp, ingestBodies.slice(0, CLIENTS)); // warm-up, same traces again
    retries = 0;
    const t0 = performance.now();
    await runAll(server.url, ingestExp, ingestBodies);
    const seconds = (performance.now() - t0) / 1000;
    const spansPerSec = (INGEST_TRACES * SPANS) / seconds;
    log(`${name}: ${spansPerSec.toFixed(0)} spans/s (${INGEST_TRACES} traces x ${SPANS} spans in ${seconds.toFixed(1)} s, ${retries} requests retried)`);
    const ingestRetries = retries;

    const { experiment_id: searchExp } = await call(server.url, "POST", "/api/2.0/mlflow/experiments/create", { name: "search" });
    const fill = [];
    for (let i = 0; i < TRACES; i += 100) {
      const spans = [];
      for (let j = i; j < Math.min(i + 100, TRACES); j++) spans.push(...traceSpans(j, 1, 1_767_225_600_000 + j * 10, 2));
      fill.push(body(spans));
    }
    const f0 = performance.now();
    await runAll(server.url, searchExp, fill);
    log(`${name}: filled ${TRACES} traces in ${((performance.now() - f0) / 1000).toFixed(0)} s`);

    const location = [{ type: "MLFLOW_EXPERIMENT", mlflow_experiment: { experiment_id: searchExp } }];
    const queries = {
      "latest page": { locations: location, max_results: 100 },
      "status + tag": { locations: location, max_results: 100, filter: "trace.status = 'OK' AND tags.env = 'prod'" },
      "time range": { locations: location, max_results: 100, filter: `trace.timestamp_ms > ${1_767_225_600_000 + TRACES * 5}` },
    };
    const latencies = {};
    for (const [label, q] of Object.entries(queries)) {
      const times = [];
      await call(server.url, "POST", "/api/3.0/mlflow/traces/search", q);
      for (let i = 0; i < SEARCHES; i++) {
        const s0 = performance.now();
        const res = await call(server.url, "POST", "/api/3.0/mlflow/traces/search", q);
        times.push(performance.now() - s0);
        if (res.traces.length !== 100) throw new Error(`${name}: '${label}' found ${res.traces.length} traces, expected 100`);
      }
      times.sort((a, b) => a - b);
      latencies[label] = { p50: median(times), p95: times[Math.min(times.length - 1, Math.floor(times.length * 0.95))] };
      log(`${name}: search '${label}' p50 ${latencies[label].p50.toFixed(1)} ms`);
    }
    return { spansPerSec, latencies, ingestRetries };
  } finally {
    await server.stop();
  }
}

const results = {};
try {
  for (const name of WANTED) results[name] = await measure(name);
} finally {
  for (const kill of running) kill();
  agent.destroy();
  fs.rmSync(WORK, { recursive: true, force: true });
}

console.log(`\ntracing benchmark: ${CLIENTS} clients, traces of ${SPANS} spans (OTLP protobuf); search over ${TRACES} traces, page of 100\n`);
const names = Object.keys(results);
const row = (label, f) => console.log(`${label.padEnd(28)}${names.map((n) => f(results[n]).padStart(18)).join("")}`);
row("", (r) => "");
console.log(`${"".padEnd(28)}${names.map((n) => SERVERS[n].label.padStart(26)).join("")}`);
row("ingest (spans/s)", (r) => r.spansPerSec.toFixed(0));
row("ingest requests retried", (r) => String(r.ingestRetries));
for (const label of Object.keys(results[names[0]].latencies)) row(`search '${label}' p50 ms`, (r) => r.latencies[label].p50.toFixed(1));
if (results.mlflow && results.mloop) {
  console.log(`\ningest: mloop ${(results.mloop.spansPerSec / results.mlflow.spansPerSec).toFixed(1)}x mlflow server`);
  for (const label of Object.keys(results.mloop.latencies)) {
    console.log(`search '${label}': mloop ${(results.mlflow.latencies[label].p50 / results.mloop.latencies[label].p50).toFixed(1)}x faster (p50)`);
  }
}
