import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// The executables of broker/bin, run as a user would: they load the compiled output under broker/dist.

export type BinTool = "tributary-broker" | "tributary-storage";

export function binPath(tool: BinTool): string {
  return join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", tool);
}

/** This process's environment without what would configure the tools (TRIBUTARY_*, KAFKA_*, LOG_LEVEL). */
export const cleanEnv: Record<string, string | undefined> = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => !k.startsWith("TRIBUTARY_") && !k.startsWith("KAFKA_") && k !== "LOG_LEVEL",
  ),
);

/** Runs a tool to completion (at most 30 s) in the clean environment plus `env`. */
export function runBin(
  tool: BinTool,
  args: readonly string[],
  env: Record<string, string> = {},
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [binPath(tool), ...args], {
    encoding: "utf8",
    env: { ...cleanEnv, ...env },
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
