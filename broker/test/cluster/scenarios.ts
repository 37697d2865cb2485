import { expect } from "vitest";
import { AdminClient } from "../../src/admin/index.ts";
import { pollUntil } from "../support/broker-process.ts";
import { createTopicUntilOk, nodeView, type Cluster, type ClusterNode } from "../support/cluster.ts";

// What a multi-node cluster must do (issue 11), written once and run against both the reference Apache Kafka and
// Tributary, so that each expectation is shown to hold for Kafka itself.

const address = (n: ClusterNode): string => `127.0.0.1:${n.clientPort}`;

/** Polls one broker's Metadata until it lists every named topic without an error. */
async function listedBy(node: ClusterNode, names: readonly string[], timeoutMs: number): Promise<void> {
  const admin = new AdminClient({ bootstrap: address(node), retries: 0, requestTimeoutMs: 5_000 });
  let missing: string[] = [...names];
  try {
    await pollUntil(
      `node ${node.id} to list ${names.join(", ")}`,
      async () => {
        const found = await admin.describeTopics(names);
        missing = names.filter((n) => found.get(n)?.topic === undefined);
        return missing.length === 0;
      },
      timeoutMs,
    ).catch((err: unknown) => {
      throw new Error(`${err instanceof Error ? err.message : String(err)}; missing: ${missing.join(", ")}`, {
        cause: err,
      });
    });
  } finally {
    admin.close();
  }
}

/** Every broker reports the cluster id the nodes were formatted with and lists exactly the brokers. */
export async function agreeOnOneCluster(c: Cluster): Promise<void> {
  await c.waitForBrokers(30_000);
  const ids = c.brokers.map((n) => n.id);
  for (const n of c.brokers) {
    expect(await nodeView(address(n))).toEqual({ clusterId: c.clusterId, brokerIds: ids });
  }
  const quorum = await c.describeQuorum();
  expect(quorum.voters.map((v) => v.replicaId).sort((a, b) => a - b)).toEqual(c.controllers.map((n) => n.id));
}

/** A topic created through each broker in turn is listed by every broker. */
export async function topicsFromAnyBrokerAppearEverywhere(c: Cluster, prefix: string): Promise<void> {
  const names: string[] = [];
  for (const via of c.brokers) {
    const admin = new AdminClient({ bootstrap: address(via), retries: 0 });
    try {
      const name = `${prefix}-via-${via.id}`;
      const [r] = await admin.createTopics([{ name, partitions: 2, replicationFactor: 1 }]);
      expect(r?.error?.message).toBeUndefined();
      names.push(name);
    } finally {
      admin.close();
    }
  }
  await Promise.all(c.brokers.map((n) => listedBy(n, names, 15_000)));
}

/**
 * kill -9 of the active controller: the other voters elect a leader of a later epoch, and CreateTopics through a
 * surviving broker works again; the new topic is listed by every surviving broker. Resolves with the milliseconds
 * from the kill to the first successful create.
 */
export async function adminRecoversAfterControllerKill(c: Cluster, prefix: string): Promise<number> {
  const before = await c.describeQuorum();
  await c.kill(before.leaderId, "SIGKILL");
  expect(c.isRunning(before.leaderId)).toBe(false);
  const survivors = c.brokers.filter((n) => c.isRunning(n.id));
  const [via] = survivors;
  if (via === undefined) throw new Error("no surviving broker");
  const t0 = performance.now();
  const created = await createTopicUntilOk(address(via), prefix, 30_000);
  const ms = Math.round(performance.now() - t0);

  const after = await c.describeQuorum();
  expect(after.leaderId).not.toBe(before.leaderId);
  expect(after.leaderEpoch).toBeGreaterThan(before.leaderEpoch);
  await Promise.all(survivors.map((n) => listedBy(n, [created.name], 15_000)));
  console.log(
    `${c.system}: controller ${before.leaderId} killed, ${after.leaderId} leads epoch ${after.leaderEpoch}; ` +
      `CreateTopics succeeded after ${ms} ms (${created.attempts} attempt(s))`,
  );
  return ms;
}

/** A broker killed while topics are created catches up after its restart and lists them. */
export async function restartedNodeCatchesUp(c: Cluster, node: ClusterNode, prefix: string): Promise<void> {
  await c.kill(node.id, "SIGKILL");
  const via = c.brokers.find((n) => c.isRunning(n.id));
  if (via === undefined) throw new Error("no running broker");
  const created = await createTopicUntilOk(address(via), prefix, 30_000);
  await c.restart(node.id);
  await listedBy(node, [created.name], 30_000);
  await c.waitForBrokers(60_000);
}
