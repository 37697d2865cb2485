// What the roller asks a cluster before it deletes a pod (the decision is controllers/kafka-cluster/roll-gates.ts):
// each broker's GET /v1/restart-safety on its metrics port, the partitions' ISRs and min.insync.replicas through the
// Admin API, and DescribeQuorum of the controllers, both through the cluster's pooled clients (admin-pool.ts).
// The GETs share one keep-alive HTTP agent, as the Kafka calls share the pool: a roll asks every broker each pass, and
// a connection kept open from the last pass costs no connect. A connect has its own short limit, since one that hangs
// (a Service or pod IP still routed to a pod that is gone) would otherwise hold the pass for the whole request limit.
import { Agent, request, type IncomingMessage } from "node:http";
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
  /** Of the whole HTTP GET. @default 5 000 */
  timeoutMs?: number;
  /** Of the TCP connect, when no kept connection is free. @default 1 000 */
  connectTimeoutMs?: number;
  /**
   * How long an idle connection is kept for the next pass; below the broker's keep-alive timeout (65 s), so the
   * client closes first and never sends on a connection the server is closing. @default 30 000
   */
  idleTimeoutMs?: number;
}

/** Bytes of an answer read at most (a restart-safety answer is a few hundred). */
const MAX_ANSWER_BYTES = 1 << 20;

export interface RollProbe {
  /** Asks each broker (pod name, node id, host:port of its metrics endpoint); never throws, errors are answers. */
  restartSafety(brokers: readonly { pod: string; nodeId: number; address: string }[]): Promise<BrokerAnswer[]>;
  /** Every partition of the cluster with its ISR and effective min.insync.replicas (the brokers' client). */
  partitions(admin: Pick<ClusterAdmin, "allTopics" | "describeConfigs">): Promise<PartitionFact[]>;
  /** DescribeQuorum (the controllers' client). */
  quorum(admin: Pick<ClusterAdmin, "describeQuorum">): Promise<QuorumFact>;
  /** Closes the kept connections (fakes in tests keep none). */
  close?(): void;
}

const Answer = z.object({
  brokerId: z.number(),
  canStop: z.boolean(),
  canStopReasons: z.array(z.string()),
  blockingPartitions: z.array(z.unknown()),
  caughtUp: z.boolean(),
  caughtUpReasons: z.array(z.string()),
});

/** One GET over `agent`: status and body, or an error saying why (connect limit, whole limit, connection lost). */
function get(
  agent: Agent,
  url: string,
  headers: Record<string, string>,
  timeoutMs: number,
  connectTimeoutMs: number,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers, signal: AbortSignal.timeout(timeoutMs) }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
        else chunks.push(chunk);
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.on("socket", (socket) => {
      // A kept connection is already open; only a new one can hang in its connect.
      if (!socket.connecting) return;
      const timer = setTimeout(
        () => req.destroy(new Error(`connect timed out after ${connectTimeoutMs} ms`)),
        connectTimeoutMs,
      );
      const clear = () => clearTimeout(timer);
      socket.once("connect", clear);
      socket.once("close", clear);
    });
    req.end();
  });
}

export function rollProbe(options: RollProbeOptions): RollProbe {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 1_000;
  const headers = { "user-agent": options.clientId };
  const agent = new Agent({ keepAlive: true, timeout: options.idleTimeoutMs ?? 30_000, maxFreeSockets: 1 });

  async function fetchAnswer(url: string): Promise<{ status: number; body: string }> {
    try {
      return await get(agent, url, headers, timeoutMs, connectTimeoutMs);
    } catch (err) {
      // A kept connection the peer closed meanwhile (the broker restarted): once more, on a new connection.
      if ((err as NodeJS.ErrnoException).code === "ECONNRESET")
        return get(agent, url, headers, timeoutMs, connectTimeoutMs);
      throw err;
    }
  }

  async function ask(address: string): Promise<RestartSafetyAnswer> {
    const url = `http://${address}/v1/restart-safety`;
    const res = await fetchAnswer(url).catch((err: unknown) => {
      const why = err instanceof Error ? `: ${err.message}` : "";
      throw new Error(`GET ${url} failed${why}`, { cause: err });
    });
    if (res.status !== 200) throw new Error(`HTTP ${res.status} from ${address}`);
    let body: unknown;
    try {
      body = JSON.parse(res.body);
    } catch {
      throw new Error(`unexpected answer from ${address}: not JSON`);
    }
    const parsed = Answer.safeParse(body);
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

    close: () => agent.destroy(),
  };
}
