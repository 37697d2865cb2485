// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "**/dist/**",
      "**/node_modules/**",
      "**/generated/**",
      "e2e/artifacts/**",
      "broker/bench/out/**",
      ".cache/**",
      "charts/**",
      "**/*.js",
      "**/*.cjs",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ["vitest.config.ts"] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
    },
  },
  {
    // The protocol library is sans-I/O: it may not reach for sockets, files, timers or the rest of the broker.
    files: ["broker/src/protocol/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["node:net", "node:fs", "node:fs/*", "node:tls", "node:timers", "node:child_process", "node:http"],
              message: "The protocol library does no I/O.",
            },
            { group: ["../../*", "!../../protocol/*"], message: "The protocol library imports only itself." },
          ],
        },
      ],
    },
  },
  {
    // The admin client owns its sockets and uses only the protocol library of the broker.
    files: ["broker/src/admin/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["../*", "!../protocol", "!../protocol/*"],
              message: "The admin client imports only the protocol library and itself.",
            },
            {
              // The protocol's index and records load native compression modules, which the operator image need not
              // carry: the admin client takes the codecs, framing, errors and primitives directly.
              group: ["../protocol/index.ts", "../protocol/records/*", "../protocol/records/**"],
              message: "The admin client does not load record batches (native compression modules).",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["broker/src/log/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["**/protocol/generated/*", "**/protocol/generated/**"],
              message: "Storage knows nothing of wire types.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["broker/src/handlers/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["node:net", "node:tls", "**/network/*", "**/network/**"],
              message: "Request handlers never touch sockets.",
            },
            {
              group: ["**/raft/*", "**/raft/**", "**/quorum/*", "**/quorum/**"],
              message: "Handlers read the metadata image and forward writes; they never drive the quorum (ADR 22).",
            },
          ],
        },
      ],
    },
  },
  {
    // The Raft core is sans-I/O (ADR 22): the simulation and the real driver feed it messages, ticks and flush
    // completions, and carry out the writes and sends it returns. Randomness is injected, so no node:crypto either.
    files: ["broker/src/raft/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["node:*"], message: "The Raft core does no I/O and reads no clock or randomness." },
            {
              group: ["../*", "!../raft/*"],
              message: "The Raft core imports only itself; wire mapping is quorum/'s job.",
            },
          ],
        },
      ],
    },
  },
  {
    // The controller turns commands into metadata records; it decides from an image and does no I/O (ADR 22).
    files: ["broker/src/controller/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["node:fs", "node:fs/*", "node:net", "node:tls", "node:timers", "node:child_process", "node:http"],
              message: "The controller is pure: commands in, records out.",
            },
            {
              group: ["**/network/**", "**/handlers/**", "**/quorum/**", "**/log/**"],
              message: "The controller sees only the image, record types and the raft core's types.",
            },
          ],
        },
      ],
    },
  },
  {
    // The leader's replication decisions are pure (ADR 24): the clock, log ends and registrations are passed in.
    files: ["broker/src/replication/leader-state.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["node:*"], message: "The leader state does no I/O and reads no clock." },
            {
              group: ["../*", "!../protocol", "!../protocol/errors.ts"],
              message: "The leader state needs only error codes.",
            },
          ],
        },
      ],
    },
  },
  {
    // The replication throttles' accounting is pure (ADR 24): every call carries the time.
    files: ["broker/src/replication/quota.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["node:*"], message: "The quota accounting does no I/O and reads no clock." },
            { group: ["../*", "./*"], message: "The quota accounting imports nothing." },
          ],
        },
      ],
    },
  },
  {
    // The follower's decisions are pure too (ADR 24): the fetcher passes the log's view, the answer and the time.
    files: ["broker/src/replication/fetcher/follower-state.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["node:*"], message: "The follower's decisions do no I/O and read no clock." },
            {
              group: [
                "../../*",
                "!../../protocol",
                "!../../protocol/errors.ts",
                "!../../protocol/records",
                "!../../protocol/records/batch-header.ts",
                "!../../protocol/records/split.ts",
                "!../../log",
                "!../../log/index.ts",
              ],
              message: "The follower's decisions need only error codes, batch framing and the log's types.",
            },
          ],
        },
      ],
    },
  },
  {
    // The metadata image is built by applying committed records; it is a pure value (ADR 22).
    files: ["broker/src/metadata/image/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["node:fs", "node:fs/*", "node:net", "node:tls", "node:timers", "node:child_process", "node:http"],
              message: "The metadata image is a pure value.",
            },
            {
              group: ["**/network/**", "**/handlers/**", "**/controller/**", "**/quorum/**", "**/raft/**"],
              message: "The image depends only on record types.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["operator/src/**/*.ts"],
    ignores: ["operator/src/kube/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        { paths: [{ name: "@kubernetes/client-node", message: "Only operator/src/kube talks to the API server." }] },
      ],
    },
  },
  {
    // The chart runs the operator with --jitless (docs/operator.md, Operator memory), which turns WebAssembly off, and
    // Node's fetch and WebSocket (undici) need it: with fetch, every restart-safety probe failed and rolls held.
    files: ["operator/src/**/*.ts"],
    rules: {
      "no-restricted-globals": [
        "error",
        {
          name: "fetch",
          message: "Use node:http/node:https: fetch needs WebAssembly, off under the chart's --jitless.",
        },
        { name: "WebSocket", message: "WebSocket needs WebAssembly, off under the chart's --jitless." },
        { name: "WebAssembly", message: "Off under the chart's --jitless (docs/operator.md, Operator memory)." },
      ],
    },
  },
);
