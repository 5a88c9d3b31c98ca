import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const pkg = require("../package.json") as { version: string };

/** The package version, shown by `mloop --version` and in the `X-Mloop-Version` header. */
export const VERSION: string = pkg.version;

/**
 * The MLflow server version whose REST API mloop serves, answered on `/version` as MLflow's own
 * server does: MLflow clients gate features on it (e.g. span logging needs 3.4 or newer).
 */
export const MLFLOW_COMPAT_VERSION = "3.17.2";
