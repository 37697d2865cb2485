import { pino } from "pino";
import { expect } from "vitest";
import {
  ELR_FEATURE,
  LATEST_METADATA_VERSION,
  MAX_METADATA_VERSION,
  METADATA_VERSION,
  QuorumController,
  type ControllerConfig,
  type ControllerResult,
} from "../../src/controller/index.ts";
import { EMPTY_IMAGE, MetadataDelta, topicByName, type MetadataImage } from "../../src/metadata/image/index.ts";
import type { CreateTopicRequest } from "../../src/metadata/topic-rules.ts";
import {
  AlterPartitionRequest,
  BrokerHeartbeatRequest,
  BrokerRegistrationRequest,
  ErrorCode,
  type AlterPartitionResponse,
  type MetadataRecordAndVersion,
} from "../../src/protocol/index.ts";
import { TEST_CONTROLLER_CONFIG } from "./controller-config.ts";

// The pure controller with a fake clock and seeded randomness: commands in, records and answers out. A little log
// model stands in for the quorum: records proposed land at the controller's offsets, and "committed" images are
// replayed from it with the same MetadataDelta every node uses.

export const CLUSTER = TEST_CONTROLLER_CONFIG.clusterId;
export const logger = pino({ level: "silent" });

export function seededBytes(seed: number): (n: number) => Uint8Array {
  let x = seed >>> 0 || 1;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      out[i] = x & 0xff;
    }
    return out;
  };
}

export const BASE_CONFIG = TEST_CONTROLLER_CONFIG;

export interface Harness {
  controller: QuorumController;
  clock: { now: number };
  /** Every record proposed, at its offset (offset 0 is the leader-change entry). */
  log: (MetadataRecordAndVersion | null)[];
  propose<T>(result: ControllerResult<T>): T;
  committed(): MetadataImage;
}

/** `bootstrap`: the records a format step wrote (none: the controller's bootstrap metadata.version alone). */
export function harness(
  overrides: Partial<ControllerConfig> = {},
  seed = 7,
  bootstrap: readonly MetadataRecordAndVersion[] = [],
): Harness {
  const clock = { now: 1_000_000 };
  const config: ControllerConfig = {
    ...BASE_CONFIG,
    ...overrides,
  };
  const controller = new QuorumController({ config, clock: () => clock.now, randomBytes: seededBytes(seed), logger });
  const log: (MetadataRecordAndVersion | null)[] = [null];
  const h: Harness = {
    controller,
    clock,
    log,
    propose(result) {
      if (result.records.length > 0) {
        expect(result.baseOffset).toBe(log.length);
        log.push(...result.records);
      }
      expect(result.waitForOffset).toBe(log.length - 1);
      return result.response;
    },
    committed() {
      const delta = new MetadataDelta(EMPTY_IMAGE);
      log.forEach((r, offset) => {
        if (r) delta.replay(r, offset, 1);
      });
      return delta.apply().image;
    },
  };
  h.propose(controller.activate(EMPTY_IMAGE, 1, 1, bootstrap));
  return h;
}

export const dirOf = (id: number) => `00000000-0000-4000-8000-${String(id).padStart(12, "0")}`;

export function registration(id: number, rack: string | null = null, incarnation = 1): BrokerRegistrationRequest {
  return {
    ...BrokerRegistrationRequest.create(),
    brokerId: id,
    clusterId: CLUSTER,
    incarnationId: `00000000-0000-4000-8000-${String(incarnation * 1000 + id).padStart(12, "0")}`,
    listeners: [{ name: "PLAINTEXT", host: "127.0.0.1", port: 9000 + id, securityProtocol: 0 }],
    features: [{ name: METADATA_VERSION, minSupportedVersion: 21, maxSupportedVersion: LATEST_METADATA_VERSION }],
    rack,
    logDirs: [dirOf(id)],
  };
}

/** A registration advertising what a Tributary broker supports: metadata.version up to 23 and ELR 0-1. */
export function elrRegistration(id: number, incarnation = 1, previousBrokerEpoch = -1n): BrokerRegistrationRequest {
  return {
    ...registration(id, null, incarnation),
    features: [
      { name: METADATA_VERSION, minSupportedVersion: 21, maxSupportedVersion: MAX_METADATA_VERSION },
      { name: ELR_FEATURE, minSupportedVersion: 0, maxSupportedVersion: 1 },
    ],
    previousBrokerEpoch,
  };
}

export function heartbeat(id: number, epoch: bigint, offset: number, extra: Partial<BrokerHeartbeatRequest> = {}) {
  return {
    ...BrokerHeartbeatRequest.create(),
    brokerId: id,
    brokerEpoch: epoch,
    currentMetadataOffset: BigInt(offset),
    wantFence: false,
    wantShutDown: false,
    ...extra,
  };
}

/** Registers and unfences brokers; their epochs by id. */
export function liveBrokers(h: Harness, racks: (string | null)[]): Map<number, bigint> {
  const epochs = new Map<number, bigint>();
  racks.forEach((rack, i) => {
    const id = i + 1;
    const res = h.propose(h.controller.registerBroker(registration(id, rack)));
    expect(res.errorCode).toBe(ErrorCode.NONE);
    epochs.set(id, res.brokerEpoch);
  });
  for (const [id, epoch] of epochs) {
    const beat = h.propose(h.controller.heartbeat(heartbeat(id, epoch, h.log.length)));
    expect(beat).toMatchObject({ errorCode: ErrorCode.NONE, isFenced: false, isCaughtUp: true });
  }
  return epochs;
}

export function topic(
  name: string,
  numPartitions: number,
  replicationFactor: number,
  extra: Partial<CreateTopicRequest> = {},
) {
  return { name, numPartitions, replicationFactor, configs: new Map(), validateOnly: false, ...extra };
}

export function partitionsOf(image: MetadataImage, name: string) {
  const t = topicByName(image, name);
  if (!t) throw new Error(`no topic ${name}`);
  return [...t.partitions.entries()].sort((a, b) => a[0] - b[0]).map(([, p]) => p);
}

export const ofType = (records: readonly MetadataRecordAndVersion[], type: number) =>
  records.filter((r) => r.type === type);

export function topicId(h: Harness, name: string): string {
  const t = topicByName(h.committed(), name);
  if (!t) throw new Error(`no topic ${name}`);
  return t.id;
}

export interface AlterOptions {
  readonly from?: number;
  readonly brokerEpoch?: bigint;
  readonly leaderEpoch?: number;
  readonly partitionEpoch?: number;
  readonly memberEpochs?: ReadonlyMap<number, bigint>;
  readonly version?: number;
  readonly topicId?: string;
  readonly partition?: number;
  readonly leaderRecoveryState?: number;
}

/** An AlterPartition from the partition's leader (by default) proposing `isr`, answered from the committed log. */
export function alter(
  h: Harness,
  epochs: ReadonlyMap<number, bigint>,
  name: string,
  isr: readonly number[],
  o: AlterOptions = {},
): AlterPartitionResponse {
  const partition = o.partition ?? 0;
  const p = partitionsOf(h.committed(), name)[partition];
  const from = o.from ?? p?.leader ?? 1;
  const version = o.version ?? 3;
  const memberEpochs = o.memberEpochs ?? epochs;
  const request: AlterPartitionRequest = {
    ...AlterPartitionRequest.create(),
    brokerId: from,
    brokerEpoch: o.brokerEpoch ?? epochs.get(from) ?? -1n,
    topics: [
      {
        topicId: o.topicId ?? topicId(h, name),
        partitions: [
          {
            partitionIndex: partition,
            leaderEpoch: o.leaderEpoch ?? p?.leaderEpoch ?? 0,
            partitionEpoch: o.partitionEpoch ?? p?.partitionEpoch ?? 0,
            newIsr: [...isr],
            newIsrWithEpochs: isr.map((brokerId) => ({ brokerId, brokerEpoch: memberEpochs.get(brokerId) ?? -1n })),
            leaderRecoveryState: o.leaderRecoveryState ?? 0,
          },
        ],
      },
    ],
  };
  return h.propose(h.controller.alterPartition(request, version));
}

export function partitionError(response: AlterPartitionResponse): number | undefined {
  return response.topics[0]?.partitions[0]?.errorCode;
}

/** Broker `id` (1 by default) stops heartbeating while the others go on: its session expires and it is fenced. */
export function fenceBroker(h: Harness, epochs: ReadonlyMap<number, bigint>, id = 1): void {
  h.clock.now += 5000;
  for (const [other, epoch] of epochs) {
    if (other !== id && h.committed().brokers.get(other)?.fenced === false) {
      h.propose(h.controller.heartbeat(heartbeat(other, epoch, h.log.length)));
    }
  }
  h.clock.now += 4001;
  const fenced = h.controller.fenceStaleBroker();
  expect(fenced?.response).toBe(id);
  if (fenced) h.propose(fenced);
}
