// Builds the web UI into web/dist when the web/ project exists.
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";

if (!existsSync(new URL("../web/vite.config.ts", import.meta.url))) {
  process.exit(0);
}
const r = spawnSync("npx", ["vite", "build", "--config", "web/vite.config.ts", "--logLevel", "warn"], { stdio: "inherit" });
process.exit(r.status ?? 1);
