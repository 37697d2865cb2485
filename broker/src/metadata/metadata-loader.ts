import { decodeMetadataRecord } from "../protocol/index.ts";
import type { LogEntry } from "../raft/index.ts";
import { EMPTY_IMAGE, MetadataDelta, type MetadataChanges, type MetadataImage } from "./image/index.ts";

// Turns the metadata log's committed entries into images (Kafka's MetadataLoader), on every node alike: each batch of
// newly committed entries becomes one delta on the current image, published whole. Leader-change records carry no
// metadata and are skipped. A record that cannot be decoded or contradicts the image throws: continuing would serve a
// cluster view that no other node has, so the caller must stop (Kafka's loader faults the same way).

/** A snapshot of the committed state (KIP-630): the image at `endOffset` as metadata record values. */
export interface SnapshotRecords {
  /** The offset the snapshot ends at (exclusive) and the epoch of the entry before it. */
  readonly id: { readonly offset: number; readonly epoch: number };
  readonly records: readonly Uint8Array[];
}

function replaySnapshot(delta: MetadataDelta, snapshot: SnapshotRecords): void {
  for (const data of snapshot.records) {
    const value = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    delta.replay(decodeMetadataRecord(value), snapshot.id.offset - 1, snapshot.id.epoch);
  }
}

/** The image a snapshot's records build, replacing `base` (changes are reported against it). */
export function imageFromSnapshot(snapshot: SnapshotRecords, base: MetadataImage = EMPTY_IMAGE) {
  const delta = MetadataDelta.replacing(base);
  replaySnapshot(delta, snapshot);
  return delta.apply();
}

export type ImagePublisher = (image: MetadataImage, changes: MetadataChanges) => void;

export class MetadataLoader {
  private current: MetadataImage = EMPTY_IMAGE;

  constructor(private readonly publish: ImagePublisher) {}

  get image(): MetadataImage {
    return this.current;
  }

  /**
   * Feed it what the quorum driver reports as committed, in order. A snapshot (the node loaded or installed one)
   * replaces the image before the entries after it are applied.
   */
  readonly onCommit = (
    entries: readonly LogEntry[],
    _highWatermark?: number,
    snapshot: SnapshotRecords | null = null,
  ): void => {
    if (entries.length === 0 && snapshot === null) return;
    const delta = snapshot === null ? new MetadataDelta(this.current) : MetadataDelta.replacing(this.current);
    if (snapshot !== null) replaySnapshot(delta, snapshot);
    for (const entry of entries) {
      if (entry.record.kind !== "data") continue;
      const { data } = entry.record;
      const value = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      delta.replay(decodeMetadataRecord(value), entry.offset, entry.epoch);
    }
    const { image, changes } = delta.apply();
    this.current = image;
    this.publish(image, changes);
  };
}
