import { describe, expect, it } from "vitest";
import {
  EMPTY_IMAGE,
  imageRecords,
  MetadataDelta,
  replicaDirectory,
  UNASSIGNED_DIRECTORY,
  type MetadataImage,
} from "../../src/metadata/image/index.ts";
import { AssignReplicasToDirsRequest, ErrorCode, MetadataRecordType } from "../../src/protocol/index.ts";
import {
  dirOf,
  fenceBroker,
  harness,
  heartbeat,
  ofType,
  partitionsOf,
  registration,
  topic,
  topicId,
  type Harness,
} from "../support/controller-harness.ts";

// JBOD (KIP-858): the controller learns which log dir holds each replica (AssignReplicasToDirs), and a dir a broker
// reports offline in its heartbeat takes exactly that broker's replicas in that dir out of ISRs and leaderships, while
// the broker stays unfenced and keeps leading the partitions of its other dirs.

const DIR_A = "0000000a-0000-4000-8000-00000000000a";
const DIR_B = "0000000b-0000-4000-8000-00000000000b";

/** Brokers 1-3, broker 1 with dirs A and B; topic "t" with partitions 0 and 1 on [1, 2, 3], both led by 1. */
function jbod(): { h: Harness; epochs: Map<number, bigint> } {
  const h = harness();
  const epochs = new Map<number, bigint>();
  for (const id of [1, 2, 3]) {
    const request = id === 1 ? { ...registration(1), logDirs: [DIR_A, DIR_B] } : registration(id);
    const res = h.propose(h.controller.registerBroker(request));
    expect(res.errorCode).toBe(ErrorCode.NONE);
    epochs.set(id, res.brokerEpoch);
  }
  for (const [id, epoch] of epochs) h.propose(h.controller.heartbeat(heartbeat(id, epoch, h.log.length)));
  const assignments = new Map([
    [0, [1, 2, 3]],
    [1, [1, 2, 3]],
  ]);
  h.propose(h.controller.createTopics([topic("t", -1, -1, { assignments })]));
  return { h, epochs };
}

function assign(h: Harness, epoch: bigint, name: string, byDir: Record<string, number[]>, broker = 1) {
  return h.propose(
    h.controller.assignReplicasToDirs({
      ...AssignReplicasToDirsRequest.create(),
      brokerId: broker,
      brokerEpoch: epoch,
      directories: Object.entries(byDir).map(([id, partitions]) => ({
        id,
        topics: [{ topicId: topicId(h, name), partitions: partitions.map((partitionIndex) => ({ partitionIndex })) }],
      })),
    }),
  );
}

function offline(h: Harness, epoch: bigint, dirs: string[], extra = {}) {
  return h.propose(h.controller.heartbeat(heartbeat(1, epoch, h.log.length, { offlineLogDirs: dirs, ...extra })));
}

/** The image as a snapshot of it replays (its provenance is the last record's, as a snapshot's would be). */
function roundTrip(image: MetadataImage): MetadataImage {
  const delta = new MetadataDelta(EMPTY_IMAGE);
  imageRecords(image).forEach((r) => delta.replay(r, image.provenance.offset, image.provenance.epoch));
  return delta.apply().image;
}

describe("log dirs (KIP-858)", () => {
  it("registers a broker's dirs, defaults a single-dir broker's replicas to its dir, and records assignments", () => {
    const { h, epochs } = jbod();
    const image = h.committed();
    expect(image.brokers.get(1)?.logDirs).toEqual([DIR_A, DIR_B]);
    const [p0, p1] = partitionsOf(image, "t");
    // Broker 1 has two dirs: it picks; 2 and 3 have one each, which the controller fills in.
    expect(p0?.replicas.map((id) => replicaDirectory(p0, id))).toEqual([UNASSIGNED_DIRECTORY, dirOf(2), dirOf(3)]);

    const res = assign(h, epochs.get(1) ?? 0n, "t", { [DIR_A]: [0], [DIR_B]: [1] });
    expect(res.errorCode).toBe(ErrorCode.NONE);
    expect(res.directories.flatMap((d) => d.topics.flatMap((t) => t.partitions.map((p) => p.errorCode)))).toEqual([
      ErrorCode.NONE,
      ErrorCode.NONE,
    ]);
    const [a0, a1] = partitionsOf(h.committed(), "t");
    expect(a0?.directories).toEqual([DIR_A, dirOf(2), dirOf(3)]);
    expect(a1?.directories).toEqual([DIR_B, dirOf(2), dirOf(3)]);
    // A directory change is a partition change (new partition epoch), not a leader change.
    expect(a0).toMatchObject({
      leader: 1,
      leaderEpoch: p0?.leaderEpoch,
      partitionEpoch: (p0?.partitionEpoch ?? 0) + 1,
    });
    expect(p1?.leaderEpoch).toBe(a1?.leaderEpoch);
    // The same assignment again writes nothing.
    const before = h.log.length;
    assign(h, epochs.get(1) ?? 0n, "t", { [DIR_A]: [0] });
    expect(h.log.length).toBe(before);
    // Snapshots keep dirs and directories.
    expect(roundTrip(h.committed())).toEqual(h.committed());
  });

  it("refuses a stale broker epoch and answers unknown partitions per partition", () => {
    const { h, epochs } = jbod();
    expect(assign(h, 999n, "t", { [DIR_A]: [0] }).errorCode).toBe(ErrorCode.STALE_BROKER_EPOCH);
    const res = assign(h, epochs.get(1) ?? 0n, "t", { [DIR_A]: [7] });
    expect(res.directories[0]?.topics[0]?.partitions[0]?.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  it("moves leadership and ISR places of the offline dir's replicas only; the broker keeps its other dir", () => {
    const { h, epochs } = jbod();
    const epoch = epochs.get(1) ?? 0n;
    assign(h, epoch, "t", { [DIR_A]: [0], [DIR_B]: [1] });
    const beat = offline(h, epoch, [DIR_A]);
    expect(beat).toMatchObject({ errorCode: ErrorCode.NONE, isFenced: false, shouldShutDown: false });
    const image = h.committed();
    const [p0, p1] = partitionsOf(image, "t");
    expect(p0).toMatchObject({ leader: 2, isr: [2, 3], leaderEpoch: 1 });
    expect(p1).toMatchObject({ leader: 1, isr: [1, 2, 3], leaderEpoch: 0 });
    expect(image.brokers.get(1)).toMatchObject({ fenced: false, logDirs: [DIR_B] });
    // Reporting it again changes nothing.
    const before = h.log.length;
    offline(h, epoch, [DIR_A]);
    expect(h.log.length).toBe(before);
    expect(roundTrip(h.committed())).toEqual(h.committed());
  });

  it("never elects a replica in an offline dir, even uncleanly", () => {
    const { h, epochs } = jbod();
    const epoch = epochs.get(1) ?? 0n;
    assign(h, epoch, "t", { [DIR_A]: [0], [DIR_B]: [1] });
    const changes = [{ name: "unclean.leader.election.enable", operation: 0, value: "true" }];
    h.propose(h.controller.alterConfigs([{ resourceType: 2, resourceName: "t", changes }], "incremental", false));
    offline(h, epoch, [DIR_A]);
    // 2 then 3 go: partition 0 has no other replica but broker 1's offline one, so it stays leaderless.
    fenceBroker(h, epochs, 2);
    h.propose(h.controller.heartbeat(heartbeat(1, epoch, h.log.length, { offlineLogDirs: [DIR_A] })));
    fenceBroker(h, new Map([...epochs].filter(([id]) => id !== 2)), 3);
    h.propose(h.controller.electUncleanLeaders());
    const [p0, p1] = partitionsOf(h.committed(), "t");
    expect(p0?.leader).toBe(-1);
    expect(p1?.leader).toBe(1);
  });

  it("places new replicas in the broker's remaining dir, and a replica assigned to an offline dir leaves its ISR", () => {
    const { h, epochs } = jbod();
    const epoch = epochs.get(1) ?? 0n;
    offline(h, epoch, [DIR_A]);
    h.propose(h.controller.createTopics([topic("u", -1, -1, { assignments: new Map([[0, [1, 2, 3]]]) })]));
    const [u0] = partitionsOf(h.committed(), "u");
    expect(u0?.directories).toEqual([DIR_B, dirOf(2), dirOf(3)]);
    expect(u0).toMatchObject({ leader: 1, isr: [1, 2, 3] });
    // Partition t-0 was unassigned when A went offline; the broker now says it is in A.
    assign(h, epoch, "t", { [DIR_A]: [0] });
    const [t0, t1] = partitionsOf(h.committed(), "t");
    expect(t0).toMatchObject({ leader: 2, isr: [2, 3], directories: [DIR_A, dirOf(2), dirOf(3)] });
    expect(t1).toMatchObject({ leader: 1, isr: [1, 2, 3] });
  });

  it("fences a broker whose every dir is offline, as before", () => {
    const { h, epochs } = jbod();
    const epoch = epochs.get(1) ?? 0n;
    assign(h, epoch, "t", { [DIR_A]: [0], [DIR_B]: [1] });
    offline(h, epoch, [DIR_A]);
    const before = h.log.length;
    const beat = offline(h, epoch, [DIR_A, DIR_B], { wantFence: true });
    expect(beat).toMatchObject({ isFenced: true });
    const written = h.log.slice(before).filter((r) => r !== null);
    expect(ofType(written, MetadataRecordType.BrokerRegistrationChangeRecord)).toHaveLength(1);
    const image = h.committed();
    expect(image.brokers.get(1)?.fenced).toBe(true);
    for (const p of partitionsOf(image, "t")) expect(p).toMatchObject({ leader: 2, isr: [2, 3] });
  });
});
