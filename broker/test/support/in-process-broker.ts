import { join } from "node:path";
import type { Logger } from "pino";
import { startBroker, type Broker } from "../../src/broker.ts";
import { resolveBrokerConfig } from "../../src/config/broker-config.ts";

/** A single-node broker in this process, its log dir under `dir`, for tests that drive the dispatcher directly. */
export function startInProcessBroker(dir: string, logger: Logger, overrides: readonly string[] = []): Promise<Broker> {
  const { config } = resolveBrokerConfig({
    overrides: [
      "node.id=1",
      "process.roles=broker,controller",
      `log.dirs=${join(dir, "logs")}`,
      "listeners=PLAINTEXT://127.0.0.1:0",
      ...overrides,
    ],
    cwd: dir,
  });
  return startBroker({ config, logger });
}
