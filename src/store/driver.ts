/**
 * The database seam. Domain stores (tracking, registry, …) write portable SQL
 * with `?` placeholders against {@link SqlExecutor}; the SQLite and PostgreSQL
 * drivers implement it. Nothing else imports a database driver.
 */
export type SqlValue = string | number | bigint | null | Buffer;
export type Row = Record<string, unknown>;

export type Dialect = "sqlite" | "postgres";

export interface SqlExecutor {
  readonly dialect: Dialect;
  /** All rows of a query. */
  all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** The first row of a query, or undefined. */
  get<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** A statement without rows; returns how many rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }>;
  /** The same statement once per parameter list, as fast as the engine allows. */
  runMany(sql: string, rows: readonly (readonly SqlValue[])[]): Promise<void>;
}

export interface SqlDriver extends SqlExecutor {
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back
   * when it throws. Statements of other callers never interleave with it.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Executes a script of several statements (migrations). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

/** True when a unique or primary key constraint refused a write. */
export function isUniqueViolation(err: unknown): boolean {
  if (!err || typeof err !== "object") return false;
  const e = err as { code?: string; message?: string };
  return (
    e.code === "23505" ||
    e.code === "SQLITE_CONSTRAINT_PRIMARYKEY" ||
    e.code === "SQLITE_CONSTRAINT_UNIQUE" ||
    (typeof e.message === "string" && e.message.includes("UNIQUE constraint failed"))
  );
}
