import { fenceScenario } from "../support/fence-scenario.ts";

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

fenceScenario({
  name: "fence-on-connection-loss",
  topic: "fence-on-loss",
  config: { "broker.session.timeout.ms": String(SESSION_TIMEOUT_MS) },
  pollMs: SESSION_TIMEOUT_MS,
  title: "fencing a killed broker on connection loss",
  leaderKill: {
    title: "elects a new leader and takes an acks=all write well before the session timeout",
    ackWithinMs: SESSION_TIMEOUT_MS,
    logged: "Lost the connection brokers heartbeat on",
  },
  controllerKill: {
    title: "after kill -9 of the active controller that leads a partition, a new leader takes an acks=all write",
    // Before ADR 29 the new controller started the dead broker's session afresh: no fence before the session timeout.
    ackWithinMs: SESSION_TIMEOUT_MS / 2,
    logged: "The previous quorum leader closed its connections",
  },
});
