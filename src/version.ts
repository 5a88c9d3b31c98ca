import fs from "node:fs";
import path from "node:path";

/** The package's own package.json: the nearest one above this module (dist/ and dist/bundle/ alike). */
function packageVersion(): string {
  for (let dir = import.meta.dirname; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "mloop" && typeof pkg.version === "string") return pkg.version;
    } catch {
      // not here
    }
    if (path.dirname(dir) === dir) return "0.0.0";
  }
}

/** The package version, shown by `mloop --version` and in the `X-Mloop-Version` header. */
export const VERSION: string = packageVersion();

/**
 * The MLflow server version whose REST API mloop serves, answered on `/version` as MLflow's own
 * server does: MLflow clients gate features on it (e.g. span logging needs 3.4 or newer).
 */
export const MLFLOW_COMPAT_VERSION = "3.17.2";
