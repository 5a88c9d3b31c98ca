#!/usr/bin/env node
/**
 * Start-up of `mloop server` to a healthy /health, precisely: many starts on an empty store and on a
 * seeded one (the embedded default store, SQLite), polled every millisecond, with the floor beside
 * it (`node -e 0`, and `mloop --version`, the CLI alone).
 *
 *   npm run build && node bench/tracking/startup.mjs
 *
 *   BENCH_STARTS=15          start-ups timed per store (the median and the range are shown)
 *   BENCH_SEED_RUNS=2000     runs logged (with params, metrics and tags) into the seeded store
 *   BENCH_PORT=17500         port the server listens on
 *   BENCH_DIR=<folder>       where the stores live; default a temporary folder, removed afterwards
 *   BENCH_MLOOP=bin/mloop.js the executable to start
 *
 * Beside the wall time it shows the CPU time the server process used until it was healthy
 * (user + system, from /proc), which other load on the machine inflates much less.
 *
 * `BENCH_PROFILE=1` adds one start with `node --cpu-prof` (the profile is left in the work folder) and
 * prints the heaviest modules by self time, and the number of modules loaded (NODE_DEBUG=module).
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, positiveIntEnv as env } from "../env.mjs";

const STARTS = env("BENCH_STARTS", 15);
const SEED_RUNS = env("BENCH_SEED_RUNS", 2000);
const PORT = env("BENCH_PORT", 17500);
const MLOOP = path.resolve(ROOT, process.env.BENCH_MLOOP ?? "bin/mloop.js");
const work = process.env.BENCH_DIR ? path.resolve(process.env.BENCH_DIR) : fs.mkdtempSync(path.join(os.tmpdir(), "mloop-bench-startup-"));
fs.mkdirSync(work, { recursive: true });
const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MLOOP_") && !k.startsWith("MLFLOW_")));

/** Spawns the server in `cwd`, polls /health every millisecond; resolves with the ms to the first 200 and a stop function. */
async function start(cwd, extraArgs = [], nodeArgs = []) {
  const t0 = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, MLOOP, "server", "--host", "127.0.0.1", "--port", String(PORT), ...extraArgs], {
    cwd,
    env: cleanEnv,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const exited = new Promise((r) => child.once("exit", r));
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${err}`);
    try {
      if ((await fetch(`http://127.0.0.1:${PORT}/health`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (performance.now() - t0 > 60_000) throw new Error(`not healthy after 60 s: ${err}`);
    await new Promise((r) => setTimeout(r, 1));
  }
  const ms = performance.now() - t0;
  return {
    ms,
    cpu: cpuMs(child.pid),
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** CPU time (user + system) a process has used so far, in ms (10 ms ticks); NaN off Linux. */
function cpuMs(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

function timeCommand(args) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: "ignore", env: cleanEnv });
  if (r.status !== 0) throw new Error(`node ${args.join(" ")} failed`);
  return performance.now() - t0;
}

/** Logs SEED_RUNS runs with 10 params, 10 metrics and 3 tags each through the API, 100 runs a request batch. */
async function seed(cwd) {
  const s = await start(cwd);
  const api = `http://127.0.0.1:${PORT}/api/2.0/mlflow`;
  const post = async (route, body) => {
    const r = await fetch(`${api}/${route}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    if (r.status !== 200) throw new Error(`${route}: ${r.status} ${await r.text()}`);
    return r.json();
  };
  const { experiment_id } = await post("experiments/create", { name: "startup-seed" });
  for (let i = 0; i < SEED_RUNS; i++) {
    const { run } = await post("runs/create", { experiment_id, start_time: Date.now() });
    await post("runs/log-batch", {
      run_id: run.info.run_id,
      params: Array.from({ length: 10 }, (_, k) => ({ key: `p${k}`, value: String(i % (k + 2)) })),
      metrics: Array.from({ length: 10 }, (_, k) => ({ key: `m${k}`, value: i * k, timestamp: Date.now(), step: 0 })),
      tags: Array.from({ length: 3 }, (_, k) => ({ key: `t${k}`, value: `v${i % 7}` })),
    });
  }
  await post("registered-models/create", { name: "seeded-model" });
  await s.stop();
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const summary = (xs) => `median ${median(xs).toFixed(0)} ms (range ${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
const starts = (xs) => `${summary(xs.map((s) => s.ms))}; cpu ${median(xs.map((s) => s.cpu)).toFixed(0)} ms`;

async function series(cwd) {
  await (await start(cwd)).stop(); // the first start warms the page cache; not counted
  const times = [];
  for (let i = 0; i < STARTS; i++) {
    const s = await start(cwd);
    times.push(s);
    await s.stop();
  }
  return times;
}

async function profile(cwd) {
  const dir = path.join(work, "profile");
  fs.rmSync(dir, { recursive: true, force: true });
  const s = await start(cwd, [], ["--cpu-prof", `--cpu-prof-dir=${dir}`]);
  await s.stop();
  const file = path.join(dir, fs.readdirSync(dir)[0]);
  const prof = JSON.parse(fs.readFileSync(file, "utf8"));
  const dt = prof.timeDeltas;
  const byNode = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0)));
  const byPackage = new Map();
  for (const [id, us] of self) {
    const url = byNode.get(id).callFrame.url || `(${byNode.get(id).callFrame.functionName || "native"})`;
    const m = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
    const key = m ? m[1] : url.includes("/dist/") ? `dist/${url.split("/dist/")[1].split("/")[0]}` : url.replace(/^file:\/\/.*\/(bin\/)/, "$1");
    byPackage.set(key, (byPackage.get(key) ?? 0) + us);
  }
  console.log(`\ncpu profile (self time by package, first 15; file ${file}):`);
  for (const [k, us] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${(us / 1000).toFixed(1).padStart(7)} ms  ${k}`);
  const dbg = spawnSync(process.execPath, [MLOOP, "server", "--host", "127.0.0.1", "--port", String(PORT)], {
    cwd,
    env: { ...cleanEnv, NODE_DEBUG: "module" },
    encoding: "utf8",
    timeout: 3000,
    killSignal: "SIGTERM",
  });
  const loads = new Set([...(dbg.stderr ?? "").matchAll(/MODULE \d+: load "([^"]+)"/g)].map((m) => m[1]));
  console.log(`CommonJS modules loaded (NODE_DEBUG=module): ${loads.size}`);
}

async function main() {
  const empty = path.join(work, "empty");
  const seeded = path.join(work, "seeded");
  for (const d of [empty, seeded]) fs.mkdirSync(d, { recursive: true });
  if (!fs.existsSync(path.join(seeded, "mlruns.db"))) {
    log(`seeding ${SEED_RUNS} runs`);
    await seed(seeded);
  }
  const nodeFloor = Array.from({ length: STARTS }, () => timeCommand(["-e", "0"]));
  const cli = Array.from({ length: STARTS }, () => timeCommand([MLOOP, "--version"]));
  log("empty store");
  const e = [];
  for (let i = 0; i < STARTS; i++) {
    // a fresh folder each time: no database yet, the schema is created
    const d = path.join(work, `fresh-${i}`);
    fs.mkdirSync(d, { recursive: true });
    e.push(await series1(d));
    fs.rmSync(d, { recursive: true, force: true });
  }
  const reopened = await series(empty);
  log("seeded store");
  const s = await series(seeded);
  console.log(`\nstart-up to a healthy /health, ${STARTS} starts each, ${os.availableParallelism()} cores, load ${os.loadavg()[0].toFixed(1)}`);
  console.log(`node -e 0                         ${summary(nodeFloor)}`);
  console.log(`mloop --version (the CLI alone)   ${summary(cli)}`);
  console.log(`server, new store (schema made)   ${starts(e)}`);
  console.log(`server, empty store               ${starts(reopened)}`);
  console.log(`server, seeded store (${SEED_RUNS} runs)  ${starts(s)}`);
  if (process.env.BENCH_PROFILE === "1") await profile(seeded);
  if (!process.env.BENCH_DIR) fs.rmSync(work, { recursive: true, force: true });
}

async function series1(cwd) {
  const s = await start(cwd);
  await s.stop();
  return s;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
