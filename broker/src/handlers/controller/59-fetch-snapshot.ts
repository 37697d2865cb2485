// FetchSnapshot (key 59), versions 0-1 on the controller listener (KIP-630): a follower or observer whose fetch
// position is below the leader's log start reads the leader's newest snapshot in chunks, then fetches from its end.
// Each answer carries at most the request's MaxBytes, and at most the leader's chunk limit (1 MiB).
import { ApiKey, FetchSnapshotRequest, FetchSnapshotResponse } from "../../protocol/index.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import type { QuorumPort } from "./services.ts";

export function fetchSnapshotHandler(quorum: QuorumPort): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.FetchSnapshot,
    minVersion: 0,
    maxVersion: 1,
    request: FetchSnapshotRequest,
    response: FetchSnapshotResponse,
    handle: (request) => quorum.fetchSnapshot(request),
  });
}
