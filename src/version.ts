import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const pkg = require("../package.json") as { version: string };

/** The package version, shown by `mloop --version` and `/version`. */
export const VERSION: string = pkg.version;
