import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import type { QueuedRun } from "./jobs.js";

/**
 * Runs a queued project's entry point on this machine: the command of the
 * MLproject entry point with `{name}` replaced by shell-quoted parameter
 * values (given, else the declared default). Output lines go to `onLine`.
 */
export interface ExecuteOptions {
  onLine: (line: string) => void;
  env: Record<string, string>;
  signal?: AbortSignal;
}

export type Executor = (run: QueuedRun, opts: ExecuteOptions) => Promise<{ exitCode: number }>;

interface EntryPoint {
  command: string;
  parameters?: Record<string, unknown>;
}

export class ProjectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProjectError";
  }
}

function shellQuote(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

/** The shell command of an entry point, parameters substituted; unknown or missing parameters are errors. */
export function entryPointCommand(projectDir: string, entryPoint: string, parameters: Record<string, string>): string {
  const file = ["MLproject", "MLProject"].map((f) => path.join(projectDir, f)).find((f) => fs.existsSync(f));
  let entry: EntryPoint | undefined;
  if (file) {
    const doc = parse(fs.readFileSync(file, "utf8")) as { entry_points?: Record<string, EntryPoint> } | null;
    entry = doc?.entry_points?.[entryPoint];
    if (!entry) throw new ProjectError(`entry point '${entryPoint}' is not declared in ${file}`);
  } else if (/\.(py|sh)$/.test(entryPoint) && fs.existsSync(path.join(projectDir, entryPoint))) {
    entry = { command: `${entryPoint.endsWith(".py") ? "python" : "bash"} ${shellQuote(entryPoint)}` };
  } else {
    throw new ProjectError(`no MLproject file in ${projectDir}`);
  }
  const declared = entry.parameters ?? {};
  const values: Record<string, string> = {};
  for (const [name, spec] of Object.entries(declared)) {
    const dflt = spec && typeof spec === "object" ? (spec as { default?: unknown }).default : spec;
    if (parameters[name] !== undefined) values[name] = parameters[name]!;
    else if (dflt !== undefined && dflt !== null) values[name] = String(dflt);
  }
  let command = entry.command.replace(/\{(\w+)\}/g, (all, name: string) => {
    if (values[name] === undefined) throw new ProjectError(`parameter '${name}' of entry point '${entryPoint}' has no value and no default`);
    return shellQuote(values[name]!);
  });
  // As in MLflow, parameters the entry point does not declare are passed as --name value.
  for (const [name, value] of Object.entries(parameters)) {
    if (!(name in declared)) command += ` --${name} ${shellQuote(value)}`;
  }
  return command;
}

/**
 * The command runs in its own process group under a small shell guard that
 * reads the worker's pipe: if the worker dies (even by SIGKILL) the pipe
 * closes and the guard ends the command, so a retried run never has a
 * leftover twin still logging to it.
 */
const GUARD = `set -m
bash -c "$MLOOP_COMMAND" </dev/null &
child=$!
( cat >/dev/null; kill -TERM -- -$child 2>/dev/null ) &
watch=$!
wait $child
status=$?
kill $watch 2>/dev/null
exit $status`;

export const executeProject: Executor = (run, opts) => {
  const projectDir = path.resolve(run.uri);
  if (!fs.existsSync(projectDir) || !fs.statSync(projectDir).isDirectory()) {
    return Promise.reject(new ProjectError(`project folder ${projectDir} does not exist on this worker`));
  }
  const command = entryPointCommand(projectDir, run.entryPoint, run.parameters);
  opts.onLine(`$ ${command}`);
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", GUARD], {
      cwd: projectDir,
      env: { ...process.env, ...run.env, ...opts.env, MLOOP_COMMAND: command },
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
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    child.once("error", reject);
    child.once("close", (code, signal) => {
      opts.signal?.removeEventListener("abort", onAbort);
      out.end();
      err.end();
      resolve({ exitCode: code ?? (signal ? 128 : 1) });
    });
  });
};
