import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { BrokerConfig } from "../config/broker-config.ts";
import type { MetadataRecordAndVersion } from "../protocol/index.ts";
import { bootstrapRecords, writeBootstrapCheckpoint } from "../quorum/bootstrap-checkpoint.ts";
import { isStorageFailure } from "../log/errors.ts";
import { ExitCode, StartupError } from "../runtime/exit-codes.ts";
import { randomDirectoryId, randomKafkaUuid } from "./kafka-uuid.ts";
import {
  META_PROPERTIES,
  parseMetaProperties,
  readMetaProperties,
  writeMetaProperties,
  type MetaProperties,
} from "./meta-properties.ts";

/** Each storage dir's meta.properties (null: not formatted), read once at start and passed down. */
export type StoredMeta = ReadonlyMap<string, MetaProperties | null>;

/**
 * The meta.properties of every dir: parsed from `texts` where the config loader read them already, read here for
 * the others. Throws MetaPropertiesError for a file that is not a valid version 1 file. With `failed`, a dir whose
 * file cannot be read for a storage failure (isStorageFailure: an I/O error, a path that is not a directory) is left
 * out and recorded there with the error, for the node to start without it; without, the error is thrown.
 */
export async function readStoredMeta(
  dirs: readonly string[],
  texts?: ReadonlyMap<string, string | null>,
  failed?: Map<string, unknown>,
): Promise<Map<string, MetaProperties | null>> {
  const stored = new Map<string, MetaProperties | null>();
  for (const dir of dirs) {
    const text = texts?.get(dir);
    if (text !== undefined) {
      stored.set(dir, text === null ? null : parseMetaProperties(text, join(dir, META_PROPERTIES)));
      continue;
    }
    try {
      stored.set(dir, await readMetaProperties(dir));
    } catch (err) {
      if (failed === undefined || !isStorageFailure(err)) throw err;
      failed.set(dir, err);
    }
  }
  return stored;
}

/** The dirs that have no meta.properties yet. */
export function unformattedDirs(stored: StoredMeta): string[] {
  return [...stored].filter(([, meta]) => meta === null).map(([dir]) => dir);
}

/**
 * Writes meta.properties, each with its own directory id, and `bootstrap.checkpoint` (the records the first active
 * controller starts the metadata log with) into every given directory, as kafka-storage format does. Returns what it
 * wrote. `directoryIds` fixes the id of some dirs (a dynamic voter's metadata dir has the id its voter entry names).
 */
export async function formatDirs(
  dirs: readonly string[],
  clusterId: string,
  nodeId: number,
  bootstrap: readonly MetadataRecordAndVersion[] = bootstrapRecords(),
  directoryIds: ReadonlyMap<string, string> = new Map(),
): Promise<Map<string, MetaProperties>> {
  const written = new Map<string, MetaProperties>();
  for (const dir of dirs) {
    const meta = { clusterId, nodeId, directoryId: directoryIds.get(dir) ?? randomDirectoryId() };
    // The bootstrap file first: a directory with meta.properties counts as formatted.
    await mkdir(dir, { recursive: true });
    await writeBootstrapCheckpoint(dir, bootstrap);
    await writeMetaProperties(dir, meta);
    written.set(dir, meta);
  }
  return written;
}

/**
 * Refuses to start a node of a multi-voter quorum on an unformatted storage dir: formatting it here would invent a
 * cluster id of its own, and an empty voter could help elect a leader that lacks committed data (ADR 0022).
 * A single-voter node formats itself once its cluster id is known (see formatSingleVoterStorage).
 */
export function requireFormattedStorage(config: BrokerConfig, stored: StoredMeta): void {
  const dynamic = config.controllerQuorumBootstrapServers.length > 0;
  if (config.controllerQuorumVoters.length <= 1 && !dynamic) return;
  const missing = unformattedDirs(stored);
  if (missing.length === 0) return;
  const why = dynamic
    ? "controller.quorum.bootstrap.servers is set (dynamic voters), so storage must be formatted before the first " +
      "start; run `tributary-storage format --cluster-id <id> --config <server.properties>` with --standalone on the " +
      "first controller and --no-initial-controllers on the others (or --initial-controllers on every controller)"
    : `controller.quorum.voters names ${config.controllerQuorumVoters.length} voters, so storage must be formatted ` +
      "before the first start; run `tributary-storage format --cluster-id <id> --config <server.properties>` " +
      "with the same cluster id on every node (`tributary-storage random-uuid` makes one)";
  throw new StartupError(
    `storage is not formatted: ${missing.map((d) => join(d, META_PROPERTIES)).join(", ")} not found; ${why}`,
    ExitCode.Config,
  );
}

/**
 * The node's cluster id, its storage dirs formatted first where the node may format itself (a single voter;
 * requireFormattedStorage refused the rest): the configured or stored id, else the one a data dir from before
 * formatting existed kept in its metadata file (`legacyClusterId`), else a new 22-character one. Returns the stored
 * meta.properties as they are now.
 */
export async function formatSingleVoterStorage(
  config: BrokerConfig,
  stored: StoredMeta,
  legacyClusterId: string | null,
): Promise<{ clusterId: string; stored: StoredMeta }> {
  let found: string | undefined;
  for (const meta of stored.values()) found ??= meta?.clusterId;
  const clusterId = config.clusterId ?? found ?? legacyClusterId ?? randomKafkaUuid();
  const written = await formatDirs(unformattedDirs(stored), clusterId, config.nodeId);
  return { clusterId, stored: new Map([...stored].map(([dir, meta]) => [dir, meta ?? written.get(dir) ?? null])) };
}

/**
 * The directory id of each of `dirs` (formatted), by dir, as a broker registers them; a dir formatted before
 * directory ids existed gets one now, written into its meta.properties, as Kafka does at start. A dir whose write
 * fails for a storage failure is recorded in `failed` (and has no id here) when given.
 */
export async function directoryIds(
  dirs: readonly string[],
  stored: StoredMeta,
  failed?: Map<string, unknown>,
): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const dir of dirs) {
    const meta = stored.get(dir);
    if (meta === undefined || meta === null) throw new Error(`${join(dir, META_PROPERTIES)} is missing`);
    let id = meta.directoryId;
    if (id === undefined) {
      id = randomDirectoryId();
      try {
        await writeMetaProperties(dir, { ...meta, directoryId: id });
      } catch (err) {
        if (failed === undefined || !isStorageFailure(err)) throw err;
        failed.set(dir, err);
        continue;
      }
    }
    ids.set(dir, id);
  }
  return ids;
}
