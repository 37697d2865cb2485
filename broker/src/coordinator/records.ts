import { Reader, Writer, sizeOf } from "../protocol/primitives/index.ts";

/*
 * Keys and values of the records in `__consumer_offsets`, in Kafka's own formats, so the topic's content means the same
 * thing to Kafka's tools. The key version says what the record is: 0 and 1 offset commits, 2 group metadata.
 * A null value is a tombstone.
 */

export interface OffsetCommitKey {
  kind: "offset";
  groupId: string;
  topic: string;
  partition: number;
}

export interface GroupMetadataKey {
  kind: "group";
  groupId: string;
}

export type RecordKey = OffsetCommitKey | GroupMetadataKey;

export interface OffsetCommitValue {
  offset: bigint;
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
  /** Only OffsetCommit v2-4 set a per-commit expiry; such commits are written as value version 1. */
  expireTimestamp: number | null;
}

export interface GroupMemberValue {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  /** The member's metadata for the selected protocol. */
  subscription: Buffer;
  assignment: Buffer;
}

export interface GroupMetadataValue {
  /** "" for a group that only stores offsets. */
  protocolType: string;
  generationId: number;
  protocolName: string | null;
  leader: string | null;
  currentStateTimestamp: number;
  members: GroupMemberValue[];
}

const OFFSET_KEY_VERSION = 1;
const GROUP_KEY_VERSION = 2;

export function encodeOffsetCommitKey(groupId: string, topic: string, partition: number): Buffer {
  const w = Writer.alloc(2 + sizeOf.string(groupId) + sizeOf.string(topic) + 4);
  w.int16(OFFSET_KEY_VERSION);
  w.string(groupId);
  w.string(topic);
  w.int32(partition);
  return w.buf;
}

export function encodeGroupMetadataKey(groupId: string): Buffer {
  const w = Writer.alloc(2 + sizeOf.string(groupId));
  w.int16(GROUP_KEY_VERSION);
  w.string(groupId);
  return w.buf;
}

/** Returns null for key versions this coordinator does not own (Kafka 4's consumer-group records, for example). */
export function decodeKey(key: Buffer): RecordKey | null {
  const r = new Reader(key);
  const version = r.int16();
  if (version === 0 || version === 1) {
    const groupId = r.string();
    const topic = r.string();
    const partition = r.int32();
    return { kind: "offset", groupId, topic, partition };
  }
  if (version === GROUP_KEY_VERSION) return { kind: "group", groupId: r.string() };
  return null;
}

export function encodeOffsetCommitValue(value: OffsetCommitValue): Buffer {
  if (value.expireTimestamp !== null) {
    // Version 1 is the only one with an explicit expiry; it has no leader epoch.
    const w = Writer.alloc(2 + 8 + sizeOf.string(value.metadata) + 8 + 8);
    w.int16(1);
    w.int64(value.offset);
    w.string(value.metadata);
    w.int64(BigInt(value.commitTimestamp));
    w.int64(BigInt(value.expireTimestamp));
    return w.buf;
  }
  const w = Writer.alloc(2 + 8 + 4 + sizeOf.string(value.metadata) + 8);
  w.int16(3);
  w.int64(value.offset);
  w.int32(value.leaderEpoch);
  w.string(value.metadata);
  w.int64(BigInt(value.commitTimestamp));
  return w.buf;
}

export function decodeOffsetCommitValue(buf: Buffer): OffsetCommitValue {
  const r = new Reader(buf);
  const version = r.int16();
  if (version < 0 || version > 3) r.fail(`unsupported offset commit value version ${version}`);
  const offset = r.int64();
  const leaderEpoch = version >= 3 ? r.int32() : -1;
  const metadata = r.string();
  const commitTimestamp = Number(r.int64());
  const expireTimestamp = version === 1 ? Number(r.int64()) : null;
  return { offset, leaderEpoch, metadata, commitTimestamp, expireTimestamp };
}

const GROUP_VALUE_VERSION = 3;

export function encodeGroupMetadataValue(value: GroupMetadataValue): Buffer {
  let size = 2 + sizeOf.string(value.protocolType) + 4;
  size += sizeOf.nullableString(value.protocolName) + sizeOf.nullableString(value.leader) + 8 + 4;
  for (const m of value.members) {
    size += sizeOf.string(m.memberId) + sizeOf.nullableString(m.groupInstanceId);
    size += sizeOf.string(m.clientId) + sizeOf.string(m.clientHost) + 4 + 4;
    size += 4 + m.subscription.length + 4 + m.assignment.length;
  }
  const w = Writer.alloc(size);
  w.int16(GROUP_VALUE_VERSION);
  w.string(value.protocolType);
  w.int32(value.generationId);
  w.nullableString(value.protocolName);
  w.nullableString(value.leader);
  w.int64(BigInt(value.currentStateTimestamp));
  w.arrayLength(value.members.length);
  for (const m of value.members) {
    w.string(m.memberId);
    w.nullableString(m.groupInstanceId);
    w.string(m.clientId);
    w.string(m.clientHost);
    w.int32(m.rebalanceTimeoutMs);
    w.int32(m.sessionTimeoutMs);
    w.bytes(m.subscription);
    w.bytes(m.assignment);
  }
  return w.buf;
}

export function decodeGroupMetadataValue(buf: Buffer): GroupMetadataValue {
  const r = new Reader(buf);
  const version = r.int16();
  if (version < 0 || version > GROUP_VALUE_VERSION) r.fail(`unsupported group metadata value version ${version}`);
  const protocolType = r.string();
  const generationId = r.int32();
  const protocolName = r.nullableString();
  const leader = r.nullableString();
  const currentStateTimestamp = version >= 2 ? Number(r.int64()) : -1;
  const count = Math.max(0, r.arrayLength());
  const members: GroupMemberValue[] = [];
  for (let i = 0; i < count; i++) {
    const memberId = r.string();
    const groupInstanceId = version >= 3 ? r.nullableString() : null;
    const clientId = r.string();
    const clientHost = r.string();
    const rebalanceTimeout = version >= 1 ? r.int32() : -1;
    const sessionTimeoutMs = r.int32();
    const subscription = Buffer.from(r.bytes());
    const assignment = Buffer.from(r.bytes());
    members.push({
      memberId,
      groupInstanceId,
      clientId,
      clientHost,
      // Version 0 had one timeout for both, as JoinGroup v0 did.
      rebalanceTimeoutMs: rebalanceTimeout < 0 ? sessionTimeoutMs : rebalanceTimeout,
      sessionTimeoutMs,
      subscription,
      assignment,
    });
  }
  return { protocolType, generationId, protocolName, leader, currentStateTimestamp, members };
}
