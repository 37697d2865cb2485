import { decodeMetadataRecord } from "../protocol/index.ts";
import type { LogEntry } from "../raft/index.ts";
import { EMPTY_IMAGE, MetadataDelta, type MetadataChanges, type MetadataImage } from "./image/index.ts";

// Turns the metadata log's committed entries into images (Kafka's MetadataLoader), on every node alike: each batch of
// newly committed entries becomes one delta on the current image, published whole. Leader-change records carry no
// metadata and are skipped. A record that cannot be decoded or contradicts the image throws: continuing would serve a
// cluster view that no other node has, so the caller must stop (Kafka's loader faults the same way).

export type ImagePublisher = (image: MetadataImage, changes: MetadataChanges) => void;

export class MetadataLoader {
  private current: MetadataImage = EMPTY_IMAGE;

  constructor(private readonly publish: ImagePublisher) {}

  get image(): MetadataImage {
    return this.current;
  }

  /** Feed it what the quorum driver reports as committed, in order. */
  readonly onCommit = (entries: readonly LogEntry[]): void => {
    if (entries.length === 0) return;
    const delta = new MetadataDelta(this.current);
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
