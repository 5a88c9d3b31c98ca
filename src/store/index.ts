/**
 * The store seam: the one door to `src/store/`. Domains speak SQL through
 * {@link SqlDriver}; {@link openDatabase} picks SQLite or PostgreSQL from a URI
 * (PostgreSQL's driver is loaded only when one is opened) and migrates it.
 */
export { isUniqueViolation, type SqlDriver, type SqlExecutor, type SqlValue, type Row, type Dialect } from "./driver.js";
export { openDatabase, openSqliteFile, sqlitePath } from "./factory.js";
export { migrate, type Migration } from "./migrations.js";
