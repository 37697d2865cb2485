// Vote (key 52), versions 0-2, controller listener only.
// Handed to the raft core; answered once the core has persisted any vote it grants. v2 carries KIP-996's PreVote.
import { ApiKey, VoteRequest, VoteResponse } from "../../protocol/index.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import type { QuorumPort } from "./services.ts";

export function voteHandler(quorum: QuorumPort): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.Vote,
    minVersion: 0,
    maxVersion: 2,
    request: VoteRequest,
    response: VoteResponse,
    handle: (request) => quorum.vote(request),
  });
}
