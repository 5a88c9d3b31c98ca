#!/usr/bin/env node
// Runs the bundle `npm run build` makes (dist/bundle/: one file to load instead of hundreds of
// modules); a build of dist/ alone (`tsc`) runs as well.
import { existsSync } from "node:fs";

const entry = existsSync(new URL("../dist/bundle/cli.js", import.meta.url)) ? "../dist/bundle/cli.js" : "../dist/cli/entry.js";
const { main } = await import(entry);
main(process.argv).catch((err) => {
  process.stderr.write(`mloop: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
