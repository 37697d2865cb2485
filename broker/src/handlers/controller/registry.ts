import { apiVersionsHandler } from "../18-api-versions.ts";
import type { AnyHandler } from "../handler.ts";
import { quorumFetchHandler } from "./01-fetch.ts";
import { voteHandler } from "./52-vote.ts";
import { beginQuorumEpochHandler } from "./53-begin-quorum-epoch.ts";
import { endQuorumEpochHandler } from "./54-end-quorum-epoch.ts";
import { describeQuorumHandler } from "./55-describe-quorum.ts";
import { fetchSnapshotHandler } from "./59-fetch-snapshot.ts";
import { controllerDescribeClusterHandler } from "./60-describe-cluster.ts";
import { addRaftVoterHandler } from "./80-add-raft-voter.ts";
import { removeRaftVoterHandler } from "./81-remove-raft-voter.ts";
import { updateRaftVoterHandler } from "./82-update-raft-voter.ts";
import { controllerCreateTopicsHandler } from "./19-create-topics.ts";
import { controllerDeleteTopicsHandler } from "./20-delete-topics.ts";
import { controllerAlterConfigsHandler } from "./33-alter-configs.ts";
import { controllerCreatePartitionsHandler } from "./37-create-partitions.ts";
import { controllerElectLeadersHandler } from "./43-elect-leaders.ts";
import { controllerIncrementalAlterConfigsHandler } from "./44-incremental-alter-configs.ts";
import { controllerAlterPartitionReassignmentsHandler } from "./45-alter-partition-reassignments.ts";
import { controllerListPartitionReassignmentsHandler } from "./46-list-partition-reassignments.ts";
import { alterPartitionHandler } from "./56-alter-partition.ts";
import { updateFeaturesHandler } from "./57-update-features.ts";
import { envelopeHandler } from "./58-envelope.ts";
import { brokerRegistrationHandler } from "./62-broker-registration.ts";
import { brokerHeartbeatHandler } from "./63-broker-heartbeat.ts";
import { unregisterBrokerHandler } from "./64-unregister-broker.ts";
import { allocateProducerIdsHandler } from "./67-allocate-producer-ids.ts";
import { controllerRegistrationHandler } from "./70-controller-registration.ts";
import { assignReplicasToDirsHandler } from "./73-assign-replicas-to-dirs.ts";
import type { ControllerCommands, QuorumPort } from "./services.ts";

/**
 * Every API the controller listener serves (ADR 22); ApiVersions advertises exactly these. Without `commands` (a node
 * whose controller layer is not started) only the quorum's own APIs are served.
 */
export function createControllerHandlers(quorum: QuorumPort, commands?: ControllerCommands): AnyHandler[] {
  const handlers: AnyHandler[] = [
    quorumFetchHandler(quorum),
    voteHandler(quorum),
    beginQuorumEpochHandler(quorum),
    endQuorumEpochHandler(quorum),
    describeQuorumHandler(quorum),
    fetchSnapshotHandler(quorum),
    controllerDescribeClusterHandler(quorum),
    addRaftVoterHandler(quorum),
    removeRaftVoterHandler(quorum),
    updateRaftVoterHandler(quorum),
  ];
  if (commands) {
    handlers.push(
      controllerCreateTopicsHandler(commands),
      controllerDeleteTopicsHandler(commands),
      controllerAlterConfigsHandler(commands),
      controllerCreatePartitionsHandler(commands),
      controllerElectLeadersHandler(commands),
      controllerIncrementalAlterConfigsHandler(commands),
      controllerAlterPartitionReassignmentsHandler(commands),
      controllerListPartitionReassignmentsHandler(commands),
      alterPartitionHandler(commands),
      updateFeaturesHandler(commands),
      envelopeHandler(commands, () => handlers),
      brokerRegistrationHandler(commands),
      brokerHeartbeatHandler(commands),
      unregisterBrokerHandler(commands),
      allocateProducerIdsHandler(commands),
      controllerRegistrationHandler(commands),
      assignReplicasToDirsHandler(commands),
    );
  }
  handlers.push(apiVersionsHandler(() => handlers, commands && (() => commands.finalizedFeatures())));
  return handlers;
}
