import type { Dialect, SqlDriver } from "./driver.js";

/**
 * Versioned schema migrations, applied in order, each exactly once, inside a
 * transaction. A migration's SQL is shared by both engines; these tokens are
 * replaced per dialect:
 *   {{ID}}      auto-incrementing integer primary key
 *   {{DOUBLE}}  64-bit float
 *   {{BLOB}}    binary
 * Never edit a migration that has landed: add a new one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const TOKENS: Record<Dialect, Record<string, string>> = {
  sqlite: { ID: "INTEGER PRIMARY KEY AUTOINCREMENT", DOUBLE: "REAL", BLOB: "BLOB" },
  postgres: { ID: "BIGSERIAL PRIMARY KEY", DOUBLE: "DOUBLE PRECISION", BLOB: "BYTEA" },
};

export function renderMigration(sql: string, dialect: Dialect): string {
  return sql.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const value = TOKENS[dialect][name];
    if (value === undefined) throw new Error(`unknown migration token {{${name}}}`);
    return value;
  });
}

export async function migrate(driver: SqlDriver, migrations: readonly Migration[]): Promise<number[]> {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.version === sorted[i - 1]!.version) {
      throw new Error(`two migrations share version ${sorted[i]!.version}`);
    }
  }
  // One query on start-up when the schema is current; the table is made only when it is missing.
  let done: Set<number>;
  try {
    done = new Set((await driver.all<{ version: number }>("SELECT version FROM schema_migrations")).map((r) => Number(r.version)));
  } catch {
    await driver.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    );
    done = new Set();
  }
  const applied: number[] = [];
  for (const m of sorted.filter((x) => !done.has(x.version))) {
    await driver.transaction(async (tx) => {
      if (driver.dialect === "postgres") {
        // Replicas starting together must not apply the same migration twice.
        await tx.run("SELECT pg_advisory_xact_lock(4242)");
      }
      const done = await tx.get("SELECT version FROM schema_migrations WHERE version = ?", [m.version]);
      if (done) return;
      for (const statement of splitStatements(renderMigration(m.sql, driver.dialect))) {
        await tx.run(statement);
      }
      await tx.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", [
        m.version,
        m.name,
        Date.now(),
      ]);
      applied.push(m.version);
    });
  }
  return applied;
}

/** Splits a migration script on `;` at line ends (migrations hold no procedural code). */
export function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.replace(/^\s*--.*$/gm, "").trim())
    .filter(Boolean);
}
