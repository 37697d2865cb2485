// EndQuorumEpoch (key 54), versions 0-1, controller listener only.
// A resigning leader naming its preferred successors; handed to the raft core.
import { ApiKey, EndQuorumEpochRequest, EndQuorumEpochResponse } from "../../protocol/index.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import type { QuorumPort } from "./services.ts";

export function endQuorumEpochHandler(quorum: QuorumPort): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.EndQuorumEpoch,
    minVersion: 0,
    maxVersion: 1,
    request: EndQuorumEpochRequest,
    response: EndQuorumEpochResponse,
    handle: (request) => quorum.endQuorumEpoch(request),
  });
}
