import { apiVersionsHandler } from "../18-api-versions.ts";
import type { AnyHandler } from "../handler.ts";
import { quorumFetchHandler } from "./01-fetch.ts";
import { voteHandler } from "./52-vote.ts";
import { beginQuorumEpochHandler } from "./53-begin-quorum-epoch.ts";
import { endQuorumEpochHandler } from "./54-end-quorum-epoch.ts";
import { describeQuorumHandler } from "./55-describe-quorum.ts";
import { controllerDescribeClusterHandler } from "./60-describe-cluster.ts";
import type { QuorumPort } from "./services.ts";

/** Every API the controller listener serves (ADR 22); ApiVersions advertises exactly these. */
export function createControllerHandlers(quorum: QuorumPort): AnyHandler[] {
  const handlers: AnyHandler[] = [
    quorumFetchHandler(quorum),
    voteHandler(quorum),
    beginQuorumEpochHandler(quorum),
    endQuorumEpochHandler(quorum),
    describeQuorumHandler(quorum),
    controllerDescribeClusterHandler(quorum),
  ];
  handlers.push(apiVersionsHandler(() => handlers));
  return handlers;
}
