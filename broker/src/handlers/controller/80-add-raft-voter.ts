// AddRaftVoter (key 80), version 0, controller listener.
// KIP-853: the leader adds a controller that fetches as an observer to the voter set, with one VotersRecord, and
// answers once that record commits. `kafka-metadata-quorum --bootstrap-controller … add-controller` sends it.
import { AddRaftVoterRequest, AddRaftVoterResponse, ApiKey } from "../../protocol/index.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import type { QuorumPort } from "./services.ts";

export function addRaftVoterHandler(quorum: QuorumPort): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.AddRaftVoter,
    minVersion: 0,
    maxVersion: 0,
    request: AddRaftVoterRequest,
    response: AddRaftVoterResponse,
    handle: async (request) => {
      const { errorCode, errorMessage } = await quorum.addRaftVoter(request);
      return { ...AddRaftVoterResponse.create(), errorCode, errorMessage };
    },
  });
}
