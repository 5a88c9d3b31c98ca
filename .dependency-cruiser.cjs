/**
 * The layers of src/, checked in CI (`npm run depcruise`, part of `npm test`).
 * See docs/ARCHITECTURE.md for the picture. From top to bottom:
 *
 *   cli → api → domains → search, store, client → errors, paging, config, version, wire
 *   (search imports only store and the floor)
 *
 * A file may import its own layer's folder-mates and anything below it, never
 * upward; another folder only through its index.ts. Tests (`*.test.ts`) may
 * reach anywhere, since building a whole app is how an HTTP test works.
 */
const DOMAINS = "(tracking|registry|artifacts|projects|queue|serving|monitoring|retraining|data|pipelines|auth)";
const LOWER = "(search|store|client)";
const BOTTOM = "src/(errors|paging|config|version)\\.ts$|^src/wire/";
const TEST = "\\.test\\.ts$|^src/.*/testdata/";

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "A cycle makes two modules one; break it by moving the shared part down a layer. A type-only back-reference is not a cycle at run time.",
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ["type-only"] } },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: "cli-is-the-top",
      severity: "error",
      comment: "Only the CLI imports the CLI.",
      from: { path: "^src/", pathNot: `^src/cli/|${TEST}` },
      to: { path: "^src/cli/" },
    },
    {
      name: "api-only-from-cli",
      severity: "error",
      comment: "The HTTP layer sits above every domain: domains throw errors from src/errors.ts and api/ turns them into replies.",
      from: { path: "^src/", pathNot: `^src/(cli|api)/|${TEST}` },
      to: { path: "^src/api/" },
    },
    {
      name: "domains-not-from-below",
      severity: "error",
      comment: "search/, store/ and client/ serve the domains; they never import one.",
      from: { path: `^src/${LOWER}/|${BOTTOM}`, pathNot: TEST },
      to: { path: `^src/${DOMAINS}/` },
    },
    {
      name: "lower-not-from-bottom",
      severity: "error",
      comment: "errors, paging, config, version and the wire types are the floor: they import nothing of src/ above them.",
      from: { path: BOTTOM, pathNot: TEST },
      to: { path: `^src/${LOWER}/` },
    },
    {
      name: "client-is-standalone",
      severity: "error",
      comment: "The SDK speaks HTTP only: it never imports the server's store or search code.",
      from: { path: "^src/client/", pathNot: TEST },
      to: { path: "^src/(search|store)/" },
    },
    {
      name: "search-speaks-sql",
      severity: "error",
      comment: "The filter grammar knows SQL and nothing else: it imports store/'s types and the floor; each domain hands it a search table.",
      from: { path: "^src/search/", pathNot: TEST },
      to: { path: "^src/", pathNot: `^src/(search|store)/|${BOTTOM}` },
    },
    {
      name: "through-the-door",
      severity: "error",
      comment: "Another folder is reached only through its index.ts.",
      from: { path: "^src/([^/]+)/", pathNot: TEST },
      to: { path: "^src/[^/]+/", pathNot: ["^src/$1/", "^src/[^/]+/index\\.ts$"] },
    },
    {
      name: "web-speaks-http",
      severity: "error",
      comment: "The UI shares the wire types with the server and the SDK, nothing else of src/.",
      from: { path: "^web/src/" },
      to: { path: "^src/", pathNot: "^src/wire/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(dist|node_modules)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    // exportsFields/conditionNames: packages without a "main" (vega-lite) resolve through their "exports" only.
    enhancedResolveOptions: { extensions: [".ts", ".tsx", ".js", ".mjs"], exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
