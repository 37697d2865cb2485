import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DeleteGroupsRequest,
  DeleteGroupsResponse,
  DescribeGroupsRequest,
  DescribeGroupsResponse,
  ErrorCode,
  FindCoordinatorRequest,
  FindCoordinatorResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  JoinGroupRequest,
  JoinGroupResponse,
  LeaveGroupRequest,
  LeaveGroupResponse,
  ListGroupsRequest,
  ListGroupsResponse,
  MetadataRequest,
  MetadataResponse,
  OffsetCommitRequest,
  OffsetCommitResponse,
  OffsetFetchRequest,
  OffsetFetchResponse,
  SyncGroupRequest,
  SyncGroupResponse,
  ZERO_UUID,
  type MessageCodec,
} from "../../src/protocol/index.ts";
import { TestClient } from "../network/helpers.ts";
import { groupCoordinatorReadyWire, wireCall } from "../support/wire-call.ts";
import { pollUntil, startBrokerProcess, type BrokerProcess } from "../support/broker-process.ts";

// The group APIs at the versions kafkajs does not send (it stops at JoinGroup v5, OffsetCommit v5, OffsetFetch v4,
// FindCoordinator v2...), through raw frames to the real broker process: the edges each version adds.

let broker: BrokerProcess;
const clients: TestClient[] = [];

beforeAll(async () => {
  // A short minimum session lets the expiry test run in about a second.
  broker = await startBrokerProcess({ overrides: { "num.partitions": "2", "group.min.session.timeout.ms": "1000" } });
  await groupCoordinatorReadyWire(await connect());
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  await broker.destroy();
});

async function connect(): Promise<TestClient> {
  const client = await TestClient.connect(broker.port);
  clients.push(client);
  return client;
}

/** Sends one request and resolves with its decoded response; one request at a time per client. */
function call<Req, Res>(
  client: TestClient,
  version: number,
  request: MessageCodec<Req>,
  response: MessageCodec<Res>,
  body: Partial<Req>,
): Promise<Res> {
  return wireCall(client, version, request, response, body, "groups-wire");
}

const SUBSCRIPTION = Buffer.from("subscription");

async function join(client: TestClient, groupId: string, version: number, knownId = "") {
  const ask = (memberId: string) =>
    call(client, version, JoinGroupRequest, JoinGroupResponse, {
      groupId,
      memberId,
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      protocolType: "consumer",
      protocols: [{ name: "range", metadata: SUBSCRIPTION }],
    });
  let joined = await ask(knownId);
  if (joined.errorCode === ErrorCode.MEMBER_ID_REQUIRED) joined = await ask(joined.memberId);
  return joined;
}

describe("group APIs version by version", () => {
  it("FindCoordinator: this node for groups, a clear refusal for transactions and share groups", async () => {
    const client = await connect();
    const v0 = await call(client, 0, FindCoordinatorRequest, FindCoordinatorResponse, { key: "g" });
    expect(v0).toMatchObject({ errorCode: 0, nodeId: 1, host: "127.0.0.1", port: broker.port });

    const txn = await call(client, 3, FindCoordinatorRequest, FindCoordinatorResponse, { key: "t", keyType: 1 });
    // Not retriable, so that transactional producers fail at once (e2e/compat checks Java, librdkafka, franz-go).
    expect(txn).toMatchObject({ errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, nodeId: -1, host: "", port: -1 });
    expect(txn.errorMessage).toMatch(/transactions are not supported/i);
    const txnBatched = await call(client, 4, FindCoordinatorRequest, FindCoordinatorResponse, {
      keyType: 1,
      coordinatorKeys: ["t1"],
    });
    expect(txnBatched.coordinators).toMatchObject([{ key: "t1", errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED }]);
    expect(txnBatched.coordinators?.[0]?.errorMessage).toMatch(/transactions are not supported/i);

    const batched = await call(client, 4, FindCoordinatorRequest, FindCoordinatorResponse, {
      keyType: 0,
      coordinatorKeys: ["a", "b"],
    });
    expect(batched.coordinators).toEqual([
      expect.objectContaining({ key: "a", errorCode: 0, nodeId: 1, host: "127.0.0.1", port: broker.port }),
      expect.objectContaining({ key: "b", errorCode: 0, nodeId: 1, host: "127.0.0.1", port: broker.port }),
    ]);

    const share = await call(client, 6, FindCoordinatorRequest, FindCoordinatorResponse, {
      keyType: 2,
      coordinatorKeys: ["s"],
    });
    expect(share.coordinators).toEqual([
      expect.objectContaining({ key: "s", errorCode: ErrorCode.INVALID_REQUEST, nodeId: -1 }),
    ]);
  });

  it("JoinGroup v9 through SyncGroup v5, Heartbeat v4, DescribeGroups v5, ListGroups v5 and LeaveGroup v5", async () => {
    const client = await connect();
    const groupId = "wire-v9";
    const first = await call(client, 9, JoinGroupRequest, JoinGroupResponse, {
      groupId,
      memberId: "",
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      protocolType: "consumer",
      protocols: [{ name: "range", metadata: SUBSCRIPTION }],
    });
    // KIP-394: a dynamic member is given its id and must come back with it.
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    expect(first.memberId).toMatch(/^groups-wire-/);
    const joined = await join(client, groupId, 9, first.memberId);
    expect(joined).toMatchObject({
      errorCode: 0,
      generationId: 1,
      protocolType: "consumer",
      protocolName: "range",
      leader: first.memberId,
      memberId: first.memberId,
      skipAssignment: false,
    });
    expect(joined.members).toEqual([expect.objectContaining({ memberId: first.memberId, metadata: SUBSCRIPTION })]);

    const assignment = Buffer.from("assignment");
    const synced = await call(client, 5, SyncGroupRequest, SyncGroupResponse, {
      groupId,
      generationId: 1,
      memberId: joined.memberId,
      protocolType: "consumer",
      protocolName: "range",
      assignments: [{ memberId: joined.memberId, assignment }],
    });
    expect(synced).toMatchObject({ errorCode: 0, protocolType: "consumer", protocolName: "range", assignment });
    const wrongProtocol = await call(client, 5, SyncGroupRequest, SyncGroupResponse, {
      groupId,
      generationId: 1,
      memberId: joined.memberId,
      protocolType: "consumer",
      protocolName: "roundrobin",
      assignments: [],
    });
    expect(wrongProtocol.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);

    const beat = { groupId, memberId: joined.memberId };
    expect(await call(client, 4, HeartbeatRequest, HeartbeatResponse, { ...beat, generationId: 1 })).toMatchObject({
      errorCode: 0,
    });
    expect(await call(client, 4, HeartbeatRequest, HeartbeatResponse, { ...beat, generationId: 2 })).toMatchObject({
      errorCode: ErrorCode.ILLEGAL_GENERATION,
    });

    const described = await call(client, 5, DescribeGroupsRequest, DescribeGroupsResponse, {
      groups: [groupId, "wire-nobody"],
      includeAuthorizedOperations: true,
    });
    expect(described.groups[0]).toMatchObject({
      errorCode: 0,
      groupId,
      groupState: "Stable",
      protocolType: "consumer",
      protocolData: "range",
      // READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS: what Kafka without an authorizer reports.
      authorizedOperations: (1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11),
    });
    expect(described.groups[0]?.members).toEqual([
      expect.objectContaining({
        memberId: joined.memberId,
        clientId: "groups-wire",
        memberMetadata: SUBSCRIPTION,
        memberAssignment: assignment,
      }),
    ]);
    expect(described.groups[1]).toMatchObject({ errorCode: 0, groupId: "wire-nobody", groupState: "Dead" });

    const listed = async (statesFilter: string[], typesFilter: string[]) =>
      (await call(client, 5, ListGroupsRequest, ListGroupsResponse, { statesFilter, typesFilter })).groups.filter(
        (g) => g.groupId === groupId,
      );
    expect(await listed([], [])).toEqual([
      expect.objectContaining({ groupId, protocolType: "consumer", groupState: "Stable", groupType: "classic" }),
    ]);
    expect(await listed(["stable"], ["Classic"])).toHaveLength(1);
    expect(await listed(["Empty"], [])).toHaveLength(0);
    expect(await listed([], ["consumer"])).toHaveLength(0);

    const left = await call(client, 5, LeaveGroupRequest, LeaveGroupResponse, {
      groupId,
      members: [
        { memberId: joined.memberId, groupInstanceId: null, reason: "test done" },
        { memberId: "someone-else", groupInstanceId: null, reason: null },
      ],
    });
    expect(left.errorCode).toBe(0);
    expect(left.members).toEqual([
      expect.objectContaining({ memberId: joined.memberId, errorCode: 0 }),
      expect.objectContaining({ memberId: "someone-else", errorCode: ErrorCode.UNKNOWN_MEMBER_ID }),
    ]);
    const after = await call(client, 0, DescribeGroupsRequest, DescribeGroupsResponse, { groups: [groupId] });
    expect(after.groups[0]).toMatchObject({ groupState: "Empty", members: [] });
  });

  it("JoinGroup v0-6 say '' where v7+ say null, and v0 joins without MEMBER_ID_REQUIRED", async () => {
    const client = await connect();
    const unknown = { groupId: "wire-unknown", memberId: "ghost", sessionTimeoutMs: 10_000, protocolType: "consumer" };
    const v6 = await call(client, 6, JoinGroupRequest, JoinGroupResponse, unknown);
    expect(v6).toMatchObject({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, protocolName: "" });
    const v7 = await call(client, 7, JoinGroupRequest, JoinGroupResponse, unknown);
    expect(v7).toMatchObject({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, protocolName: null, protocolType: null });

    const v0 = await join(client, "wire-v0", 0);
    expect(v0).toMatchObject({ errorCode: 0, generationId: 1, protocolName: "range" });
    const leave = await call(client, 0, LeaveGroupRequest, LeaveGroupResponse, {
      groupId: "wire-v0",
      memberId: v0.memberId,
    });
    expect(leave.errorCode).toBe(0);
    const again = await call(client, 1, LeaveGroupRequest, LeaveGroupResponse, {
      groupId: "wire-v0",
      memberId: v0.memberId,
    });
    // v0-2 have one error code: the member's.
    expect(again.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it("static members replace each other by instance id; JoinGroup below v5 ignores it", async () => {
    const groupId = "wire-static";
    const joinAs = (client: TestClient, version: number, memberId: string) =>
      call(client, version, JoinGroupRequest, JoinGroupResponse, {
        groupId,
        memberId,
        groupInstanceId: "instance-1",
        sessionTimeoutMs: 10_000,
        rebalanceTimeoutMs: 10_000,
        protocolType: "consumer",
        protocols: [{ name: "range", metadata: SUBSCRIPTION }],
      });
    const first = await connect();
    // Static members never get MEMBER_ID_REQUIRED.
    const joined = await joinAs(first, 5, "");
    expect(joined).toMatchObject({ errorCode: 0, generationId: 1 });
    const assignment = Buffer.from("static-assignment");
    const synced = await call(first, 3, SyncGroupRequest, SyncGroupResponse, {
      groupId,
      generationId: 1,
      memberId: joined.memberId,
      groupInstanceId: "instance-1",
      assignments: [{ memberId: joined.memberId, assignment }],
    });
    expect(synced).toMatchObject({ errorCode: 0, assignment });

    // The same instance restarting: a new member id, the same generation, and the old id is fenced.
    const second = await connect();
    const replaced = await joinAs(second, 5, "");
    expect(replaced.errorCode).toBe(0);
    expect(replaced.memberId).not.toBe(joined.memberId);
    const fenced = await call(first, 3, HeartbeatRequest, HeartbeatResponse, {
      groupId,
      generationId: replaced.generationId,
      memberId: joined.memberId,
      groupInstanceId: "instance-1",
    });
    expect(fenced.errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID);

    // v4 has no instance id, so the same request is a dynamic member asked for its id.
    const dynamic = await joinAs(first, 4, "");
    expect(dynamic.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);

    // Removal by instance id alone, as admin tools do (LeaveGroup v3+).
    const removed = await call(first, 3, LeaveGroupRequest, LeaveGroupResponse, {
      groupId,
      members: [{ memberId: "", groupInstanceId: "instance-1" }],
    });
    expect(removed.members).toEqual([expect.objectContaining({ groupInstanceId: "instance-1", errorCode: 0 })]);
  });

  it("picks the protocol every member supports, and expires a member that stops heartbeating", async () => {
    const groupId = "wire-protocols";
    const a = await connect();
    const b = await connect();
    const joinWith = (client: TestClient, memberId: string, names: string[], sessionTimeoutMs = 10_000) =>
      call(client, 3, JoinGroupRequest, JoinGroupResponse, {
        groupId,
        memberId,
        sessionTimeoutMs,
        rebalanceTimeoutMs: 10_000,
        protocolType: "consumer",
        protocols: names.map((name) => ({ name, metadata: Buffer.from(name) })),
      });
    const alone = await joinWith(a, "", ["range", "roundrobin"]);
    expect(alone).toMatchObject({ errorCode: 0, generationId: 1, protocolName: "range" });
    const sync = (client: TestClient, generationId: number, memberId: string) =>
      call(client, 3, SyncGroupRequest, SyncGroupResponse, { groupId, generationId, memberId, assignments: [] });
    expect((await sync(a, 1, alone.memberId)).errorCode).toBe(0);

    // B only speaks roundrobin; its join waits for A to rejoin, which A learns from its heartbeat.
    const bJoin = joinWith(b, "", ["roundrobin"], 1_000);
    const toldToRejoin = async (generationId: number, memberId: string) => {
      const beat = await call(a, 3, HeartbeatRequest, HeartbeatResponse, { groupId, generationId, memberId });
      return beat.errorCode === ErrorCode.REBALANCE_IN_PROGRESS;
    };
    await pollUntil("A to be told to rejoin", () => toldToRejoin(1, alone.memberId));
    const aAgain = await joinWith(a, alone.memberId, ["range", "roundrobin"]);
    const bJoined = await bJoin;
    for (const r of [aAgain, bJoined])
      expect(r).toMatchObject({ errorCode: 0, generationId: 2, protocolName: "roundrobin" });
    const leader = aAgain.leader === aAgain.memberId ? aAgain : bJoined;
    expect(leader.members.map((m) => m.metadata.toString()).sort()).toEqual(["roundrobin", "roundrobin"]);
    await Promise.all([sync(a, 2, aAgain.memberId), sync(b, 2, bJoined.memberId)]);

    // B's session is 1 s and it never heartbeats: it is dropped and A is told to rejoin without it.
    await pollUntil("B's session to expire", () => toldToRejoin(2, aAgain.memberId));
    const last = await joinWith(a, aAgain.memberId, ["range", "roundrobin"]);
    expect(last).toMatchObject({ errorCode: 0, generationId: 3, protocolName: "range" });
    expect(last.members.map((m) => m.memberId)).toEqual([aAgain.memberId]);

    const tooShort = await joinWith(b, "", ["range"], 500);
    expect(tooShort.errorCode).toBe(ErrorCode.INVALID_SESSION_TIMEOUT);
  });

  it("OffsetCommit v2 and v9 with per-partition errors; OffsetFetch v1, v7 and batched v8; DeleteGroups v2", async () => {
    const client = await connect();
    const topic = "wire-offsets";
    const metadata = await call(client, 12, MetadataRequest, MetadataResponse, {
      topics: [{ name: topic, topicId: ZERO_UUID }],
      allowAutoTopicCreation: true,
    });
    expect(metadata.topics[0]?.partitions).toHaveLength(2);

    const v9 = await call(client, 9, OffsetCommitRequest, OffsetCommitResponse, {
      groupId: "wire-g1",
      generationIdOrMemberEpoch: -1,
      memberId: "",
      groupInstanceId: null,
      topics: [
        {
          name: topic,
          partitions: [
            { partitionIndex: 0, committedOffset: 42n, committedLeaderEpoch: 3, committedMetadata: "meta" },
            { partitionIndex: 5, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: null },
          ],
        },
        {
          name: "wire-no-such-topic",
          partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: null }],
        },
      ],
    });
    expect(v9.topics).toEqual([
      expect.objectContaining({
        name: topic,
        partitions: [
          expect.objectContaining({ partitionIndex: 0, errorCode: 0 }),
          expect.objectContaining({ partitionIndex: 5, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }),
        ],
      }),
      expect.objectContaining({
        name: "wire-no-such-topic",
        partitions: [expect.objectContaining({ partitionIndex: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION })],
      }),
    ]);

    const v2 = await call(client, 2, OffsetCommitRequest, OffsetCommitResponse, {
      groupId: "wire-g2",
      generationIdOrMemberEpoch: -1,
      memberId: "",
      retentionTimeMs: 60_000n,
      topics: [{ name: topic, partitions: [{ partitionIndex: 1, committedOffset: 7n, committedMetadata: "" }] }],
    });
    expect(v2.topics[0]?.partitions[0]?.errorCode).toBe(0);

    const v1 = await call(client, 1, OffsetFetchRequest, OffsetFetchResponse, {
      groupId: "wire-g1",
      topics: [{ name: topic, partitionIndexes: [0, 1] }],
    });
    expect(v1.topics).toEqual([
      expect.objectContaining({
        name: topic,
        partitions: [
          expect.objectContaining({ partitionIndex: 0, committedOffset: 42n, metadata: "meta", errorCode: 0 }),
          expect.objectContaining({ partitionIndex: 1, committedOffset: -1n, metadata: "", errorCode: 0 }),
        ],
      }),
    ]);

    const v7 = await call(client, 7, OffsetFetchRequest, OffsetFetchResponse, {
      groupId: "wire-g1",
      topics: null,
      requireStable: true,
    });
    expect(v7.errorCode).toBe(0);
    expect(v7.topics).toEqual([
      expect.objectContaining({
        name: topic,
        partitions: [expect.objectContaining({ partitionIndex: 0, committedOffset: 42n, committedLeaderEpoch: 3 })],
      }),
    ]);

    const v8 = await call(client, 8, OffsetFetchRequest, OffsetFetchResponse, {
      groups: [
        { groupId: "wire-g1", topics: [{ name: topic, partitionIndexes: [0] }] },
        { groupId: "wire-g2", topics: null },
      ],
    });
    expect(v8.groups).toEqual([
      expect.objectContaining({
        groupId: "wire-g1",
        errorCode: 0,
        topics: [
          expect.objectContaining({ name: topic, partitions: [expect.objectContaining({ committedOffset: 42n })] }),
        ],
      }),
      expect.objectContaining({
        groupId: "wire-g2",
        errorCode: 0,
        topics: [
          expect.objectContaining({
            name: topic,
            partitions: [expect.objectContaining({ partitionIndex: 1, committedOffset: 7n })],
          }),
        ],
      }),
    ]);

    const deleted = await call(client, 2, DeleteGroupsRequest, DeleteGroupsResponse, {
      groupsNames: ["wire-g1", "wire-never"],
    });
    expect(deleted.results).toEqual([
      expect.objectContaining({ groupId: "wire-g1", errorCode: 0 }),
      expect.objectContaining({ groupId: "wire-never", errorCode: ErrorCode.GROUP_ID_NOT_FOUND }),
    ]);
    const gone = await call(client, 8, OffsetFetchRequest, OffsetFetchResponse, {
      groups: [{ groupId: "wire-g1", topics: null }],
    });
    expect(gone.groups).toEqual([expect.objectContaining({ groupId: "wire-g1", errorCode: 0, topics: [] })]);
  });
});
