#!/usr/bin/env node
// mloop monitor report vs Evidently's DataDriftPreset on the same generated data, side by side.
//
//   bash bench/monitoring/setup.sh          # once: .venv-evidently with evidently 0.7.23, pandas < 3
//   npm run build
//   node bench/monitoring/bench.mjs [--sizes 100000,1000000] [--skip-evidently] [--fresh] [--parquet]
//
// Data: 20 columns (15 numerical, 5 categorical), a reference and a current set of the same
// size; the current set is shifted in 8 numerical and 3 categorical columns (11 of 20: dataset drift). Both tools read
// the same CSV files. mloop's time is the whole `mloop monitor report` process (start, CSV
// parsing, profiles, tests, JSON report); Evidently's is reported as its Report.run alone
// and with pandas' CSV reading. Then the verdicts are compared column by column.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");
const WORK = path.join(ROOT, "bench/.work/monitoring");
const PY = path.join(ROOT, ".venv-evidently/bin/python");
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const sizes = opt("--sizes", "100000,1000000").split(",").map(Number);
const skipEvidently = args.includes("--skip-evidently");
const onlyData = args.includes("--only-data");

const NUM = Array.from({ length: 15 }, (_, i) => `num_${i}`);
const CAT = Array.from({ length: 5 }, (_, i) => `cat_${i}`);
const SHIFTED_NUM = new Set(NUM.slice(0, 8));
const SHIFTED_CAT = new Set(CAT.slice(0, 3));
const CATS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"];

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generate(file, rows, shifted, seed) {
  if (fs.existsSync(file)) return;
  const r = rng(seed);
  const fd = fs.openSync(file + ".tmp", "w");
  fs.writeSync(fd, [...NUM, ...CAT].join(",") + "\n");
  let buf = [];
  for (let i = 0; i < rows; i++) {
    const row = [];
    for (let j = 0; j < NUM.length; j++) {
      const u = 1 - r();
      const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
      const shift = shifted && SHIFTED_NUM.has(NUM[j]) ? 0.25 + 0.05 * j : 0;
      row.push((z * (1 + j / 10) + j + shift).toFixed(4));
    }
    for (let j = 0; j < CAT.length; j++) {
      const k = 3 + j; // 3..7 categories
      let idx = Math.floor(r() ** (shifted && SHIFTED_CAT.has(CAT[j]) ? 1.6 : 1) * k);
      row.push(CATS[idx]);
    }
    buf.push(row.join(","));
    if (buf.length === 10000) {
      fs.writeSync(fd, buf.join("\n") + "\n");
      buf = [];
    }
  }
  if (buf.length) fs.writeSync(fd, buf.join("\n") + "\n");
  fs.closeSync(fd);
  fs.renameSync(file + ".tmp", file);
}

// CPU seconds (user + system) of the last mloop run, from /usr/bin/time where it exists: on a shared
// machine they say more than the wall time does
const TIME = fs.existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;
let lastCpu;

function timeMloop(ref, cur, out) {
  const argv = [path.join(ROOT, "bin/mloop.js"), "monitor", "report", "--reference", ref, "--current", cur, "--json", out, "--categorical", CAT.join(",")];
  const cpuFile = path.join(WORK, "cpu.txt");
  const t0 = process.hrtime.bigint();
  const res = TIME ? spawnSync(TIME, ["-f", "%U %S", "-o", cpuFile, process.execPath, ...argv], { encoding: "utf8" }) : spawnSync(process.execPath, argv, { encoding: "utf8" });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (res.status !== 0) throw new Error(`mloop failed: ${res.stderr}`);
  lastCpu = TIME ? fs.readFileSync(cpuFile, "utf8").trim().split(/\s+/).slice(-2).map(Number).reduce((a, b) => a + b, 0) : undefined;
  return s;
}

function median3(run) {
  const runs = [];
  for (let i = 0; i < 3; i++) runs.push({ s: run(), cpu: lastCpu });
  runs.sort((a, b) => a.s - b.s);
  return { s: runs[1].s, cpu: runs[1].cpu, runs: runs.map((r) => r.s) };
}

fs.mkdirSync(WORK, { recursive: true });
const rowsOut = [];
for (const n of sizes) {
  const ref = path.join(WORK, `ref-${n}.csv`);
  const cur = path.join(WORK, `cur-${n}.csv`);
  process.stderr.write(`generating ${n} rows × 20 columns (once)…\n`);
  generate(ref, n, false, 1);
  generate(cur, n, true, 2);
  if (onlyData) continue;
  const out = path.join(WORK, `mloop-${n}.json`);
  const loadBefore = os.loadavg()[0];
  timeMloop(ref, cur, out); // warm the page cache
  const { s: mloopS, cpu: mloopCpu, runs } = median3(() => timeMloop(ref, cur, out));
  let parquet;
  if (args.includes("--parquet")) {
    // the same data as Parquet (pandas/pyarrow from .venv-evidently, once): mloop reads it with hyparquet
    const pq = (f) => f.replace(/\.csv$/, ".parquet");
    for (const f of [ref, cur]) if (!fs.existsSync(pq(f))) execFileSync(PY, ["-c", `import pandas as pd; pd.read_csv(${JSON.stringify(f)}).to_parquet(${JSON.stringify(pq(f))}, index=False)`]);
    const pout = path.join(WORK, `mloop-${n}-parquet.json`);
    timeMloop(pq(ref), pq(cur), pout);
    const pruns = median3(() => timeMloop(pq(ref), pq(cur), pout)).runs;
    const same = JSON.stringify(JSON.parse(fs.readFileSync(pout, "utf8")).data_drift.columns.map((c) => [c.drift_score, c.drift_detected])) === JSON.stringify(JSON.parse(fs.readFileSync(out, "utf8")).data_drift.columns.map((c) => [c.drift_score, c.drift_detected]));
    parquet = { s: pruns[1], runs: pruns, same };
  }
  const loadAfter = os.loadavg()[0];
  const mine = JSON.parse(fs.readFileSync(out, "utf8")).data_drift;
  let ev;
  if (!skipEvidently) {
    if (!fs.existsSync(PY)) throw new Error("no .venv-evidently: run bash bench/monitoring/setup.sh first (or pass --skip-evidently)");
    process.stderr.write(`running Evidently on ${n} rows (this takes a while)…\n`);
    // Evidently's answer on a data set is kept beside it (the files never change once made);
    // --fresh runs it again.
    const cache = path.join(WORK, `evidently-${n}.json`);
    if (fs.existsSync(cache) && !args.includes("--fresh")) ev = JSON.parse(fs.readFileSync(cache, "utf8"));
    else {
      ev = JSON.parse(execFileSync(PY, [path.join(import.meta.dirname, "evidently_drift.py"), ref, cur, "--numerical", NUM.join(","), "--categorical", CAT.join(",")], { maxBuffer: 64 << 20 }).toString());
      ev.load = os.loadavg()[0];
      fs.writeFileSync(cache, JSON.stringify(ev));
    }
  }
  let agree = 0;
  let maxDiff = 0;
  const disagreements = [];
  if (ev) {
    for (const c of mine.columns) {
      const e = ev.columns[c.column];
      if (e && e.method === c.method && e.drift_detected === c.drift_detected) agree++;
      else disagreements.push(`${c.column}: mloop ${c.method} ${c.drift_score} ${c.drift_detected}, Evidently ${e?.method} ${e?.score} ${e?.drift_detected}`);
      if (e) maxDiff = Math.max(maxDiff, Math.abs(c.drift_score - e.score));
    }
  }
  rowsOut.push({ n, mloopS, mloopCpu, runs, ev, mine, agree, maxDiff, disagreements, load: [loadBefore, loadAfter], parquet });
}

const f = (x, d = 2) => (x === undefined ? "-" : x.toFixed(d));
console.log("\nrows × cols   mloop monitor report   Evidently Report.run   Evidently incl. CSV read   ratio (Report.run / mloop)   verdicts agree   max |score diff|   dataset drift (mloop / Evidently)");
for (const r of rowsOut) {
  const ratio = r.ev ? r.ev.report_seconds / r.mloopS : undefined;
  console.log(
    `${String(r.n).padEnd(8)}× 20  ${f(r.mloopS).padStart(8)} s (${r.runs.map((x) => f(x)).join("/")})   ${r.ev ? f(r.ev.report_seconds).padStart(8) + " s" : "       -"}             ${r.ev ? f(r.ev.report_seconds + r.ev.read_seconds).padStart(8) + " s" : "       -"}                ${ratio ? f(ratio, 1).padStart(6) + "×" : "     -"}                    ${r.ev ? `${r.agree}/20` : "-"}            ${r.ev ? r.maxDiff.toExponential(1) : "-"}            ${r.mine.dataset_drift} / ${r.ev ? r.ev.dataset_drift : "-"}`,
  );
  if (r.mloopCpu !== undefined) console.log(`   CPU time: mloop ${f(r.mloopCpu)} s (user + system, both threads)${r.ev?.report_cpu_seconds !== undefined ? `, Evidently's Report.run ${f(r.ev.report_cpu_seconds)} s: ${f(r.ev.report_cpu_seconds / r.mloopCpu, 1)}×` : ""}`);
  console.log(`   load average (1 min) while mloop ran: ${f(r.load[0], 1)} → ${f(r.load[1], 1)}${r.ev?.load !== undefined ? `; while Evidently ran: ${f(r.ev.load, 1)}` : ""}`);
  if (r.parquet) console.log(`   the same data as Parquet: mloop ${f(r.parquet.s)} s (${r.parquet.runs.map((x) => f(x)).join("/")}), ${r.parquet.same ? "the same scores and verdicts as from CSV" : "SCORES DIFFER from the CSV run"}`);
  for (const d of r.disagreements) console.log(`   differs: ${d}`);
}
console.log(`\nmachine: ${process.platform} ${process.arch}, ${os.cpus().length} cores, node ${process.version}`);
