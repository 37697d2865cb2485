import { expect } from "vitest";
import {
  CreateTopicsRequest,
  CreateTopicsResponse,
  decodeResponse,
  encodeRequest,
  ErrorCode,
  FindCoordinatorRequest,
  FindCoordinatorResponse,
  ListGroupsRequest,
  ListGroupsResponse,
  ProduceRequest,
  ProduceResponse,
  type CreateTopicsResponseCreatableTopicResult,
  type MessageCodec,
  type ProduceResponsePartitionProduceResponse,
} from "../../src/protocol/index.ts";
import { type TestClient, waitFor } from "../network/helpers.ts";
import { pollUntil } from "./broker-process.ts";

let correlationId = 0;

/**
 * Sends one request as raw frames (fields not given take their defaults) and resolves with the decoded response body;
 * one request at a time per client. For the versions and edges real clients do not reach.
 */
export async function wireCall<Req, Res>(
  client: TestClient,
  version: number,
  request: MessageCodec<Req>,
  response: MessageCodec<Res>,
  body: Partial<Req>,
  clientId = "wire-test",
): Promise<Res> {
  const before = client.responses.length;
  const id = ++correlationId;
  const header = { apiKey: request.apiKey, apiVersion: version, correlationId: id, clientId };
  client.send(encodeRequest(header, request, { ...request.create(), ...body }));
  const frame = await waitFor(
    () => (client.closed ? new Error("connection closed") : client.responses[before]),
    `${request.name} v${version}`,
  );
  if (frame instanceof Error) throw frame;
  const decoded = decodeResponse(frame, request.apiKey, version, response);
  expect(decoded.correlationId).toBe(id);
  return decoded.body;
}

/** Produces one batch (acks=-1) to a partition through raw frames; resolves with the partition's answer. */
export async function produceBatch(
  client: TestClient,
  topic: string,
  partition: number,
  batch: Buffer,
): Promise<ProduceResponsePartitionProduceResponse | undefined> {
  const res = await wireCall(client, 9, ProduceRequest, ProduceResponse, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }],
  });
  return res.responses[0]?.partitionResponses[0];
}

/** Creates a topic through raw frames (CreateTopics v7); resolves with its result. */
export async function createTopicWire(
  client: TestClient,
  name: string,
  numPartitions = 1,
): Promise<CreateTopicsResponseCreatableTopicResult | undefined> {
  const res = await wireCall(client, 7, CreateTopicsRequest, CreateTopicsResponse, {
    topics: [{ name, numPartitions, replicationFactor: -1, assignments: [], configs: [] }],
    timeoutMs: 5000,
  });
  return res.topics[0];
}

/**
 * Asks FindCoordinator until it names a coordinator, as clients retry COORDINATOR_NOT_AVAILABLE, then ListGroups until
 * no shard is loading: `__consumer_offsets` is created on the first FindCoordinator for a group (as in Kafka), so raw
 * group requests sent before then answer NOT_COORDINATOR.
 */
export async function groupCoordinatorReadyWire(client: TestClient): Promise<void> {
  await pollUntil("the group coordinator", async () => {
    const found = await wireCall(client, 3, FindCoordinatorRequest, FindCoordinatorResponse, { key: "ready" });
    if (found.errorCode !== ErrorCode.NONE) return false;
    const listed = await wireCall(client, 4, ListGroupsRequest, ListGroupsResponse, {});
    return listed.errorCode === ErrorCode.NONE;
  });
}
