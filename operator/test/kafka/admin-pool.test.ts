// ClusterAdmin's batching with a fake admin client: concurrent single-topic calls travel in one request, a topic named
// twice in one batch is sent once and answered to both callers, config changes of one topic are merged, and the pool
// replaces a cluster's client when its bootstrap address changes.
import type { AdminClient, AdminClientOptions, ConfigChange, NewTopic } from "@tributary/broker/admin";
import { describe, expect, it } from "vitest";
import { AdminPool } from "../../src/kafka/admin-pool.ts";

class FakeAdminClient {
  readonly calls: { api: string; items: unknown[] }[] = [];
  closed = false;
  constructor(readonly options: AdminClientOptions) {}
  createTopics(topics: NewTopic[]) {
    this.calls.push({ api: "createTopics", items: topics.map((t) => t.name) });
    return Promise.resolve(topics.map((t) => ({ name: t.name, partitions: t.partitions ?? 1 })));
  }
  alterConfigs(changes: ConfigChange[]) {
    this.calls.push({ api: "alterConfigs", items: changes });
    return Promise.resolve(changes.map((c) => ({ type: c.type, name: c.name })));
  }
  deleteTopics(names: string[]) {
    this.calls.push({ api: "deleteTopics", items: names });
    return Promise.resolve(names.map((name) => ({ name })));
  }
  close(): void {
    this.closed = true;
  }
}

function pool() {
  const clients: FakeAdminClient[] = [];
  const admins = new AdminPool({
    clientId: "test",
    batch: { lingerMs: 5 },
    factory: (options) => {
      const c = new FakeAdminClient(options);
      clients.push(c);
      return c as unknown as AdminClient;
    },
  });
  return { admins, clients };
}

describe("ClusterAdmin batching", () => {
  it("sends concurrent creates as one CreateTopics, each name once, answering every caller", async () => {
    const { admins, clients } = pool();
    const admin = admins.for("ns/c", "b:9092");
    const results = await Promise.all([
      admin.create({ name: "a", partitions: 3 }),
      admin.create({ name: "b" }),
      admin.create({ name: "a", partitions: 5 }),
    ]);
    expect(clients[0]?.calls).toEqual([{ api: "createTopics", items: ["a", "b"] }]);
    expect(results.map((r) => [r.name, r.partitions])).toEqual([
      ["a", 3],
      ["b", 1],
      ["a", 3],
    ]);
  });

  it("merges config changes of one topic into one resource and deletes each name once", async () => {
    const { admins, clients } = pool();
    const admin = admins.for("ns/c", "b:9092");
    await Promise.all([
      admin.alterConfigs({ type: "topic", name: "t", ops: [{ name: "retention.ms", op: "set", value: "1" }] }),
      admin.alterConfigs({ type: "topic", name: "t", ops: [{ name: "cleanup.policy", op: "delete" }] }),
      admin.deleteTopic("x"),
      admin.deleteTopic("x"),
    ]);
    expect(clients[0]?.calls).toEqual([
      {
        api: "alterConfigs",
        items: [
          {
            type: "topic",
            name: "t",
            ops: [
              { name: "retention.ms", op: "set", value: "1" },
              { name: "cleanup.policy", op: "delete" },
            ],
          },
        ],
      },
      { api: "deleteTopics", items: ["x"] },
    ]);
  });

  it("keeps one client per cluster and replaces it when the bootstrap address changes", () => {
    const { admins, clients } = pool();
    expect(admins.for("ns/c", "a:9092")).toBe(admins.for("ns/c", "a:9092"));
    admins.for("ns/c", "b:9092");
    expect(clients.map((c) => [c.options.bootstrap, c.closed])).toEqual([
      ["a:9092", true],
      ["b:9092", false],
    ]);
    admins.drop("ns/c");
    expect(clients[1]?.closed).toBe(true);
  });

  it("keeps a second client per cluster for its controllers, with the short quorum deadline; drop closes both", () => {
    const { admins, clients } = pool();
    const brokers = admins.for("ns/c", "boot:9092");
    const voters = ["c-0:9093", "c-1:9093"];
    expect(admins.controllers("ns/c", voters)).toBe(admins.controllers("ns/c", [...voters]));
    expect(admins.for("ns/c", "boot:9092")).toBe(brokers);
    expect(clients.map((c) => [c.options.bootstrap, c.options.requestTimeoutMs, c.options.connectTimeoutMs])).toEqual([
      ["boot:9092", 30_000, 1_000],
      ["c-0:9093,c-1:9093", 5_000, 1_000],
    ]);
    admins.for("ns/other", "x:9092");
    admins.drop("ns/c");
    expect(clients.map((c) => c.closed)).toEqual([true, true, false]);
  });
});
