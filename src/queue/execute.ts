import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { QueuedRun } from "./jobs.js";

/**
 * Runs a queued project exactly as a local `mloop run` does — same fetching
 * (folders and git URLs at `--version`), parameter checks, environments,
 * provenance tags and output artifact — by running `mloop run … --run-id`
 * on this worker, continuing the run created at submission. Output lines go
 * to `onLine`.
 */
export interface ExecuteOptions {
  onLine: (line: string) => void;
  env: Record<string, string>;
  signal?: AbortSignal;
}

export type Executor = (run: QueuedRun, opts: ExecuteOptions) => Promise<{ exitCode: number }>;

/** The `mloop run` arguments that run a queued project in its existing run. */
export function runArguments(run: QueuedRun): string[] {
  const args = ["run", run.uri, "--run-id", run.runId, "--tracking-uri", run.trackingUri, "--entry-point", run.entryPoint, "--backend", "local"];
  for (const [k, v] of Object.entries(run.parameters)) args.push("-P", `${k}=${v}`);
  if (run.version) args.push("--version", run.version);
  if (run.envManager) args.push("--env-manager", run.envManager);
  if (run.runName) args.push("--run-name", run.runName);
  return args;
}

/**
 * `mloop run` runs in its own process group under a small shell guard that
 * reads the worker's pipe: if the worker dies (even by SIGKILL) or abandons
 * the job, the pipe closes and the guard sends SIGTERM to that group;
 * `mloop run` then ends the entry point's own process group (SIGKILL after
 * its grace period), so a retried run never has a leftover twin still
 * logging to it.
 */
const GUARD = `set -m
"$@" </dev/null &
child=$!
( cat >/dev/null; kill -TERM -- -$child 2>/dev/null ) &
watch=$!
wait $child
status=$?
kill $watch 2>/dev/null
exit $status`;

function defaultCli(): string[] {
  return [process.execPath, fileURLToPath(new URL("../../bin/mloop.js", import.meta.url))];
}

/** An executor running `cli` (the command that starts mloop, e.g. `[node, bin/mloop.js]`). */
export function projectExecutor(cli: string[] = defaultCli()): Executor {
  return (run, opts) =>
    new Promise((resolve, reject) => {
      const child = spawn("bash", ["-c", GUARD, "mloop-guard", ...cli, ...runArguments(run)], {
        env: { ...process.env, ...run.env, ...opts.env },
        stdio: ["pipe", "pipe", "pipe"],
      });
      const splitter = () => {
        let rest = "";
        return {
          push(chunk: Buffer) {
            rest += chunk.toString("utf8");
            const lines = rest.split("\n");
            rest = lines.pop()!;
            for (const l of lines) opts.onLine(l);
          },
          end() {
            if (rest) opts.onLine(rest);
            rest = "";
          },
        };
      };
      const out = splitter();
      const err = splitter();
      child.stdout.on("data", (c: Buffer) => out.push(c));
      child.stderr.on("data", (c: Buffer) => err.push(c));
      child.stdin.on("error", () => undefined);
      const onAbort = () => child.stdin.end();
      if (opts.signal?.aborted) onAbort();
      else opts.signal?.addEventListener("abort", onAbort, { once: true });
      child.once("error", reject);
      child.once("close", (code, signal) => {
        opts.signal?.removeEventListener("abort", onAbort);
        out.end();
        err.end();
        resolve({ exitCode: code ?? (signal ? 128 : 1) });
      });
    });
}

export const executeProject: Executor = projectExecutor();
