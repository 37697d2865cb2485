// BeginQuorumEpoch (key 53), versions 0-1, controller listener only.
// A new leader announcing its epoch; handed to the raft core, answered once the follower has persisted it.
import { ApiKey, BeginQuorumEpochRequest, BeginQuorumEpochResponse } from "../../protocol/index.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import type { QuorumPort } from "./services.ts";

export function beginQuorumEpochHandler(quorum: QuorumPort): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.BeginQuorumEpoch,
    minVersion: 0,
    maxVersion: 1,
    request: BeginQuorumEpochRequest,
    response: BeginQuorumEpochResponse,
    handle: (request) => quorum.beginQuorumEpoch(request),
  });
}
