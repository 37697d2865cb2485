import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/runtime/logger.ts";

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) } };
}

describe("createLogger", () => {
  it("writes one JSON object per line with a level label, an ISO time and the base fields", () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: "info", destination, base: { nodeId: 4 } });
    log.info({ port: 9092 }, "Listening");
    log.debug("hidden");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "info", msg: "Listening", port: 9092, nodeId: 4, pid: process.pid });
    expect(String(lines[0]?.["time"])).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("lets LOG_LEVEL in the environment win over the configured level", () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: "info", destination, env: { LOG_LEVEL: "DEBUG" } });
    log.debug("shown");
    expect(lines.map((l) => l["msg"])).toEqual(["shown"]);
  });
});
