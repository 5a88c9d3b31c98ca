/**
 * Real processes for the serving tests: a tracking server with models the real mlflow
 * client logged and registered (test/serving/make_models.py), `mloop serve` over this tree,
 * and `mlflow models serve` from the compat venv.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { freePort } from "../reliability/harness.js";

export const REPO = path.resolve(import.meta.dirname, "../..");
export const PYTHON = path.join(REPO, ".venv", "bin", "python");
export const FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"];

export interface Fixtures {
  features: string[];
  probe: { columns: string[]; data: number[][] };
  versions: Record<string, { run_id: string; sklearn_model_id: string; onnx_model_id: string; sklearn_predictions: number[]; onnx_predictions: Record<string, number>[] }>;
}

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MLOOP_") && k !== "MLFLOW_TRACKING_URI"));
  return { ...env, PATH: `${path.join(REPO, ".venv", "bin")}:${process.env.PATH}`, ...extra };
}

/** Runs make_models.py against a tracking server: two versions each of iris-onnx and iris-sklearn, champion -> 1. */
export function makeModels(trackingUri: string, dir: string): Fixtures {
  const out = path.join(dir, "models.json");
  const res = spawnSync(PYTHON, [path.join(REPO, "test", "serving", "make_models.py"), out], {
    cwd: dir,
    env: cleanEnv({ MLFLOW_TRACKING_URI: trackingUri, GIT_PYTHON_REFRESH: "quiet" }),
    encoding: "utf8",
    timeout: 180_000,
  });
  if (res.status !== 0) throw new Error(`make_models.py failed (${res.status}): ${res.stderr.slice(-3000)}`);
  return JSON.parse(fs.readFileSync(out, "utf8")) as Fixtures;
}

export interface Proc {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

async function waitUp(url: string, child: ChildProcess, output: () => string, what: string, timeoutMs: number, probe = "/ping"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}): ${output().slice(-3000)}`);
    try {
      const res = await fetch(`${url}${probe}`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${what} not up within ${timeoutMs} ms: ${output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function track(child: ChildProcess, url: string, group: boolean): Proc {
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const signal = async (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        if (group) process.kill(-child.pid!, sig);
        else child.kill(sig);
      } catch {
        // already gone
      }
    }
    await exited;
  };
  return { url, child, output: () => out, stop: () => signal("SIGTERM"), kill: () => signal("SIGKILL") };
}

/** `mloop serve <args>` over the transpiled tree, on a free port; resolves once /ping answers. */
export async function startMloopServe(bin: string, args: string[], opts: { cwd: string; trackingUri?: string; port?: number }): Promise<Proc> {
  const port = opts.port ?? (await freePort());
  const child = spawn(process.execPath, [bin, "serve", ...args, "--port", String(port), "--python", PYTHON], {
    cwd: opts.cwd,
    env: cleanEnv(opts.trackingUri ? { MLFLOW_TRACKING_URI: opts.trackingUri } : {}),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const proc = track(child, `http://127.0.0.1:${port}`, false);
  try {
    await waitUp(proc.url, child, proc.output, "mloop serve", 120_000);
  } catch (err) {
    await proc.kill();
    throw err;
  }
  return proc;
}

/** `mlflow models serve -m <uri> --env-manager local` from the compat venv, at its defaults otherwise. */
export async function startMlflowServe(modelUri: string, trackingUri: string, cwd: string): Promise<Proc> {
  const port = await freePort();
  const child = spawn(path.join(REPO, ".venv", "bin", "mlflow"), ["models", "serve", "-m", modelUri, "--env-manager", "local", "-h", "127.0.0.1", "-p", String(port)], {
    cwd,
    env: cleanEnv({ MLFLOW_TRACKING_URI: trackingUri }),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const proc = track(child, `http://127.0.0.1:${port}`, true);
  try {
    await waitUp(proc.url, child, proc.output, "mlflow models serve", 240_000);
  } catch (err) {
    await proc.kill();
    throw err;
  }
  return proc;
}

export interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

/** POST /invocations. */
export async function invoke(url: string, body: string, contentType = "application/json", headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${url}/invocations`, { method: "POST", body, headers: { "content-type": contentType, ...headers } });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** `mloop server` over a fresh SQLite store, with webhooks allowed to reach `webhookAllow` (host:port). */
export async function startTracking(bin: string, dir: string, webhookAllow: string): Promise<Proc> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [bin, "server", "--port", String(port), "--backend-store-uri", `sqlite:///${path.join(dir, "mlruns.db")}`, "--artifacts-destination", path.join(dir, "artifacts"), "--no-ui", "--webhook-allow", webhookAllow],
    { cwd: dir, env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] },
  );
  const proc = track(child, `http://127.0.0.1:${port}`, false);
  await waitUp(proc.url, child, proc.output, "mloop server", 30_000, "/health");
  return proc;
}

/** Calls the tracking server's REST API with JSON. */
export async function rest(base: string, method: string, route: string, body?: unknown): Promise<any> {
  const res = await fetch(`${base}/api/2.0/mlflow/${route}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { "content-type": "application/json" } });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/**
 * POST /invocations with node:http, reading the answer even when the server refuses the body
 * before it was all sent (a 413 closes the connection; fetch would only report EPIPE).
 */
export function postRaw(url: string, body: string, contentType: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/invocations`, { method: "POST", headers: { "content-type": contentType, "content-length": Buffer.byteLength(body) } }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, headers: new Headers(res.headers as Record<string, string>) });
      });
    });
    req.on("error", (err: NodeJS.ErrnoException) => {
      // The answer may still arrive after the server stopped reading; give it a moment.
      if (err.code === "EPIPE" || err.code === "ECONNRESET") setTimeout(() => reject(err), 2000);
      else reject(err);
    });
    req.end(body);
  });
}

export { freePort };
