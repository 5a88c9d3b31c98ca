/**
 * Real servers for the reliability tests: `node bin/mloop.js server` as child processes over
 * this tree transpiled into a scratch folder (no build needed), and a small JSON client.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { buildScratchCli } from "../helpers/scratch-cli.js";

const repo = path.resolve(import.meta.dirname, "../..");

/** The binary over this tree, transpiled into a scratch folder. */
export function transpiledBinary(): { bin: string; remove(): void } {
  return buildScratchCli("reliability");
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
}

/** Starts `mloop server` on a free port over the given store and waits for a healthy /health. */
export async function startServerProcess(
  bin: string,
  dir: string,
  backendStoreUri = `sqlite:///${path.join(dir, "mlruns.db")}`,
  extraEnv: Record<string, string> = {},
): Promise<ServerProcess> {
  const port = await freePort();
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MLOOP_"))), ...extraEnv };
  const child = spawn(
    process.execPath,
    [bin, "server", "--host", "127.0.0.1", "--port", String(port), "--backend-store-uri", backendStoreUri, "--artifacts-destination", path.join(dir, "artifacts"), "--no-ui"],
    { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`mloop server exited with ${child.exitCode}: ${out}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`mloop server not healthy within 30s: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const signal = async (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    await exited;
  };
  return { url, child, output: () => out, stop: () => signal("SIGTERM"), kill: () => signal("SIGKILL") };
}

export interface ApiResult<T = any> {
  status: number;
  body: T;
}

/** POST/GET to `/api/2.0/mlflow/<path>` with JSON. Network errors reject. */
export async function api<T = any>(base: string, method: "GET" | "POST", route: string, body?: unknown): Promise<ApiResult<T>> {
  let url = `${base}/api/2.0/mlflow/${route}`;
  const init: RequestInit = { method };
  if (method === "GET" && body) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
      for (const item of Array.isArray(v) ? v : [v]) qs.append(k, String(item));
    }
    url += `?${qs}`;
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { "content-type": "application/json" };
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed as T };
}

/** Every point of a metric, following page tokens. */
export async function fullHistory(base: string, runId: string, key: string): Promise<Array<{ step: number; value: number }>> {
  const all: Array<{ step: number; value: number }> = [];
  let token: string | undefined;
  do {
    const res = await api(base, "GET", "metrics/get-history", { run_id: runId, metric_key: key, max_results: 25000, ...(token ? { page_token: token } : {}) });
    if (res.status !== 200) throw new Error(`get-history ${res.status}: ${JSON.stringify(res.body)}`);
    all.push(...((res.body.metrics ?? []) as Array<{ step: number; value: number }>).map((m) => ({ step: Number(m.step ?? 0), value: Number(m.value) })));
    token = res.body.next_page_token;
  } while (token);
  return all;
}
