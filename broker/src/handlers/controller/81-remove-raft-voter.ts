// RemoveRaftVoter (key 81), version 0, controller listener.
// KIP-853: the leader removes a voter (matched by id and directory id) with one VotersRecord and answers once it
// commits; a leader that removes itself resigns then. `kafka-metadata-quorum … remove-controller` sends it.
import { ApiKey, RemoveRaftVoterRequest, RemoveRaftVoterResponse } from "../../protocol/index.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import type { QuorumPort } from "./services.ts";

export function removeRaftVoterHandler(quorum: QuorumPort): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.RemoveRaftVoter,
    minVersion: 0,
    maxVersion: 0,
    request: RemoveRaftVoterRequest,
    response: RemoveRaftVoterResponse,
    handle: async (request) => {
      const { errorCode, errorMessage } = await quorum.removeRaftVoter(request);
      return { ...RemoveRaftVoterResponse.create(), errorCode, errorMessage };
    },
  });
}
