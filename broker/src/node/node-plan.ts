import type { BrokerConfig, ListenerConfig } from "../config/broker-config.ts";
import type { QuorumVoter } from "../config/schema.ts";

// What a process is in the cluster, from its (already validated) configuration: which roles it runs, whether it votes
// in the metadata quorum, where the voters are, and which listener carries the quorum's protocol (ADR 22).

export interface NodePlan {
  readonly nodeId: number;
  readonly broker: boolean;
  readonly controller: boolean;
  /** The static voter set; a combined node configured without voters is a quorum of itself alone. */
  readonly voters: readonly QuorumVoter[];
  /** A voter runs for election; every other node (brokers, controllers outside the set) is an observer. */
  readonly voter: boolean;
  /** The listener serving the quorum and controller APIs on this node, or null when it serves none. */
  readonly controllerListener: ListenerConfig | null;
  /** The name voters and brokers reach controllers by (controller.listener.names' first). */
  readonly controllerListenerName: string;
}

export function planNode(config: BrokerConfig): NodePlan {
  const controller = config.processRoles.includes("controller");
  const broker = config.processRoles.includes("broker");
  const configured = config.controllerQuorumVoters;
  const controllerListener = controller ? (config.listeners.find((l) => l.isController) ?? null) : null;
  // A self-quorum needs no address: nobody else ever connects to it.
  const voters =
    configured.length > 0
      ? configured
      : [{ id: config.nodeId, host: controllerListener?.host ?? "", port: controllerListener?.port ?? 0 }];
  return {
    nodeId: config.nodeId,
    broker,
    controller,
    voters,
    voter: controller && voters.some((v) => v.id === config.nodeId),
    controllerListener,
    controllerListenerName: controllerListener?.name ?? config.controllerListenerNames[0] ?? "CONTROLLER",
  };
}
