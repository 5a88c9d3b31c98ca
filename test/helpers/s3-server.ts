import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import type { S3Settings } from "../../src/config.js";

/** The moto S3-compatible server from the project's Python environment, if it is installed. */
export const MOTO_SERVER = path.resolve(import.meta.dirname, "../../.venv/bin/moto_server");
export const HAS_MOTO = fs.existsSync(MOTO_SERVER);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with code ${child.exitCode}`);
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  throw new Error(`moto_server did not answer at ${url}`);
}

/** A real S3-compatible server on 127.0.0.1, stoppable and restartable on the same port. */
export class S3TestServer {
  private child: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  static async start(): Promise<S3TestServer> {
    const server = new S3TestServer(await freePort());
    await server.resume();
    return server;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  settings(): S3Settings {
    return { endpointUrl: this.endpoint, accessKeyId: "testing", secretAccessKey: "testing", region: "us-east-1", ignoreTls: false };
  }

  /** Starts (again) on the same port; moto keeps no data across restarts. */
  async resume(): Promise<void> {
    const child = spawn(MOTO_SERVER, ["-H", "127.0.0.1", "-p", String(this.port)], { stdio: "ignore" });
    this.child = child;
    await waitForHttp(`${this.endpoint}/moto-api/`, child);
  }

  /** Creates a bucket with a plain path-style request (moto does not check signatures). */
  async createBucket(name: string): Promise<void> {
    const res = await fetch(`${this.endpoint}/${name}`, { method: "PUT" });
    if (!res.ok) throw new Error(`creating bucket ${name} failed: HTTP ${res.status}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
  }
}
