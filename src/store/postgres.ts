import pg from "pg";
import { temporarilyUnavailable } from "../api/errors.js";
import type { SqlDriver, SqlExecutor, SqlValue } from "./driver.js";

// BIGINT columns come back as strings by default; every BIGINT here (times, steps, ids) fits a double.
pg.types.setTypeParser(20, (v) => Number(v));

/** Rewrites `?` placeholders to `$1, $2, …`, leaving quoted text alone. */
export function toPgPlaceholders(sql: string): string {
  let n = 0;
  let out = "";
  let quote: string | null = null;
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = null;
      out += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      out += ch;
    } else if (ch === "?") {
      out += `$${++n}`;
    } else {
      out += ch;
    }
  }
  return out;
}

const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004"]);

/** Database unreachable or restarting: the client gets a retryable 503. */
function translate(err: unknown): unknown {
  const code = (err as { code?: string } | null)?.code;
  const msg = err instanceof Error ? err.message : "";
  if ((code && CONNECTION_CODES.has(code)) || /Connection terminated|connection timeout|Client has encountered a connection error/i.test(msg)) {
    return temporarilyUnavailable(`database unavailable: ${msg || code}`);
  }
  return err;
}

function executor(q: (sql: string, params: readonly SqlValue[]) => Promise<pg.QueryResult>): SqlExecutor {
  return {
    dialect: "postgres",
    all: async <T>(sql: string, params: readonly SqlValue[] = []) => (await q(sql, params)).rows as T[],
    get: async <T>(sql: string, params: readonly SqlValue[] = []) => (await q(sql, params)).rows[0] as T | undefined,
    run: async (sql: string, params: readonly SqlValue[] = []) => ({ changes: (await q(sql, params)).rowCount ?? 0 }),
    runMany: async (sql: string, rows: readonly (readonly SqlValue[])[]) => {
      for (const r of rows) await q(sql, r);
    },
  };
}

/** PostgreSQL through a `pg` connection pool. */
export class PostgresDriver implements SqlDriver {
  readonly dialect = "postgres" as const;
  private readonly base: SqlExecutor;

  private constructor(private readonly pool: pg.Pool) {
    this.base = executor((sql, params) => this.query(pool, sql, params));
    // An idle client losing its connection must not crash the process.
    pool.on("error", () => undefined);
  }

  static async connect(uri: string): Promise<PostgresDriver> {
    const pool = new pg.Pool({ connectionString: uri, max: 10, connectionTimeoutMillis: 5000 });
    const driver = new PostgresDriver(pool);
    await driver.get("SELECT 1");
    return driver;
  }

  private async query(c: pg.Pool | pg.PoolClient, sql: string, params: readonly SqlValue[]): Promise<pg.QueryResult> {
    try {
      return await c.query(toPgPlaceholders(sql), params as unknown[]);
    } catch (err) {
      throw translate(err);
    }
  }

  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.base.all<T>(sql, params);
  }
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.base.get<T>(sql, params);
  }
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }> {
    return this.base.run(sql, params);
  }
  runMany(sql: string, rows: readonly (readonly SqlValue[])[]): Promise<void> {
    return this.transaction((tx) => tx.runMany(sql, rows));
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw translate(err);
    }
    let broken = false;
    try {
      await this.query(client, "BEGIN", []);
      const result = await fn(executor((sql, params) => this.query(client, sql, params)));
      await this.query(client, "COMMIT", []);
      return result;
    } catch (err) {
      try {
        await client.query("ROLLBACK");
      } catch {
        broken = true;
      }
      throw translate(err);
    } finally {
      client.release(broken);
    }
  }

  async exec(sql: string): Promise<void> {
    try {
      await this.pool.query(sql);
    } catch (err) {
      throw translate(err);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
