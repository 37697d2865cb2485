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
);
