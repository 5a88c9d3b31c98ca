import Database from "better-sqlite3";
import fs from "node:fs";
import path from "node:path";
import type { SqlDriver, SqlExecutor, SqlValue } from "./driver.js";

/**
 * SQLite through better-sqlite3, in WAL mode. Calls are synchronous inside,
 * so a single connection serves the whole process; an async lock keeps a
 * transaction's statements from interleaving with other requests'.
 */
export class SqliteDriver implements SqlDriver {
  readonly dialect = "sqlite" as const;
  private readonly db: Database.Database;
  private readonly cache = new Map<string, Database.Statement>();
  private lock: Promise<void> = Promise.resolve();
  private inTransaction = false;

  constructor(file: string) {
    if (file !== ":memory:") fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    // NORMAL keeps every committed transaction across a process crash (kill -9);
    // only an OS crash may lose the last ones.
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("busy_timeout = 10000");
    this.db.pragma("foreign_keys = ON");
    this.db.pragma("cache_size = -65536");
    this.db.pragma("temp_store = MEMORY");
    this.db.pragma("mmap_size = 268435456");
    // A checkpoint copies the WAL into the database and syncs both files; at SQLite's default (every
    // 1000 pages) a wide log-batch, which dirties a page per key, paid one after every commit. Every
    // 10000 pages (~40 MB of WAL) a page rewritten by many commits is copied and synced once, and the
    // WAL file is cut back to 64 MB afterwards. Commits stay as durable: each is in the WAL either way.
    this.db.pragma("wal_autocheckpoint = 10000");
    this.db.pragma("journal_size_limit = 67108864");
  }

  private stmt(sql: string): Database.Statement {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      if (this.cache.size > 2000) this.cache.clear();
      this.cache.set(sql, s);
    }
    return s;
  }

  private readonly executor: SqlExecutor = {
    dialect: "sqlite",
    all: async <T>(sql: string, params: readonly SqlValue[] = []) => this.stmt(sql).all(...params) as T[],
    get: async <T>(sql: string, params: readonly SqlValue[] = []) => this.stmt(sql).get(...params) as T | undefined,
    run: async (sql: string, params: readonly SqlValue[] = []) => ({ changes: this.stmt(sql).run(...params).changes }),
    runMany: async (sql: string, rows: readonly (readonly SqlValue[])[]) => {
      const s = this.stmt(sql);
      for (const r of rows) s.run(...r);
    },
  };

  /** Waits for a running transaction so its statements are not mixed with ours. */
  private async outside<T>(fn: () => T): Promise<T> {
    while (this.inTransaction) await this.lock;
    return fn();
  }

  all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return this.outside(() => this.stmt(sql).all(...params) as T[]);
  }

  get<T>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return this.outside(() => this.stmt(sql).get(...params) as T | undefined);
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<{ changes: number }> {
    return this.outside(() => ({ changes: this.stmt(sql).run(...params).changes }));
  }

  runMany(sql: string, rows: readonly (readonly SqlValue[])[]): Promise<void> {
    return this.outside(() => {
      const s = this.stmt(sql);
      this.db.transaction(() => {
        for (const r of rows) s.run(...r);
      })();
    });
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const previous = this.lock;
    let release!: () => void;
    this.lock = new Promise<void>((resolve) => (release = resolve));
    await previous;
    this.inTransaction = true;
    try {
      this.db.exec("BEGIN IMMEDIATE");
      try {
        const result = await fn(this.executor);
        this.db.exec("COMMIT");
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec("ROLLBACK");
        throw err;
      }
    } finally {
      this.inTransaction = false;
      release();
    }
  }

  async exec(sql: string): Promise<void> {
    await this.outside(() => this.db.exec(sql));
  }

  async close(): Promise<void> {
    await this.lock;
    this.cache.clear();
    this.db.close();
  }
}
