import { join } from "node:path";
import type { BrokerConfig } from "../config/broker-config.ts";
import { ExitCode, StartupError } from "../runtime/exit-codes.ts";
import { randomDirectoryId, randomKafkaUuid } from "./kafka-uuid.ts";
import { META_PROPERTIES, readMetaProperties, writeMetaProperties } from "./meta-properties.ts";

/** The log dirs that have no meta.properties yet. */
export async function unformattedDirs(dirs: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const dir of dirs) if ((await readMetaProperties(dir)) === null) out.push(dir);
  return out;
}

/** Writes meta.properties, each with its own directory id, into every given directory. */
export async function formatDirs(dirs: readonly string[], clusterId: string, nodeId: number): Promise<void> {
  for (const dir of dirs) await writeMetaProperties(dir, { clusterId, nodeId, directoryId: randomDirectoryId() });
}

/**
 * Refuses to start a node of a multi-voter quorum on an unformatted log dir: formatting it here would invent a
 * cluster id of its own, and an empty voter could help elect a leader that lacks committed data (ADR 0022).
 * A single-voter node formats itself once its cluster id is known (see startBroker).
 */
export async function requireFormattedStorage(config: BrokerConfig): Promise<void> {
  if (config.controllerQuorumVoters.length <= 1) return;
  const missing = await unformattedDirs(config.logDirs);
  if (missing.length === 0) return;
  throw new StartupError(
    `storage is not formatted: ${missing.map((d) => join(d, META_PROPERTIES)).join(", ")} not found; ` +
      `controller.quorum.voters names ${config.controllerQuorumVoters.length} voters, so storage must be formatted ` +
      "before the first start; run `tributary-storage format --cluster-id <id> --config <server.properties>` " +
      "with the same cluster id on every node (`tributary-storage random-uuid` makes one)",
    ExitCode.Config,
  );
}

/**
 * The node's cluster id, its log dirs formatted first where the node may format itself (a single voter;
 * requireFormattedStorage refused the rest): the configured or stored id, else the one a data dir from before
 * formatting existed kept in its metadata file (`legacyClusterId`), else a new 22-character one.
 */
export async function formatSingleVoterStorage(config: BrokerConfig, legacyClusterId: string | null): Promise<string> {
  let stored: string | undefined;
  for (const dir of config.logDirs) stored ??= (await readMetaProperties(dir))?.clusterId;
  const clusterId = config.clusterId ?? stored ?? legacyClusterId ?? randomKafkaUuid();
  await formatDirs(await unformattedDirs(config.logDirs), clusterId, config.nodeId);
  return clusterId;
}

/**
 * The directory id of every (formatted) log dir, in log.dirs order, as a broker registers them; a dir formatted
 * before directory ids existed gets one now, written into its meta.properties, as Kafka does at start.
 */
export async function directoryIds(dirs: readonly string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const dir of dirs) {
    const meta = await readMetaProperties(dir);
    if (meta === null) throw new Error(`${join(dir, META_PROPERTIES)} is missing`);
    let id = meta.directoryId;
    if (id === undefined) {
      id = randomDirectoryId();
      await writeMetaProperties(dir, { ...meta, directoryId: id });
    }
    ids.push(id);
  }
  return ids;
}
