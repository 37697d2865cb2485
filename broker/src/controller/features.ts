// The features this controller finalizes, with Kafka's metadata.version levels (MetadataVersion at the commit our
// JSON is vendored from): 21 is 3.9-IV0, 22 is 4.0-IV0 (Kafka's latest production level there), 23 is 4.0-IV1, which
// adds eligible leader replicas (KIP-966): PartitionRecord and PartitionChangeRecord at version 2. 21 and 22 write the
// same record versions, so a downgrade from 22 to 21 is safe; 23 changed the metadata (Kafka's didMetadataChange), so
// nothing goes back below it. A new cluster starts at 23 with ELR on, as Kafka 4.1 and later start theirs; an older
// release version named at format (22 or 21) starts it without ELR, and a cluster keeps what it finalized.
// A build stamped as an earlier release (release.ts) knows only the levels up to that release's highest, as an older
// Kafka knows no newer MetadataVersion: the upgrade e2e starts from such a build (one stamped 22 starts without ELR).
import { RELEASE } from "../release.ts";

export const METADATA_VERSION = "metadata.version";

export interface MetadataVersionLevel {
  readonly level: number;
  readonly name: string;
  /** Whether records written at this level may not be readable at the level below (Kafka's didMetadataChange). */
  readonly changedMetadata: boolean;
}

export const MIN_METADATA_VERSION = 21;
/** The highest level the code knows (Kafka's IBP_4_0_IV1, the first with ELR). */
const CODE_MAX_METADATA_VERSION = 23;
/** The highest supported level: the code's, or the release stamp's when that is lower. */
export const MAX_METADATA_VERSION = Math.min(CODE_MAX_METADATA_VERSION, RELEASE.maxMetadataVersion ?? Infinity);
if (!(MAX_METADATA_VERSION >= MIN_METADATA_VERSION)) {
  throw new Error(
    `release ${RELEASE.version} is stamped with metadata.version ${RELEASE.maxMetadataVersion}, below the lowest level ${MIN_METADATA_VERSION}`,
  );
}

/** The levels this build supports, lowest first. */
export const METADATA_VERSIONS: readonly MetadataVersionLevel[] = [
  { level: 21, name: "3.9-IV0", changedMetadata: false },
  { level: 22, name: "4.0-IV0", changedMetadata: false },
  { level: 23, name: "4.0-IV1", changedMetadata: true },
].filter((v) => v.level <= MAX_METADATA_VERSION);

/** The level a new cluster starts at when formatting names none (Kafka's MetadataVersion.LATEST_PRODUCTION). */
export const LATEST_METADATA_VERSION = MAX_METADATA_VERSION;
/** The first metadata.version with the ELR record fields (Kafka's MetadataVersion.isElrSupported). */
export const ELR_METADATA_VERSION = 23;

/** KIP-966's feature (Kafka 4.x's EligibleLeaderReplicasVersion): 1 turns eligible leader replicas on. */
export const ELR_FEATURE = "eligible.leader.replicas.version";

/**
 * The level of `feature` a new cluster starting at `metadataVersion` gets when formatting names none (Kafka's
 * Features.defaultValue: the highest level whose bootstrap metadata.version is at most the one chosen). ELR level 1
 * bootstraps from 23, so `--release-version 4.0-IV1` (or none) turns it on and 4.0-IV0 or 3.9 leaves it off.
 */
export function defaultFeatureLevel(feature: string, metadataVersion: number): number {
  if (feature === ELR_FEATURE) return metadataVersion >= ELR_METADATA_VERSION ? 1 : 0;
  return 0;
}

/** Whether eligible leader replicas are on (Kafka's FeatureControlManager.isElrFeatureEnabled). */
export function elrEnabled(features: ReadonlyMap<string, number>): boolean {
  return (features.get(ELR_FEATURE) ?? 0) >= 1 && (features.get(METADATA_VERSION) ?? 0) >= ELR_METADATA_VERSION;
}

/**
 * Record versions at the supported levels (Kafka's MetadataVersion.registerBrokerRecordVersion and friends: directory
 * assignment is in at every level; the partition records' ELR versions are `partitionRecordVersion`).
 */
export const RECORD_VERSION = {
  registerBroker: 3,
  partition: 1,
  partitionChange: 1,
  /** Kafka writes fencing changes at version 0 and the controlled-shutdown flag at version 1. */
  brokerChangeFence: 0,
  brokerChangeShutdown: 1,
  /** LogDirs (KIP-858) came with version 2. */
  brokerChangeLogDirs: 2,
} as const;

/** PartitionRecord / PartitionChangeRecord version at `metadataVersion` (Kafka's partition(Change)RecordVersion). */
export function partitionRecordVersion(metadataVersion: number): number {
  return metadataVersion >= ELR_METADATA_VERSION ? 2 : RECORD_VERSION.partition;
}

/** Supported ranges of every feature this controller can finalize. */
export const SUPPORTED_FEATURES: ReadonlyMap<string, { readonly min: number; readonly max: number }> = new Map([
  [METADATA_VERSION, { min: MIN_METADATA_VERSION, max: MAX_METADATA_VERSION }],
  // A build without the ELR level does not know the feature's level 1 either (Kafka 3.9 had no such feature).
  [ELR_FEATURE, { min: 0, max: MAX_METADATA_VERSION >= ELR_METADATA_VERSION ? 1 : 0 }],
]);

/** Kafka's feature dependencies: a level of one feature that needs a minimum metadata.version. */
export function featureDependencyProblem(features: ReadonlyMap<string, number>): string | undefined {
  const elr = features.get(ELR_FEATURE) ?? 0;
  const mv = features.get(METADATA_VERSION) ?? 0;
  if (elr >= 1 && mv < ELR_METADATA_VERSION) {
    return `${ELR_FEATURE} ${elr} requires ${METADATA_VERSION} ${ELR_METADATA_VERSION} (4.0-IV1) or higher, but it would be ${mv}.`;
  }
  return undefined;
}

/** Whether going from `from` down to `to` could lose metadata (Kafka's MetadataVersion.checkIfMetadataChanged). */
export function metadataChangedBetween(from: number, to: number): boolean {
  return METADATA_VERSIONS.some((v) => v.level > to && v.level <= from && v.changedMetadata);
}
