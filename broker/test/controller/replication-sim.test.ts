import { describe, expect, it } from "vitest";
import {
  directoryOnline,
  replicaDirectory,
  topicByName,
  type MetadataImage,
  type PartitionRegistration,
} from "../../src/metadata/image/index.ts";
import { AlterPartitionRequest } from "../../src/protocol/index.ts";
import { ELR_FEATURE, METADATA_VERSION } from "../../src/controller/index.ts";
import {
  dirOf,
  elrRegistration,
  harness,
  heartbeat,
  liveBrokers,
  topic,
  type Harness,
} from "../support/controller-harness.ts";

// The controller's partition changes under seeded random sequences of fencing, unfencing, controlled shutdowns,
// AlterPartition (valid or not), reassignments and their cancellation, elections and rebalance passes, a broker
// reporting its log dir offline (KIP-858: its replicas placed there leave ISRs and leaderships), on a clean
// topic and on one that allows unclean elections. After every step the view must hold Kafka's invariants: the ISR is
// a non-empty duplicate-free subset of the replicas, the leader is in it (or there is none) and is usable, adding and
// removing replicas are disjoint replicas, epochs never go back, and on the clean topic a new leader was in the ISR
// before (no unclean election) and the recovery state stays RECOVERED. The same runs again with eligible leader
// replicas on (KIP-966) and brokers also coming back as new incarnations, cleanly or not: then the ISR may be empty
// (only without a leader), the ELR is disjoint from it and empty while the ISR is at min ISR, and a clean topic's new
// leader was in its ISR or ELR, or was its only last known leader (elected RECOVERING, Kafka's balanced recovery).

const BROKERS = [1, 2, 3, 4];
const SEEDS = 30;
const STEPS = 120;

function prng(seed: number): (bound: number) => number {
  let x = seed * 2654435761 || 1;
  return (bound) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % bound;
  };
}

function partitionsOf(view: MetadataImage): Map<string, PartitionRegistration> {
  const out = new Map<string, PartitionRegistration>();
  for (const name of ["clean", "unclean"]) {
    for (const [i, p] of topicByName(view, name)?.partitions ?? []) out.set(`${name}-${i}`, p);
  }
  return out;
}

function subset<T>(random: (bound: number) => number, items: readonly T[]): T[] {
  return items.filter(() => random(2) === 0);
}

/** Also draws steps where a broker reports its log dir offline, in both runs. */
function step(h: Harness, epochs: Map<number, bigint>, random: (bound: number) => number): string {
  const view = h.controller.view;
  if (!view) throw new Error("not active");
  const brokerOf = (id: number) => view.brokers.get(id);
  const id = BROKERS[random(BROKERS.length)] ?? 1;
  const parts = [...partitionsOf(view)];
  const [key, p] = parts[random(parts.length)] ?? ["clean-0", undefined];
  const [name = "clean", partition = "0"] = key.split("-");
  switch (random(9)) {
    case 0: {
      // Broker `id` misses its heartbeats and is fenced.
      h.clock.now += 9001;
      for (const other of BROKERS) {
        if (other !== id && brokerOf(other)?.fenced === false) {
          h.propose(h.controller.heartbeat(heartbeat(other, epochs.get(other) ?? 0n, h.log.length)));
        }
      }
      for (let f = h.controller.fenceStaleBroker(); f !== null; f = h.controller.fenceStaleBroker()) h.propose(f);
      return `fence ${id}`;
    }
    case 1:
      h.propose(h.controller.heartbeat(heartbeat(id, epochs.get(id) ?? 0n, h.log.length)));
      return `heartbeat ${id}`;
    case 2:
      h.propose(h.controller.heartbeat(heartbeat(id, epochs.get(id) ?? 0n, h.log.length, { wantShutDown: true })));
      return `shutdown ${id}`;
    case 3: {
      if (!p) return "noop";
      // The leader (or, sometimes, another broker) proposes an ISR: any subset of the replicas, the leader first.
      const from = random(5) === 0 ? id : p.leader;
      const isr = [...new Set([p.leader, ...subset(random, p.replicas)])].filter((x) => x >= 0);
      const request: AlterPartitionRequest = {
        ...AlterPartitionRequest.create(),
        brokerId: from,
        brokerEpoch: epochs.get(from) ?? -1n,
        topics: [
          {
            topicId: topicByName(view, name)?.id ?? "",
            partitions: [
              {
                partitionIndex: Number(partition),
                leaderEpoch: p.leaderEpoch - random(2),
                partitionEpoch: p.partitionEpoch,
                newIsrWithEpochs: isr.map((b) => ({ brokerId: b, brokerEpoch: epochs.get(b) ?? -1n })),
                leaderRecoveryState: 0,
              },
            ],
          },
        ],
      };
      h.propose(h.controller.alterPartition(request, 3));
      return `alter ${key} from ${from} to [${isr.join(",")}]`;
    }
    case 4: {
      const target = subset(random, BROKERS);
      const replicas = random(4) === 0 ? null : target.length > 0 ? target : [id];
      h.propose(
        h.controller.alterPartitionReassignments({
          timeoutMs: 1000,
          topics: [{ name, partitions: [{ partitionIndex: Number(partition), replicas }] }],
        }),
      );
      return `reassign ${key} to ${replicas === null ? "cancel" : `[${replicas.join(",")}]`}`;
    }
    case 5: {
      const type = random(2);
      h.propose(
        h.controller.electLeaders(
          { electionType: type, topicPartitions: [{ topic: name, partitions: [Number(partition)] }], timeoutMs: 1 },
          2,
        ),
      );
      return `elect ${type === 0 ? "preferred" : "unclean"} ${key}`;
    }
    case 6: {
      const pass = h.controller.balancePartitionLeaders();
      if (pass) h.propose(pass);
      const unclean = h.controller.electUncleanLeaders();
      h.propose(unclean);
      return "periodic passes";
    }
    case 7: {
      // A fenced broker restarts as a new incarnation, after a clean shutdown (naming its epoch) or not.
      if (brokerOf(id)?.fenced !== true || !epochs.has(id)) return "noop";
      const clean = random(2) === 0;
      const registered = h.propose(
        h.controller.registerBroker(elrRegistration(id, 2 + h.log.length, clean ? (epochs.get(id) ?? -1n) : -1n)),
      );
      if (registered.errorCode !== 0) return "noop";
      epochs.set(id, registered.brokerEpoch);
      return `restart ${id} ${clean ? "clean" : "unclean"}`;
    }
    case 8: {
      // Broker `id` reports its log dir offline without asking to be fenced.
      const reg = brokerOf(id);
      if (reg === undefined || !epochs.has(id)) return "noop";
      const beat = heartbeat(id, epochs.get(id) ?? 0n, h.log.length, { offlineLogDirs: [dirOf(id)] });
      h.propose(h.controller.heartbeat(beat));
      const after = h.controller.view;
      const changedState =
        after?.brokers.get(id)?.fenced !== reg.fenced ||
        after.brokers.get(id)?.inControlledShutdown !== reg.inControlledShutdown;
      // Unless the same heartbeat changed the broker's state (then the next one moves them), none of its replicas
      // placed in that dir leads or is in an ISR.
      for (const [k, q] of partitionsOf(after ?? view)) {
        if (changedState || replicaDirectory(q, id) !== dirOf(id)) continue;
        // Without ELR the last ISR member stays in the ISR, leaderless (Kafka's "last replica standing").
        if (q.leader === id || (q.isr.includes(id) && q.isr.length > 1)) {
          throw new Error(`${k} keeps broker ${id} after its dir went offline: ${JSON.stringify(q)}`);
        }
      }
      return `dir of ${id} offline`;
    }
    default:
      return "noop";
  }
}

/** The first broken invariant of the change from `before` to `after`, or undefined. */
function problem(
  before: MetadataImage,
  after: MetadataImage,
  explicitUnclean: boolean,
  what: string,
  elrMinIsr?: number,
): string | undefined {
  const old = partitionsOf(before);
  for (const [key, p] of partitionsOf(after)) {
    const fail = (rule: string) => `${key} after ${what}: ${rule}: ${JSON.stringify(p)}`;
    if (elrMinIsr === undefined) {
      if (p.isr.length === 0) return fail("empty ISR");
      if (p.eligibleLeaderReplicas.length > 0 || p.lastKnownElr.length > 0) return fail("ELR while it is off");
    } else {
      if (p.isr.length === 0 && p.leader !== -1) return fail("a leader with an empty ISR");
      if (p.eligibleLeaderReplicas.some((id) => p.isr.includes(id))) return fail("ELR member in the ISR");
      if (new Set(p.eligibleLeaderReplicas).size !== p.eligibleLeaderReplicas.length) return fail("duplicate in ELR");
      // Kafka's effective min ISR takes the topic's replication factor from its partition 0.
      const first = partitionsOf(after).get(`${key.split("-")[0] ?? ""}-0`);
      const minIsr = Math.min(elrMinIsr, first?.replicas.length ?? p.replicas.length);
      if (!p.eligibleLeaderReplicas.every((id) => p.replicas.includes(id))) return fail("ELR member not a replica");
      // Checked where the step changed the partition: a reassignment of partition 0 changes the topic's min ISR
      // without touching its other partitions (as in Kafka).
      const changed = old.get(key) !== p;
      if (changed && p.isr.length >= minIsr && p.eligibleLeaderReplicas.length > 0) {
        return fail("ELR with the ISR at min ISR");
      }
    }
    if (new Set(p.isr).size !== p.isr.length || new Set(p.replicas).size !== p.replicas.length)
      return fail("duplicate");
    if (!p.isr.every((id) => p.replicas.includes(id))) return fail("ISR member not a replica");
    if (![...p.addingReplicas, ...p.removingReplicas].every((id) => p.replicas.includes(id))) {
      return fail("adding or removing replica not a replica");
    }
    if (p.addingReplicas.some((id) => p.removingReplicas.includes(id))) return fail("both adding and removing");
    if (p.directories !== undefined && p.directories.length !== p.replicas.length) {
      return fail("directories not one per replica");
    }
    if (p.leader !== -1) {
      if (!p.isr.includes(p.leader)) return fail("leader outside the ISR");
      if (!directoryOnline(after.brokers.get(p.leader), replicaDirectory(p, p.leader))) {
        return fail("leader's log dir offline");
      }
      const b = after.brokers.get(p.leader);
      if (b?.fenced !== false || b.inControlledShutdown) return fail("leader not usable");
    }
    const q = old.get(key);
    if (q === undefined) continue;
    if (p.leaderEpoch < q.leaderEpoch || p.partitionEpoch < q.partitionEpoch) return fail("epoch went back");
    if (p.leader !== q.leader && p.leaderEpoch <= q.leaderEpoch) return fail("new leader without a new epoch");
    if (key.startsWith("clean-") && !explicitUnclean) {
      // Without unclean elections a new leader comes from the ISR it had, or from the ISR its leader just proposed.
      // An ELR member may lead once the target ISR is empty (which the change itself may have made it).
      const fromElr = q.eligibleLeaderReplicas.includes(p.leader);
      const lastKnown = q.isr.length === 0 && q.lastKnownElr.length === 1 && q.lastKnownElr[0] === p.leader;
      const moved = p.leader !== q.leader && p.leader !== -1 && !what.includes("alter ");
      if (moved && !q.isr.includes(p.leader) && !fromElr && !lastKnown) {
        return fail("leader from outside the ISR and ELR without an unclean election");
      }
      // RECOVERING lasts until the leader reports RECOVERED, whoever leads meanwhile.
      if (p.leaderRecoveryState !== 0 && !lastKnown && q.leaderRecoveryState === 0) {
        return fail("RECOVERING without an unclean election");
      }
    }
  }
  return undefined;
}

describe("the controller's partition changes under seeded random operations", () => {
  it(`keeps Kafka's partition invariants over ${SEEDS} seeds of ${STEPS} steps`, () => {
    let changes = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const random = prng(seed);
      const h = harness({}, seed);
      const epochs = liveBrokers(h, [null, null, null, null]);
      h.propose(h.controller.createTopics([topic("clean", 3, 3)]));
      const configs = new Map([["unclean.leader.election.enable", "true"]]);
      h.propose(h.controller.createTopics([topic("unclean", 2, 2, { configs })]));
      let uncleanSeen = false;
      for (let i = 0; i < STEPS; i++) {
        const before = h.controller.view;
        const logLength = h.log.length;
        const what = step(h, epochs, random);
        const after = h.controller.view;
        if (!before || !after) throw new Error("not active");
        uncleanSeen ||= what.startsWith("elect unclean clean");
        const broken = problem(before, after, uncleanSeen, `seed ${seed} step ${i}: ${what}`);
        if (broken !== undefined) expect.fail(broken);
        changes += h.log.length - logLength;
      }
      // What the controller decided on its view is what every node replays from the log.
      expect(partitionsOf(h.committed())).toEqual(partitionsOf(h.controller.view ?? h.committed()));
    }
    expect(changes).toBeGreaterThan(SEEDS * 50);
  });

  it(`keeps them with eligible leader replicas on, over ${SEEDS} seeds of ${STEPS} steps`, () => {
    let elrSeen = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const random = prng(seed);
      const h = harness({}, seed);
      const epochs = new Map<number, bigint>();
      for (const id of BROKERS) epochs.set(id, h.propose(h.controller.registerBroker(elrRegistration(id))).brokerEpoch);
      for (const [id, epoch] of epochs) h.propose(h.controller.heartbeat(heartbeat(id, epoch, h.log.length)));
      const features = h.propose(
        h.controller.updateFeatures(
          {
            timeoutMs: 1000,
            featureUpdates: [
              { feature: METADATA_VERSION, maxVersionLevel: 23, upgradeType: 1 },
              { feature: ELR_FEATURE, maxVersionLevel: 1, upgradeType: 1 },
            ],
          },
          1,
        ),
      );
      expect(features.errorCode).toBe(0);
      const minIsr = new Map([["min.insync.replicas", "2"]]);
      h.propose(h.controller.createTopics([topic("clean", 3, 3, { configs: minIsr })]));
      const configs = new Map([...minIsr, ["unclean.leader.election.enable", "true"]]);
      h.propose(h.controller.createTopics([topic("unclean", 2, 2, { configs })]));
      let uncleanSeen = false;
      for (let i = 0; i < STEPS; i++) {
        const before = h.controller.view;
        const what = step(h, epochs, random);
        const after = h.controller.view;
        if (!before || !after) throw new Error("not active");
        uncleanSeen ||= what.startsWith("elect unclean clean");
        const broken = problem(before, after, uncleanSeen, `seed ${seed} step ${i}: ${what}`, 2);
        if (broken !== undefined) expect.fail(broken);
        for (const p of partitionsOf(after).values()) if (p.eligibleLeaderReplicas.length > 0) elrSeen++;
      }
      expect(partitionsOf(h.committed())).toEqual(partitionsOf(h.controller.view ?? h.committed()));
    }
    expect(elrSeen).toBeGreaterThan(SEEDS * 10);
  });
});
