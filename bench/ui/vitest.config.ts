import { defineConfig } from "vitest/config";

// Browser benchmarks print figures; they are not part of `npm test`.
export default defineConfig({
  test: {
    include: ["bench/ui/ui-perf.ts"],
    testTimeout: 3_600_000,
    hookTimeout: 3_600_000,
    pool: "forks",
    silent: false,
  },
});
