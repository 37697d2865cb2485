// The KafkaTopic reconciler's replication-factor change, which today's broker cannot make (the real broker and API
// server are in operator/test/integration/kafka-topic.test.ts): with fakes of the API client and of a cluster whose
// brokers serve partition reassignment, the change is planned, started, polled and finished, and a factor above the
// broker count is refused.
import type { PartitionResult, Reassignment, TopicDescription } from "@tributary/broker/admin";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { KafkaTopicReconciler } from "../../../src/controllers/kafka-topic/reconciler.ts";
import type { AdminPool, ClusterAdmin } from "../../../src/kafka/admin-pool.ts";
import type { KubeClient, KubeObject, ResourceType } from "../../../src/kube/index.ts";

interface Cond {
  type: string;
  status: string;
  reason: string;
  message: string;
}

const CLUSTER: KubeObject = {
  apiVersion: "tributary.dev/v1alpha1",
  kind: "KafkaCluster",
  metadata: { name: "c", namespace: "ns", uid: "u-c", generation: 1 },
  spec: {},
};

/** The part of KubeClient the KafkaTopic reconciler calls. */
class FakeClient {
  topic: KubeObject;
  constructor(replicas: number) {
    this.topic = {
      apiVersion: "tributary.dev/v1alpha1",
      kind: "KafkaTopic",
      metadata: { name: "t", namespace: "ns", uid: "u-t", generation: 1, creationTimestamp: "2026-01-01T00:00:00Z" },
      spec: { clusterRef: { name: "c" }, partitions: 2, replicas },
    };
  }
  get(type: ResourceType): Promise<KubeObject | undefined> {
    return Promise.resolve(structuredClone(type.kind === "KafkaTopic" ? this.topic : CLUSTER));
  }
  patchJson(_t: ResourceType, _ns: string, _n: string, ops: { op: string; path: string; value?: unknown }[]) {
    const replace = ops.find((o) => o.path === "/metadata/finalizers" && o.op !== "test");
    this.topic.metadata.finalizers = replace?.value as string[];
    return Promise.resolve(this.topic);
  }
  patchStatus(_t: ResourceType, _ns: string, _n: string, status: unknown): Promise<KubeObject> {
    this.topic = { ...this.topic, status };
    return Promise.resolve(this.topic);
  }
  conditions(): Record<string, Cond> {
    const list = (this.topic["status"] as { conditions?: Cond[] } | undefined)?.conditions ?? [];
    return Object.fromEntries(list.map((c) => [c.type, c]));
  }
}

/** A cluster of `brokers` whose brokers serve AlterPartitionReassignments and finish a move when told. */
class FakeAdmin {
  replicas: number[][] = [[1], [2]];
  ongoing = false;
  readonly reassigned: Reassignment[][] = [];
  constructor(readonly brokers: number[]) {}
  describe(name: string) {
    const topic: TopicDescription = {
      name,
      topicId: "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b",
      internal: false,
      partitions: this.replicas.map((r, partition) => ({
        partition,
        leader: r[0] ?? -1,
        leaderEpoch: 0,
        replicas: r,
        isr: r,
        offline: [],
      })),
    };
    return Promise.resolve({ topic, configs: [] });
  }
  supports(): Promise<boolean> {
    return Promise.resolve(true);
  }
  cluster() {
    return Promise.resolve({
      clusterId: "x",
      controllerId: 1,
      brokers: this.brokers.map((nodeId) => ({ nodeId, host: "h", port: 9092, rack: null })),
    });
  }
  reassignments() {
    return Promise.resolve(
      this.ongoing ? [{ topic: "t", partition: 0, replicas: [1, 2], adding: [2], removing: [] }] : [],
    );
  }
  reassign(plan: Reassignment[]): Promise<PartitionResult[]> {
    this.reassigned.push(plan);
    this.ongoing = true;
    return Promise.resolve(plan.map((p) => ({ topic: p.topic, partition: p.partition })));
  }
  /** The brokers finished copying: the new replica lists are in place. */
  finish(): void {
    const last = this.reassigned.at(-1) ?? [];
    for (const p of last) this.replicas[p.partition] = p.replicas ?? [];
    this.ongoing = false;
  }
}

function reconcilerFor(client: FakeClient, admin: FakeAdmin) {
  const events: string[] = [];
  const reconciler = new KafkaTopicReconciler({
    client: client as unknown as KubeClient,
    events: {
      event: (_about, type, reason) => {
        events.push(`${type} ${reason}`);
        return Promise.resolve();
      },
    },
    admins: { for: () => admin as unknown as ClusterAdmin, drop: () => undefined } as unknown as AdminPool,
    topics: () => [client.topic],
    cluster: () => CLUSTER,
    pollMs: 1_000,
  });
  const ctx = { logger: pino({ level: "silent" }), signal: new AbortController().signal };
  return { reconcile: () => reconciler.reconcile("ns/t", ctx), events };
}

describe("KafkaTopic replication-factor change (brokers that serve reassignment)", () => {
  it("reassigns, reports progress until the brokers finish, then is Ready", async () => {
    const client = new FakeClient(2);
    const admin = new FakeAdmin([1, 2, 3]);
    const r = reconcilerFor(client, admin);
    expect(await r.reconcile()).toEqual({ requeueAfterMs: 1_000 });
    expect(admin.reassigned).toEqual([
      [
        { topic: "t", partition: 0, replicas: [1, 2] },
        { topic: "t", partition: 1, replicas: [2, 3] },
      ],
    ]);
    expect(client.conditions()["Ready"]).toMatchObject({ status: "False", reason: "ReassignmentInProgress" });
    expect(r.events).toContain("Normal ReassignmentStarted");

    // Still moving: polled again, nothing new started.
    expect(await r.reconcile()).toEqual({ requeueAfterMs: 1_000 });
    expect(admin.reassigned).toHaveLength(1);

    admin.finish();
    expect(await r.reconcile()).toEqual({});
    expect(client.conditions()["Ready"]).toMatchObject({ status: "True", reason: "TopicReady" });
  });

  it("refuses more replicas than brokers", async () => {
    const client = new FakeClient(3);
    const admin = new FakeAdmin([1, 2]);
    const r = reconcilerFor(client, admin);
    expect(await r.reconcile()).toEqual({ requeueAfterMs: 300_000 });
    expect(admin.reassigned).toEqual([]);
    expect(client.conditions()["Ready"]).toMatchObject({
      status: "False",
      reason: "NotEnoughBrokers",
      message: "Topic t has replication factor 1 and spec.replicas is 3, but the cluster has 2 broker(s).",
    });
    expect(client.conditions()["Warning"]).toMatchObject({ status: "True", reason: "NotEnoughBrokers" });
    expect(r.events).toContain("Warning NotEnoughBrokers");
  });
});
