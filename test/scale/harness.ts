/**
 * Real processes for scale-out tests: the `mloop` executable over this tree
 * (transpiled into a scratch folder, as the build would emit it) started as
 * separate server or worker processes, and an HTTP client that retries like
 * the mlflow Python client does.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { buildScratchCli } from "../helpers/scratch-cli.js";

export const REPO = path.resolve(import.meta.dirname, "../..");

/** The `mloop` binary over this tree, transpiled into a scratch folder. */
export function buildScratchBinary(tag: string): { bin: string; cleanup: () => void } {
  const built = buildScratchCli(tag);
  return { bin: built.bin, cleanup: built.remove };
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts `mloop server` on a free port and waits until it listens. */
export async function startServer(bin: string, args: string[], env: Record<string, string> = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [bin, "server", "--host", "127.0.0.1", "--port", "0", "--no-ui", ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr!.setEncoding("utf8");
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 60_000);
    child.stderr!.on("data", (d: string) => {
      err += d;
      const m = /listening at (http:\/\/[^\s]+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${err}`));
    });
  });
  return {
    url,
    child,
    stderr: () => err,
    stop: () => stopProcess(child),
  };
}

export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

export interface Reply<T = any> {
  status: number;
  body: T;
}

/** Statuses the mlflow client retries (its default `MLFLOW_HTTP_REQUEST_MAX_RETRIES` policy). */
const RETRIED = new Set([429, 500, 502, 503, 504]);

/** One JSON call without retries; a refused connection is status 0. */
export async function call<T = any>(base: string, method: "GET" | "POST", route: string, body?: unknown): Promise<Reply<T>> {
  const url = `${base}/api/2.0/mlflow/${route}`;
  try {
    const res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed as T };
  } catch {
    return { status: 0, body: undefined as T };
  }
}

/**
 * A call retried with exponential backoff on the statuses the mlflow client
 * retries. `seen` collects every failed status on the way.
 */
export async function callWithRetry<T = any>(
  base: string,
  method: "GET" | "POST",
  route: string,
  body?: unknown,
  opts: { retries?: number; seen?: Reply[] } = {},
): Promise<Reply<T>> {
  const retries = opts.retries ?? 12;
  for (let attempt = 0; ; attempt++) {
    const r = await call<T>(base, method, route, body);
    if (!RETRIED.has(r.status) && r.status !== 0) return r;
    opts.seen?.push(r);
    if (attempt >= retries) return r;
    await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 50 * 2 ** attempt)));
  }
}
