// The features this controller finalizes, with Kafka's metadata.version levels (MetadataVersion at the commit our
// JSON is vendored from): 21 is 3.9-IV0, 22 is 4.0-IV0 (Kafka's latest production level there). Both write the same
// record versions, and neither changed the metadata format over the other (Kafka's didMetadataChange is false for
// both), so a downgrade from 22 to 21 is safe.

export const METADATA_VERSION = "metadata.version";

export interface MetadataVersionLevel {
  readonly level: number;
  readonly name: string;
  /** Whether records written at this level may not be readable at the level below (Kafka's didMetadataChange). */
  readonly changedMetadata: boolean;
}

export const METADATA_VERSIONS: readonly MetadataVersionLevel[] = [
  { level: 21, name: "3.9-IV0", changedMetadata: false },
  { level: 22, name: "4.0-IV0", changedMetadata: false },
];

export const MIN_METADATA_VERSION = 21;
export const LATEST_METADATA_VERSION = 22;

/**
 * Record versions at the supported levels (Kafka's MetadataVersion.registerBrokerRecordVersion and friends: directory
 * assignment is in, ELR is not).
 */
export const RECORD_VERSION = {
  registerBroker: 3,
  partition: 1,
  partitionChange: 1,
  /** Kafka writes fencing changes at version 0 and the controlled-shutdown flag at version 1. */
  brokerChangeFence: 0,
  brokerChangeShutdown: 1,
} as const;

/** Supported ranges of every feature this controller can finalize. */
export const SUPPORTED_FEATURES: ReadonlyMap<string, { readonly min: number; readonly max: number }> = new Map([
  [METADATA_VERSION, { min: MIN_METADATA_VERSION, max: LATEST_METADATA_VERSION }],
]);

/** Whether going from `from` down to `to` could lose metadata (Kafka's MetadataVersion.checkIfMetadataChanged). */
export function metadataChangedBetween(from: number, to: number): boolean {
  return METADATA_VERSIONS.some((v) => v.level > to && v.level <= from && v.changedMetadata);
}
