// Dynamic broker configs: which keys skip the restart, and the IncrementalAlterConfigs ops that apply them.
import { describe, expect, it } from "vitest";
import {
  DYNAMIC_KEYS,
  dynamicConfigOf,
  dynamicConfigOps,
  restartKeys,
} from "../../../src/controllers/kafka-cluster/dynamic-config.ts";

describe("dynamic broker configs", () => {
  it("takes the broker's list: topic defaults and throttles are dynamic, listeners and num.partitions are not", () => {
    for (const k of [
      "log.retention.ms",
      "min.insync.replicas",
      "message.max.bytes",
      "leader.replication.throttled.rate",
    ])
      expect(DYNAMIC_KEYS.has(k), k).toBe(true);
    for (const k of ["num.partitions", "listeners", "log.dirs", "controller.quorum.voters", "log.retention.hours"])
      expect(DYNAMIC_KEYS.has(k), k).toBe(false);
  });

  it("splits a rendered config into the keys that need a restart", () => {
    const config = new Map([
      ["num.partitions", "3"],
      ["log.retention.ms", "1000"],
    ]);
    expect([...restartKeys(config)]).toEqual([["num.partitions", "3"]]);
    expect(dynamicConfigOf({ "log.retention.ms": 1000, "num.partitions": 3, "min.insync.replicas": 2 })).toEqual({
      "log.retention.ms": "1000",
      "min.insync.replicas": "2",
    });
  });

  it("sets what differs, deletes dynamic keys the spec no longer names, and is empty when they agree", () => {
    const current = new Map([
      ["log.retention.ms", "1000"],
      ["message.max.bytes", "2048"],
    ]);
    expect(dynamicConfigOps({ "log.retention.ms": "2000", "min.insync.replicas": "2" }, current)).toEqual([
      { name: "log.retention.ms", op: "set", value: "2000" },
      { name: "min.insync.replicas", op: "set", value: "2" },
      { name: "message.max.bytes", op: "delete" },
    ]);
    expect(dynamicConfigOps({ "log.retention.ms": "1000", "message.max.bytes": "2048" }, current)).toEqual([]);
  });

  it("leaves the cluster-wide min.insync.replicas the spec does not name while ELR is on (the controller pins it)", () => {
    const current = new Map([
      ["min.insync.replicas", "1"],
      ["message.max.bytes", "2048"],
    ]);
    expect(dynamicConfigOps({}, current, undefined, true)).toEqual([{ name: "message.max.bytes", op: "delete" }]);
    expect(dynamicConfigOps({ "min.insync.replicas": "2" }, current, undefined, true)).toEqual([
      { name: "min.insync.replicas", op: "set", value: "2" },
      { name: "message.max.bytes", op: "delete" },
    ]);
    expect(dynamicConfigOps({}, current, undefined, false)).toEqual([
      { name: "message.max.bytes", op: "delete" },
      { name: "min.insync.replicas", op: "delete" },
    ]);
  });
});
