import type { BrokerConfig, ListenerConfig } from "../config/broker-config.ts";
import type { QuorumVoter } from "../config/schema.ts";

// What a process is in the cluster, from its (already validated) configuration: which roles it runs, whether it votes
// in the metadata quorum, where the voters are, and which listener carries the quorum's protocol (ADR 22).

export interface NodePlan {
  readonly nodeId: number;
  readonly broker: boolean;
  readonly controller: boolean;
  /**
   * The static voter set. A combined node configured without voters is a quorum of itself alone (`selfQuorum`), its
   * address port 0 until its controller listener is bound.
   */
  readonly voters: readonly QuorumVoter[];
  readonly selfQuorum: boolean;
  /**
   * KIP-853: the voters live in the metadata log (`controller.quorum.bootstrap.servers` set, no static voters); the node
   * learns them from its bootstrap snapshot (`tributary-storage format --standalone / --initial-controllers`) or from
   * the leader it finds through these servers.
   */
  readonly bootstrapServers: readonly { readonly host: string; readonly port: number }[];
  /** A static voter runs for election; every other node (brokers, controllers outside the set) is an observer. */
  readonly voter: boolean;
  /** The listener serving the quorum and controller APIs on this node, or null when it serves none. */
  readonly controllerListener: ListenerConfig | null;
  /** The name voters and brokers reach controllers by (controller.listener.names' first). */
  readonly controllerListenerName: string;
}

const SELF_QUORUM_LISTENER: ListenerConfig = {
  name: "CONTROLLER",
  host: "127.0.0.1",
  port: 0,
  securityProtocol: "PLAINTEXT",
  isController: true,
};

export function planNode(config: BrokerConfig): NodePlan {
  const controller = config.processRoles.includes("controller");
  const broker = config.processRoles.includes("broker");
  const configured = config.controllerQuorumVoters;
  const bootstrapServers = config.controllerQuorumBootstrapServers;
  const selfQuorum = configured.length === 0 && bootstrapServers.length === 0;
  // A quorum of this node alone still has a controller listener, on a free loopback port, so that the broker reaches
  // its controller the way every broker does. Nothing else connects to it.
  const configuredListener = controller ? (config.listeners.find((l) => l.isController) ?? null) : null;
  const controllerListener = configuredListener ?? (selfQuorum ? SELF_QUORUM_LISTENER : null);
  const voters = selfQuorum
    ? [{ id: config.nodeId, host: loopbackIfWildcard(controllerListener?.host ?? ""), port: 0 }]
    : configured;
  return {
    nodeId: config.nodeId,
    broker,
    controller,
    voters,
    selfQuorum,
    bootstrapServers,
    voter: controller && voters.some((v) => v.id === config.nodeId),
    controllerListener,
    controllerListenerName: controllerListener?.name ?? config.controllerListenerNames[0] ?? "CONTROLLER",
  };
}

function loopbackIfWildcard(host: string): string {
  return host === "" || host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
}
