// DescribeQuorum (key 55), versions 0-2, controller listener.
// The quorum as its leader sees it: leader, epoch, high watermark, each voter's and observer's log end offset and
// fetch times, and (v2) the controllers' listeners. Any other node answers NOT_LEADER_OR_FOLLOWER, as Kafka does.
// `kafka-metadata-quorum describe --status / --replication` reads it.
import { ApiKey, DescribeQuorumRequest, DescribeQuorumResponse } from "../../protocol/index.ts";
import { defineHandler, type AnyHandler } from "../handler.ts";
import type { QuorumPort } from "./services.ts";

export function describeQuorumHandler(quorum: QuorumPort): AnyHandler {
  return defineHandler({
    apiKey: ApiKey.DescribeQuorum,
    minVersion: 0,
    maxVersion: 2,
    request: DescribeQuorumRequest,
    response: DescribeQuorumResponse,
    handle: () => Promise.resolve(quorum.describeQuorum()),
  });
}
