import { decodeMetadataRecord } from "../protocol/index.ts";
import type { LogEntry } from "../raft/index.ts";
import { EMPTY_IMAGE, MetadataDelta, type MetadataChanges, type MetadataImage } from "./image/index.ts";

// Turns the metadata log's committed entries into images (Kafka's MetadataLoader), on every node alike: each batch of
// newly committed entries becomes one delta on the current image, published whole. Leader-change records carry no
// metadata and are skipped: a commit of control records only keeps the image and reports the new high watermark. A record that cannot be decoded or contradicts the image throws: continuing would serve a
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

/**
 * Called after each commit the loader applied, in order: the image (the same object as before when the commit held no
 * metadata record), what changed (null when nothing did) and the high watermark the image now reflects.
 */
export type ImageListener = (image: MetadataImage, changes: MetadataChanges | null, highWatermark: number) => void;

/**
 * The committed metadata of a process (one per process, ADR 22): the quorum driver feeds it what commits, and the
 * snapshot writer, the controller and the broker's publishers all read or follow this one image.
 */
export class MetadataLoader {
  private current: MetadataImage = EMPTY_IMAGE;
  private applied = 0;
  private readonly listeners: ImageListener[] = [];

  constructor(listener?: ImageListener) {
    if (listener !== undefined) this.listeners.push(listener);
  }

  get image(): MetadataImage {
    return this.current;
  }

  /** The end (exclusive) of the committed log the image reflects, control records included; 0 before any. */
  get highWatermark(): number {
    return this.applied;
  }

  /** Adds a listener; it sees every commit applied from now on (the current image is `image`). */
  subscribe(listener: ImageListener): void {
    this.listeners.push(listener);
  }

  /**
   * Feed it what the quorum driver reports as committed, in order (the driver does, for the loader it is given). A
   * snapshot (the node loaded or installed one) replaces the image before the entries after it are applied.
   */
  readonly onCommit = (
    entries: readonly LogEntry[],
    highWatermark?: number,
    snapshot: SnapshotRecords | null = null,
  ): void => {
    const last = entries[entries.length - 1];
    const end = highWatermark ?? (last !== undefined ? last.offset + 1 : (snapshot?.id.offset ?? this.applied));
    if (entries.length === 0 && snapshot === null && end === this.applied) return;
    let changes: MetadataChanges | null = null;
    if (snapshot !== null || entries.some((e) => e.record.kind === "data")) {
      const delta = snapshot === null ? new MetadataDelta(this.current) : MetadataDelta.replacing(this.current);
      if (snapshot !== null) replaySnapshot(delta, snapshot);
      for (const entry of entries) {
        if (entry.record.kind !== "data") continue;
        const { data } = entry.record;
        const value = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
        delta.replay(decodeMetadataRecord(value), entry.offset, entry.epoch);
      }
      const next = delta.apply();
      this.current = next.image;
      changes = next.changes;
    }
    this.applied = snapshot !== null ? end : Math.max(this.applied, end);
    for (const listener of this.listeners) listener(this.current, changes, this.applied);
  };
}
