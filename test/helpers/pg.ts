import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The PostgreSQL server the test suites use, from `MLOOP_TEST_POSTGRES_URL` (unset: PostgreSQL tests are skipped). */
export const TEST_POSTGRES_URL: string | undefined = process.env.MLOOP_TEST_POSTGRES_URL || undefined;

export const SKIP_POSTGRES_REASON =
  "skipped: set MLOOP_TEST_POSTGRES_URL (e.g. `export MLOOP_TEST_POSTGRES_URL=$(scripts/pg-start.sh)`) to run against PostgreSQL";

/** A database of its own on a PostgreSQL server, dropped by `drop()`. */
export interface TestDatabase {
  uri: string;
  name: string;
  drop(): Promise<void>;
}

/** Creates an empty database with a random name on the server `baseUrl` names. */
export async function createTestDatabase(baseUrl: string = TEST_POSTGRES_URL ?? ""): Promise<TestDatabase> {
  if (!baseUrl) throw new Error("createTestDatabase needs MLOOP_TEST_POSTGRES_URL or a base URL");
  const name = `mloop_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    uri: url.toString(),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** True when this machine can start a throwaway PostgreSQL cluster (server binaries installed). */
export function canStartPostgres(): boolean {
  return fs.existsSync("/usr/lib/postgresql") || !!process.env.PG_BIN;
}

/** A throwaway cluster from scripts/pg-start.sh, with the controls a failure test needs. */
export interface PostgresCluster {
  uri: string;
  dir: string;
  /** Stops the server (fast shutdown: open sessions are terminated), keeping its data. */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** Stops and removes the cluster. */
  destroy(): Promise<void>;
}

/** Starts a new PostgreSQL cluster in a temporary folder on a free port. */
export async function startPostgresCluster(): Promise<PostgresCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mloop-pg."));
  const { stdout } = await run("bash", [path.join(ROOT, "scripts/pg-start.sh"), "--dir", dir], { timeout: 120_000 });
  const uri = stdout.trim().split("\n").at(-1)!;
  const port = new URL(uri).port;
  const env = Object.fromEntries(
    (readIf(path.join(dir, "env")) ?? "")
      .split("\n")
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  const asPg = (cmd: string, args: string[]) =>
    process.getuid?.() === 0 ? run("runuser", ["-u", "postgres", "--", cmd, ...args], { timeout: 120_000 }) : run(cmd, args, { timeout: 120_000 });
  const pgCtl = path.join(env.PG_BIN!, "pg_ctl");
  return {
    uri,
    dir,
    async stop(mode = "fast") {
      await asPg(pgCtl, ["-D", path.join(dir, "data"), "-m", mode, "-w", "-t", "60", "stop"]);
    },
    async start() {
      // pg_ctl remembers the options of the last start (postmaster.opts) only through `restart`;
      // pg-start.sh on the existing folder reuses the data and the port.
      await run("bash", [path.join(ROOT, "scripts/pg-start.sh"), "--dir", dir, "--port", port], { timeout: 120_000 });
    },
    async destroy() {
      await run("bash", [path.join(ROOT, "scripts/pg-stop.sh"), dir], { timeout: 120_000 });
    },
  };
}

function readIf(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
}
