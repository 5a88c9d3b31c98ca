// Bundles the CLI (and so the server) from dist/ into dist/bundle/: one file for what every start
// loads, and a chunk for each part loaded on demand (`import()`), so a start reads a few files
// instead of hundreds of modules. bin/mloop.js runs it. What has native code, or is large and
// needed only by some commands, stays a package loaded at run time.
import { build } from "esbuild";
import { rmSync } from "node:fs";

const EXTERNAL = [
  "better-sqlite3", // native
  "onnxruntime-node", // native
  "@aws-sdk/*", // S3 only, loaded on first use
  "bullmq",
  "ioredis", // the run queue only
  "pg", // PostgreSQL only
  "protobufjs", // OTLP protobuf only
  "vega",
  "vega-lite", // plots only
  "hyparquet", // Parquet only
  "playwright-core",
];

const out = new URL("../dist/bundle/", import.meta.url).pathname;
rmSync(out, { recursive: true, force: true });
await build({
  // profile-worker.js sits beside the chunk that starts it, as it does in dist/monitoring/
  entryPoints: { cli: "dist/cli/entry.js", "profile-worker": "dist/monitoring/profile-worker.js" },
  outdir: out,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  keepNames: true,
  external: EXTERNAL,
  logLevel: "warning",
  // CommonJS packages inside an ES module bundle still call require() for node's own modules.
  banner: { js: 'import { createRequire as __bundleRequire } from "node:module"; const require = __bundleRequire(import.meta.url);' },
});
