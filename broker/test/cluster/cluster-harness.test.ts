import { afterAll, describe, expect, it } from "vitest";
import { freePorts } from "../support/broker-process.ts";
import { nodeProperties, nodeView, startCluster, type Cluster, type ClusterNode } from "../support/cluster.ts";

// The multi-process cluster harness itself: the server.properties it renders per topology, and Tributary nodes it
// formats and starts. Whether those nodes form one cluster is the quorum's business (issue 11), tested with the
// clusters this harness starts.

const node = (id: number, roles: ClusterNode["roles"], clientPort?: number, controllerPort?: number): ClusterNode => ({
  id,
  roles,
  host: "127.0.0.1",
  clientPort,
  controllerPort,
  dir: `/tmp/n${id}`,
});

describe("nodeProperties", () => {
  const voters = "1@127.0.0.1:9001,2@127.0.0.1:9002,3@127.0.0.1:9003";

  it("gives a combined node both listeners and advertises only the client one", () => {
    const p = nodeProperties("tributary", node(2, ["broker", "controller"], 8002, 9002), voters, 3);
    expect(p).toMatchObject({
      "node.id": "2",
      "process.roles": "broker,controller",
      listeners: "PLAINTEXT://127.0.0.1:8002,CONTROLLER://127.0.0.1:9002",
      "advertised.listeners": "PLAINTEXT://127.0.0.1:8002",
      "controller.listener.names": "CONTROLLER",
      "controller.quorum.voters": voters,
      "log.dirs": "/tmp/n2/logs",
      "offsets.topic.replication.factor": "3",
      "metrics.port": "-1",
    });
    expect(p).not.toHaveProperty("transaction.state.log.replication.factor");
  });

  it("gives a Kafka broker its inter-broker listener", () => {
    const p = nodeProperties("kafka", node(2, ["broker", "controller"], 8002, 9002), voters, 3);
    expect(p["inter.broker.listener.name"]).toBe("PLAINTEXT");
    expect(p["transaction.state.log.replication.factor"]).toBe("3");
  });

  it("gives a controller-only node no client listener and no inter-broker listener", () => {
    const p = nodeProperties("kafka", node(1, ["controller"], undefined, 9001), voters, 3);
    expect(p["process.roles"]).toBe("controller");
    expect(p["listeners"]).toBe("CONTROLLER://127.0.0.1:9001");
    expect(p["advertised.listeners"]).toBe("CONTROLLER://127.0.0.1:9001");
    expect(p).not.toHaveProperty("inter.broker.listener.name");
    expect(p).not.toHaveProperty("metrics.port");
  });

  it("caps internal topics' replication at the broker count, and lets the caller override any key", () => {
    const p = nodeProperties("kafka", node(4, ["broker"], 8004), voters, 2, { "num.partitions": "6" });
    expect(p["listeners"]).toBe("PLAINTEXT://127.0.0.1:8004");
    expect(p["offsets.topic.replication.factor"]).toBe("2");
    expect(p["share.coordinator.state.topic.replication.factor"]).toBe("2");
    expect(p["num.partitions"]).toBe("6");
  });
});

describe("freePorts", () => {
  it("hands out different ports in one call, where freePort() twice may repeat one", async () => {
    const ports = await freePorts(40);
    expect(new Set(ports).size).toBe(40);
    for (const p of ports) expect(p).toBeGreaterThan(0);
  });
});

describe("startCluster with Tributary", () => {
  let cluster: Cluster | undefined;
  afterAll(() => cluster?.destroy());

  it("formats every node with one cluster id from tributary-storage and starts each on its own ports", async () => {
    cluster = await startCluster({ system: "tributary", topology: { combined: 3 } });
    const c = cluster;
    expect(c.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(c.quorumVoters.split(",")).toHaveLength(3);
    const ports = new Set(c.nodes.flatMap((n) => [n.clientPort, n.controllerPort]));
    expect(ports.size).toBe(6);
    for (const n of c.brokers) {
      expect(c.isRunning(n.id)).toBe(true);
      expect((await nodeView(`127.0.0.1:${n.clientPort}`)).clusterId).toBe(c.clusterId);
    }

    const [first] = c.brokers;
    if (first === undefined) throw new Error("no broker");
    expect(await c.kill(first.id, "SIGTERM")).toBe(0);
    expect(c.isRunning(first.id)).toBe(false);
    await c.restart(first.id);
    expect((await nodeView(`127.0.0.1:${first.clientPort}`)).clusterId).toBe(c.clusterId);
    expect(c.output(first.id)).not.toBe("");
  });
});
