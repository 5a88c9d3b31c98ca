import type { ServerConfig } from "../config.js";
import type { SqlDriver } from "../store/index.js";

/**
 * What every domain's `registerX(app, deps)` receives: the server's config and
 * its open database. A domain that needs another's services takes them as a
 * second argument, so the order of `buildApp`'s calls is the dependency order.
 */
export interface DomainDeps {
  config: ServerConfig;
  db: SqlDriver;
}
