/**
 * What the closed-loop tests share: a scratch `mloop` build, a real `mloop server` (SQLite, or a
 * PostgreSQL database of its own), the example's generated data, training version 1 with the
 * example's project, the example's spec with the test's paths, and `mloop deploy apply` (or any
 * other long-running mloop command) as a child process whose output is kept.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "vitest";
import { buildScratchCli } from "../helpers/scratch-cli.js";
import { createTestDatabase, type TestDatabase } from "../helpers/pg.js";
import { freePort, startServerProcess, type ServerProcess } from "../reliability/harness.js";

export const REPO = path.resolve(import.meta.dirname, "../..");
export const EXAMPLE = path.join(REPO, "examples", "churn-loop");
export const PYTHON = path.join(REPO, ".venv", "bin", "python");
export const FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract_months"];

export function env(trackingUri: string): NodeJS.ProcessEnv {
  const e = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MLOOP_") && k !== "MLFLOW_TRACKING_URI"));
  return { ...e, PATH: `${path.join(REPO, ".venv", "bin")}:${process.env.PATH}`, MLFLOW_TRACKING_URI: trackingUri, GIT_PYTHON_REFRESH: "quiet" };
}

export function readCsv(file: string): { header: string[]; rows: number[][] } {
  const [head, ...lines] = fs.readFileSync(file, "utf8").trim().split("\n");
  return { header: head!.split(","), rows: lines.map((l) => l.split(",").map(Number)) };
}

export async function api(base: string, method: "GET" | "POST", route: string, body?: unknown): Promise<{ status: number; body: any }> {
  const url = `${base}${route.startsWith("/") ? route : `/api/2.0/mlflow/${route}`}`;
  const res = await fetch(url, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }) });
  return { status: res.status, body: await res.json() };
}

export async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>, output: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output:\n${output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A long-running mloop child process with its output. */
export interface Child {
  child: ChildProcess;
  output(): string;
}

/** The shared world of one closed-loop test file; `start()` in beforeAll, `stop()` in afterAll. */
export class LoopWorld {
  dir = "";
  server!: ServerProcess;
  private cli?: { bin: string; remove(): void };
  private db?: TestDatabase;
  private readonly children: ChildProcess[] = [];

  /** `postgresUrl`: the tracking server's store is a fresh database on that PostgreSQL server. */
  constructor(
    private readonly tag: string,
    private readonly postgresUrl?: string,
  ) {}

  async start(): Promise<void> {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `mloop-${this.tag}-`));
    const gen = spawnSync(PYTHON, [path.join(EXAMPLE, "make_data.py"), path.join(this.dir, "data")], { encoding: "utf8" });
    if (gen.status !== 0) throw new Error(gen.stderr);
    this.cli = buildScratchCli(this.tag);
    if (this.postgresUrl) this.db = await createTestDatabase(this.postgresUrl);
    this.server = await startServerProcess(this.cli.bin, this.dir, this.db?.uri);
  }

  async stop(): Promise<void> {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await this.server?.stop();
    await this.db?.drop();
    this.cli?.remove();
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  get bin(): string {
    return this.cli!.bin;
  }

  data(file: string): string {
    return path.join(this.dir, "data", file);
  }

  mloop(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [this.bin, ...args], { cwd: this.dir, env: env(this.server.url), encoding: "utf8", timeout: 120_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** Trains and registers version 1 of `model` on the old world, @champion -> 1. */
  async trainChampion(model: string): Promise<void> {
    const r = this.mloop(["run", path.join(EXAMPLE, "train"), "-P", `data=${this.data("train.csv")}`, "-P", `model_name=${model}`, "--env-manager", "local", "--experiment-name", "churn-train"]);
    expect(r.status, r.stderr).toBe(0);
    expect((await api(this.server.url, "POST", "registered-models/alias", { name: model, alias: "champion", version: "1" })).status).toBe(200);
  }

  /** The example's spec with this test's paths and model. */
  writeSpec(name: string, model: string, edit: (s: string) => string = (s) => s): string {
    let text = fs.readFileSync(path.join(EXAMPLE, "deploy.yaml"), "utf8");
    text = text
      .replace("name: churn\n", `name: ${name}\n`)
      .replace("  name: churn\n", `  name: ${model}\n`)
      .replace("model_name: churn", `model_name: ${model}`)
      .replace("./train", path.join(EXAMPLE, "train"))
      .replaceAll("./work/data", path.join(this.dir, "data"))
      .replace("./work/predictions", path.join(this.dir, `predictions-${name}`));
    const file = path.join(this.dir, `${name}.yaml`);
    fs.writeFileSync(file, edit(text));
    return file;
  }

  /** Starts `mloop ARGS` in the background, its output kept; killed at `stop()`. */
  spawn(args: string[]): Child {
    const child = spawn(process.execPath, [this.bin, ...args], { cwd: this.dir, env: env(this.server.url), stdio: ["ignore", "pipe", "pipe"] });
    this.children.push(child);
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    return { child, output: () => out };
  }

  /** Waits until `url/ping` answers (or the child exits). */
  async pinged(url: string, c: Child): Promise<void> {
    await waitFor(`${url} to answer`, 300_000, async () => {
      if (c.child.exitCode !== null) throw new Error(`mloop exited ${c.child.exitCode}: ${c.output()}`);
      return fetch(`${url}/ping`).then((r) => (r.ok ? true : undefined), () => undefined);
    }, c.output);
  }

  /** `mloop deploy apply SPEC` serving on a free port. */
  async apply(spec: string): Promise<Child & { url: string }> {
    const port = await freePort();
    const c = this.spawn(["deploy", "apply", spec, "--port", String(port), "--python", PYTHON, "--interval", "0.5"]);
    const url = `http://127.0.0.1:${port}`;
    await this.pinged(url, c);
    return { ...c, url };
  }

  async deployment(name: string): Promise<{ deployment: any; events: any[] }> {
    const d = await api(this.server.url, "GET", `/api/2.0/mloop/deployments/get?name=${name}`);
    const e = await api(this.server.url, "GET", `/api/2.0/mloop/deployments/events/list?name=${name}`);
    return { deployment: d.body.deployment, events: e.body.events };
  }
}

/** Ten rows of `rows` from the `n`-th chunk of ten on; in every other chunk the first row's monthly_charges is missing (a model without an imputer fails on it). */
export function gappyChunk(rows: number[][], n: number): (number | null)[][] {
  const start = (n * 10) % 1000;
  const chunk: (number | null)[][] = rows.slice(start, start + 10).map((r) => r.slice(0, 4));
  if (n % 2 === 0) chunk[0]![1] = null;
  return chunk;
}

/** Calls `send` until deployment `name` is rolled back and serving again; a promotion fails at once. */
export async function untilRolledBack(w: LoopWorld, name: string, send: () => Promise<void>, output: () => string): Promise<{ deployment: any; events: any[] }> {
  return waitFor("the rollback", 120_000, async () => {
    await send();
    const s = await w.deployment(name);
    if (s.events.some((e) => e.to_state === "promoted")) throw new Error(`promoted: ${JSON.stringify(s.events)}`);
    return s.events.some((e) => e.to_state === "rolled_back") && s.deployment.state === "serving" ? s : undefined;
  }, output);
}

/** Scores rows on a scoring server (and sends their labels as feedback); the answer's status, version and predictions. */
export async function score(url: string, rows: (number | null)[][], labels?: number[]): Promise<{ status: number; version: string; requestId: string; predictions: unknown }> {
  const res = await fetch(`${url}/invocations`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ dataframe_split: { columns: FEATURES, data: rows } }) });
  const body = (await res.json()) as { predictions?: unknown };
  const requestId = res.headers.get("x-request-id")!;
  if (labels) {
    const fb = await fetch(`${url}/feedback`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ request_id: requestId, label: labels }) });
    expect(fb.status).toBe(200);
  }
  return { status: res.status, version: res.headers.get("x-mloop-model-version") ?? "?", requestId, predictions: body.predictions };
}
