import { describe, expect, it } from "vitest";
import { clusterPerFile } from "./cluster-per-file.ts";
import { firstAckAfterKill, partitionLedByController, partitionLedByOtherNode } from "./kill-leader.ts";

// The multi-process fencing scenario of ADR 26, 29 and 32: three combined nodes, a topic of 3 partitions with RF 3
// and min.insync.replicas 2; kill -9 of a partition leader that is not the active controller, then kill -9 of the
// active controller while it leads a partition, each followed by the first acks=all write on another replica. The
// files that run it choose the config and what the timings and logs must show.

/** What one kill must lead to. */
export interface FenceCase {
  readonly title: string;
  /** The first acks=all write after the kill must come sooner than this. */
  readonly ackWithinMs: number;
  /** A line the active controller (after the controller's kill: the new one) logs on the evidence it fenced on. */
  readonly logged: string;
}

export interface FenceScenario {
  /** Names the file in the timings it logs. */
  readonly name: string;
  readonly topic: string;
  /** Broker config beyond min.insync.replicas 2. */
  readonly config: Readonly<Record<string, string>>;
  /** How long the survivors are polled for the first acks=all write after a kill. */
  readonly pollMs: number;
  readonly title: string;
  readonly leaderKill: FenceCase;
  readonly controllerKill: FenceCase;
}

/** Registers the scenario's cluster (one for the file) and its two tests. */
export function fenceScenario(s: FenceScenario): void {
  const cluster = clusterPerFile({
    system: "tributary",
    topology: { combined: 3 },
    config: { "min.insync.replicas": "2", ...s.config },
  });

  describe(s.title, () => {
    it(
      s.leaderKill.title,
      async () => {
        const c = cluster();
        const { controller, victim, partition } = await partitionLedByOtherNode(c, s.topic);

        const { elapsed, leader } = await firstAckAfterKill(c, s.topic, victim, partition, s.pollMs);
        console.log(`${s.name}: kill -9 of leader ${victim} → first acks=all ack on ${leader?.leader}: ${elapsed} ms`);
        expect(leader?.leader).not.toBe(victim);
        expect(leader?.isr).not.toContain(victim);
        expect(elapsed).toBeLessThan(s.leaderKill.ackWithinMs);
        expect(c.output(controller)).toContain(s.leaderKill.logged);
        await c.restart(victim);
      },
      180_000,
    );

    it(
      s.controllerKill.title,
      async () => {
        const c = cluster();
        await c.waitForBrokers(60_000);
        // Leadership back on the preferred replicas (one partition each), so the active controller leads one.
        const { controller, partition } = await partitionLedByController(c, s.topic);

        const { elapsed, leader } = await firstAckAfterKill(c, s.topic, controller, partition, s.pollMs);
        const next = (await c.describeQuorum()).leaderId;
        console.log(
          `${s.name}: kill -9 of the active controller ${controller} (leader of ${s.topic}-${partition}) → ` +
            `first acks=all ack on ${leader?.leader}: ${elapsed} ms; new controller ${next}`,
        );
        expect(leader?.leader).not.toBe(controller);
        expect(leader?.isr).not.toContain(controller);
        expect(elapsed).toBeLessThan(s.controllerKill.ackWithinMs);
        expect(c.output(next)).toContain(s.controllerKill.logged);
      },
      180_000,
    );
  });
}
