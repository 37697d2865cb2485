import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/protocol/index.ts";
import {
  harness,
  heartbeat,
  liveBrokers,
  partitionsOf,
  registration,
  topic,
  type Harness,
} from "../support/controller-harness.ts";

// Fencing on connection loss (ADR 26): the connection a broker's heartbeats came on is lost, so its session ends
// broker.connection.loss.grace.ms later unless a heartbeat comes on another connection first. ADR 29: after a
// failover, the broker of the previous quorum leader, whose connection the new leader saw close, is fenced that grace
// after the loss (at least a second after activation) unless it heartbeats the new controller first; every other
// broker's session starts afresh (KAFKA-18138). ADR 32: a connect to that node refused after the close (no process
// listens there) ends the session at once.

const GRACE = 2500;
const SESSION = 9000;
/** PREVIOUS_LEADER_MIN_GRACE_MS in the controller. */
const MIN_AFTER_ACTIVATION = 1000;

/** Brokers 1-3 heartbeating on connections "c1".."c3", and a topic led by each. */
function cluster(): { h: Harness; epochs: Map<number, bigint> } {
  const h = harness({ brokerSessionTimeoutMs: SESSION, connectionLossGraceMs: GRACE });
  const epochs = liveBrokers(h, [null, null, null]);
  h.propose(h.controller.createTopics([topic("t", 3, 3)]));
  for (const id of [1, 2, 3]) beat(h, epochs, id, `c${id}`);
  return { h, epochs };
}

function beat(h: Harness, epochs: Map<number, bigint>, id: number, connection: string | undefined): void {
  const answer = h.propose(h.controller.heartbeat(heartbeat(id, epochs.get(id) ?? -1n, h.log.length), connection));
  expect(answer).toMatchObject({ errorCode: ErrorCode.NONE, isFenced: false });
}

/** Fences whatever is due now; the ids fenced. */
function fenceDue(h: Harness): number[] {
  const fenced: number[] = [];
  for (let r = h.controller.fenceStaleBroker(); r !== null; r = h.controller.fenceStaleBroker()) {
    fenced.push(h.propose(r));
  }
  return fenced;
}

describe("fencing on connection loss", () => {
  it("fences the broker after the grace, not the session timeout, and moves its leaderships", () => {
    const { h } = cluster();
    const ledBy2 = () => partitionsOf(h.committed(), "t").filter((p) => p.leader === 2).length;
    expect(ledBy2()).toBe(1);
    expect(h.propose(h.controller.heartbeatConnectionLost("c2"))).toEqual([2]);
    expect(h.controller.nextSessionExpiry()).toBe(h.clock.now + GRACE + 1);
    h.clock.now += GRACE;
    expect(fenceDue(h)).toEqual([]);
    h.clock.now += 1;
    expect(fenceDue(h)).toEqual([2]);
    expect(h.committed().brokers.get(2)?.fenced).toBe(true);
    expect(ledBy2()).toBe(0);
    expect(partitionsOf(h.committed(), "t").every((p) => p.leader !== -1 && !p.isr.includes(2))).toBe(true);
  });

  it("fences at once when nothing listens where the broker did (ADR 32), and only that registration in its grace", () => {
    const { h, epochs } = cluster();
    const epoch2 = epochs.get(2) ?? -1n;
    // No lost connection, no grace: a refused probe alone proves nothing about this broker's current session.
    expect(h.controller.brokerRefusesConnects(2, epoch2)).toBe(false);
    h.propose(h.controller.heartbeatConnectionLost("c2"));
    // A probe of another registration (one the process replaced since) changes nothing.
    expect(h.controller.brokerRefusesConnects(2, epoch2 + 1n)).toBe(false);
    expect(h.controller.brokerRefusesConnects(2, epoch2)).toBe(true);
    h.clock.now += 1;
    expect(fenceDue(h)).toEqual([2]);
    expect(partitionsOf(h.committed(), "t").every((p) => p.leader !== -1 && !p.isr.includes(2))).toBe(true);
    expect(h.controller.brokerRefusesConnects(2, epoch2)).toBe(false);
  });

  it("does not fence on a refused probe once the broker heartbeat on another connection", () => {
    const { h, epochs } = cluster();
    h.propose(h.controller.heartbeatConnectionLost("c2"));
    beat(h, epochs, 2, "c2-again");
    expect(h.controller.brokerRefusesConnects(2, epochs.get(2) ?? -1n)).toBe(false);
    h.clock.now += GRACE + 1;
    expect(fenceDue(h)).toEqual([]);
  });

  it("lets a heartbeat on another connection within the grace cancel it", () => {
    const { h, epochs } = cluster();
    h.propose(h.controller.heartbeatConnectionLost("c2"));
    h.clock.now += GRACE - 100;
    beat(h, epochs, 2, "c2-again");
    h.clock.now += 200;
    expect(fenceDue(h)).toEqual([]);
    // Back to the session timeout from that heartbeat.
    h.clock.now += SESSION - 200;
    for (const id of [1, 3]) beat(h, epochs, id, `c${id}`);
    expect(fenceDue(h)).toEqual([]);
    h.clock.now += 101;
    expect(fenceDue(h)).toEqual([2]);
  });

  it("ignores the loss of a connection the broker no longer heartbeats on", () => {
    const { h, epochs } = cluster();
    beat(h, epochs, 2, "c2-new");
    expect(h.propose(h.controller.heartbeatConnectionLost("c2"))).toEqual([]);
    expect(h.propose(h.controller.heartbeatConnectionLost("unknown"))).toEqual([]);
    h.clock.now += GRACE + 1;
    expect(fenceDue(h)).toEqual([]);
  });

  it("ignores the loss of a connection that carried an older broker epoch's heartbeats", () => {
    const h = harness({ brokerSessionTimeoutMs: SESSION, connectionLossGraceMs: GRACE, colocatedBroker: true });
    const epochs = liveBrokers(h, [null]);
    beat(h, epochs, 1, "old");
    // The process restarted (a colocated broker's new incarnation replaces its registration at once) and its new
    // epoch heartbeats without a watched connection yet.
    const again = h.propose(h.controller.registerBroker({ ...registration(1, null, 2) }));
    expect(again.errorCode).toBe(ErrorCode.NONE);
    epochs.set(1, again.brokerEpoch);
    beat(h, epochs, 1, undefined);
    expect(h.propose(h.controller.heartbeatConnectionLost("old"))).toEqual([]);
    h.clock.now += GRACE + 1;
    expect(fenceDue(h)).toEqual([]);
  });

  it("still fences at the session timeout when no connection closes (a partition, a paused process)", () => {
    const { h, epochs } = cluster();
    h.clock.now += SESSION - 1000;
    for (const id of [1, 3]) beat(h, epochs, id, `c${id}`);
    expect(fenceDue(h)).toEqual([]);
    h.clock.now += 1001;
    expect(fenceDue(h)).toEqual([2]);
  });

  it("never lengthens a session: a loss near the end of the session timeout keeps the earlier end", () => {
    const { h, epochs } = cluster();
    h.clock.now += SESSION - 1000;
    for (const id of [1, 3]) beat(h, epochs, id, `c${id}`);
    h.propose(h.controller.heartbeatConnectionLost("c2"));
    h.clock.now += 1001;
    expect(fenceDue(h)).toEqual([2]);
  });

  it("forgets losses when leadership moves: a new active controller starts every session afresh", () => {
    const { h } = cluster();
    h.propose(h.controller.heartbeatConnectionLost("c2"));
    h.controller.deactivate();
    h.propose(h.controller.activate(h.committed(), h.log.length, 2));
    h.clock.now += GRACE + 1;
    expect(fenceDue(h)).toEqual([]);
    h.clock.now += SESSION;
    expect(fenceDue(h).sort()).toEqual([1, 2, 3]);
  });

  it("does nothing for a broker that is already fenced", () => {
    const { h, epochs } = cluster();
    h.propose(h.controller.heartbeat(heartbeat(2, epochs.get(2) ?? -1n, h.log.length, { wantFence: true }), "c2"));
    expect(h.committed().brokers.get(2)?.fenced).toBe(true);
    expect(h.propose(h.controller.heartbeatConnectionLost("c2"))).toEqual([]);
  });
});

/** Brokers 1-3 heartbeating with a topic led by each; then a failover to a new active controller of epoch 2. */
function failedOver(): { h: Harness; epochs: Map<number, bigint> } {
  const h = harness({ brokerSessionTimeoutMs: SESSION, connectionLossGraceMs: GRACE });
  const epochs = liveBrokers(h, [null, null, null]);
  h.propose(h.controller.createTopics([topic("t", 3, 3)]));
  for (const id of [1, 2, 3]) beat(h, epochs, id, `c${id}`);
  h.controller.deactivate();
  h.propose(h.controller.activate(h.committed(), h.log.length, 2));
  return { h, epochs };
}

describe("the previous quorum leader's broker after a failover", () => {
  it("is fenced the grace after its connection closed, and only it: the others keep a whole session", () => {
    const { h } = failedOver();
    // The loss was seen 1200 ms before this controller became active (the election after the raft grace).
    const lostAt = h.clock.now - 1200;
    expect(h.controller.previousLeaderLost(2, lostAt)).toBe(true);
    expect(h.controller.nextSessionExpiry()).toBe(lostAt + GRACE + 1);
    h.clock.now = lostAt + GRACE;
    expect(fenceDue(h)).toEqual([]);
    h.clock.now += 1;
    expect(fenceDue(h)).toEqual([2]);
    expect(partitionsOf(h.committed(), "t").every((p) => p.leader !== -1 && p.leader !== 2)).toBe(true);
    // KAFKA-18138: brokers 1 and 3 have not heartbeat this controller yet, and are not fenced for it.
    h.clock.now = lostAt + 1200 + SESSION;
    expect(fenceDue(h)).toEqual([]);
    h.clock.now += 1;
    expect(fenceDue(h).sort()).toEqual([1, 3]);
  });

  it("gets at least a second after the activation when the election took longer than the grace", () => {
    const { h } = failedOver();
    const now = h.clock.now;
    expect(h.controller.previousLeaderLost(2, now - 5000)).toBe(true);
    h.clock.now = now + MIN_AFTER_ACTIVATION;
    expect(fenceDue(h)).toEqual([]);
    h.clock.now += 1;
    expect(fenceDue(h)).toEqual([2]);
  });

  it("is not fenced if it heartbeats the new controller within the grace", () => {
    const { h, epochs } = failedOver();
    const now = h.clock.now;
    h.controller.previousLeaderLost(2, now);
    h.clock.now += GRACE - 100;
    beat(h, epochs, 2, "c2");
    h.clock.now += 200;
    expect(fenceDue(h)).toEqual([]);
    expect(h.committed().brokers.get(2)?.fenced).toBe(false);
  });

  it("is left alone once it heartbeat this controller, and for a node id no broker has (a controller-only node)", () => {
    const { h, epochs } = failedOver();
    beat(h, epochs, 2, "c2");
    expect(h.controller.previousLeaderLost(2, h.clock.now)).toBe(false);
    expect(h.controller.previousLeaderLost(9, h.clock.now)).toBe(false);
    h.clock.now += GRACE + MIN_AFTER_ACTIVATION + 1;
    expect(fenceDue(h)).toEqual([]);
  });

  it("is fenced at once when a connect to it was refused after the close (ADR 32), and only it", () => {
    const { h } = failedOver();
    const lostAt = h.clock.now - 300;
    expect(h.controller.previousLeaderLost(2, lostAt, lostAt + 5)).toBe(true);
    expect(h.controller.nextSessionExpiry()).toBe(h.clock.now + 1);
    h.clock.now += 1;
    expect(fenceDue(h)).toEqual([2]);
    expect(partitionsOf(h.committed(), "t").every((p) => p.leader !== -1 && p.leader !== 2)).toBe(true);
    // The others keep the whole fresh session (KAFKA-18138).
    h.clock.now += SESSION - 2;
    expect(fenceDue(h)).toEqual([]);
  });

  it("takes no refusal older than the close as evidence: the grace applies", () => {
    const { h } = failedOver();
    const lostAt = h.clock.now - 1200;
    expect(h.controller.previousLeaderLost(2, lostAt, lostAt - 1)).toBe(true);
    expect(h.controller.nextSessionExpiry()).toBe(lostAt + GRACE + 1);
  });

  it("is not fenced on a refusal once it heartbeat the new controller (a process listening again)", () => {
    const { h, epochs } = failedOver();
    beat(h, epochs, 2, "c2");
    expect(h.controller.previousLeaderLost(2, h.clock.now - 300, h.clock.now - 200)).toBe(false);
    h.clock.now += 1;
    expect(fenceDue(h)).toEqual([]);
  });

  it("does nothing for a broker that is already fenced", () => {
    const { h, epochs } = failedOver();
    h.propose(h.controller.heartbeat(heartbeat(2, epochs.get(2) ?? -1n, h.log.length, { wantFence: true }), "c2"));
    expect(h.committed().brokers.get(2)?.fenced).toBe(true);
    expect(h.controller.previousLeaderLost(2, h.clock.now)).toBe(false);
  });
});
