import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  encodeRecord,
  LATEST_METADATA_VERSION,
  METADATA_VERSION,
  METADATA_VERSIONS,
  record,
  SUPPORTED_FEATURES,
  defaultFeatureLevel,
  featureDependencyProblem,
} from "../controller/index.ts";
import { writeFileAtomic } from "../log/checkpoint.ts";
import {
  decodeMetadataRecord,
  FeatureLevelRecord,
  MetadataRecordType,
  type MetadataRecordAndVersion,
} from "../protocol/index.ts";
import { decodeSnapshot, encodeSnapshot } from "./snapshot-file.ts";

// The bootstrap metadata of a new cluster (Kafka's BootstrapDirectory): `tributary-storage format` writes
// `bootstrap.checkpoint` into each directory it formats, and the first active controller of an empty metadata log
// appends its records at the start of the log. The file is in Kafka's snapshot format (Kafka's BatchFileWriter: a
// SnapshotHeader batch, the records, a SnapshotFooter batch, epoch 0 and offsets from 0), so kafka-dump-log reads
// it: a FeatureLevelRecord for metadata.version first, then one for each other feature above level 0. A metadata
// directory without the file (formatted before it existed) bootstraps with the latest metadata.version and no other
// feature, as Kafka does without one.

export const BOOTSTRAP_CHECKPOINT = "bootstrap.checkpoint";

export class BootstrapError extends Error {
  override readonly name = "BootstrapError";
}

/** Kafka's release names for the supported metadata.version levels ("3.9-IV0", and "3.9" for the latest of 3.9). */
export function metadataVersionOfRelease(release: string): number | undefined {
  const exact = METADATA_VERSIONS.find((v) => v.name === release);
  if (exact !== undefined) return exact.level;
  const ofRelease = METADATA_VERSIONS.filter((v) => v.name.startsWith(`${release}-`));
  return ofRelease.at(-1)?.level;
}

export function metadataVersionName(level: number): string {
  return METADATA_VERSIONS.find((v) => v.level === level)?.name ?? String(level);
}

function supportedProblem(name: string, level: number): string | null {
  const range = SUPPORTED_FEATURES.get(name);
  if (range === undefined) {
    return `unsupported feature ${name}; supported features are: ${[...SUPPORTED_FEATURES.keys()].join(", ")}`;
  }
  if (level < range.min || level > range.max) {
    return `${name} ${level} is not supported; supported levels are ${range.min}-${range.max}`;
  }
  return null;
}

/**
 * The bootstrap records for `metadataVersion` and the other `features` (Kafka's Formatter and
 * BootstrapMetadata.fromVersions): metadata.version first, then the others by name, each supported feature not named
 * in `features` at its default for `metadataVersion` (defaultFeatureLevel), those at level 0 left out. Throws
 * BootstrapError for a feature or level this controller does not support.
 */
export function bootstrapRecords(
  metadataVersion: number = LATEST_METADATA_VERSION,
  features: ReadonlyMap<string, number> = new Map(),
): MetadataRecordAndVersion[] {
  const mv = supportedProblem(METADATA_VERSION, metadataVersion);
  if (mv !== null) throw new BootstrapError(mv);
  const levels = new Map(features);
  for (const name of SUPPORTED_FEATURES.keys()) {
    if (!levels.has(name)) levels.set(name, defaultFeatureLevel(name, metadataVersion));
  }
  const records = [record(FeatureLevelRecord, { name: METADATA_VERSION, featureLevel: metadataVersion }, 0)];
  for (const name of [...levels.keys()].filter((n) => n !== METADATA_VERSION).sort()) {
    const level = levels.get(name) ?? 0;
    const problem = supportedProblem(name, level);
    if (level !== 0 && problem !== null) throw new BootstrapError(problem);
    if (level > 0) records.push(record(FeatureLevelRecord, { name, featureLevel: level }, 0));
  }
  const dependency = featureDependencyProblem(new Map([...levels, [METADATA_VERSION, metadataVersion]]));
  if (dependency !== undefined) throw new BootstrapError(dependency);
  return records;
}

/** Writes `bootstrap.checkpoint` into `dir` (whole and durable, or not at all). */
export async function writeBootstrapCheckpoint(
  dir: string,
  records: readonly MetadataRecordAndVersion[],
  timestampMs = Date.now(),
): Promise<void> {
  const bytes = encodeSnapshot({ offset: 0, epoch: 0 }, records.map(encodeRecord), { timestampMs });
  await writeFileAtomic(join(dir, BOOTSTRAP_CHECKPOINT), bytes);
}

/**
 * The records of `dir`'s `bootstrap.checkpoint`, or null when it has none. Throws BootstrapError, naming the file,
 * when it cannot be read whole, holds no metadata.version, or a feature level this controller does not support.
 */
export async function readBootstrapCheckpoint(dir: string): Promise<MetadataRecordAndVersion[] | null> {
  const path = join(dir, BOOTSTRAP_CHECKPOINT);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new BootstrapError(`${path}: cannot be read (${String(err)})`, { cause: err });
  }
  let records: MetadataRecordAndVersion[];
  try {
    records = decodeSnapshot(bytes).map((value) => decodeMetadataRecord(value));
  } catch (err) {
    throw new BootstrapError(`${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  let metadataVersion = false;
  for (const r of records) {
    if (r.type !== MetadataRecordType.FeatureLevelRecord) continue;
    const f = r.record as FeatureLevelRecord;
    metadataVersion ||= f.name === METADATA_VERSION;
    const problem = f.featureLevel === 0 ? null : supportedProblem(f.name, f.featureLevel);
    if (problem !== null) throw new BootstrapError(`${path}: ${problem}`);
  }
  if (!metadataVersion) throw new BootstrapError(`${path}: no FeatureLevelRecord for ${METADATA_VERSION}`);
  return records;
}
