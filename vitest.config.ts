import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["broker/test/**/*.test.ts", "operator/test/**/*.test.ts", "e2e/test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
