import { describe, expect, it } from "vitest";
import { clusterPerFile } from "../support/cluster-per-file.ts";
import { firstAckAfterKill, partitionLedByController, partitionLedByOtherNode } from "../support/kill-leader.ts";

// Fencing on connection loss (ADR 26) across processes: three combined nodes, a topic of 3 partitions with RF 3 and
// min.insync.replicas 2. kill -9 of a partition leader that is not the active controller closes its connection to
// the controller at once (its kernel does), so the controller fences it after broker.connection.loss.grace.ms
// (default: heartbeat interval + 500 ms), not after broker.session.timeout.ms, and another replica leads and takes
// an acks=all write. kill -9 of the active controller while it leads a partition (ADR 29): the other voters see
// their connections to it close and elect a new quorum leader after a short grace, and the new active controller
// fences the dead node's broker the same grace after that loss instead of starting its session afresh. The session
// timeout is long here (30 s) so that "before the session timeout" cannot be reached by the timeout itself, however
// loaded the machine is.

const SESSION_TIMEOUT_MS = 30_000;
const TOPIC = "fence-on-loss";

const cluster = clusterPerFile({
  system: "tributary",
  topology: { combined: 3 },
  config: { "min.insync.replicas": "2", "broker.session.timeout.ms": String(SESSION_TIMEOUT_MS) },
});

describe("fencing a killed broker on connection loss", () => {
  it("elects a new leader and takes an acks=all write well before the session timeout", async () => {
    const c = cluster();
    const { controller, victim, partition } = await partitionLedByOtherNode(c, TOPIC);

    const { elapsed, leader } = await firstAckAfterKill(c, TOPIC, victim, partition, SESSION_TIMEOUT_MS);
    console.log(
      `fence-on-connection-loss: kill -9 of leader ${victim} → first acks=all ack on ${leader?.leader}: ${elapsed} ms`,
    );
    expect(leader?.leader).not.toBe(victim);
    expect(leader?.isr).not.toContain(victim);
    expect(elapsed).toBeLessThan(SESSION_TIMEOUT_MS);
    expect(c.output(controller)).toContain("Lost the connection brokers heartbeat on");
    await c.restart(victim);
  }, 180_000);

  it("after kill -9 of the active controller that leads a partition, a new leader takes an acks=all write", async () => {
    const c = cluster();
    await c.waitForBrokers(60_000);
    // Leadership back on the preferred replicas (one partition each), so the active controller leads one.
    const { controller, partition } = await partitionLedByController(c, TOPIC);

    const { elapsed, leader } = await firstAckAfterKill(c, TOPIC, controller, partition, SESSION_TIMEOUT_MS);
    const next = (await c.describeQuorum()).leaderId;
    console.log(
      `fence-on-connection-loss: kill -9 of the active controller ${controller} (leader of ${TOPIC}-` +
        `${partition}) → first acks=all ack on ${leader?.leader}: ${elapsed} ms; new controller ${next}`,
    );
    expect(leader?.leader).not.toBe(controller);
    expect(leader?.isr).not.toContain(controller);
    // Before ADR 29 the new controller started the dead broker's session afresh: no fence before the session timeout.
    expect(elapsed).toBeLessThan(SESSION_TIMEOUT_MS / 2);
    expect(c.output(next)).toContain("The previous quorum leader closed its connections");
  }, 180_000);
});
