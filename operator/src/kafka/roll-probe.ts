// What the roller asks a cluster before it deletes a pod (the decision is controllers/kafka-cluster/roll-gates.ts):
// each broker's GET /v1/restart-safety on its metrics port, the partitions' ISRs and min.insync.replicas through the
// Admin API, and DescribeQuorum of the controllers, both through the cluster's pooled clients (admin-pool.ts).
import { z } from "zod";
import type { ClusterAdmin } from "./admin-pool.ts";
import type {
  BrokerAnswer,
  PartitionFact,
  QuorumFact,
  RestartSafetyAnswer,
} from "../controllers/kafka-cluster/roll-gates.ts";

export interface RollProbeOptions {
  clientId: string;
  /** Of the HTTP GET. @default 5 000 */
  timeoutMs?: number;
  /** HTTP GET; tests may substitute. @default global fetch */
  fetch?: typeof fetch;
}

export interface RollProbe {
  /** Asks each broker (pod name, node id, host:port of its metrics endpoint); never throws, errors are answers. */
  restartSafety(brokers: readonly { pod: string; nodeId: number; address: string }[]): Promise<BrokerAnswer[]>;
  /** Every partition of the cluster with its ISR and effective min.insync.replicas (the brokers' client). */
  partitions(admin: Pick<ClusterAdmin, "allTopics" | "describeConfigs">): Promise<PartitionFact[]>;
  /** DescribeQuorum (the controllers' client). */
  quorum(admin: Pick<ClusterAdmin, "describeQuorum">): Promise<QuorumFact>;
}

const Answer = z.object({
  brokerId: z.number(),
  canStop: z.boolean(),
  canStopReasons: z.array(z.string()),
  blockingPartitions: z.array(z.unknown()),
  caughtUp: z.boolean(),
  caughtUpReasons: z.array(z.string()),
});

export function rollProbe(options: RollProbeOptions): RollProbe {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const get = options.fetch ?? fetch;

  async function ask(address: string): Promise<RestartSafetyAnswer> {
    const res = await get(`http://${address}/v1/restart-safety`, { signal: AbortSignal.timeout(timeoutMs) }).catch(
      (err: unknown) => {
        // fetch says only "fetch failed"; the cause says why (ENOTFOUND, ECONNREFUSED, a timeout).
        const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : "";
        throw new Error(`GET http://${address}/v1/restart-safety failed${cause}`, { cause: err });
      },
    );
    if (res.status !== 200) throw new Error(`HTTP ${res.status} from ${address}`);
    const parsed = Answer.safeParse(await res.json());
    if (!parsed.success) throw new Error(`unexpected answer from ${address}: ${parsed.error.message}`);
    return parsed.data;
  }

  return {
    restartSafety: (brokers) =>
      Promise.all(
        brokers.map(async ({ pod, nodeId, address }): Promise<BrokerAnswer> => {
          try {
            return { pod, nodeId, answer: await ask(address) };
          } catch (err) {
            return { pod, nodeId, error: err instanceof Error ? err.message : String(err) };
          }
        }),
      ),

    async partitions(admin) {
      const described = await admin.allTopics();
      if (described.size === 0) return [];
      const configs = await admin.describeConfigs([...described.keys()].map((name) => ({ type: "topic", name })));
      const minIsr = new Map<string, number>();
      for (const c of configs) {
        const value = c.configs.find((e) => e.name === "min.insync.replicas")?.value;
        if (value !== undefined && value !== null) minIsr.set(c.name, Number(value));
      }
      const out: PartitionFact[] = [];
      for (const [name, lookup] of described) {
        // A topic deleted between the list and the describe has nothing left to protect.
        if (lookup.topic === undefined) continue;
        for (const p of lookup.topic.partitions) {
          out.push({
            topic: name,
            partition: p.partition,
            replicas: p.replicas,
            isr: p.isr,
            minIsr: minIsr.get(name) ?? 1,
          });
        }
      }
      return out;
    },

    async quorum(admin) {
      const q = await admin.describeQuorum();
      return {
        leaderId: q.leaderId,
        voters: q.voters.map((v) => ({
          replicaId: v.replicaId,
          lastCaughtUpTimestamp: Number(v.lastCaughtUpTimestamp),
        })),
      };
    },
  };
}
