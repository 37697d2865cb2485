// `make e2e`: tiers 2 and 3 (and kind). Kept out of `make test` by the *.e2e.ts suffix; one file at a time because
// tier 3 owns the machine's kubelet, iptables and cgroups.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["e2e/test/**/*.e2e.ts"],
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
