import pg from "pg";
import { invalidParameter, temporarilyUnavailable } from "../errors.js";
import type { SqlDriver, SqlExecutor, SqlValue } from "./driver.js";

/**
 * PostgreSQL behind the {@link SqlDriver} seam. Store SQL is written once for
 * SQLite and PostgreSQL; this module makes PostgreSQL answer the way SQLite
 * does: `?` placeholders, numbers (not strings) for BIGINT/NUMERIC, 1/0 for
 * booleans, NaN and ±Infinity through DOUBLE PRECISION, and transactions that
 * behave as if they ran one after another (deadlocks and serialization
 * failures are retried). A database that is restarting or unreachable gives
 * callers a retryable TEMPORARILY_UNAVAILABLE (HTTP 503) and the pool
 * reconnects by itself when it is back.
 */

const OID = { BOOL: 16, INT8: 20, INT2: 21, INT4: 23, NUMERIC: 1700 } as const;

// Per pool, never global: other pg users in the same process keep pg's defaults.
const TYPES = {
  getTypeParser(oid: number, format?: string): (value: string) => unknown {
    // Times, steps and ids fit a double exactly; SQLite returns numbers for them too.
    if (oid === OID.INT8 || oid === OID.NUMERIC) return (v: string) => Number(v);
    if (oid === OID.BOOL) return (v: string) => (v === "t" ? 1 : 0);
    return pg.types.getTypeParser(oid, (format ?? "text") as "text");
  },
};

const placeholderCache = new Map<string, string>();

/**
 * Rewrites `?` placeholders to `$1, $2, …`. Left alone: `?` inside '…' strings
 * (with '' escapes and E'…' backslash escapes), "…" identifiers, $tag$…$tag$
 * bodies and comments, and the jsonb operators `?|` and `?&`. `??` stands
 * for a literal `?` (the jsonb key-exists operator).
 */
export function toPgPlaceholders(sql: string): string {
  const cached = placeholderCache.get(sql);
  if (cached !== undefined) return cached;
  let n = 0;
  let out = "";
  let i = 0;
  const len = sql.length;
  while (i < len) {
    const ch = sql[i]!;
    const next = sql[i + 1];
    if (ch === "'") {
      const escapes = i > 0 && /[eE]/.test(sql[i - 1]!) && !/[\w$]/.test(sql[i - 2] ?? "");
      let j = i + 1;
      while (j < len) {
        if (escapes && sql[j] === "\\") j += 2;
        else if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
        else if (sql[j] === "'") break;
        else j++;
      }
      out += sql.slice(i, j + 1);
      i = j + 1;
    } else if (ch === '"') {
      const j = sql.indexOf('"', i + 1);
      const end = j === -1 ? len : j + 1;
      out += sql.slice(i, end);
      i = end;
    } else if (ch === "-" && next === "-") {
      const j = sql.indexOf("\n", i);
      const end = j === -1 ? len : j;
      out += sql.slice(i, end);
      i = end;
    } else if (ch === "/" && next === "*") {
      const j = sql.indexOf("*/", i + 2);
      const end = j === -1 ? len : j + 2;
      out += sql.slice(i, end);
      i = end;
    } else if (ch === "$" && !/[\w$]/.test(sql[i - 1] ?? "")) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const j = sql.indexOf(tag[0], i + tag[0].length);
        const end = j === -1 ? len : j + tag[0].length;
        out += sql.slice(i, end);
        i = end;
      } else {
        out += ch;
        i++;
      }
    } else if (ch === "?") {
      if (next === "?") {
        out += "?";
        i += 2;
      } else if ((next === "|" && sql[i + 2] !== "|") || next === "&") {
        out += ch + next;
        i += 2;
      } else {
        out += `$${++n}`;
        i++;
      }
    } else {
      out += ch;
      i++;
    }
  }
  if (placeholderCache.size > 5000) placeholderCache.clear();
  placeholderCache.set(sql, out);
  return out;
}

/** SQLSTATEs and socket errors that mean "the database is not reachable right now". */
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, shutting down, in recovery)
  "57P05", // idle_session_timeout
  "08000",
  "08001",
  "08003",
  "08004",
  "08006",
  "53300", // too_many_connections
  "25006", // read_only_sql_transaction: a standby was promoted/demoted under us
]);
const UNAVAILABLE_MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed|terminating connection|the database system is (starting up|shutting down|in recovery)|Query read timeout/i;

/** Serialization failure and deadlock: the transaction can simply run again. */
const RETRY_CODES = new Set(["40001", "40P01"]);

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** True when the error means the database is unreachable or restarting. */
export function isUnavailable(err: unknown): boolean {
  const code = errorCode(err);
  if (code && UNAVAILABLE_CODES.has(code)) return true;
  const msg = err instanceof Error ? err.message : "";
  if (UNAVAILABLE_MESSAGES.test(msg)) return true;
  // AggregateError from dual-stack connects: look at the parts.
  const parts = (err as { errors?: unknown[] } | null)?.errors;
  return Array.isArray(parts) && parts.some(isUnavailable);
}

/** Database unreachable or restarting: the client gets a retryable 503. */
function translate(err: unknown): unknown {
  if (isUnavailable(err)) {
    const msg = err instanceof Error && err.message ? err.message : (errorCode(err) ?? "connection lost");
    return temporarilyUnavailable(`The database is temporarily unavailable (${msg}); retry the request.`);
  }
  // A value PostgreSQL's text cannot hold (a NUL character, \u0000 in a JSON string): the
  // request's fault, so MLflow's INVALID_PARAMETER_VALUE rather than a 500.
  const code = errorCode(err);
  if (code && UNSTORABLE_CODES.has(code)) {
    return invalidParameter("A request value contains a character the database cannot store (a NUL character, U+0000).");
  }
  return err;
}

/** character_not_in_repertoire (NUL in text) and untranslatable_character (\u0000 in jsonb). */
const UNSTORABLE_CODES = new Set(["22021", "22P05"]);

type Query = (sql: string, params: readonly SqlValue[]) => Promise<pg.QueryResult>;

/** Most bind parameters one statement may carry (the wire protocol counts them in 16 bits). */
const MAX_PARAMS = 65535;
/** Rows per multi-row INSERT: large enough to save round trips, small enough to plan quickly. */
const MAX_ROWS = 1000;

interface InsertShape {
  head: string;
  columns: number;
  tail: string;
  /** Positions of the ON CONFLICT target columns when the tail updates rows. */
  key?: number[];
}

const shapeCache = new Map<string, InsertShape | null>();

/**
 * Recognises `INSERT INTO t (a, b, …) VALUES (?, ?, …) [tail]`, the shape
 * {@link SqlExecutor.runMany} is used with, so the rows can go in multi-row
 * statements. Anything else returns null and runs one row at a time.
 */
export function insertShape(sql: string): InsertShape | null {
  const cached = shapeCache.get(sql);
  if (cached !== undefined) return cached;
  let shape: InsertShape | null = null;
  const m = /^\s*(INSERT\s+INTO\s+[\w."]+\s*\(([^()]*)\))\s*VALUES\s*\(\s*(\?(?:\s*,\s*\?)*)\s*\)([\s\S]*)$/i.exec(sql);
  if (m) {
    const columns = m[2]!.split(",").map((c) => c.trim().replace(/^"|"$/g, "").toLowerCase());
    const count = m[3]!.split(",").length;
    const tail = m[4]!.trim();
    if (count === columns.length && !/\?/.test(tail) && !/\bRETURNING\b/i.test(tail)) {
      const update = /^ON\s+CONFLICT\s*(?:\(([^()]*)\))?\s*DO\s+UPDATE\b/i.exec(tail);
      if (!update) {
        shape = { head: m[1]!, columns: count, tail };
      } else if (update[1]) {
        const key = update[1].split(",").map((c) => columns.indexOf(c.trim().replace(/^"|"$/g, "").toLowerCase()));
        if (key.every((k) => k >= 0)) shape = { head: m[1]!, columns: count, tail, key };
      }
    }
  }
  if (shapeCache.size > 2000) shapeCache.clear();
  shapeCache.set(sql, shape);
  return shape;
}

/**
 * Splits rows into rounds in which no two rows share a conflict key, keeping
 * each key's rows in their original order: one multi-row `ON CONFLICT DO
 * UPDATE` per round then does what running the rows one by one would do
 * (PostgreSQL refuses to update one row twice in a statement).
 */
function rounds(rows: readonly (readonly SqlValue[])[], key: readonly number[]): (readonly SqlValue[])[][] {
  const seen = new Map<string, number>();
  const out: (readonly SqlValue[])[][] = [];
  for (const r of rows) {
    const k = JSON.stringify(key.map((i) => (typeof r[i] === "bigint" ? String(r[i]) : r[i])));
    const round = seen.get(k) ?? 0;
    seen.set(k, round + 1);
    (out[round] ??= []).push(r);
  }
  return out;
}

async function runManyWith(q: Query, sql: string, rows: readonly (readonly SqlValue[])[]): Promise<void> {
  if (rows.length === 0) return;
  const shape = rows.length > 1 ? insertShape(sql) : null;
  if (!shape) {
    for (const r of rows) await q(sql, r);
    return;
  }
  const perStatement = Math.max(1, Math.min(MAX_ROWS, Math.floor(MAX_PARAMS / shape.columns)));
  const one = `(${Array.from({ length: shape.columns }, () => "?").join(", ")})`;
  for (const round of shape.key ? rounds(rows, shape.key) : [rows as (readonly SqlValue[])[]]) {
    for (let i = 0; i < round.length; i += perStatement) {
      const chunk = round.slice(i, i + perStatement);
      const values = chunk.length === 1 ? one : Array.from({ length: chunk.length }, () => one).join(", ");
      await q(`${shape.head} VALUES ${values} ${shape.tail}`, chunk.flat());
    }
  }
}

function executor(q: Query): SqlExecutor {
  return {
    dialect: "postgres",
    all: async <T>(sql: string, params: readonly SqlValue[] = []) => (await q(sql, params)).rows as T[],
    get: async <T>(sql: string, params: readonly SqlValue[] = []) => (await q(sql, params)).rows[0] as T | undefined,
    run: async (sql: string, params: readonly SqlValue[] = []) => ({ changes: (await q(sql, params)).rowCount ?? 0 }),
    runMany: (sql: string, rows: readonly (readonly SqlValue[])[]) => runManyWith(q, sql, rows),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface PostgresOptions {
  /** Connections in the pool (default 10). */
  max?: number;
  /** How long a request waits for a free connection or a new one before it gets a 503 (ms, default 5000). */
  connectionTimeoutMillis?: number;
  /** Cancels statements that run longer than this (ms, default: no limit). */
  statementTimeoutMillis?: number;
  /** How often a transaction that hit a deadlock or serialization failure runs again (default 8). */
  transactionRetries?: number;
}

/** Key of the advisory lock that serialises schema changes across server replicas. */
export const SCHEMA_LOCK_KEY = 7_240_911_001;

/** PostgreSQL through a `pg` connection pool. */
export class PostgresDriver implements SqlDriver {
  readonly dialect = "postgres" as const;
  private readonly base: SqlExecutor;
  private readonly retries: number;
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    opts: PostgresOptions,
  ) {
    this.retries = opts.transactionRetries ?? 8;
    this.base = executor((sql, params) => this.query(pool, sql, params));
    // A connection dying while idle (database restart) must not crash the
    // process: the pool drops that client and opens a new one on demand.
    pool.on("error", () => undefined);
  }

  /** Opens a pool and checks that the database answers; an unreachable one fails with TEMPORARILY_UNAVAILABLE. */
  static async connect(uri: string, opts: PostgresOptions = {}): Promise<PostgresDriver> {
    const pool = new pg.Pool({
      connectionString: uri,
      max: opts.max ?? 10,
      connectionTimeoutMillis: opts.connectionTimeoutMillis ?? 5000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      types: TYPES,
      application_name: "mloop",
      ...(opts.statementTimeoutMillis ? { statement_timeout: opts.statementTimeoutMillis } : {}),
    });
    const driver = new PostgresDriver(pool, opts);
    try {
      await driver.get("SELECT 1");
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
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
    if (rows.length === 0) return Promise.resolve();
    if (rows.length === 1) return this.run(sql, rows[0]).then(() => undefined);
    return this.transaction((tx) => tx.runMany(sql, rows));
  }

  /**
   * Runs `fn` in a transaction on one connection. A deadlock or serialization
   * failure rolls back and runs `fn` again (store transactions touch only the
   * database, so that is safe); a lost connection becomes a retryable 503.
   */
  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.transactionOnce(fn);
      } catch (err) {
        const code = errorCode(err);
        if (!code || !RETRY_CODES.has(code)) throw err;
        if (attempt >= this.retries) {
          throw temporarilyUnavailable(`The database could not complete the transaction under contention (${code}); retry the request.`);
        }
        await sleep(Math.min(200, 2 ** attempt) * (0.5 + Math.random()));
      }
    }
  }

  private async transactionOnce<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw translate(err);
    }
    let broken = false;
    // The connection can die between two statements of the transaction (a
    // database restart): without a listener that 'error' event would crash
    // the process. The client is then discarded instead of going back to the pool.
    const onError = () => {
      broken = true;
    };
    client.on("error", onError);
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
      // A transaction that failed on a lost connection leaves a client that must not be reused.
      if (isUnavailable(err) || (err instanceof Error && err.name === "MlflowError" && /temporarily unavailable/.test(err.message))) {
        broken = true;
      }
      throw translate(err);
    } finally {
      client.removeListener("error", onError);
      client.release(broken);
    }
  }

  /**
   * Executes a script (migrations) in one transaction holding the schema
   * advisory lock, so replicas starting together never race on DDL such as
   * `CREATE TABLE IF NOT EXISTS`.
   */
  async exec(sql: string): Promise<void> {
    await this.transaction(async (tx) => {
      await tx.get("SELECT pg_advisory_xact_lock(?)", [SCHEMA_LOCK_KEY]);
      for (const statement of splitScript(sql)) await tx.run(statement);
    });
  }

  /** Connections open and idle, for health reporting. */
  poolStats(): { total: number; idle: number; waiting: number } {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

/** Splits a script on `;` outside quotes and comments (the extended protocol takes one statement at a time). */
export function splitScript(sql: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  const len = sql.length;
  while (i < len) {
    const ch = sql[i]!;
    if (ch === "'" || ch === '"') {
      const j = sql.indexOf(ch, i + 1);
      i = j === -1 ? len : j + 1;
    } else if (ch === "-" && sql[i + 1] === "-") {
      const j = sql.indexOf("\n", i);
      i = j === -1 ? len : j;
    } else if (ch === "/" && sql[i + 1] === "*") {
      const j = sql.indexOf("*/", i + 2);
      i = j === -1 ? len : j + 2;
    } else if (ch === "$") {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag && !/[\w$]/.test(sql[i - 1] ?? "")) {
        const j = sql.indexOf(tag[0], i + tag[0].length);
        i = j === -1 ? len : j + tag[0].length;
      } else i++;
    } else if (ch === ";") {
      out.push(sql.slice(start, i));
      start = i + 1;
      i++;
    } else i++;
  }
  out.push(sql.slice(start));
  return out.map((s) => s.trim()).filter((s) => s.length > 0 && !/^(--[^\n]*\s*)+$/.test(s));
}
