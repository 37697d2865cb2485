import { join } from "node:path";
import type { Logger } from "pino";
import { startBroker, type Broker } from "../../src/broker.ts";
import { resolveBrokerConfig } from "../../src/config/broker-config.ts";
import { readLegacyMetadata } from "../../src/metadata/legacy-migration.ts";
import { formatSingleVoterStorage } from "../../src/storage/format.ts";

/** A single-node broker in this process, its log dir under `dir`, for tests that drive the dispatcher directly. */
export async function startInProcessBroker(
  dir: string,
  logger: Logger,
  overrides: readonly string[] = [],
): Promise<Broker> {
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
  const legacy = await readLegacyMetadata(join(dir, "logs"));
  return startBroker({ config, clusterId: await formatSingleVoterStorage(config, legacy?.clusterId ?? null), logger });
}
