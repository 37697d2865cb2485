import { produceHandler } from "./00-produce.ts";
import { fetchHandler } from "./01-fetch.ts";
import { listOffsetsHandler } from "./02-list-offsets.ts";
import { apiVersionsHandler } from "./18-api-versions.ts";
import { offsetCommitHandler } from "./08-offset-commit.ts";
import { offsetFetchHandler } from "./09-offset-fetch.ts";
import { findCoordinatorHandler } from "./10-find-coordinator.ts";
import { joinGroupHandler } from "./11-join-group.ts";
import { heartbeatHandler } from "./12-heartbeat.ts";
import { leaveGroupHandler } from "./13-leave-group.ts";
import { syncGroupHandler } from "./14-sync-group.ts";
import { describeGroupsHandler } from "./15-describe-groups.ts";
import { listGroupsHandler } from "./16-list-groups.ts";
import { deleteGroupsHandler } from "./42-delete-groups.ts";
import { offsetDeleteHandler } from "./47-offset-delete.ts";
import { initProducerIdHandler } from "./22-init-producer-id.ts";
import { metadataHandler } from "./03-metadata.ts";
import { createTopicsHandler } from "./19-create-topics.ts";
import { deleteTopicsHandler } from "./20-delete-topics.ts";
import { deleteRecordsHandler } from "./21-delete-records.ts";
import { offsetForLeaderEpochHandler } from "./23-offset-for-leader-epoch.ts";
import { describeConfigsHandler } from "./32-describe-configs.ts";
import { alterConfigsHandler } from "./33-alter-configs.ts";
import { describeLogDirsHandler } from "./35-describe-log-dirs.ts";
import { createPartitionsHandler } from "./37-create-partitions.ts";
import { electLeadersHandler } from "./43-elect-leaders.ts";
import { incrementalAlterConfigsHandler } from "./44-incremental-alter-configs.ts";
import { alterPartitionReassignmentsHandler } from "./45-alter-partition-reassignments.ts";
import { listPartitionReassignmentsHandler } from "./46-list-partition-reassignments.ts";
import { describeQuorumHandler } from "./55-describe-quorum.ts";
import { updateFeaturesHandler } from "./57-update-features.ts";
import { describeClusterHandler } from "./60-describe-cluster.ts";
import { unregisterBrokerHandler } from "./64-unregister-broker.ts";
import { describeTopicPartitionsHandler } from "./75-describe-topic-partitions.ts";
import type { AnyHandler } from "./handler.ts";
import type { BrokerServices } from "./services.ts";

/**
 * Every API this broker serves. ApiVersions advertises exactly this list, so an API is advertised if and only if it
 * has a handler here.
 */
export function createHandlers(services: BrokerServices): AnyHandler[] {
  const handlers: AnyHandler[] = [
    produceHandler(services),
    fetchHandler(services),
    listOffsetsHandler(services),
    metadataHandler(services),
    offsetCommitHandler(services),
    offsetFetchHandler(services),
    findCoordinatorHandler(services),
    joinGroupHandler(services),
    heartbeatHandler(services),
    leaveGroupHandler(services),
    syncGroupHandler(services),
    describeGroupsHandler(services),
    listGroupsHandler(services),
    deleteGroupsHandler(services),
    offsetDeleteHandler(services),
    initProducerIdHandler(services),
    createTopicsHandler(services),
    deleteTopicsHandler(services),
    deleteRecordsHandler(services),
    offsetForLeaderEpochHandler(services),
    describeConfigsHandler(services),
    alterConfigsHandler(services),
    describeLogDirsHandler(services),
    createPartitionsHandler(services),
    electLeadersHandler(services),
    incrementalAlterConfigsHandler(services),
    alterPartitionReassignmentsHandler(services),
    listPartitionReassignmentsHandler(services),
    describeQuorumHandler(services),
    updateFeaturesHandler(services),
    describeClusterHandler(services),
    unregisterBrokerHandler(services),
    describeTopicPartitionsHandler(services),
  ];
  handlers.push(
    apiVersionsHandler(
      () => handlers,
      () => {
        const { provenance, features } = services.metadata.image;
        return { epoch: BigInt(provenance.offset), levels: features };
      },
    ),
  );
  return handlers;
}
