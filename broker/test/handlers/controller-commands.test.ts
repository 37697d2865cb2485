import { pino } from "pino";
import { beforeEach, describe, expect, it } from "vitest";
import { NotControllerError, QuorumController, type ControllerResult } from "../../src/controller/index.ts";
import type { AnyHandler } from "../../src/handlers/handler.ts";
import { createControllerHandlers } from "../../src/handlers/controller/registry.ts";
import type { ControllerCommands, QuorumPort } from "../../src/handlers/controller/services.ts";
import { EMPTY_IMAGE, topicByName } from "../../src/metadata/image/index.ts";
import type {
  AllocateProducerIdsResponse,
  AlterConfigsResponse,
  AlterPartitionResponse,
  ApiVersionsResponse,
  BrokerRegistrationResponse,
  CreatePartitionsResponse,
  CreateTopicsResponse,
  DeleteTopicsResponse,
  ElectLeadersResponse,
  EnvelopeResponse,
  IncrementalAlterConfigsResponse,
  UpdateFeaturesResponse,
} from "../../src/protocol/index.ts";
import {
  ApiKey,
  ApiVersionsRequest,
  BrokerHeartbeatRequest,
  BrokerRegistrationRequest,
  CreateTopicsRequest,
  ErrorCode,
  ZERO_UUID,
  encodeRequest,
} from "../../src/protocol/index.ts";
import { TEST_CONTROLLER_CONFIG } from "../support/controller-config.ts";
import { requestContext } from "../support/request-context.ts";

// The controller listener's command handlers over a controller whose commands commit at once: the wire mapping of
// every API (duplicates, versions, per-item results), and NOT_CONTROLLER everywhere when the node is not active.

const logger = pino({ level: "silent" });
const CLUSTER = TEST_CONTROLLER_CONFIG.clusterId;

/** Commands that "commit" as soon as they are decided. */
class InstantCommands implements ControllerCommands {
  constructor(readonly controller: QuorumController) {}
  get isActive(): boolean {
    return this.controller.isActive;
  }
  run<T>(decide: (controller: QuorumController) => ControllerResult<T>): Promise<T> {
    if (!this.controller.isActive) return Promise.reject(new NotControllerError());
    return Promise.resolve(decide(this.controller).response);
  }
  async heartbeatConnectionLost(connectionId: string): Promise<void> {
    await this.run((c) => c.heartbeatConnectionLost(connectionId));
  }
  finalizedFeatures() {
    const view = this.controller.view ?? EMPTY_IMAGE;
    return { epoch: BigInt(view.provenance.offset), levels: view.features };
  }
}

const NO_QUORUM = new Proxy({} as QuorumPort, {
  get: (_target, key) => (key === "clusterId" ? CLUSTER : () => Promise.resolve(null)),
});

let commands: InstantCommands;
let handlers: Map<number, AnyHandler>;

function call<Res>(apiKey: number, version: number, body: unknown): Promise<Res> {
  const handler = handlers.get(apiKey);
  if (!handler) throw new Error(`no handler for ${apiKey}`);
  return handler.handle(body, requestContext(apiKey, version, logger, "CONTROLLER")) as Promise<Res>;
}

beforeEach(async () => {
  let now = 0;
  let seed = 1;
  const controller = new QuorumController({
    // A cluster formatted with --release-version 4.0-IV0, so that metadata.version can go down to 3.9 here.
    config: { ...TEST_CONTROLLER_CONFIG, bootstrapMetadataVersion: 22 },
    clock: () => now++,
    randomBytes: (n) => Uint8Array.from({ length: n }, () => (seed = (seed * 48271) % 2147483647) & 0xff),
    logger,
  });
  controller.activate(EMPTY_IMAGE, 1, 1);
  commands = new InstantCommands(controller);
  handlers = new Map(createControllerHandlers(NO_QUORUM, commands).map((h) => [h.apiKey, h]));
  for (const id of [1, 2]) {
    const reg = await call<BrokerRegistrationResponse>(ApiKey.BrokerRegistration, 4, {
      ...BrokerRegistrationRequest.create(),
      brokerId: id,
      clusterId: CLUSTER,
      incarnationId: `00000000-0000-4000-8000-00000000000${id}`,
      features: [{ name: "metadata.version", minSupportedVersion: 21, maxSupportedVersion: 22 }],
      logDirs: [`00000000-0000-4000-8000-00000000010${id}`],
    });
    await call(ApiKey.BrokerHeartbeat, 1, {
      ...BrokerHeartbeatRequest.create(),
      brokerId: id,
      brokerEpoch: reg.brokerEpoch,
      currentMetadataOffset: 1000n,
    });
  }
});

const creatable = (name: string, configs: { name: string; value: string | null }[] = []) => ({
  name,
  numPartitions: 2,
  replicationFactor: 2,
  assignments: [],
  configs,
});

describe("controller command handlers", () => {
  it("CreateTopics: names given twice, repeated configs, v7 topic ids", async () => {
    const res = await call<CreateTopicsResponse>(ApiKey.CreateTopics, 7, {
      timeoutMs: 1000,
      validateOnly: false,
      topics: [
        creatable("twice"),
        creatable("ok"),
        creatable("twice"),
        creatable("cfg", [
          { name: "retention.ms", value: "1" },
          { name: "retention.ms", value: "2" },
        ]),
      ],
    });
    expect(res.topics.map((t) => [t.name, t.errorCode])).toEqual([
      ["twice", ErrorCode.INVALID_REQUEST],
      ["ok", ErrorCode.NONE],
      ["cfg", ErrorCode.INVALID_REQUEST],
    ]);
    const ok = res.topics[1];
    expect(ok?.topicId).not.toBe(ZERO_UUID);
    expect(ok).toMatchObject({ numPartitions: 2, replicationFactor: 2 });
    expect(ok?.configs?.find((c) => c.name === "retention.ms")).toMatchObject({ value: "604800000", configSource: 5 });
  });

  it("DeleteTopics: v6 by name or id, both or neither, repeated; v5 by name", async () => {
    await call(ApiKey.CreateTopics, 7, { timeoutMs: 1000, topics: ["a", "b", "c"].map((n) => creatable(n)) });
    const view = () => commands.controller.view ?? EMPTY_IMAGE;
    const idOf = (name: string) => topicByName(view(), name)?.id ?? "";
    const b = idOf("b");
    const v6 = await call<DeleteTopicsResponse>(ApiKey.DeleteTopics, 6, {
      timeoutMs: 1000,
      topics: [
        { name: "a", topicId: ZERO_UUID },
        { name: null, topicId: b },
        { name: "a", topicId: ZERO_UUID },
        { name: "c", topicId: idOf("c") },
        { name: null, topicId: ZERO_UUID },
        { name: null, topicId: "11111111-1111-4111-8111-111111111111" },
      ],
    });
    expect(v6.responses.map((r) => [r.name, r.errorCode])).toEqual([
      ["a", ErrorCode.NONE],
      ["b", ErrorCode.NONE],
      ["a", ErrorCode.INVALID_REQUEST],
      ["c", ErrorCode.INVALID_REQUEST],
      [null, ErrorCode.INVALID_REQUEST],
      [null, ErrorCode.UNKNOWN_TOPIC_ID],
    ]);
    expect(v6.responses[1]?.topicId).toBe(b);
    const v5 = await call<DeleteTopicsResponse>(ApiKey.DeleteTopics, 5, { timeoutMs: 1000, topicNames: ["c", "a"] });
    expect(v5.responses.map((r) => r.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
    expect(view().topicsById.size).toBe(0);
  });

  it("CreatePartitions: grows topics, a topic named twice fails", async () => {
    await call(ApiKey.CreateTopics, 7, { timeoutMs: 1000, topics: [creatable("g")] });
    const res = await call<CreatePartitionsResponse>(ApiKey.CreatePartitions, 3, {
      timeoutMs: 1000,
      validateOnly: false,
      topics: [
        { name: "g", count: 5, assignments: null },
        { name: "dup", count: 2, assignments: null },
        { name: "dup", count: 3, assignments: null },
      ],
    });
    expect(res.results.map((r) => [r.name, r.errorCode])).toEqual([
      ["g", ErrorCode.NONE],
      ["dup", ErrorCode.INVALID_REQUEST],
      ["dup", ErrorCode.INVALID_REQUEST],
    ]);
    expect(topicByName(commands.controller.view ?? EMPTY_IMAGE, "g")?.partitions.size).toBe(5);
  });

  it("AlterConfigs and IncrementalAlterConfigs: TOPIC and BROKER resources, repeats, list-only operations", async () => {
    await call(ApiKey.CreateTopics, 7, {
      timeoutMs: 1000,
      topics: [creatable("t", [{ name: "flush.ms", value: "9" }])],
    });
    const replace = await call<AlterConfigsResponse>(ApiKey.AlterConfigs, 2, {
      validateOnly: false,
      resources: [
        { resourceType: 2, resourceName: "t", configs: [{ name: "retention.ms", value: "1000" }] },
        { resourceType: 4, resourceName: "", configs: [{ name: "log.retention.ms", value: "5000" }] },
        { resourceType: 4, resourceName: "x", configs: [] },
        { resourceType: 4, resourceName: "x", configs: [] },
      ],
    });
    expect(replace.responses.map((r) => r.errorCode)).toEqual([
      ErrorCode.NONE,
      ErrorCode.NONE,
      ErrorCode.INVALID_REQUEST,
      ErrorCode.INVALID_REQUEST,
    ]);
    const configs = commands.controller.view?.configs;
    // Replace semantics: flush.ms, not given, is gone.
    expect([...(configs?.get("2/t") ?? [])]).toEqual([["retention.ms", "1000"]]);
    expect(configs?.get("4/")?.get("log.retention.ms")).toBe("5000");
    const incremental = await call<IncrementalAlterConfigsResponse>(ApiKey.IncrementalAlterConfigs, 1, {
      validateOnly: false,
      resources: [
        { resourceType: 2, resourceName: "t", configs: [{ name: "retention.ms", configOperation: 2, value: "1" }] },
        { resourceType: 2, resourceName: "t2", configs: [] },
        { resourceType: 8, resourceName: "1", configs: [] },
      ],
    });
    expect(incremental.responses.map((r) => r.errorCode)).toEqual([
      ErrorCode.INVALID_CONFIG,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      ErrorCode.INVALID_REQUEST,
    ]);
  });

  it("UpdateFeatures v0 downgrades with allowDowngrade, and ApiVersions v3 reports the levels", async () => {
    const refused = await call<UpdateFeaturesResponse>(ApiKey.UpdateFeatures, 0, {
      timeoutMs: 1000,
      featureUpdates: [{ feature: "metadata.version", maxVersionLevel: 21, allowDowngrade: false }],
    });
    expect(refused.results?.[0]?.errorCode).toBe(ErrorCode.INVALID_UPDATE_VERSION);
    const allowed = await call<UpdateFeaturesResponse>(ApiKey.UpdateFeatures, 0, {
      timeoutMs: 1000,
      featureUpdates: [{ feature: "metadata.version", maxVersionLevel: 21, allowDowngrade: true }],
    });
    expect(allowed.errorCode).toBe(ErrorCode.NONE);
    const versions = await call<ApiVersionsResponse>(ApiKey.ApiVersions, 3, {
      ...ApiVersionsRequest.create(),
      clientSoftwareName: "test",
      clientSoftwareVersion: "1",
    });
    expect(versions.supportedFeatures).toEqual([{ name: "metadata.version", minVersion: 21, maxVersion: 23 }]);
    expect(versions.finalizedFeatures).toEqual([
      { name: "metadata.version", minVersionLevel: 21, maxVersionLevel: 21 },
    ]);
    expect(versions.apiKeys.map((k) => k.apiKey)).toEqual(
      expect.arrayContaining([19, 20, 33, 37, 44, 57, 58, 62, 63, 67]),
    );
  });

  it("AlterPartition v3: the leader's ISR expansion is answered with the committed state", async () => {
    await call(ApiKey.CreateTopics, 7, { timeoutMs: 1000, topics: [creatable("r")] });
    const view = () => commands.controller.view ?? EMPTY_IMAGE;
    const t = topicByName(view(), "r");
    const p0 = t?.partitions.get(0);
    const leader = p0?.leader ?? -1;
    const other = p0?.replicas.find((id) => id !== leader) ?? -1;
    const epochOf = (id: number) => view().brokers.get(id)?.epoch ?? -1n;
    const request = (brokerEpoch: bigint, isr = [leader, other], partitionEpoch = 0) => ({
      brokerId: leader,
      brokerEpoch,
      topics: [
        {
          topicId: t?.id,
          partitions: [
            {
              partitionIndex: 0,
              leaderEpoch: 0,
              partitionEpoch,
              newIsrWithEpochs: isr.map((id) => ({ brokerId: id, brokerEpoch: epochOf(id) })),
              leaderRecoveryState: 0,
            },
          ],
        },
      ],
    });
    const stale = await call<AlterPartitionResponse>(ApiKey.AlterPartition, 3, request(12345n));
    expect(stale.errorCode).toBe(ErrorCode.STALE_BROKER_EPOCH);
    // Created with both replicas in the ISR: the leader shrinks it, then expands it again.
    const shrunk = await call<AlterPartitionResponse>(ApiKey.AlterPartition, 3, request(epochOf(leader), [leader]));
    expect(shrunk.topics[0]?.partitions[0]).toMatchObject({ errorCode: ErrorCode.NONE, isr: [leader] });
    const res = await call<AlterPartitionResponse>(ApiKey.AlterPartition, 3, request(epochOf(leader), undefined, 1));
    expect(res.errorCode).toBe(ErrorCode.NONE);
    expect(res.topics[0]).toMatchObject({ topicId: t?.id });
    expect(res.topics[0]?.partitions[0]).toMatchObject({
      errorCode: ErrorCode.NONE,
      leaderId: leader,
      isr: [leader, other],
      partitionEpoch: 2,
    });
    commands.controller.deactivate();
    const refused = await call<AlterPartitionResponse>(ApiKey.AlterPartition, 3, request(epochOf(leader)));
    expect(refused.errorCode).toBe(ErrorCode.NOT_CONTROLLER);
    const elect = await call<ElectLeadersResponse>(ApiKey.ElectLeaders, 2, {
      electionType: 0,
      topicPartitions: [{ topic: "r", partitions: [0] }],
      timeoutMs: 1,
    });
    expect(elect.replicaElectionResults[0]?.partitionResult[0]?.errorCode).toBe(ErrorCode.NOT_CONTROLLER);
  });

  it("answers NOT_CONTROLLER everywhere when the node is not the active controller", async () => {
    commands.controller.deactivate();
    const topics = await call<CreateTopicsResponse>(ApiKey.CreateTopics, 7, { timeoutMs: 1, topics: [creatable("n")] });
    expect(topics.topics[0]?.errorCode).toBe(ErrorCode.NOT_CONTROLLER);
    const deleted = await call<DeleteTopicsResponse>(ApiKey.DeleteTopics, 5, { timeoutMs: 1, topicNames: ["n"] });
    expect(deleted.responses[0]?.errorCode).toBe(ErrorCode.NOT_CONTROLLER);
    const grown = await call<CreatePartitionsResponse>(ApiKey.CreatePartitions, 3, {
      timeoutMs: 1,
      validateOnly: false,
      topics: [{ name: "n", count: 2, assignments: null }],
    });
    expect(grown.results[0]?.errorCode).toBe(ErrorCode.NOT_CONTROLLER);
    const altered = await call<AlterConfigsResponse>(ApiKey.AlterConfigs, 2, {
      validateOnly: false,
      resources: [{ resourceType: 2, resourceName: "n", configs: [] }],
    });
    expect(altered.responses[0]?.errorCode).toBe(ErrorCode.NOT_CONTROLLER);
    const features = await call<UpdateFeaturesResponse>(ApiKey.UpdateFeatures, 1, {
      timeoutMs: 1,
      featureUpdates: [{ feature: "metadata.version", maxVersionLevel: 22, upgradeType: 1 }],
    });
    expect(features.errorCode).toBe(ErrorCode.NOT_CONTROLLER);
    const reg = await call<BrokerRegistrationResponse>(
      ApiKey.BrokerRegistration,
      4,
      BrokerRegistrationRequest.create(),
    );
    expect(reg.errorCode).toBe(ErrorCode.NOT_CONTROLLER);
    const ids = await call<AllocateProducerIdsResponse>(ApiKey.AllocateProducerIds, 0, {
      brokerId: 1,
      brokerEpoch: 1n,
    });
    expect(ids.errorCode).toBe(ErrorCode.NOT_CONTROLLER);
    const inner = encodeRequest(
      { apiKey: ApiKey.CreateTopics, apiVersion: 7, correlationId: 1, clientId: null },
      CreateTopicsRequest,
      { ...CreateTopicsRequest.create(), topics: [creatable("n")] },
    );
    const envelope = await call<EnvelopeResponse>(ApiKey.Envelope, 0, {
      requestData: inner,
      requestPrincipal: null,
      clientHostAddress: Buffer.from([127, 0, 0, 1]),
    });
    expect(envelope).toMatchObject({ errorCode: ErrorCode.NOT_CONTROLLER, responseData: null });
  });
});
