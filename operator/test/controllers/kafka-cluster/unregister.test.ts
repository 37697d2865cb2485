import { describe, expect, it } from "vitest";
import {
  unregisterCandidate,
  unregisterDecision,
  type UnregisterCandidateInput,
} from "../../../src/controllers/kafka-cluster/unregister.ts";

const base: UnregisterCandidateInput = {
  desired: 3,
  current: 3,
  nodeId: (i) => 100 + i,
  leftoverPods: 0,
  confirmedAt: undefined,
  allReady: true,
  shrunkTo: undefined,
};

describe("unregisterCandidate", () => {
  it("names the broker of the ordinal just above the StatefulSet once its pod is gone", () => {
    expect(unregisterCandidate(base)).toBe(103);
    // Mid scale-down (5 -> 3, one ordinal removed): the removed one, before the next shrink.
    expect(unregisterCandidate({ ...base, current: 4 })).toBe(104);
  });

  it("waits for the pod, skips a scale-up and what this process already saw confirmed at this size", () => {
    expect(unregisterCandidate({ ...base, leftoverPods: 1 })).toBeUndefined();
    expect(unregisterCandidate({ ...base, desired: 4 })).toBeUndefined();
    expect(unregisterCandidate({ ...base, confirmedAt: 3 })).toBeUndefined();
    expect(unregisterCandidate({ ...base, confirmedAt: 4 })).toBe(103);
  });

  it("asks Kafka only in a pass that reads it anyway or right after this process's shrink", () => {
    const starting = { ...base, allReady: false };
    expect(unregisterCandidate(starting)).toBeUndefined();
    expect(unregisterCandidate({ ...starting, shrunkTo: 3 })).toBe(103);
    expect(unregisterCandidate({ ...starting, shrunkTo: 4 })).toBeUndefined();
    // A scale-down pending reads Kafka in any case.
    expect(unregisterCandidate({ ...starting, desired: 2 })).toBe(103);
  });
});

describe("unregisterDecision", () => {
  it("lets a stopped broker without replicas go", () => {
    expect(unregisterDecision(103, { live: [100, 101, 102], partitions: [{ replicas: [100, 101] }] })).toEqual({
      kind: "unregister",
    });
  });

  it("keeps a broker that still runs or that a partition still names", () => {
    expect(unregisterDecision(103, { live: [100, 103], partitions: [] })).toMatchObject({
      kind: "hold",
      message: expect.stringContaining("still runs") as unknown,
    });
    const d = unregisterDecision(103, { live: [], partitions: [{ replicas: [100, 103] }, { replicas: [103] }] });
    expect(d).toMatchObject({
      kind: "hold",
      message: expect.stringContaining("2 partition(s) still name it") as unknown,
    });
  });
});
