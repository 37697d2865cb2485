import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FeatureLevelRecord, type MetadataRecordAndVersion } from "../../src/protocol/index.ts";
import {
  BOOTSTRAP_CHECKPOINT,
  bootstrapRecords,
  metadataVersionOfRelease,
  readBootstrapCheckpoint,
  writeBootstrapCheckpoint,
} from "../../src/quorum/bootstrap-checkpoint.ts";
import { encodeRecord, record } from "../../src/controller/records.ts";
import { encodeSnapshot } from "../../src/quorum/snapshot-file.ts";

// The format step's bootstrap.checkpoint: Kafka's snapshot format with the feature levels a new cluster starts with.

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "bootstrap-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const levels = (records: readonly MetadataRecordAndVersion[]) =>
  records.map((r) => {
    const f = r.record as FeatureLevelRecord;
    return `${f.name}=${f.featureLevel}`;
  });

describe("bootstrap.checkpoint", () => {
  it("holds metadata.version first, the latest by default, and reads back what was written", async () => {
    // The latest level turns eligible leader replicas on, as Kafka 4.1+ does for a new cluster; older ones do not.
    expect(levels(bootstrapRecords())).toEqual(["metadata.version=23", "eligible.leader.replicas.version=1"]);
    expect(levels(bootstrapRecords(22))).toEqual(["metadata.version=22"]);
    expect(levels(bootstrapRecords(23, new Map([["eligible.leader.replicas.version", 0]])))).toEqual([
      "metadata.version=23",
    ]);
    await writeBootstrapCheckpoint(dir, bootstrapRecords(21));
    expect(levels((await readBootstrapCheckpoint(dir)) ?? [])).toEqual(["metadata.version=21"]);
    // Snapshot framing: a header batch at offset 0, epoch 0.
    const bytes = await readFile(join(dir, BOOTSTRAP_CHECKPOINT));
    expect(bytes.readBigInt64BE(0)).toBe(0n);
    expect(bytes.readInt32BE(12)).toBe(0);
  });

  it("is absent on a directory formatted before it existed", async () => {
    expect(await readBootstrapCheckpoint(dir)).toBeNull();
  });

  it("takes Kafka's release names for metadata.version", () => {
    expect(metadataVersionOfRelease("3.9-IV0")).toBe(21);
    expect(metadataVersionOfRelease("3.9")).toBe(21);
    expect(metadataVersionOfRelease("4.0")).toBe(23);
    expect(metadataVersionOfRelease("4.0-IV0")).toBe(22);
    expect(metadataVersionOfRelease("3.8")).toBeUndefined();
  });

  it("refuses features and levels this controller does not support, leaving level 0 out", () => {
    expect(() => bootstrapRecords(20)).toThrow(/metadata.version 20 is not supported; supported levels are 21-23/);
    expect(() => bootstrapRecords(22, new Map([["group.version", 1]]))).toThrow(
      /unsupported feature group.version; supported features are: metadata.version/,
    );
    expect(levels(bootstrapRecords(22, new Map([["group.version", 0]])))).toEqual(["metadata.version=22"]);
    expect(() => bootstrapRecords(22, new Map([["eligible.leader.replicas.version", 1]]))).toThrow(
      /eligible.leader.replicas.version 1 requires metadata.version 23/,
    );
    expect(levels(bootstrapRecords(23, new Map([["eligible.leader.replicas.version", 1]])))).toEqual([
      "metadata.version=23",
      "eligible.leader.replicas.version=1",
    ]);
  });

  it("refuses a damaged file, one without metadata.version and one with an unsupported level, naming it", async () => {
    const path = join(dir, BOOTSTRAP_CHECKPOINT);
    await writeBootstrapCheckpoint(dir, bootstrapRecords());
    const whole = await readFile(path);
    await writeFile(path, whole.subarray(0, whole.length - 5));
    await expect(readBootstrapCheckpoint(dir)).rejects.toThrow(`${path}: snapshot ends in a partial batch`);
    const file = (records: MetadataRecordAndVersion[]) =>
      writeFile(path, encodeSnapshot({ offset: 0, epoch: 0 }, records.map(encodeRecord), { timestampMs: 0 }));
    await file([record(FeatureLevelRecord, { name: "other", featureLevel: 0 }, 0)]);
    await expect(readBootstrapCheckpoint(dir)).rejects.toThrow(`${path}: no FeatureLevelRecord for metadata.version`);
    await file([record(FeatureLevelRecord, { name: "metadata.version", featureLevel: 99 }, 0)]);
    await expect(readBootstrapCheckpoint(dir)).rejects.toThrow(/metadata.version 99 is not supported/);
  });
});
