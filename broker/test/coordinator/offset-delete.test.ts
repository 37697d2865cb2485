import { describe, expect, it } from "vitest";
import { ErrorCode, InMemoryGroupStore } from "../../src/coordinator/index.ts";
import type { OffsetCommitRequest } from "../../src/coordinator/index.ts";
import { joinPair, startCoordinator } from "./helpers.ts";

function standaloneCommit(groupId: string, topic: string, partitions: number[]): OffsetCommitRequest {
  return {
    groupId,
    generationId: -1,
    memberId: "",
    groupInstanceId: null,
    offsets: partitions.map((partition) => ({ topic, partition, offset: 10n, leaderEpoch: 0, metadata: null })),
  };
}

describe("OffsetDelete", () => {
  it("deletes an Empty group's offsets durably and leaves the others", async () => {
    const store = new InMemoryGroupStore();
    const { coordinator } = await startCoordinator({}, store);
    await coordinator.commitOffsets(standaloneCommit("g", "t", [0, 1]));
    const result = await coordinator.deleteOffsets("g", [{ topic: "t", partition: 0 }]);
    expect(result).toEqual({ errorCode: ErrorCode.NONE, partitions: [{ topic: "t", partition: 0, errorCode: 0 }] });
    const fetched = coordinator.fetchOffsets({ groupId: "g", topics: null, requireStable: false }).partitions;
    expect(fetched.map((p) => [p.partition, p.offset])).toEqual([[1, 10n]]);

    // A coordinator replaying the same store does not bring the deleted offset back.
    const { coordinator: restarted } = await startCoordinator({}, store);
    const replayed = restarted.fetchOffsets({
      groupId: "g",
      topics: [{ topic: "t", partitions: [0, 1] }],
      requireStable: false,
    });
    expect(replayed.partitions.map((p) => p.offset)).toEqual([-1n, 10n]);
  });

  it("answers GROUP_ID_NOT_FOUND for unknown groups and NON_EMPTY_GROUP while a group rebalances", async () => {
    const { coordinator } = await startCoordinator();
    expect((await coordinator.deleteOffsets("nope", [{ topic: "t", partition: 0 }])).errorCode).toBe(
      ErrorCode.GROUP_ID_NOT_FOUND,
    );
    await joinPair(coordinator);
    expect((await coordinator.deleteOffsets("g", [{ topic: "t", partition: 0 }])).errorCode).toBe(
      ErrorCode.NON_EMPTY_GROUP,
    );
  });
});
