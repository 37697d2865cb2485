import { fenceScenario } from "../support/fence-scenario.ts";

// A refused connect as evidence of a dead process (ADR 32), across processes: three combined nodes, a topic of 3
// partitions with RF 3 and min.insync.replicas 2, and a connection-loss grace (20 s) far above anything a loaded
// machine adds, below a 30 s session timeout. The first acks=all write after a kill -9 must come before the grace,
// the earliest moment ADR 26 and 29 alone would fence the dead broker. kill -9 of a partition leader that is not the
// active controller: its heartbeat connection closes, and the controller's probe of its listener is refused. kill -9
// of the active controller while it leads a partition: the other voters see their connections to it close, their
// new connects are refused, and they elect a new quorum leader at once; the new active controller holds that refusal
// as evidence and fences the dead node's broker at activation.

const GRACE_MS = 20_000;

fenceScenario({
  name: "fence-on-refused-connect",
  topic: "fence-on-refused",
  config: { "broker.session.timeout.ms": "30000", "broker.connection.loss.grace.ms": String(GRACE_MS) },
  pollMs: GRACE_MS,
  title: "fencing a killed node whose port refuses connects",
  leaderKill: {
    title: "after kill -9 of a partition leader that is not the active controller, writes resume before the grace",
    // ADR 26 alone fences the broker the grace after its heartbeat connection closed.
    ackWithinMs: GRACE_MS,
    logged: "Nothing listens where a broker whose connection was lost did",
  },
  controllerKill: {
    title: "after kill -9 of the active controller that leads a partition, writes resume before the grace",
    // ADR 29 alone fences the dead broker the grace after the loss: no write before it.
    ackWithinMs: GRACE_MS,
    logged: "closed its connections and refuses new ones",
  },
});
