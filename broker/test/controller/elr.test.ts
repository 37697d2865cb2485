import { describe, expect, it } from "vitest";
import { ELR_FEATURE, METADATA_VERSION, RECORD_VERSION } from "../../src/controller/index.ts";
import { ConfigResourceType, configKey } from "../../src/metadata/image/index.ts";
import { ErrorCode, MetadataRecordType } from "../../src/protocol/index.ts";
import { bootstrapRecords } from "../../src/quorum/bootstrap-checkpoint.ts";
import {
  alter,
  fenceBroker,
  harness,
  heartbeat,
  ofType,
  partitionsOf,
  elrRegistration,
  topic,
  type Harness,
} from "../support/controller-harness.ts";

// Eligible leader replicas (KIP-966) in the controller, one rule per test, as Kafka's PartitionChangeBuilder and
// ReplicationControlManager apply them with eligible.leader.replicas.version 1.

function updateFeatures(h: Harness, updates: [string, number, number?][]) {
  return h.propose(
    h.controller.updateFeatures(
      {
        timeoutMs: 1000,
        featureUpdates: updates.map(([feature, maxVersionLevel, upgradeType]) => ({
          feature,
          maxVersionLevel,
          upgradeType: upgradeType ?? 1,
        })),
      },
      1,
    ),
  );
}

/** metadata.version 23 and eligible.leader.replicas.version 1 in one UpdateFeatures. */
function turnElrOn(h: Harness): void {
  const res = updateFeatures(h, [
    [METADATA_VERSION, 23],
    [ELR_FEATURE, 1],
  ]);
  expect(res.errorCode).toBe(ErrorCode.NONE);
}

function unfence(h: Harness, id: number, epoch: bigint): void {
  const beat = h.propose(h.controller.heartbeat(heartbeat(id, epoch, h.log.length)));
  expect(beat).toMatchObject({ errorCode: ErrorCode.NONE, isFenced: false });
}

/**
 * Three live brokers with ELR on (metadata.version 23, eligible.leader.replicas.version 1) and topic "t": one
 * partition on [1, 2, 3] led by 1, min.insync.replicas 2.
 */
function elrCluster(minIsr = "2"): { h: Harness; epochs: Map<number, bigint> } {
  const h = harness();
  const epochs = new Map<number, bigint>();
  for (const id of [1, 2, 3]) epochs.set(id, h.propose(h.controller.registerBroker(elrRegistration(id))).brokerEpoch);
  for (const [id, epoch] of epochs) unfence(h, id, epoch);
  turnElrOn(h);
  const configs = new Map([["min.insync.replicas", minIsr]]);
  h.propose(h.controller.createTopics([topic("t", -1, -1, { assignments: new Map([[0, [1, 2, 3]]]), configs })]));
  return { h, epochs };
}

const partition = (h: Harness) => partitionsOf(h.committed(), "t")[0];

/** Fences 3, then 2, then the leader 1: ISR [1, 2] (at min ISR), [1] with ELR [2], then empty with ELR [1, 2]. */
function fenceAll(h: Harness, epochs: Map<number, bigint>): void {
  for (const id of [3, 2, 1]) fenceBroker(h, epochs, id);
}

describe("eligible leader replicas (KIP-966)", () => {
  it("is on in a new cluster, which gets the cluster-wide min.insync.replicas as turning it on later would", () => {
    const min = new Map([["min.insync.replicas", { value: "2", isSet: true }]]);
    const fresh = harness({ staticBrokerConfigs: min }, 7, bootstrapRecords());
    expect(fresh.committed().features).toEqual(
      new Map([
        [METADATA_VERSION, 23],
        [ELR_FEATURE, 1],
      ]),
    );
    expect(fresh.committed().configs.get(configKey(ConfigResourceType.BROKER, ""))?.get("min.insync.replicas")).toBe(
      "2",
    );
    // An older release version at format: no ELR, and nothing written for it.
    const older = harness({ staticBrokerConfigs: min }, 7, bootstrapRecords(22));
    expect(older.committed().features).toEqual(new Map([[METADATA_VERSION, 22]]));
    expect(older.committed().configs.size).toBe(0);
  });

  it("eligible.leader.replicas.version 1 needs metadata.version 23 (4.0-IV1), and writes partition records v2", () => {
    // Formatted with --release-version 4.0-IV0: metadata.version 22, ELR off.
    const h = harness({ bootstrapMetadataVersion: 22 });
    const epoch = h.propose(h.controller.registerBroker(elrRegistration(1))).brokerEpoch;
    unfence(h, 1, epoch);
    const refused = updateFeatures(h, [[ELR_FEATURE, 1]]);
    expect(refused).toMatchObject({
      errorCode: ErrorCode.INVALID_UPDATE_VERSION,
      errorMessage: expect.stringContaining("requires metadata.version 23") as unknown,
    });
    h.propose(h.controller.createTopics([topic("old", 1, 1)]));
    const before = ofType(
      h.log.filter((r) => r !== null),
      MetadataRecordType.PartitionRecord,
    );
    expect(before.at(-1)?.version).toBe(RECORD_VERSION.partition);
    turnElrOn(h);
    expect(h.committed().features.get(ELR_FEATURE)).toBe(1);
    h.propose(h.controller.createTopics([topic("new", 1, 1)]));
    const after = ofType(
      h.log.filter((r) => r !== null),
      MetadataRecordType.PartitionRecord,
    );
    expect(after.at(-1)?.version).toBe(2);
    // metadata.version 23 changed the metadata format: no way back below it, and not while ELR needs it.
    expect(updateFeatures(h, [[METADATA_VERSION, 22, 2]]).errorCode).toBe(ErrorCode.INVALID_UPDATE_VERSION);
  });

  it("ISR members leaving an ISR below min ISR become the ELR; at or above min ISR the ELR is empty", () => {
    const { h, epochs } = elrCluster();
    alter(h, epochs, "t", [1, 2]);
    expect(partition(h)).toMatchObject({ isr: [1, 2], eligibleLeaderReplicas: [] });
    alter(h, epochs, "t", [1]);
    // 2 was in the ISR when it fell below min ISR; 3 had left while the ISR was still at min ISR.
    expect(partition(h)).toMatchObject({ leader: 1, isr: [1], eligibleLeaderReplicas: [2] });
    alter(h, epochs, "t", [1, 3]);
    expect(partition(h)).toMatchObject({ isr: [1, 3], eligibleLeaderReplicas: [], lastKnownElr: [] });
  });

  it("the ISR empties when its last member is fenced: the leader joins the ELR and is the last known leader", () => {
    const { h, epochs } = elrCluster();
    fenceAll(h, epochs);
    expect(partition(h)).toMatchObject({ leader: -1, isr: [], eligibleLeaderReplicas: [1, 2], lastKnownElr: [1] });
  });

  it("a live ELR member takes over at once when the ISR empties", () => {
    const { h, epochs } = elrCluster();
    alter(h, epochs, "t", [1]);
    expect(partition(h)).toMatchObject({ isr: [1], eligibleLeaderReplicas: [2, 3] });
    fenceBroker(h, epochs, 1);
    expect(partition(h)).toMatchObject({ leader: 2, isr: [2], eligibleLeaderReplicas: [1, 3], leaderRecoveryState: 0 });
  });

  it("elects an ELR member that comes back after a clean shutdown when the ISR is empty (a clean election)", () => {
    const { h, epochs } = elrCluster();
    fenceAll(h, epochs);
    // Broker 2 restarts naming its last epoch (it shut down cleanly): it keeps its ELR place.
    const again = h.propose(h.controller.registerBroker(elrRegistration(2, 2, epochs.get(2))));
    expect(partition(h)).toMatchObject({ leader: -1, eligibleLeaderReplicas: [1, 2] });
    unfence(h, 2, again.brokerEpoch);
    expect(partition(h)).toMatchObject({
      leader: 2,
      isr: [2],
      eligibleLeaderReplicas: [1],
      lastKnownElr: [],
      leaderRecoveryState: 0,
    });
  });

  it("an unclean shutdown (no matching previous broker epoch) takes a broker out of the ELR and the ISR", () => {
    const { h, epochs } = elrCluster();
    fenceAll(h, epochs);
    const again = h.propose(h.controller.registerBroker(elrRegistration(2, 2, -1n)));
    expect(partition(h)).toMatchObject({ leader: -1, isr: [], eligibleLeaderReplicas: [1] });
    unfence(h, 2, again.brokerEpoch);
    expect(partition(h)).toMatchObject({ leader: -1, isr: [], eligibleLeaderReplicas: [1] });
    // The last ISR member itself restarting uncleanly leaves no ELR; as the only last known leader it leads
    // again, but uncleanly: RECOVERING, as Kafka 4.x's balanced recovery does.
    const back = h.propose(h.controller.registerBroker(elrRegistration(1, 2, -1n)));
    expect(partition(h)).toMatchObject({ leader: -1, isr: [], eligibleLeaderReplicas: [], lastKnownElr: [1] });
    unfence(h, 1, back.brokerEpoch);
    expect(partition(h)).toMatchObject({ leader: 1, isr: [1], leaderRecoveryState: 1, lastKnownElr: [] });
  });

  it("a min.insync.replicas change clears the topic's ELR and last known ELR", () => {
    const { h, epochs } = elrCluster();
    fenceAll(h, epochs);
    expect(partition(h)?.eligibleLeaderReplicas).toEqual([1, 2]);
    const changes = [{ name: "min.insync.replicas", operation: 0, value: "1" }];
    const res = h.propose(
      h.controller.alterConfigs([{ resourceType: 2, resourceName: "t", changes }], "incremental", false),
    );
    expect(res[0]?.errorCode).toBe(ErrorCode.NONE);
    expect(partition(h)).toMatchObject({ leader: -1, isr: [], eligibleLeaderReplicas: [], lastKnownElr: [] });
  });

  it("turning ELR off clears every ELR, and then the last ISR member stays in the ISR", () => {
    const { h, epochs } = elrCluster();
    fenceBroker(h, epochs, 3);
    fenceBroker(h, epochs, 2);
    expect(partition(h)?.eligibleLeaderReplicas).toEqual([2]);
    expect(updateFeatures(h, [[ELR_FEATURE, 0, 2]]).errorCode).toBe(ErrorCode.NONE);
    expect(partition(h)).toMatchObject({ isr: [1], eligibleLeaderReplicas: [] });
    fenceBroker(h, epochs, 1);
    expect(partition(h)).toMatchObject({ leader: -1, isr: [1], eligibleLeaderReplicas: [] });
  });

  it("turning ELR on makes min.insync.replicas a cluster-level config, which broker-level values may not override", () => {
    const { h } = elrCluster();
    expect(h.committed().configs.get("4/")?.get("min.insync.replicas")).toBe("1");
    const alter = (resourceName: string, operation: number, value: string | null) =>
      h.propose(
        h.controller.alterConfigs(
          [{ resourceType: 4, resourceName, changes: [{ name: "min.insync.replicas", operation, value }] }],
          "incremental",
          false,
        ),
      )[0];
    expect(alter("2", 0, "2")).toEqual({
      errorCode: ErrorCode.INVALID_CONFIG,
      errorMessage: "Broker-level min.insync.replicas cannot be altered while ELR is enabled.",
    });
    expect(alter("", 1, null)).toEqual({
      errorCode: ErrorCode.INVALID_CONFIG,
      errorMessage: "Cluster-level min.insync.replicas cannot be removed while ELR is enabled.",
    });
    expect(alter("", 0, "2")?.errorCode).toBe(ErrorCode.NONE);
  });

  it("an ELR left beside an ISR at min ISR, after a reassignment shrank partition 0, is not carried on", () => {
    const { h, epochs } = elrCluster();
    const assignments = new Map([
      [0, [1, 2, 3]],
      [1, [1, 2, 3]],
    ]);
    const configs = new Map([["min.insync.replicas", "2"]]);
    h.propose(h.controller.createTopics([topic("u", -1, -1, { assignments, configs })]));
    fenceBroker(h, epochs, 3);
    fenceBroker(h, epochs, 2);
    expect(partitionsOf(h.committed(), "u")[1]).toMatchObject({ isr: [1], eligibleLeaderReplicas: [2] });
    // Partition 0 moves to [1] alone: the topic's effective min ISR is now 1, and 1 alone acknowledges writes to
    // partition 1, which 2 lacks.
    const replicas = [1];
    h.propose(
      h.controller.alterPartitionReassignments({
        timeoutMs: 1000,
        topics: [{ name: "u", partitions: [{ partitionIndex: 0, replicas }] }],
      }),
    );
    expect(partitionsOf(h.committed(), "u")[0]).toMatchObject({ replicas: [1], isr: [1] });
    fenceBroker(h, epochs, 1);
    // Kafka would keep 2 eligible here and elect it when it comes back, losing those writes.
    expect(partitionsOf(h.committed(), "u")[1]).toMatchObject({ leader: -1, isr: [], eligibleLeaderReplicas: [1] });
    unfence(h, 2, epochs.get(2) ?? 0n);
    expect(partitionsOf(h.committed(), "u")[1]).toMatchObject({ leader: -1, isr: [] });
    unfence(h, 1, epochs.get(1) ?? 0n);
    expect(partitionsOf(h.committed(), "u")[1]).toMatchObject({ leader: 1, isr: [1], eligibleLeaderReplicas: [] });
  });

  it("a last known leader that a cancelled reassignment removed is not elected", () => {
    const { h, epochs } = elrCluster();
    const assignments = new Map([[0, [3]]]);
    // Reverting to [3] needs an unclean election once 3 has left the ISR.
    const configs = new Map([["unclean.leader.election.enable", "true"]]);
    h.propose(h.controller.createTopics([topic("v", -1, -1, { assignments, configs })]));
    const reassign = (replicas: number[] | null) =>
      h.propose(
        h.controller.alterPartitionReassignments({
          timeoutMs: 1000,
          topics: [{ name: "v", partitions: [{ partitionIndex: 0, replicas }] }],
        }),
      );
    reassign([1, 2]);
    alter(h, epochs, "v", [3, 1]);
    for (const id of [2, 3, 1]) fenceBroker(h, epochs, id);
    expect(partitionsOf(h.committed(), "v")[0]).toMatchObject({ leader: -1, isr: [], lastKnownElr: [1] });
    reassign(null);
    h.propose(h.controller.registerBroker(elrRegistration(3, 2, -1n)));
    expect(partitionsOf(h.committed(), "v")[0]).toMatchObject({ replicas: [3], isr: [], lastKnownElr: [1] });
    unfence(h, 1, epochs.get(1) ?? 0n);
    expect(partitionsOf(h.committed(), "v")[0]).toMatchObject({ leader: -1, isr: [] });
  });

  it("min ISR is capped at the replication factor", () => {
    const { h, epochs } = elrCluster("5");
    alter(h, epochs, "t", [1, 2]);
    // min ISR 3 (the replication factor): 3 left an ISR of 3 → below min ISR, so it is eligible.
    expect(partition(h)).toMatchObject({ isr: [1, 2], eligibleLeaderReplicas: [3] });
  });
});
