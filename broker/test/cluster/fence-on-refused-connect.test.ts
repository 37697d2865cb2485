import { describe, expect, it } from "vitest";
import { clusterPerFile } from "../support/cluster-per-file.ts";
import { firstAckAfterKill, partitionLedByController, partitionLedByOtherNode } from "../support/kill-leader.ts";

// A refused connect as evidence of a dead process (ADR 32), across processes: three combined nodes, a topic of 3
// partitions with RF 3 and min.insync.replicas 2, and a connection-loss grace (20 s) far above anything a loaded
// machine adds, below a 30 s session timeout. The first acks=all write after a kill -9 must come before the grace,
// the earliest moment ADR 26 and 29 alone would fence the dead broker. kill -9 of a partition leader that is not the
// active controller: its heartbeat connection closes, and the controller's probe of its listener is refused. kill -9
// of the active controller while it leads a partition: the other voters see their connections to it close, their
// new connects are refused, and they elect a new quorum leader at once; the new active controller holds that refusal
// as evidence and fences the dead node's broker at activation.

const GRACE_MS = 20_000;
const TOPIC = "fence-on-refused";

const cluster = clusterPerFile({
  system: "tributary",
  topology: { combined: 3 },
  config: {
    "min.insync.replicas": "2",
    "broker.session.timeout.ms": "30000",
    "broker.connection.loss.grace.ms": String(GRACE_MS),
  },
});

describe("fencing a killed node whose port refuses connects", () => {
  it("after kill -9 of a partition leader that is not the active controller, writes resume before the grace", async () => {
    const c = cluster();
    const { controller, victim, partition } = await partitionLedByOtherNode(c, TOPIC);

    const { elapsed, leader } = await firstAckAfterKill(c, TOPIC, victim, partition, GRACE_MS);
    console.log(
      `fence-on-refused-connect: kill -9 of leader ${victim} → first acks=all ack on ${leader?.leader}: ${elapsed} ms`,
    );
    expect(leader?.leader).not.toBe(victim);
    expect(leader?.isr).not.toContain(victim);
    // ADR 26 alone fences the broker the grace after its heartbeat connection closed.
    expect(elapsed).toBeLessThan(GRACE_MS);
    expect(c.output(controller)).toContain("Nothing listens where a broker whose connection was lost did");
    await c.restart(victim);
  }, 180_000);

  it("after kill -9 of the active controller that leads a partition, writes resume before the grace", async () => {
    const c = cluster();
    await c.waitForBrokers(60_000);
    const { controller, partition } = await partitionLedByController(c, TOPIC);

    const { elapsed, leader } = await firstAckAfterKill(c, TOPIC, controller, partition, GRACE_MS);
    const next = (await c.describeQuorum()).leaderId;
    console.log(
      `fence-on-refused-connect: kill -9 of the active controller ${controller} (leader of ${TOPIC}-${partition}) → ` +
        `first acks=all ack on ${leader?.leader}: ${elapsed} ms; new controller ${next}`,
    );
    expect(leader?.leader).not.toBe(controller);
    expect(leader?.isr).not.toContain(controller);
    // ADR 29 alone fences the dead broker the grace after the loss: no write before it.
    expect(elapsed).toBeLessThan(GRACE_MS);
    expect(c.output(next)).toContain("closed its connections and refuses new ones");
  }, 180_000);
});
