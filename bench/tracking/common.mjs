/**
 * What the tracking benchmarks share: settings from the environment, preflight checks, starting a
 * server as its own process group and timing it to a healthy /health, JSON calls, the median.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

import { ROOT, positiveIntEnv } from "../env.mjs";

export { ROOT, positiveIntEnv };

/** Stops with one line unless the build and the mlflow executable are there. */
export function requireBuildAndMlflow(mlflow) {
  if (!fs.existsSync(path.join(ROOT, "dist", "cli", "index.js"))) {
    console.error("bench: dist/ is missing: run `npm run build` first");
    process.exit(2);
  }
  if (!fs.existsSync(mlflow)) {
    console.error(`bench: no mlflow at ${mlflow}: run scripts/setup-python.sh (or set BENCH_MLFLOW)`);
    process.exit(2);
  }
}

export const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

let nextPort = 0;

/** A free port on 127.0.0.1: the next free one of BENCH_PORTS (e.g. 17400-17449) when set, otherwise any. */
export async function freePort() {
  const range = /^(\d+)-(\d+)$/.exec(process.env.BENCH_PORTS ?? "");
  if (!range) return anyPort(0);
  const [lo, hi] = [Number(range[1]), Number(range[2])];
  for (let i = 0; i <= hi - lo; i++) {
    const port = lo + ((nextPort++) % (hi - lo + 1));
    if (await anyPort(port).then(() => true, () => false)) return port;
  }
  throw new Error(`no free port in BENCH_PORTS=${process.env.BENCH_PORTS}`);
}

function anyPort(want) {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(want, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Kill functions of servers still running, so a failed measurement can stop them all. */
export const running = new Set();

/**
 * Starts `cmd args` (its own process group, without the caller's MLOOP_/MLFLOW_ variables, plus `env`) and
 * resolves once `<url>/health` answers 200, with the time that took.
 */
export async function startServer(name, cmd, args, { cwd, port, env = {} }) {
  const t0 = performance.now();
  const childEnv = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MLOOP_") && !k.startsWith("MLFLOW_"))), ...env };
  const child = spawn(cmd, args, { cwd, env: childEnv, stdio: ["ignore", "ignore", "pipe"], detached: true });
  let err = "";
  child.stderr.on("data", (d) => (err = (err + d.toString()).slice(-4000)));
  const exited = new Promise((r) => child.once("exit", r));
  const signal = (sig) => {
    try {
      process.kill(-child.pid, sig);
    } catch {
      // gone already
    }
  };
  const kill = () => signal("SIGKILL");
  running.add(kill);
  child.once("exit", () => running.delete(kill));
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} server exited with ${child.exitCode}:\n${err}`);
    try {
      if ((await fetch(`${url}/health`)).status === 200) break;
    } catch {
      // not up yet
    }
    if (performance.now() - t0 > 600_000) throw new Error(`${name} server not healthy after 600 s:\n${err}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    name,
    url,
    startup: performance.now() - t0,
    async stop() {
      // The whole process group: mlflow runs its workers as children.
      signal("SIGTERM");
      const timer = setTimeout(kill, 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A JSON call; GET bodies become a query string (lists repeat the key); `headers` are sent too. Non-200 throws. */
export async function call(base, method, route, body, headers = {}) {
  let url = `${base}${route}`;
  const init = { method, headers: { ...headers } };
  if (method === "GET" && body) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(body)) for (const item of Array.isArray(v) ? v : [v]) qs.append(k, String(item));
    url += `?${qs}`;
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["content-type"] = "application/json";
  }
  const res = await fetch(url, init);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${method} ${route} -> ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
