import { ConfigError } from "../config.js";
import type { SqlDriver } from "./driver.js";
import { migrate, type Migration } from "./migrations.js";
import { MIGRATIONS } from "./schema/index.js";
import { SqliteDriver } from "./sqlite.js";

/** Path of the SQLite file named by `sqlite:///relative`, `sqlite:////absolute` or `sqlite:///:memory:`. */
export function sqlitePath(uri: string): string {
  const rest = uri.slice("sqlite://".length);
  if (rest === "/:memory:" || rest === ":memory:" || rest === "") return ":memory:";
  if (!rest.startsWith("/")) throw new ConfigError(`malformed SQLite URI '${uri}': expected sqlite:///path`);
  // MLflow's convention: three slashes then a relative path, four for an absolute one.
  return rest.slice(1);
}

/** Opens the database a store URI names and brings its schema up to date. */
export async function openDatabase(uri: string): Promise<SqlDriver> {
  let driver: SqlDriver;
  if (uri.startsWith("sqlite://")) {
    driver = new SqliteDriver(sqlitePath(uri));
  } else if (/^postgres(ql)?(\+\w+)?:\/\//.test(uri)) {
    const { PostgresDriver } = await import("./postgres.js");
    driver = await PostgresDriver.connect(uri.replace(/^postgres(ql)?\+\w+:/, "postgresql:"));
  } else {
    throw new ConfigError(`unsupported backend store URI '${uri}'`);
  }
  await migrate(driver, MIGRATIONS);
  return driver;
}

/**
 * Opens a SQLite file that is a local cache of some domain (not the tracking
 * store) with that domain's own migrations: the data state beside a DVC
 * repository, for one. The driver and its pragmas stay in one place.
 */
export async function openSqliteFile(file: string, migrations: readonly Migration[]): Promise<SqlDriver> {
  const driver = new SqliteDriver(file);
  try {
    await migrate(driver, migrations);
  } catch (err) {
    await driver.close();
    throw err;
  }
  return driver;
}
