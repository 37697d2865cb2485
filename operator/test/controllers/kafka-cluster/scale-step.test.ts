// The scale step against an in-memory Kafka: what it reads, which reassignments and throttles it sends, and the
// StatefulSet size it answers in each phase of a scale-down and after a scale-up.
import { KafkaError, type ConfigChange, type ConfigResource, type ConfigResult } from "@tributary/broker/admin";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { runScale, type ScaleInput, type ScalingAdmin } from "../../../src/controllers/kafka-cluster/scale-step.ts";

/** Kafka as the scale step sees it: brokers, one topic's partitions, reassignments that finish when told. */
class FakeKafka implements ScalingAdmin {
  brokers: { nodeId: number; rack: string | null }[];
  partitions: number[][];
  pending: { partition: number; replicas: number[] }[] = [];
  readonly configs = new Map<string, Map<string, string>>();
  readonly reassigned: { partition: number; replicas: number[] | null }[] = [];
  logDirs = true;
  /** Whether the brokers serve UnregisterBroker (64). */
  unregisters = true;
  /** Registered broker ids (fenced ones too), as the controller has them. */
  registered = new Set<number>();
  readonly unregisterCalls: number[] = [];
  unregisterFailure: Error | undefined;
  sizes = { partition: 100, total: 1_000_000 };
  minInsync = "2";

  constructor(brokers: number, partitions: number[][]) {
    this.brokers = Array.from({ length: brokers }, (_, nodeId) => ({ nodeId, rack: null }));
    this.registered = new Set(this.brokers.map((b) => b.nodeId));
    this.partitions = partitions;
  }

  /** Completes every pending reassignment. */
  finish(): void {
    for (const r of this.pending) this.partitions[r.partition] = r.replicas;
    this.pending = [];
  }

  cluster() {
    return Promise.resolve({
      clusterId: "c",
      controllerId: 0,
      brokers: this.brokers.map((b) => ({ ...b, host: "h", port: 1 })),
    });
  }
  allTopics() {
    const partitions = this.partitions.map((replicas, partition) => ({
      partition,
      leader: replicas[0] ?? -1,
      leaderEpoch: 0,
      replicas,
      isr: replicas,
      offline: [],
    }));
    return Promise.resolve(new Map([["t", { topic: { name: "t", topicId: "x", internal: false, partitions } }]]));
  }
  reassignments() {
    return Promise.resolve(
      this.pending.map((p) => ({ topic: "t", partition: p.partition, replicas: p.replicas, adding: [], removing: [] })),
    );
  }
  reassign(list: { topic: string; partition: number; replicas: number[] | null }[]) {
    for (const r of list) {
      this.reassigned.push({ partition: r.partition, replicas: r.replicas });
      if (r.replicas !== null) this.pending.push({ partition: r.partition, replicas: r.replicas });
    }
    return Promise.resolve(list.map((r) => ({ topic: r.topic, partition: r.partition })));
  }
  describeConfigs(resources: readonly ConfigResource[]): Promise<ConfigResult[]> {
    return Promise.resolve(
      resources.map((r) => {
        const set = this.configs.get(`${r.type}/${r.name}`) ?? new Map<string, string>();
        const entries = [...set].map(([name, value]) => ({
          name,
          value,
          source: r.type === "broker" ? ("DYNAMIC_BROKER_CONFIG" as const) : ("DYNAMIC_TOPIC_CONFIG" as const),
          isDefault: false,
          readOnly: false,
          sensitive: false,
        }));
        if (r.type === "topic")
          entries.push({
            name: "min.insync.replicas",
            value: this.minInsync,
            source: "DYNAMIC_TOPIC_CONFIG",
            isDefault: false,
            readOnly: false,
            sensitive: false,
          });
        return { ...r, configs: entries };
      }),
    );
  }
  alterConfigsNow(changes: readonly ConfigChange[]) {
    for (const c of changes) {
      const key = `${c.type}/${c.name}`;
      const set = this.configs.get(key) ?? new Map<string, string>();
      for (const op of c.ops) {
        if (op.op === "delete") set.delete(op.name);
        else set.set(op.name, op.value ?? "");
      }
      this.configs.set(key, set);
    }
    return Promise.resolve(changes.map((c) => ({ type: c.type, name: c.name })));
  }
  describeLogDirs(nodeId: number) {
    const held = this.partitions.flatMap((r, partition) => (r.includes(nodeId) ? [partition] : []));
    return Promise.resolve([
      {
        logDir: "/d",
        partitions: held.map((partition) => ({ topic: "t", partition, sizeBytes: BigInt(this.sizes.partition) })),
        totalBytes: BigInt(this.sizes.total),
        usableBytes: 0n,
      },
    ]);
  }
  supports(apiKey: number) {
    return Promise.resolve(apiKey === 64 ? this.unregisters : this.logDirs);
  }
  unregisterBroker(brokerId: number) {
    this.unregisterCalls.push(brokerId);
    if (this.unregisterFailure !== undefined) return Promise.reject(this.unregisterFailure);
    if (!this.registered.delete(brokerId))
      return Promise.reject(new KafkaError(102, `Broker ID ${brokerId} is not currently registered`, "unregister"));
    return Promise.resolve();
  }
}

const input = (admin: ScalingAdmin, over: Partial<ScaleInput>): ScaleInput => ({
  admin,
  log: pino({ level: "silent" }),
  desired: 3,
  current: 3,
  nodeId: (i) => i,
  leftoverPods: 0,
  allReady: true,
  claimBytes: undefined,
  throttleBytesPerSecond: 1000,
  ...over,
});

const onBroker = (k: FakeKafka, id: number): number => k.partitions.filter((r) => r.includes(id)).length;

describe("runScale", () => {
  it("scale-down: drains with throttles, holds the size until drained, then shrinks one ordinal per pass", async () => {
    const kafka = new FakeKafka(4, [
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 0],
    ]);
    const first = await runScale(input(kafka, { desired: 3, current: 4 }));
    expect(first).toMatchObject({ replicas: 4, progress: { reason: "DrainingBrokers" }, requeue: true });
    expect(kafka.reassigned.map((r) => r.partition)).toEqual([2, 3]);
    expect(kafka.configs.get("broker/0")?.get("leader.replication.throttled.rate")).toBe("1000");
    expect(kafka.configs.get("topic/t")?.get("follower.replication.throttled.replicas")).toMatch(/^2:\d,3:\d$/);
    // Reassignments in flight: nothing new is sent, the size is held.
    const waiting = await runScale(input(kafka, { desired: 3, current: 4 }));
    expect(waiting.replicas).toBe(4);
    expect(waiting.progress?.message).toContain("2 partition reassignment(s) in progress");
    expect(kafka.reassigned).toHaveLength(2);
    kafka.finish();
    expect(onBroker(kafka, 3)).toBe(0);
    const shrink = await runScale(input(kafka, { desired: 3, current: 4 }));
    expect(shrink).toMatchObject({ replicas: 3, progress: { reason: "ScalingDown" } });
    // Throttles removed once nothing moves.
    expect(kafka.configs.get("broker/0")?.size).toBe(0);
    expect(kafka.configs.get("topic/t")?.size).toBe(0);
    // The derived budget: RF 2 - min.insync.replicas 2.
    expect(shrink.maxUnavailable).toBe(0);
  });

  it("scale-down: blocked, nothing sent, when the replication factor exceeds the brokers left", async () => {
    const kafka = new FakeKafka(3, [[0, 1, 2]]);
    const out = await runScale(input(kafka, { desired: 2, current: 3 }));
    expect(out).toMatchObject({ replicas: 3, blocked: { reason: "ReplicationFactorTooHigh" } });
    expect(kafka.reassigned).toEqual([]);
  });

  it("scale-down: blocked when the data would not fit; says so when sizes are unknown", async () => {
    const kafka = new FakeKafka(2, [[0], [1], [0], [1]]);
    kafka.sizes = { partition: 400, total: 1000 };
    expect(await runScale(input(kafka, { desired: 1, current: 2 }))).toMatchObject({
      replicas: 2,
      blocked: { reason: "InsufficientStorage" },
    });
    expect(kafka.reassigned).toEqual([]);
    kafka.logDirs = false;
    const unknown = await runScale(input(kafka, { desired: 1, current: 2 }));
    expect(unknown.progress?.message).toContain("do not serve DescribeLogDirs");
    expect(kafka.reassigned).toHaveLength(2);
  });

  it("scale-down without an admin client holds the size with a Warning", async () => {
    const out = await runScale({ ...input(new FakeKafka(1, []), { desired: 1, current: 2 }), admin: undefined });
    expect(out).toMatchObject({ replicas: 2, blocked: { reason: "KafkaUnreachable" } });
  });

  it("scale-up: moves partitions onto the new, empty brokers once every pod is Ready", async () => {
    const kafka = new FakeKafka(4, [
      [0, 1],
      [1, 2],
      [2, 0],
      [0, 1],
      [1, 2],
      [2, 0],
    ]);
    expect(await runScale(input(kafka, { desired: 4, current: 4, allReady: false }))).toEqual({
      replicas: 4,
      requeue: false,
    });
    expect(kafka.reassigned).toEqual([]);
    // Nor is the broker above the StatefulSet asked about while pods are not Ready (a cluster starting).
    expect(kafka.unregisterCalls).toEqual([]);
    const out = await runScale(input(kafka, { desired: 4, current: 4 }));
    expect(out).toMatchObject({ replicas: 4, progress: { reason: "Rebalancing" }, requeue: true });
    kafka.finish();
    expect([0, 1, 2, 3].map((id) => onBroker(kafka, id))).toEqual([3, 3, 3, 3]);
    // Balanced: nothing more moves, and the throttles go.
    const after = await runScale(input(kafka, { desired: 4, current: 4 }));
    expect(after).toMatchObject({ replicas: 4, requeue: false });
    expect(kafka.configs.get("broker/3")?.size).toBe(0);
  });

  it("holds the size with a Warning naming a refused reassignment (retried at the next pass)", async () => {
    const kafka = new FakeKafka(2, [[1]]);
    kafka.reassign = (list) =>
      Promise.resolve(
        list.map((r) => ({ topic: r.topic, partition: r.partition, error: new KafkaError(60, "busy", "t-0") })),
      );
    const out = await runScale(input(kafka, { desired: 1, current: 2 }));
    expect(out).toMatchObject({ replicas: 2, blocked: { reason: "ScaleDownRetrying" }, requeue: true });
    expect(out.blocked?.message).toContain(
      "AlterPartitionReassignments refused 1 partition(s): t-0: REASSIGNMENT_IN_PROGRESS (busy)",
    );
  });

  it("unregisters the removed broker once its pod is gone, once, and never one still named by a partition", async () => {
    const kafka = new FakeKafka(4, [
      [0, 1],
      [1, 2],
      [2, 0],
    ]);
    // Broker 3 is fenced (its pod is going) but registered; Metadata no longer lists it.
    kafka.brokers = kafka.brokers.filter((b) => b.nodeId !== 3);
    const waiting = await runScale(input(kafka, { desired: 3, current: 3, leftoverPods: 1 }));
    expect(waiting.replicas).toBe(3);
    expect(kafka.unregisterCalls).toEqual([]);
    await runScale(input(kafka, { desired: 3, current: 3 }));
    expect(kafka.unregisterCalls).toEqual([3]);
    expect(kafka.registered.has(3)).toBe(false);
    // Confirmed: later passes at this size do not ask again; a new size asks about the id above it.
    await runScale(input(kafka, { desired: 3, current: 3 }));
    expect(kafka.unregisterCalls).toEqual([3]);
    // The next removal (ordinal 2, drained, its pod gone) is asked about in the first pass of the new size.
    kafka.partitions = [
      [0, 1],
      [1, 0],
    ];
    kafka.brokers = kafka.brokers.filter((b) => b.nodeId !== 2);
    await runScale(input(kafka, { desired: 2, current: 2 }));
    expect(kafka.unregisterCalls).toEqual([3, 2]);
    // A partition that names the id (someone reassigned onto it) keeps it registered; so does a broker still running.
    const named = new FakeKafka(3, [[0, 3]]);
    named.registered.add(3);
    expect((await runScale(input(named, { desired: 3, current: 3 }))).requeue).toBe(true);
    expect(named.unregisterCalls).toEqual([]);
    const running = new FakeKafka(4, [[0, 1]]);
    expect((await runScale(input(running, { desired: 3, current: 3 }))).requeue).toBe(true);
    expect(running.unregisterCalls).toEqual([]);
    running.brokers = running.brokers.filter((b) => b.nodeId !== 3);
    await runScale(input(running, { desired: 3, current: 3 }));
    expect(running.unregisterCalls).toEqual([3]);
  });

  it("unregister: an unknown id is done, other errors are retried, brokers without API 64 are not asked", async () => {
    const kafka = new FakeKafka(3, [[0, 1]]);
    await runScale(input(kafka, { desired: 3, current: 3 }));
    expect(kafka.unregisterCalls).toEqual([3]);
    const failing = new FakeKafka(3, [[0, 1]]);
    failing.registered.add(3);
    failing.unregisterFailure = new KafkaError(41, "no controller", "unregister");
    const out = await runScale(input(failing, { desired: 3, current: 3 }));
    expect(out.requeue).toBe(true);
    failing.unregisterFailure = undefined;
    const again = await runScale(input(failing, { desired: 3, current: 3 }));
    expect(again.requeue).toBe(false);
    expect(failing.unregisterCalls).toEqual([3, 3]);
    expect(failing.registered.has(3)).toBe(false);
    const old = new FakeKafka(3, [[0, 1]]);
    old.unregisters = false;
    await runScale(input(old, { desired: 3, current: 3 }));
    expect(old.unregisterCalls).toEqual([]);
  });
});
