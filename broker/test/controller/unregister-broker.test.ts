import { describe, expect, it } from "vitest";
import { ErrorCode, MetadataRecordType, UnregisterBrokerRequest } from "../../src/protocol/index.ts";
import {
  fenceBroker,
  harness,
  heartbeat,
  liveBrokers,
  partitionsOf,
  registration,
  topic,
} from "../support/controller-harness.ts";

// UnregisterBroker (KIP-631) on the pure controller: the registration goes, ISRs let the broker go first, and only an
// unknown id is refused (Kafka's ReplicationControlManager.unregisterBroker).

const unregister = (brokerId: number) => ({ ...UnregisterBrokerRequest.create(), brokerId });

describe("UnregisterBroker", () => {
  it("removes a fenced broker's registration, after which the id is unknown", () => {
    const h = harness();
    const epochs = liveBrokers(h, [null, null, null]);
    fenceBroker(h, epochs, 3);
    const result = h.controller.unregisterBroker(unregister(3));
    expect(result.records.map((r) => r.type)).toEqual([MetadataRecordType.UnregisterBrokerRecord]);
    expect(result.records[0]?.record).toMatchObject({ brokerId: 3, brokerEpoch: epochs.get(3) });
    expect(h.propose(result)).toMatchObject({ errorCode: ErrorCode.NONE, errorMessage: null });
    expect([...h.committed().brokers.keys()].sort()).toEqual([1, 2]);
    expect(h.propose(h.controller.unregisterBroker(unregister(3)))).toMatchObject({
      errorCode: ErrorCode.BROKER_ID_NOT_REGISTERED,
      errorMessage: "Broker ID 3 is not currently registered",
    });
    // Its session went with it: nothing is left to fence, and its old epoch is stale.
    expect(h.controller.fenceStaleBroker()).toBeNull();
    expect(h.propose(h.controller.heartbeat(heartbeat(3, epochs.get(3) ?? 0n, h.log.length))).errorCode).toBe(
      ErrorCode.STALE_BROKER_EPOCH,
    );
  });

  it("refuses an id that was never registered, writing nothing", () => {
    const h = harness();
    liveBrokers(h, [null]);
    const result = h.controller.unregisterBroker(unregister(7));
    expect(result.records).toEqual([]);
    expect(result.response.errorCode).toBe(ErrorCode.BROKER_ID_NOT_REGISTERED);
  });

  it("takes a live broker out of every ISR and leadership before its registration, as Kafka does", () => {
    const h = harness();
    liveBrokers(h, [null, null]);
    h.propose(h.controller.createTopics([topic("t", 2, 2)]));
    const result = h.controller.unregisterBroker(unregister(2));
    const types = result.records.map((r) => r.type);
    expect(types.at(-1)).toBe(MetadataRecordType.UnregisterBrokerRecord);
    expect(types.filter((t) => t === MetadataRecordType.PartitionChangeRecord)).toHaveLength(2);
    h.propose(result);
    for (const p of partitionsOf(h.committed(), "t")) {
      expect(p.isr).toEqual([1]);
      expect(p.leader).toBe(1);
    }
    // The process, still running, is told its epoch is stale and registers again (broker-lifecycle.ts).
    expect(h.propose(h.controller.registerBroker(registration(2))).errorCode).toBe(ErrorCode.NONE);
    expect(h.committed().brokers.get(2)?.fenced).toBe(true);
  });
});
