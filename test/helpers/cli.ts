import net from "node:net";
import { main } from "../../src/cli/entry.js";
import { makeTestApp, type TestApp } from "./app.js";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `mloop <args>` in this process through the real `main()` (the entry the binary runs, lean
 * paths included), capturing what it writes to stdout and stderr and the exit code it sets.
 */
export async function runCli(...args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const stdoutWrite = process.stdout.write;
  const stderrWrite = process.stderr.write;
  const capture = (sink: string[]) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      sink.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      const cb = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      cb?.();
      return true;
    }) as typeof process.stdout.write;
  process.exitCode = undefined;
  process.stdout.write = capture(out);
  process.stderr.write = capture(err);
  try {
    await main(["node", "mloop", ...args]);
  } finally {
    process.stdout.write = stdoutWrite;
    process.stderr.write = stderrWrite;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { code, stdout: out.join(""), stderr: err.join("") };
}

/** A test server listening on a free loopback port; `uri` is its base URL. */
export async function listenTestApp(): Promise<TestApp & { uri: string }> {
  const t = await makeTestApp();
  const uri = await t.app.listen({ port: 0, host: "127.0.0.1" });
  return Object.assign(t, { uri });
}

/** A loopback URL nothing listens on. */
export async function deadUri(): Promise<string> {
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  return `http://127.0.0.1:${port}`;
}
