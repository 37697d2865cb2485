// Fetch (key 1), versions 13-17 on the controller listener: KRaft replication of __cluster_metadata-0.
// Followers and observers pull the metadata log; the raft core answers with records, a diverging epoch, or an error,
// holding a fetch with nothing new up to its wait. From v13 the topic is named by id; earlier versions are not served.
import { ApiKey, FetchRequest, FetchResponse } from "../../protocol/index.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import type { QuorumPort } from "./services.ts";

export function quorumFetchHandler(quorum: QuorumPort): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.Fetch,
    minVersion: 13,
    maxVersion: 17,
    request: FetchRequest,
    response: FetchResponse,
    handle: (request) => quorum.fetch(request),
  });
}
