#!/usr/bin/env node
/**
 * `mloop data add` vs `dvc add` (the real dvc from .venv, at its defaults), side by side on the
 * same generated data, each in a fresh git + DVC repository of its own:
 *
 *   npm run build && node bench/data/bench.mjs              # 2 GB in 10k files + one 1 GB file
 *   BENCH_QUICK=1 node bench/data/bench.mjs                 # 200 MB in 1k files + one 100 MB file
 *
 * Times (a) the first add of a folder of many files and one large file, (b) `status` with nothing
 * changed, (c) adding the same unchanged data again, and, as the disk's limit, reading the same
 * bytes with `cat > /dev/null` and hashing them with `md5sum`. Prints each time and the ratios,
 * the CPU time of each step (user + system, from /usr/bin/time: how many cores a tool kept busy),
 * and one core's md5 throughput, from which the least time any md5-computing tool needs follows.
 * Settings from the environment:
 *
 *   BENCH_FILES=10000 BENCH_FILES_MB=2048   the folder: how many files, how many MB in all
 *   BENCH_BIG_MB=1024                       the single large file
 *   BENCH_REPEAT=1                          timed repetitions of each step (the median is shown)
 *   BENCH_CACHE_TYPE=hardlink               set cache.type for both tools (default: unset, each
 *                                           tool's default, copy on filesystems without reflinks)
 *   BENCH_DVC=.venv/bin/dvc  BENCH_DIR=<folder to work in; default a temporary one, removed>
 */
import { execFileSync, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, positiveIntEnv as env } from "../env.mjs";

const quick = process.env.BENCH_QUICK === "1";
const FILES = env("BENCH_FILES", quick ? 1000 : 10000);
const FILES_MB = env("BENCH_FILES_MB", quick ? 200 : 2048);
const BIG_MB = env("BENCH_BIG_MB", quick ? 100 : 1024);
const REPEAT = env("BENCH_REPEAT", 1);
const CACHE_TYPE = process.env.BENCH_CACHE_TYPE;
if (CACHE_TYPE !== undefined && !/^(reflink|hardlink|symlink|copy)(,(reflink|hardlink|symlink|copy))*$/.test(CACHE_TYPE)) {
  console.error(`bench: BENCH_CACHE_TYPE must be a list of reflink, hardlink, symlink, copy; got '${CACHE_TYPE}'`);
  process.exit(2);
}
const DVC = path.resolve(ROOT, process.env.BENCH_DVC ?? ".venv/bin/dvc");
const MLOOP = path.join(ROOT, "bin", "mloop.js");
if (!fs.existsSync(path.join(ROOT, "dist", "cli", "index.js"))) {
  console.error("bench: dist/ is missing: run `npm run build` first");
  process.exit(2);
}
if (!fs.existsSync(DVC)) {
  console.error(`bench: no dvc at ${DVC}: run scripts/setup-python.sh (or set BENCH_DVC)`);
  process.exit(2);
}

const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);
const work = process.env.BENCH_DIR ? path.resolve(process.env.BENCH_DIR) : fs.mkdtempSync(path.join(os.tmpdir(), "mloop-bench-data-"));
fs.mkdirSync(work, { recursive: true });

/** Random bytes, generated once: the folder (files in 100 subfolders) and the large file. */
function generate(dir) {
  if (fs.existsSync(path.join(dir, ".complete"))) return;
  fs.rmSync(dir, { recursive: true, force: true });
  const per = Math.max(1, Math.floor((FILES_MB * 1024 * 1024) / FILES));
  const block = crypto.randomBytes(16 * 1024 * 1024);
  let off = 0;
  const take = (n) => {
    // distinct contents from one random block: a rolling window and the file's own number
    if (off + n > block.length) off = 0;
    const b = Buffer.from(block.subarray(off, off + n));
    off += 4099;
    return b;
  };
  for (let i = 0; i < FILES; i++) {
    const sub = path.join(dir, "data", String(i % 100).padStart(2, "0"));
    if (i < 100) fs.mkdirSync(sub, { recursive: true });
    const b = take(Math.min(per, block.length - 8));
    b.writeUInt32LE(i, 0);
    fs.writeFileSync(path.join(sub, `part-${i}.bin`), b);
  }
  const fd = fs.openSync(path.join(dir, "big.bin"), "w");
  for (let mb = 0; mb < BIG_MB; mb += 16) {
    const b = crypto.randomBytes(Math.min(16, BIG_MB - mb) * 1024 * 1024);
    fs.writeSync(fd, b);
  }
  fs.closeSync(fd);
  fs.writeFileSync(path.join(dir, ".complete"), "");
}

const TIME = fs.existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;
const cpuFile = path.join(work, "cpu.txt");
/** Seconds of wall time; the CPU time (user + system) goes into `cpu[key]` where /usr/bin/time exists. */
function time(cmd, args, cwd, key) {
  const argv = TIME ? [TIME, "-f", "%U %S", "-o", cpuFile, cmd, ...args] : [cmd, ...args];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { cwd, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, DVC_NO_ANALYTICS: "1" } });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) {
    console.error(`bench: ${path.basename(cmd)} ${args.join(" ")} failed: ${String(r.stderr).trim().split("\n").pop()}`);
    process.exit(1);
  }
  if (TIME && key) {
    const [u, sys] = fs.readFileSync(cpuFile, "utf8").trim().split("\n").pop().split(" ").map(Number);
    (cpu[key] ??= []).push(u + sys);
  }
  return s;
}
const cpu = {};

/** md5 throughput of one core (node's crypto, the same OpenSSL code both tools end in), MB of CPU time. */
function md5PerCore() {
  const buf = crypto.randomBytes(4 << 20);
  const h = crypto.createHash("md5");
  const t = process.cpuUsage();
  for (let i = 0; i < 128; i++) h.update(buf);
  h.digest();
  const u = process.cpuUsage(t);
  return 512 / ((u.user + u.system) / 1e6);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function freshRepo(name, src, init) {
  const dir = path.join(work, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir);
  execFileSync("cp", ["-r", path.join(src, "data"), path.join(src, "big.bin"), dir]);
  execFileSync("git", ["init", "-q"], { cwd: dir });
  init(dir);
  if (CACHE_TYPE && fs.existsSync(path.join(dir, ".dvc"))) fs.appendFileSync(path.join(dir, ".dvc", "config"), `[cache]\n    type = ${CACHE_TYPE.includes(",") ? `"${CACHE_TYPE}"` : CACHE_TYPE}\n`);
  return dir;
}

const loadStart = os.loadavg()[0].toFixed(1);
const src = path.join(work, "source");
log(`generating ${FILES} files (${FILES_MB} MB) and one ${BIG_MB} MB file in ${src}`);
generate(src);
const results = { cat: [], md5sum: [], dvcAdd: [], mloopAdd: [], dvcStatus: [], mloopStatus: [], dvcReadd: [], mloopReadd: [], node: [] };
const xargs = (tool) => ["-c", `find data big.bin -type f -print0 | xargs -0 ${tool} > /dev/null`];
for (let r = 0; r < REPEAT; r++) {
  const dvcDir = freshRepo("dvc", src, (d) => execFileSync(DVC, ["init", "-q"], { cwd: d }));
  const mloopDir = freshRepo("mloop", src, (d) => execFileSync(process.execPath, [MLOOP, "data", "init"], { cwd: d, stdio: "ignore" }));
  // the reference reads a fresh copy too, as the tools do
  log(`round ${r + 1}/${REPEAT}: disk reference`);
  const refDir = freshRepo("reference", src, () => undefined);
  results.cat.push(time("bash", xargs("cat"), refDir, "cat"));
  results.md5sum.push(time("bash", xargs("md5sum"), refDir, "md5sum"));
  fs.rmSync(refDir, { recursive: true, force: true });
  log("dvc add");
  results.dvcAdd.push(time(DVC, ["add", "-q", "data", "big.bin"], dvcDir, "dvcAdd"));
  log("mloop data add");
  results.mloopAdd.push(time(process.execPath, [MLOOP, "data", "add", "data", "big.bin"], mloopDir, "mloopAdd"));
  log("status, nothing changed");
  results.dvcStatus.push(time(DVC, ["status", "-q"], dvcDir, "dvcStatus"));
  results.mloopStatus.push(time(process.execPath, [MLOOP, "data", "status"], mloopDir, "mloopStatus"));
  results.node.push(time(process.execPath, ["-e", "0"], mloopDir, "node"));
  log("add again, nothing changed");
  results.dvcReadd.push(time(DVC, ["add", "-q", "data", "big.bin"], dvcDir));
  results.mloopReadd.push(time(process.execPath, [MLOOP, "data", "add", "data", "big.bin"], mloopDir));
  const same = ["data.dvc", "big.bin.dvc"].every((f) => fs.readFileSync(path.join(dvcDir, f), "utf8") === fs.readFileSync(path.join(mloopDir, f), "utf8"));
  if (!same) {
    console.error("bench: the .dvc files written by dvc and by mloop differ");
    process.exit(1);
  }
}

const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
const c = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, median(v)]));
const range = (k) => (REPEAT > 1 ? ` [${Math.min(...results[k]).toFixed(2)}–${Math.max(...results[k]).toFixed(2)}]` : "");
const gb = (FILES_MB + BIG_MB) / 1024;
const f = (s) => `${s.toFixed(2)} s`;
const cores = os.availableParallelism();
const perCore = md5PerCore();
const cpuOf = (k) => (c[k] === undefined ? "" : `  cpu ${c[k].toFixed(2)} s (${(c[k] / m[k]).toFixed(1)} cores)`);
console.log(`\ndata: ${FILES} files, ${FILES_MB} MB + one ${BIG_MB} MB file (${gb.toFixed(2)} GB), cache.type ${CACHE_TYPE ?? "unset (copy)"}, ${cores} cores, load ${os.loadavg()[0].toFixed(1)} at the end (${loadStart} at the start), median of ${REPEAT}`);
console.log(`read with cat > /dev/null     ${f(m.cat)}${range("cat")}${cpuOf("cat")}`);
console.log(`md5sum                        ${f(m.md5sum)}${range("md5sum")}${cpuOf("md5sum")}`);
console.log(`md5 on one core               ${perCore.toFixed(0)} MB/s of CPU time: hashing ${(gb * 1024).toFixed(0)} MB takes at least ${((gb * 1024) / perCore / cores).toFixed(2)} s on ${cores} cores`);
console.log(`first add     dvc ${f(m.dvcAdd).padStart(9)}   mloop ${f(m.mloopAdd).padStart(9)}   ${(m.dvcAdd / m.mloopAdd).toFixed(1)}x faster; ${(m.mloopAdd / m.cat).toFixed(2)}x cat, ${(m.mloopAdd / m.md5sum).toFixed(2)}x md5sum${range("mloopAdd")}`);
console.log(`              dvc${cpuOf("dvcAdd")}   mloop${cpuOf("mloopAdd")}`);
console.log(`status        dvc ${f(m.dvcStatus).padStart(9)}   mloop ${f(m.mloopStatus).padStart(9)}   ${(m.dvcStatus / m.mloopStatus).toFixed(1)}x faster${range("mloopStatus")}; node -e 0 takes ${f(m.node)}`);
console.log(`              dvc${cpuOf("dvcStatus")}   mloop${cpuOf("mloopStatus")}`);
console.log(`re-add        dvc ${f(m.dvcReadd).padStart(9)}   mloop ${f(m.mloopReadd).padStart(9)}   ${(m.dvcReadd / m.mloopReadd).toFixed(1)}x faster`);
console.log("the .dvc files written by both are identical");
if (!process.env.BENCH_DIR) fs.rmSync(work, { recursive: true, force: true });
