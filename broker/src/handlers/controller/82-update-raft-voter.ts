// UpdateRaftVoter (key 82), version 0, controller listener.
// KIP-853: a voter tells the leader its current endpoints and kraft.version range; the leader appends a VotersRecord
// and answers at once (as Kafka does), naming itself as the current leader.
import { ApiKey, UpdateRaftVoterRequest, UpdateRaftVoterResponse } from "../../protocol/index.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import type { QuorumPort } from "./services.ts";

export function updateRaftVoterHandler(quorum: QuorumPort): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.UpdateRaftVoter,
    minVersion: 0,
    maxVersion: 0,
    request: UpdateRaftVoterRequest,
    response: UpdateRaftVoterResponse,
    handle: (request) => quorum.updateRaftVoter(request),
  });
}
