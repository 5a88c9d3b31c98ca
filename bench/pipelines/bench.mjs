#!/usr/bin/env node
/**
 * `mloop repro` vs `dvc repro` (the real dvc from .venv) on the same generated pipeline, each
 * in a fresh git + DVC repository of its own:
 *
 *   npm run build && node bench/pipelines/bench.mjs          # 50 stages
 *   BENCH_STAGES=200 BENCH_REPEAT=5 node bench/pipelines/bench.mjs
 *
 * The pipeline: BENCH_STAGES stages in layers of 5; each stage reads one params key of its own,
 * a source file (first layer) or the outputs of two stages of the layer before, and writes one
 * cached output (a few KB) with a shell command. Times, median of BENCH_REPEAT:
 *
 *   (a) the first repro of the whole pipeline
 *   (b) repro with nothing changed: the no-op check CI runs on every push
 *   (c) status with nothing changed
 *   (d) repro after one stage's param changed (a new value each time, so the run cache cannot
 *       answer): that stage and its downstream stages run
 *
 * mloop records every stage that runs as a tracking run (embedded SQLite store in the bench
 * folder), as it does by default; dvc records nothing. Prints each time and the ratios.
 *   BENCH_DVC=.venv/bin/dvc  BENCH_DIR=<folder to work in; default a temporary one, removed>
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, positiveIntEnv as env } from "../env.mjs";

const STAGES = env("BENCH_STAGES", 50);
const REPEAT = env("BENCH_REPEAT", 3);
const DVC = path.resolve(ROOT, process.env.BENCH_DVC ?? ".venv/bin/dvc");
const MLOOP = path.join(ROOT, "bin", "mloop.js");
if (!fs.existsSync(path.join(ROOT, "dist", "cli", "index.js"))) {
  console.error("bench: dist/ is missing; run `npm run build` first");
  process.exit(2);
}
if (!fs.existsSync(DVC)) {
  console.error(`bench: ${DVC} does not exist; run scripts/setup-python.sh (or set BENCH_DVC)`);
  process.exit(2);
}
const WIDTH = 5;
const base = process.env.BENCH_DIR ? path.resolve(process.env.BENCH_DIR) : fs.mkdtempSync(path.join(os.tmpdir(), "mloop-bench-pipelines-"));
const QUIET = { ...process.env, DVC_NO_ANALYTICS: "1", GIT_AUTHOR_NAME: "b", GIT_AUTHOR_EMAIL: "b@example.com", GIT_COMMITTER_NAME: "b", GIT_COMMITTER_EMAIL: "b@example.com" };

function run(cmd, args, cwd, extraEnv = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd, env: { ...QUIET, ...extraEnv }, encoding: "utf8", maxBuffer: 1 << 28 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) {
    console.error(`bench: ${cmd} ${args.join(" ")} failed in ${cwd} (${r.status}):\n${r.stderr || r.stdout}`);
    process.exit(1);
  }
  return { ms, stdout: r.stdout };
}

function pipelineYaml() {
  const lines = ["stages:"];
  for (let i = 0; i < STAGES; i++) {
    const layer = Math.floor(i / WIDTH);
    const deps = layer === 0 ? [`data/src${i}.txt`] : [`out/s${(layer - 1) * WIDTH + (i % WIDTH)}.txt`, `out/s${(layer - 1) * WIDTH + ((i + 1) % WIDTH)}.txt`];
    lines.push(`  s${i}:`, `    cmd: mkdir -p out && cat ${deps.join(" ")} > out/s${i}.txt && echo \${s${i}.k} >> out/s${i}.txt`, "    deps:", ...deps.map((d) => `      - ${d}`), "    params:", `      - s${i}.k`, "    outs:", `      - out/s${i}.txt`);
  }
  return `${lines.join("\n")}\n`;
}

function params(changed, value) {
  return Array.from({ length: STAGES }, (_, i) => `s${i}:\n  k: ${i === changed ? value : i}\n`).join("");
}

function makeRepo(name) {
  const dir = path.join(base, name);
  fs.mkdirSync(path.join(dir, "data"), { recursive: true });
  run("git", ["init", "-q"], dir);
  run(DVC, ["init", "-q"], dir);
  for (let i = 0; i < WIDTH; i++) fs.writeFileSync(path.join(dir, "data", `src${i}.txt`), `${"source line\n".repeat(200)}${i}\n`);
  fs.writeFileSync(path.join(dir, "dvc.yaml"), pipelineYaml());
  fs.writeFileSync(path.join(dir, "params.yaml"), params(-1, 0));
  fs.writeFileSync(path.join(dir, ".gitignore"), "/mlruns.db*\n/mlartifacts\n");
  run("git", ["add", "-A"], dir);
  run("git", ["commit", "-qm", "pipeline"], dir);
  return dir;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const tools = {
  dvc: { repro: (dir) => run(DVC, ["repro", "-q"], dir), status: (dir) => run(DVC, ["status", "-q"], dir) },
  mloop: {
    repro: (dir) => run(process.execPath, [MLOOP, "repro"], dir, { MLFLOW_TRACKING_URI: `sqlite:///${path.join(base, "mloop-track.db")}` }),
    status: (dir) => run(process.execPath, [MLOOP, "status"], dir),
  },
};

const changedStage = Math.floor(STAGES / 2);
const downstream = (() => {
  // stages reading the changed stage's output, transitively
  const hit = new Set([changedStage]);
  for (let i = changedStage + 1; i < STAGES; i++) {
    const layer = Math.floor(i / WIDTH);
    const a = (layer - 1) * WIDTH + (i % WIDTH);
    const b = (layer - 1) * WIDTH + ((i + 1) % WIDTH);
    if (hit.has(a) || hit.has(b)) hit.add(i);
  }
  return hit.size;
})();

const results = {};
try {
  for (const [name, tool] of Object.entries(tools)) {
    const dir = makeRepo(name);
    const first = tool.repro(dir).ms;
    const noop = [];
    const status = [];
    const changed = [];
    for (let r = 0; r < REPEAT; r++) {
      noop.push(tool.repro(dir).ms);
      status.push(tool.status(dir).ms);
      fs.writeFileSync(path.join(dir, "params.yaml"), params(changedStage, 1000 + r));
      changed.push(tool.repro(dir).ms);
    }
    // the other tool must see the result as up to date too
    const other = name === "dvc" ? run(process.execPath, [MLOOP, "status"], dir).stdout.trim() : run(DVC, ["status"], dir).stdout.trim();
    results[name] = { first, noop: median(noop), status: median(status), changed: median(changed), other };
  }
} finally {
  if (!process.env.BENCH_DIR) fs.rmSync(base, { recursive: true, force: true });
}

const fmt = (ms) => ms.toFixed(0).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
const ratio = (a, b) => `${(a / b).toFixed(1)}x`;
console.log(`mloop repro vs dvc repro (${run(DVC, ["--version"], ROOT).stdout.trim()}), ${STAGES} stages in layers of ${WIDTH}; ${os.availableParallelism()} CPUs, Node ${process.versions.node}; median of ${REPEAT}`);
console.log(`one stage changed: s${changedStage}'s param, ${downstream} stages rerun; mloop records each as a tracking run\n`);
console.log("| measure | dvc ms | mloop ms | mloop advantage |");
console.log("| --- | ---: | ---: | ---: |");
const rows = [
  ["first repro of the whole pipeline", "first"],
  ["repro, nothing changed (no-op check)", "noop"],
  ["status, nothing changed", "status"],
  ["repro, one stage's param changed", "changed"],
];
for (const [label, key] of rows) console.log(`| ${label} | ${fmt(results.dvc[key])} | ${fmt(results.mloop[key])} | ${ratio(results.dvc[key], results.mloop[key])} |`);
console.log(`\nafter dvc repro, mloop status: ${results.dvc.other}\nafter mloop repro, dvc status: ${results.mloop.other}`);
console.log(`no-op target >= 5x: ${results.dvc.noop / results.mloop.noop >= 5 ? "met" : "not met"}`);
