import type { Logger } from "pino";
import {
  ConfigResourceType,
  configKey,
  directoryOnline,
  MetadataDelta,
  topicByName,
  type MetadataImage,
} from "../metadata/image/index.ts";
import { applyConfigChanges, type ConfigChange } from "../metadata/config-changes.ts";
import { TOPIC_CONFIG_BY_BROKER_KEY, TOPIC_CONFIG_BY_NAME } from "../metadata/topic-config.ts";
import {
  brokerConfigProblem,
  CONFIG_TYPE_LIST,
  partitionGrowthProblem,
  planTopicCreation,
  replicationFactorProblem,
  resolveTopicConfig,
  resolveTopicConfigs,
  topicConfigProblem,
  topicNameProblem,
  type AdminResult,
  type CreateTopicRequest,
  type EffectiveConfig,
} from "../metadata/topic-rules.ts";
import {
  AllocateProducerIdsResponse,
  AssignReplicasToDirsResponse,
  BrokerHeartbeatResponse,
  BrokerRegistrationChangeRecord,
  BrokerRegistrationResponse,
  ConfigRecord,
  ControllerRegistrationResponse,
  ErrorCode,
  FeatureLevelRecord,
  MetadataRecordType,
  PartitionRecord,
  ProducerIdsRecord,
  RegisterBrokerRecord,
  RegisterControllerRecord,
  RemoveTopicRecord,
  TopicRecord,
  UnregisterBrokerRecord,
  UnregisterBrokerResponse,
  UpdateFeaturesResponse,
  ZERO_UUID,
  type AllocateProducerIdsRequest,
  type AssignReplicasToDirsRequest,
  type AssignReplicasToDirsResponseTopicData,
  type AlterPartitionReassignmentsRequest,
  type AlterPartitionReassignmentsResponse,
  type AlterPartitionRequest,
  type AlterPartitionResponse,
  type ListPartitionReassignmentsRequest,
  type ListPartitionReassignmentsResponse,
  type ElectLeadersRequest,
  type ElectLeadersResponse,
  type BrokerHeartbeatRequest,
  type BrokerRegistrationRequest,
  type ControllerRegistrationRequest,
  type MetadataRecordAndVersion,
  type UnregisterBrokerRequest,
  type UpdateFeaturesRequest,
} from "../protocol/index.ts";
import {
  ELR_FEATURE,
  elrEnabled,
  featureDependencyProblem,
  METADATA_VERSION,
  METADATA_VERSIONS,
  metadataChangedBetween,
  MIN_METADATA_VERSION,
  partitionRecordVersion,
  RECORD_VERSION,
  SUPPORTED_FEATURES,
} from "./features.ts";
import {
  clearElrs,
  electLeaderlessPartitions,
  leadsAny,
  NO_LEADER,
  buildPartitionChange,
  removeBrokerFromPartitions,
  removeOfflineDirReplicas,
  UNASSIGNED_DIRECTORY,
  type TopicPolicy,
} from "./partition-changes.ts";
import { placeReplicas } from "./placement.ts";
import {
  decideAlterPartition,
  decideAlterReassignments,
  decideBalance,
  decideElectLeaders,
  decideUncleanElections,
  listReassignments,
  type Decision,
  type ReplicationView,
} from "./replication-commands.ts";
import { record } from "./records.ts";

// The active controller's decisions (Kafka's QuorumController and its control managers): each command is checked
// against the controller's own view — the committed image plus every record this controller has proposed since it
// became active — and becomes a list of metadata records plus the answer to give once those records commit. Pure: the
// clock, randomness and logger come in; the runtime (quorum/controller-runtime.ts) proposes the records and answers.
//
// Broker liveness is soft state of the active controller only: when it becomes active every registered broker's
// session starts "now", as in Kafka, so a failover never fences a live broker that has not yet reached the new
// controller.

const PRODUCER_ID_BLOCK_SIZE = 1000;
const MAX_PRODUCER_ID = (1n << 63n) - 1n;
const OFFSETS_TOPIC = "__consumer_offsets";
const MIN_ISR = "min.insync.replicas";
/**
 * The least time the broker of a previous quorum leader whose connection closed gets to heartbeat this controller
 * after it became active (ADR 29). A live one learnt of the new leader at its election, before the activation, and
 * heartbeats at once (BrokerLifecycle.controllerChanged); this covers event-loop lag.
 */
const PREVIOUS_LEADER_MIN_GRACE_MS = 1000;

export interface ControllerConfig {
  readonly nodeId: number;
  readonly clusterId: string;
  /** `broker.session.timeout.ms` (Kafka's default 9000). */
  readonly brokerSessionTimeoutMs: number;
  /**
   * `broker.connection.loss.grace.ms`: once the connection a broker's heartbeats came on is lost, its session ends
   * this long after the loss unless a heartbeat arrives on another connection first (ADR 26).
   */
  readonly connectionLossGraceMs: number;
  /**
   * process.roles has broker too: the broker with this node's id runs in this very process. A registration from it
   * with a new incarnation id means the process restarted, so the old incarnation is certainly gone and need not
   * wait out its session (a kill -9 of a combined node would otherwise be refused for broker.session.timeout.ms).
   */
  readonly colocatedBroker: boolean;
  /** `num.partitions` and `default.replication.factor`: a CreateTopics -1 means these. */
  readonly defaultPartitions: number;
  readonly defaultReplicationFactor: number;
  /** `offsets.topic.num.partitions`. */
  readonly offsetsTopicNumPartitions: number;
  /**
   * `offsets.topic.replication.factor` when set explicitly: enforced strictly (KIP-115, creation fails until enough
   * brokers are up). null when not set: then min(3, usable brokers), so a single dev node still works.
   */
  readonly offsetsTopicReplicationFactor: number | null;
  /** server.properties values of the topic configs' broker keys (`staticBrokerDefaults`), for CreateTopics v5+. */
  readonly staticBrokerConfigs: ReadonlyMap<string, { value: string; isSet: boolean }>;
  /** The metadata.version level written on a new cluster. */
  readonly bootstrapMetadataVersion: number;
  /** `auto.leader.rebalance.enable` (Kafka's default true). */
  readonly autoLeaderRebalanceEnable: boolean;
  /** `leader.imbalance.per.broker.percentage` (Kafka's default 10). */
  readonly leaderImbalancePerBrokerPercentage: number;
}

export interface ControllerDeps {
  readonly config: ControllerConfig;
  /** Milliseconds, never going back. */
  readonly clock: () => number;
  /** n random bytes (topic ids; placement's starting points). */
  readonly randomBytes: (n: number) => Uint8Array;
  readonly logger: Logger;
}

/**
 * What a command decided: records to propose as one batch (possibly none), and the answer to give once the log up to
 * `waitForOffset` has committed (Kafka answers even a refused write only when everything it saw is committed, so a
 * refusal never reveals uncommitted state).
 */
export interface ControllerResult<T> {
  readonly records: readonly MetadataRecordAndVersion[];
  /** Offset the first record goes to; -1 without records. */
  readonly baseOffset: number;
  /** The log end the answer depends on, minus one: answer once the high watermark is above it. */
  readonly waitForOffset: number;
  readonly response: T;
}

interface Session {
  lastContactMs: number;
  /** The connection the last heartbeat came on, and the broker epoch it was for; null when not known. */
  heartbeatConnection: { readonly id: string; readonly brokerEpoch: bigint } | null;
  /** Set when that connection was lost: the session ends here, unless a heartbeat comes first. */
  graceEndsMs: number | null;
  /** The metadata offset the broker last said it had applied. */
  metadataOffset: number;
  /** Set once the broker asked for a controlled shutdown: the offset of the records that moved its leaders away. */
  controlledShutdownOffset: number | null;
}

interface Active {
  view: MetadataImage;
  /** Where the next proposed record lands. */
  nextOffset: number;
  readonly epoch: number;
  readonly sessions: Map<number, Session>;
}

export class NotActiveError extends Error {
  override readonly name = "NotActiveError";
  constructor() {
    super("This controller is not the active controller");
  }
}

type BrokerState = "FENCED" | "UNFENCED" | "CONTROLLED_SHUTDOWN" | "SHUTDOWN_NOW";

function newSession(now: number): Session {
  return {
    lastContactMs: now,
    heartbeatConnection: null,
    graceEndsMs: null,
    metadataOffset: -1,
    controlledShutdownOffset: null,
  };
}

function randomUuid(randomBytes: (n: number) => Uint8Array): string {
  for (;;) {
    const b = Uint8Array.from(randomBytes(16));
    b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
    b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
    const hex = Buffer.from(b).toString("hex");
    // Never the zero id nor the metadata topic's id 1, as Kafka's Uuid.randomUuid; both are excluded by the version
    // bits already, the check keeps it so whatever the bytes are.
    if (/^0{31}[01]$/.test(hex)) continue;
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
}

/** Kafka's reserved directory ids: most significant 64 bits zero and least significant below 100. */
function reservedDirectory(id: string): boolean {
  const hex = id.replaceAll("-", "");
  return /^0{16}/.test(hex) && BigInt(`0x${hex.slice(16)}`) < 100n;
}

export class QuorumController {
  private active: Active | null = null;

  constructor(private readonly deps: ControllerDeps) {}

  get isActive(): boolean {
    return this.active !== null;
  }

  /** The controller's view (committed plus proposed) while active. */
  get view(): MetadataImage | null {
    return this.active?.view ?? null;
  }

  /**
   * Becomes the active controller of leader epoch `epoch`, deciding from `committed` (the image of the whole log,
   * which must all be committed) with the next record at `logEndOffset`. On an empty log (no metadata record yet) it
   * first writes the bootstrap records: metadata.version, then `bootstrapRecords` (a migrated single-node data dir).
   */
  activate(
    committed: MetadataImage,
    logEndOffset: number,
    epoch: number,
    bootstrapRecords: readonly MetadataRecordAndVersion[] = [],
  ): ControllerResult<null> {
    const now = this.deps.clock();
    const sessions = new Map<number, Session>();
    for (const id of committed.brokers.keys()) {
      sessions.set(id, newSession(now));
    }
    this.active = { view: committed, nextOffset: logEndOffset, epoch, sessions };
    this.deps.logger.info({ nodeId: this.deps.config.nodeId, epoch, logEndOffset }, "Became the active controller");
    const empty = committed.provenance.offset < 0 && committed.features.size === 0;
    if (!empty) return this.done([], null);
    const records: MetadataRecordAndVersion[] = [];
    const given = bootstrapRecords.some(
      (r) =>
        r.type === MetadataRecordType.FeatureLevelRecord && (r.record as FeatureLevelRecord).name === METADATA_VERSION,
    );
    if (!given) {
      records.push(
        record(
          FeatureLevelRecord,
          { name: METADATA_VERSION, featureLevel: this.deps.config.bootstrapMetadataVersion },
          0,
        ),
      );
    }
    records.push(...bootstrapRecords);
    const features = new Map<string, number>([[METADATA_VERSION, this.deps.config.bootstrapMetadataVersion]]);
    for (const r of records) {
      if (r.type === MetadataRecordType.FeatureLevelRecord) {
        const f = r.record as FeatureLevelRecord;
        features.set(f.name, f.featureLevel);
      }
    }
    // A cluster that starts with ELR on gets the cluster-wide min.insync.replicas as turning it on later would.
    if (elrEnabled(features)) records.push(...this.elrSafetyRecords(committed));
    try {
      return this.done(records, null);
    } catch (err) {
      // Bootstrap records that contradict each other: not active, rather than active on a view missing them.
      this.active = null;
      throw err;
    }
  }

  /**
   * The quorum appended records this controller did not write (KIP-853: a VotersRecord for a voter change): its next
   * record goes after them. Nothing changes when `logEndOffset` is not past the view's next offset.
   */
  skipTo(logEndOffset: number): void {
    if (this.active !== null && logEndOffset > this.active.nextOffset) this.active.nextOffset = logEndOffset;
  }

  /** Drops the view and the broker sessions (leadership lost, or a proposal did not land where expected). */
  deactivate(): void {
    if (this.active === null) return;
    this.deps.logger.info(
      { nodeId: this.deps.config.nodeId, epoch: this.active.epoch },
      "No longer the active controller",
    );
    this.active = null;
  }

  private get state(): Active {
    if (this.active === null) throw new NotActiveError();
    return this.active;
  }

  /** Applies `records` to the view at the next offsets and returns the result to propose. */
  private done<T>(records: readonly MetadataRecordAndVersion[], response: T): ControllerResult<T> {
    const state = this.state;
    const baseOffset = records.length > 0 ? state.nextOffset : -1;
    if (records.length > 0) {
      // Replaying into a delta first: if a record contradicts the view (a bug), the view stays as it was.
      const delta = new MetadataDelta(state.view);
      records.forEach((r, i) => delta.replay(r, state.nextOffset + i, state.epoch));
      state.view = delta.apply().image;
      state.nextOffset += records.length;
    }
    return { records, baseOffset, waitForOffset: state.nextOffset - 1, response };
  }

  // ---- controllers ----------------------------------------------------------------------------------------------

  /**
   * ControllerRegistration (KIP-919, Kafka's ClusterControlManager.registerController): every controller, voter or
   * observer, registers its listeners at each start, which DescribeCluster on the controller listener lists. A
   * controller that cannot run at a finalized feature level is refused.
   */
  registerController(request: ControllerRegistrationRequest): ControllerResult<ControllerRegistrationResponse> {
    const answer = (errorCode: number, errorMessage: string | null) =>
      this.done([], { ...ControllerRegistrationResponse.create(), errorCode, errorMessage });
    for (const [name, level] of this.state.view.features) {
      const f = request.features.find((x) => x.name === name);
      if (level !== 0 && (f === undefined || level < f.minSupportedVersion || level > f.maxSupportedVersion)) {
        const message = `controller ${request.controllerId} does not support finalized version ${level} of ${name}`;
        this.deps.logger.info({ controllerId: request.controllerId }, `Refused a controller registration: ${message}`);
        return answer(ErrorCode.UNSUPPORTED_VERSION, message);
      }
    }
    const endPoints = request.listeners.map((l) => ({
      name: l.name,
      host: l.host,
      port: l.port,
      securityProtocol: l.securityProtocol,
    }));
    const features = request.features.map((f) => ({
      name: f.name,
      minSupportedVersion: f.minSupportedVersion,
      maxSupportedVersion: f.maxSupportedVersion,
    }));
    const registration = record(
      RegisterControllerRecord,
      { controllerId: request.controllerId, incarnationId: request.incarnationId, endPoints, features },
      0,
    );
    return this.done([registration], { ...ControllerRegistrationResponse.create(), errorCode: ErrorCode.NONE });
  }

  // ---- brokers --------------------------------------------------------------------------------------------------

  private usable(view: MetadataImage, id: number): boolean {
    const b = view.brokers.get(id);
    return b !== undefined && !b.fenced && !b.inControlledShutdown;
  }

  private usableBrokers(view: MetadataImage): { id: number; rack: string | null }[] {
    return [...view.brokers.values()]
      .filter((b) => !b.fenced && !b.inControlledShutdown)
      .map((b) => ({ id: b.id, rack: b.rack }));
  }

  /** Kafka's BrokerHeartbeatManager.hasValidSession: a fenced broker has none (it shut down or timed out). */
  private hasValidSession(id: number, now: number): boolean {
    if (this.state.view.brokers.get(id)?.fenced !== false) return false;
    const s = this.state.sessions.get(id);
    return s !== undefined && this.sessionEnd(s) >= now;
  }

  /** BrokerRegistration (Kafka's ClusterControlManager.registerBroker). */
  registerBroker(request: BrokerRegistrationRequest): ControllerResult<BrokerRegistrationResponse> {
    const { view, sessions } = this.state;
    const now = this.deps.clock();
    const answer = (errorCode: number, brokerEpoch = -1n) =>
      this.done([], { ...BrokerRegistrationResponse.create(), errorCode, brokerEpoch });
    const refuse = (errorCode: number, message: string) => {
      this.deps.logger.info({ brokerId: request.brokerId, errorCode }, `Refused a broker registration: ${message}`);
      return answer(errorCode);
    };
    if (request.clusterId !== this.deps.config.clusterId) {
      return refuse(
        ErrorCode.INCONSISTENT_CLUSTER_ID,
        `expected cluster id ${this.deps.config.clusterId}, got ${request.clusterId}`,
      );
    }
    const existing = view.brokers.get(request.brokerId);
    const restartedHere = this.deps.config.colocatedBroker && request.brokerId === this.deps.config.nodeId;
    if (
      existing &&
      existing.incarnationId !== request.incarnationId &&
      !restartedHere &&
      this.hasValidSession(existing.id, now)
    ) {
      return refuse(ErrorCode.DUPLICATE_BROKER_REGISTRATION, "another broker is registered with that broker id");
    }
    if (request.isMigratingZkBroker === true) {
      return refuse(ErrorCode.BROKER_ID_NOT_REGISTERED, "the controller does not register ZooKeeper brokers");
    }
    const logDirs = request.logDirs ?? [];
    if (logDirs.length === 0) return refuse(ErrorCode.INVALID_REGISTRATION, "no directories specified in request");
    if (logDirs.some(reservedDirectory))
      return refuse(ErrorCode.INVALID_REGISTRATION, "reserved directory id in request");
    if (new Set(logDirs).size !== logDirs.length) {
      return refuse(ErrorCode.INVALID_REGISTRATION, "duplicate directory id in request");
    }
    const finalized = view.features.get(METADATA_VERSION) ?? this.deps.config.bootstrapMetadataVersion;
    // A broker that sends no metadata.version range supports only Kafka's first KRaft level (1).
    const mv = request.features.find((f) => f.name === METADATA_VERSION) ?? {
      name: METADATA_VERSION,
      minSupportedVersion: 1,
      maxSupportedVersion: 1,
    };
    for (const [name, level] of view.features) {
      const f = name === METADATA_VERSION ? mv : request.features.find((x) => x.name === name);
      const min = f?.minSupportedVersion ?? 0;
      const max = f?.maxSupportedVersion ?? 0;
      if (level !== 0 && (level < min || level > max)) {
        return refuse(
          ErrorCode.UNSUPPORTED_VERSION,
          `the broker does not support finalized version ${level} of ${name}; it supports ${min}-${max}`,
        );
      }
    }
    if (
      !view.features.has(METADATA_VERSION) &&
      (finalized < mv.minSupportedVersion || finalized > mv.maxSupportedVersion)
    ) {
      return refuse(ErrorCode.UNSUPPORTED_VERSION, `the broker does not support metadata.version ${finalized}`);
    }
    const endPoints = request.listeners.map((l) => ({
      name: l.name,
      host: l.host,
      port: l.port,
      securityProtocol: l.securityProtocol,
    }));
    const features = [...request.features.filter((f) => f.name !== METADATA_VERSION), mv].map((f) => ({
      name: f.name,
      minSupportedVersion: f.minSupportedVersion,
      maxSupportedVersion: f.maxSupportedVersion,
    }));
    const registerRecord = (brokerEpoch: bigint, fenced: boolean, inControlledShutdown: boolean) =>
      record(
        RegisterBrokerRecord,
        {
          brokerId: request.brokerId,
          incarnationId: request.incarnationId,
          brokerEpoch,
          endPoints,
          features,
          rack: request.rack,
          fenced,
          inControlledShutdown,
          logDirs: [...logDirs],
        },
        RECORD_VERSION.registerBroker,
      );
    const records: MetadataRecordAndVersion[] = [];
    let brokerEpoch: bigint;
    if (existing && existing.incarnationId === request.incarnationId) {
      // The same process registering again (its answer was lost, or it reconnected): the epoch stays, and nothing is
      // written unless its addresses changed.
      brokerEpoch = existing.epoch;
      const sameEndpoints =
        existing.rack === request.rack &&
        existing.endpoints.length === endPoints.length &&
        existing.endpoints.every((e, i) => {
          const n = endPoints[i];
          return (
            n &&
            e.listener === n.name &&
            e.host === n.host &&
            e.port === n.port &&
            e.securityProtocol === n.securityProtocol
          );
        });
      if (!sameEndpoints) records.push(registerRecord(brokerEpoch, existing.fenced, existing.inControlledShutdown));
    } else {
      // A new incarnation: what the previous one led or held in ISRs is given up first (it stopped uncleanly, or it
      // would have shut down in a controlled way), then the registration; its epoch is the batch's first offset.
      if (existing) {
        // KIP-966: with ELR on, a broker that does not name its last epoch (written at a clean shutdown) may have
        // lost unflushed records, so it leaves the ELRs too and can no longer be elected from them.
        const unclean = elrEnabled(view.features) && (request.previousBrokerEpoch ?? -1n) !== existing.epoch;
        if (unclean) {
          this.deps.logger.info(
            { brokerId: existing.id, previousBrokerEpoch: String(request.previousBrokerEpoch ?? -1n) },
            "A broker registered after an unclean shutdown: it leaves every ISR and ELR",
          );
        }
        records.push(
          ...removeBrokerFromPartitions(
            view,
            existing.id,
            (id) => this.usable(view, id),
            (topicId) => this.policyOf(view, topicId),
            unclean,
          ),
        );
      }
      brokerEpoch = BigInt(this.state.nextOffset);
      records.push(registerRecord(brokerEpoch, true, false));
      sessions.set(request.brokerId, newSession(now));
    }
    const session = sessions.get(request.brokerId);
    if (session) {
      session.lastContactMs = now;
      session.graceEndsMs = null;
    } else sessions.set(request.brokerId, newSession(now));
    this.deps.logger.info({ brokerId: request.brokerId, brokerEpoch, rack: request.rack }, "Registered a broker");
    return this.done(records, { ...BrokerRegistrationResponse.create(), errorCode: ErrorCode.NONE, brokerEpoch });
  }

  private brokerState(id: number): BrokerState {
    const reg = this.state.view.brokers.get(id);
    const session = this.state.sessions.get(id);
    // After a failover the flag in the registration says what the lost soft state did.
    if (session?.controlledShutdownOffset != null || (reg?.inControlledShutdown === true && !reg.fenced)) {
      return "CONTROLLED_SHUTDOWN";
    }
    return reg?.fenced !== false ? "FENCED" : "UNFENCED";
  }

  /** The lowest metadata offset that usable brokers have reported: what every one of them has seen. */
  private lowestActiveOffset(): number {
    let lowest = Number.MAX_SAFE_INTEGER;
    for (const [id, s] of this.state.sessions) {
      if (this.usable(this.state.view, id)) lowest = Math.min(lowest, s.metadataOffset);
    }
    return lowest;
  }

  /** Fencing (Kafka's handleBrokerFenced): leaderships and ISR places go first, then the registration is fenced. */
  private fenceRecords(view: MetadataImage, id: number): MetadataRecordAndVersion[] {
    const reg = view.brokers.get(id);
    if (reg === undefined || reg.fenced) return [];
    return [
      ...removeBrokerFromPartitions(
        view,
        id,
        (other) => this.usable(view, other),
        (topicId) => this.policyOf(view, topicId),
      ),
      record(
        BrokerRegistrationChangeRecord,
        { brokerId: id, brokerEpoch: reg.epoch, fenced: 1 },
        RECORD_VERSION.brokerChangeFence,
      ),
    ];
  }

  /** BrokerHeartbeat (Kafka's ReplicationControlManager.processBrokerHeartbeat and BrokerHeartbeatManager). */
  heartbeat(request: BrokerHeartbeatRequest, connectionId?: string): ControllerResult<BrokerHeartbeatResponse> {
    const { view, sessions } = this.state;
    const now = this.deps.clock();
    const reg = view.brokers.get(request.brokerId);
    const base = BrokerHeartbeatResponse.create();
    if (reg === undefined || reg.epoch !== request.brokerEpoch) {
      return this.done([], { ...base, errorCode: ErrorCode.STALE_BROKER_EPOCH, isFenced: true });
    }
    const metadataOffset = Number(request.currentMetadataOffset);
    const registrationOffset = Number(reg.epoch);
    const current = this.brokerState(reg.id);
    let next: BrokerState = current;
    switch (current) {
      case "FENCED":
        if (request.wantShutDown) next = "SHUTDOWN_NOW";
        else if (!request.wantFence && metadataOffset >= registrationOffset) next = "UNFENCED";
        break;
      case "UNFENCED":
        if (request.wantFence) next = request.wantShutDown ? "SHUTDOWN_NOW" : "FENCED";
        else if (request.wantShutDown) next = leadsAny(view, reg.id) ? "CONTROLLED_SHUTDOWN" : "SHUTDOWN_NOW";
        break;
      case "CONTROLLED_SHUTDOWN": {
        const offset = sessions.get(reg.id)?.controlledShutdownOffset ?? 0;
        if (!leadsAny(view, reg.id) && offset <= this.lowestActiveOffset()) next = "SHUTDOWN_NOW";
        break;
      }
      case "SHUTDOWN_NOW":
        break;
    }
    const records: MetadataRecordAndVersion[] = [];
    if (next !== current || next === "SHUTDOWN_NOW") {
      switch (next) {
        case "FENCED":
        case "SHUTDOWN_NOW":
          records.push(...this.fenceRecords(view, reg.id));
          break;
        case "UNFENCED": {
          const unfence = record(
            BrokerRegistrationChangeRecord,
            { brokerId: reg.id, brokerEpoch: reg.epoch, fenced: -1 },
            RECORD_VERSION.brokerChangeFence,
          );
          records.push(
            unfence,
            ...electLeaderlessPartitions(
              view,
              reg.id,
              (id) => this.usable(view, id),
              (topicId) => this.policyOf(view, topicId),
            ),
          );
          break;
        }
        case "CONTROLLED_SHUTDOWN":
          records.push(
            record(
              BrokerRegistrationChangeRecord,
              { brokerId: reg.id, brokerEpoch: reg.epoch, inControlledShutdown: 1 },
              RECORD_VERSION.brokerChangeShutdown,
            ),
            ...removeBrokerFromPartitions(
              view,
              reg.id,
              (other) => this.usable(view, other),
              (topicId) => this.policyOf(view, topicId),
            ),
          );
          break;
      }
    }
    // Log dirs the broker reports offline that its registration still has online (KIP-858). Left to the next
    // heartbeat when this one changed the broker's state: those records are built on the view before them.
    if (records.length === 0) records.push(...this.offlineDirRecords(view, reg.id, request.offlineLogDirs ?? []));
    const session = sessions.get(reg.id) ?? newSession(now);
    session.lastContactMs = now;
    session.metadataOffset = metadataOffset;
    // Alive after all (a transient disconnect): whatever grace a lost connection started is over.
    session.graceEndsMs = null;
    session.heartbeatConnection = connectionId === undefined ? null : { id: connectionId, brokerEpoch: reg.epoch };
    if (next === "CONTROLLED_SHUTDOWN" && current !== "CONTROLLED_SHUTDOWN") {
      session.controlledShutdownOffset = this.state.nextOffset + records.length - 1;
    }
    sessions.set(reg.id, session);
    if (next !== current) {
      this.deps.logger.info({ brokerId: reg.id, from: current, to: next, metadataOffset }, "Broker state changed");
    }
    return this.done(records, {
      ...base,
      errorCode: ErrorCode.NONE,
      isCaughtUp: metadataOffset >= registrationOffset,
      isFenced: next === "FENCED" || next === "SHUTDOWN_NOW",
      shouldShutDown: next === "SHUTDOWN_NOW",
    });
  }

  /**
   * Kafka's handleDirectoriesOffline: the broker's replicas in dirs it newly reports offline leave their ISRs and
   * leaderships (other ISR members lead, by the usual election rules), and its registration keeps only the dirs still
   * online, so that none of those replicas is elected again until the broker registers anew. The broker goes on
   * serving its other dirs. With every dir offline the registration's dirs stay as they were (an empty LogDirs means
   * "unchanged"): the broker asks to be fenced then, which moves the rest.
   */
  private offlineDirRecords(view: MetadataImage, id: number, offline: readonly string[]): MetadataRecordAndVersion[] {
    const reg = view.brokers.get(id);
    const online = reg?.logDirs ?? [];
    const newlyOffline = online.filter((d) => offline.includes(d));
    if (reg === undefined || newlyOffline.length === 0) return [];
    const remaining = online.filter((d) => !offline.includes(d));
    this.deps.logger.warn(
      { brokerId: id, offlineLogDirs: newlyOffline, onlineLogDirs: remaining },
      "A broker's log dirs went offline: its replicas in them leave their ISRs and leaderships",
    );
    return [
      ...removeOfflineDirReplicas(
        view,
        id,
        newlyOffline,
        (other) => this.usable(view, other),
        (topicId) => this.policyOf(view, topicId),
      ),
      ...(remaining.length > 0
        ? [
            record(
              BrokerRegistrationChangeRecord,
              { brokerId: id, brokerEpoch: reg.epoch, logDirs: remaining },
              RECORD_VERSION.brokerChangeLogDirs,
            ),
          ]
        : []),
    ];
  }

  /**
   * AssignReplicasToDirs (API 73, KIP-858; Kafka's handleAssignReplicasToDirs): a broker says which of its log dirs
   * holds each of its replicas, and each partition's directories change to say so. A replica reported in a dir that is
   * not online leaves its ISR and leadership as in handleDirectoriesOffline.
   */
  assignReplicasToDirs(request: AssignReplicasToDirsRequest): ControllerResult<AssignReplicasToDirsResponse> {
    const { view } = this.state;
    const base = AssignReplicasToDirsResponse.create();
    const reg = view.brokers.get(request.brokerId);
    if (reg === undefined) return this.done([], { ...base, errorCode: ErrorCode.BROKER_ID_NOT_REGISTERED });
    if (reg.epoch !== request.brokerEpoch) return this.done([], { ...base, errorCode: ErrorCode.STALE_BROKER_EPOCH });
    const records: MetadataRecordAndVersion[] = [];
    const directories = request.directories.map((dir) => {
      const dirOnline = directoryOnline(reg, dir.id);
      const topics = dir.topics.map((t): AssignReplicasToDirsResponseTopicData => {
        const topic = view.topicsById.get(t.topicId);
        const partitions = t.partitions.map(({ partitionIndex }) => {
          const answer = (errorCode: number) => ({ partitionIndex, errorCode });
          if (topic === undefined) return answer(ErrorCode.UNKNOWN_TOPIC_ID);
          const registration = topic.partitions.get(partitionIndex);
          if (registration === undefined) return answer(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
          if (!registration.replicas.includes(reg.id)) return answer(ErrorCode.NOT_LEADER_OR_FOLLOWER);
          const change = buildPartitionChange({
            topicId: topic.id,
            partition: partitionIndex,
            registration,
            acceptable: (other) => (dirOnline || other !== reg.id) && this.usable(view, other),
            ...this.policyOf(view, topic.id),
            directory: { brokerId: reg.id, id: dir.id },
            ...(dirOnline ? {} : { isr: registration.isr.filter((other) => other !== reg.id) }),
          });
          if (change) records.push(change);
          return answer(ErrorCode.NONE);
        });
        return { topicId: t.topicId, partitions };
      });
      return { id: dir.id, topics };
    });
    return this.done(records, { ...base, errorCode: ErrorCode.NONE, directories });
  }

  /**
   * Fences the first unfenced broker whose session has expired, if any (Kafka fences one stale broker per event);
   * the runtime calls it until it returns null.
   */
  fenceStaleBroker(): ControllerResult<number> | null {
    const { view, sessions } = this.state;
    const now = this.deps.clock();
    for (const reg of view.brokers.values()) {
      if (reg.fenced) continue;
      const s = sessions.get(reg.id);
      if (s !== undefined && this.sessionEnd(s) >= now) continue;
      const afterLoss =
        s?.graceEndsMs != null && s.graceEndsMs < s.lastContactMs + this.deps.config.brokerSessionTimeoutMs;
      this.deps.logger.info(
        { brokerId: reg.id },
        afterLoss
          ? "Fencing a broker whose heartbeat connection was lost and which has not heartbeat since"
          : "Fencing a broker whose session expired",
      );
      return this.done(this.fenceRecords(view, reg.id), reg.id);
    }
    return null;
  }

  /** The last moment a session is valid: its timeout after the last contact, or earlier once its connection was lost. */
  private sessionEnd(s: Session): number {
    const timeout = s.lastContactMs + this.deps.config.brokerSessionTimeoutMs;
    return s.graceEndsMs === null ? timeout : Math.min(timeout, s.graceEndsMs);
  }

  /**
   * The network layer saw connection `connectionId` lost (closed or reset by the peer; a killed broker's kernel
   * closes its sockets at once). Each broker whose last heartbeat, for its current epoch, came on that connection
   * gets its session shortened to broker.connection.loss.grace.ms from now; a heartbeat on another connection in the
   * meantime ends the grace (heartbeat). Heartbeats for an older epoch, or since on another connection, make the loss
   * irrelevant. Writes nothing; answers the ids of the brokers whose sessions were shortened.
   */
  heartbeatConnectionLost(connectionId: string): ControllerResult<number[]> {
    const { view, sessions } = this.state;
    const now = this.deps.clock();
    const shortened: number[] = [];
    for (const [id, s] of sessions) {
      const reg = view.brokers.get(id);
      const on = s.heartbeatConnection;
      if (reg === undefined || reg.fenced || on === null || on.id !== connectionId || on.brokerEpoch !== reg.epoch) {
        continue;
      }
      s.heartbeatConnection = null;
      const ends = now + this.deps.config.connectionLossGraceMs;
      s.graceEndsMs = s.graceEndsMs === null ? ends : Math.min(s.graceEndsMs, ends);
      shortened.push(id);
    }
    if (shortened.length > 0) {
      this.deps.logger.info(
        { brokerIds: shortened, connectionId, graceMs: this.deps.config.connectionLossGraceMs },
        "Lost the connection brokers heartbeat on; fencing them unless they heartbeat again within the grace",
      );
    }
    return this.done([], shortened);
  }

  /**
   * The previous quorum leader, node `brokerId`, closed its connection to this node at `lostAt` (the quorum transport
   * saw it; a killed process's kernel closes its sockets at once) and nothing came from it since (ADR 29). Node ids
   * are unique across brokers and controllers, so a registered broker with that id ran in the same process, and its
   * heartbeats went to that controller on a connection nobody alive saw close. Its session is treated as ADR 26
   * treats a lost heartbeat connection: it ends broker.connection.loss.grace.ms after `lostAt`, yet not within
   * PREVIOUS_LEADER_MIN_GRACE_MS of now, unless the broker heartbeats first. Every other session keeps the fresh start
   * it got at activation (KAFKA-18138). Writes nothing; answers whether the session was shortened.
   *
   * With `refusedAt` (a connect to that node was refused after the close, and nothing came from it since: no process
   * listens there, ADR 32) the session ends now. The registration is the one the dead process made: a process
   * restarted since registers again through this controller, with a new epoch and a fresh session.
   */
  previousLeaderLost(brokerId: number, lostAt: number, refusedAt: number | null = null): boolean {
    const { view, sessions } = this.state;
    const reg = view.brokers.get(brokerId);
    const s = sessions.get(brokerId);
    if (reg === undefined || reg.fenced || s === undefined || s.heartbeatConnection !== null) return false;
    const now = this.deps.clock();
    const ends =
      refusedAt !== null && refusedAt >= lostAt
        ? now
        : Math.max(lostAt + this.deps.config.connectionLossGraceMs, now + PREVIOUS_LEADER_MIN_GRACE_MS);
    s.graceEndsMs = s.graceEndsMs === null ? ends : Math.min(s.graceEndsMs, ends);
    this.deps.logger.info(
      { brokerId, lostMsAgo: now - lostAt, refused: refusedAt !== null, fenceInMs: s.graceEndsMs - now },
      refusedAt !== null
        ? "The previous quorum leader closed its connections and refuses new ones; fencing its broker"
        : "The previous quorum leader closed its connections; fencing its broker unless it heartbeats within the grace",
    );
    return true;
  }

  /**
   * Nothing listens any more where broker `brokerId` did (its listeners refused a connect at the address its lost
   * heartbeat connection came from, ADR 32): its session ends now, if it is still the registration of `epoch` (the one
   * probed), unfenced, and in the grace of that lost connection (no heartbeat since). A restarted process listens
   * again or registers anew, so its registration is never the one fenced here. Writes nothing; answers whether it
   * ended the session.
   */
  brokerRefusesConnects(brokerId: number, epoch: bigint): boolean {
    const reg = this.state.view.brokers.get(brokerId);
    const s = this.state.sessions.get(brokerId);
    if (reg === undefined || reg.fenced || reg.epoch !== epoch || s === undefined || s.graceEndsMs === null)
      return false;
    const now = this.deps.clock();
    s.graceEndsMs = Math.min(s.graceEndsMs, now);
    this.deps.logger.info({ brokerId }, "Nothing listens where a broker whose connection was lost did; fencing it");
    return true;
  }

  /** The earliest time a session can expire, for the runtime's timer; null when no unfenced broker is tracked. */
  nextSessionExpiry(): number | null {
    if (this.active === null) return null;
    let earliest: number | null = null;
    for (const reg of this.active.view.brokers.values()) {
      if (reg.fenced) continue;
      const s = this.active.sessions.get(reg.id);
      const at = (s === undefined ? this.deps.config.brokerSessionTimeoutMs : this.sessionEnd(s)) + 1;
      earliest = earliest === null ? at : Math.min(earliest, at);
    }
    return earliest;
  }

  /**
   * UnregisterBroker (Kafka's ReplicationControlManager.unregisterBroker, KIP-631): the registration goes, after the
   * broker has left every ISR, ELR and leadership. Like Kafka, only an unknown id is refused: a live broker that is
   * unregistered gets STALE_BROKER_EPOCH at its next heartbeat and registers again (broker-lifecycle.ts), so the
   * caller decides whether the broker is really gone (the operator asks only for brokers whose pod it removed).
   */
  unregisterBroker(request: UnregisterBrokerRequest): ControllerResult<UnregisterBrokerResponse> {
    const { view, sessions } = this.state;
    const base = UnregisterBrokerResponse.create();
    const reg = view.brokers.get(request.brokerId);
    if (reg === undefined) {
      return this.done([], {
        ...base,
        errorCode: ErrorCode.BROKER_ID_NOT_REGISTERED,
        errorMessage: `Broker ID ${request.brokerId} is not currently registered`,
      });
    }
    const records = [
      // As after an unclean shutdown: a broker that is gone can no longer be elected from an ELR either.
      ...removeBrokerFromPartitions(
        view,
        reg.id,
        (id) => this.usable(view, id),
        (topicId) => this.policyOf(view, topicId),
        elrEnabled(view.features),
      ),
      record(UnregisterBrokerRecord, { brokerId: reg.id, brokerEpoch: reg.epoch }, 0),
    ];
    sessions.delete(reg.id);
    this.deps.logger.info({ brokerId: reg.id, fenced: reg.fenced }, "Unregistered a broker");
    return this.done(records, { ...base, errorCode: ErrorCode.NONE, errorMessage: null });
  }

  // ---- replication ----------------------------------------------------------------------------------------------

  private replication(): ReplicationView {
    const { view } = this.state;
    return {
      view,
      usable: (id) => this.usable(view, id),
      policyOf: (topicId) => this.policyOf(view, topicId),
      logger: this.deps.logger,
    };
  }

  private decided<T>(decision: Decision<T>): ControllerResult<T> {
    const result = this.done(decision.records, decision.response);
    decision.complete?.(this.state.view);
    return result;
  }

  /** AlterPartition from a partition leader (replication-commands.ts). */
  alterPartition(request: AlterPartitionRequest, apiVersion: number): ControllerResult<AlterPartitionResponse> {
    return this.decided(decideAlterPartition(this.replication(), request, apiVersion));
  }

  /** ElectLeaders, PREFERRED or UNCLEAN (replication-commands.ts). */
  electLeaders(request: ElectLeadersRequest, apiVersion: number): ControllerResult<ElectLeadersResponse> {
    return this.decided(decideElectLeaders(this.replication(), request, apiVersion));
  }

  /** AlterPartitionReassignments: start, replace or cancel reassignments (replication-commands.ts). */
  alterPartitionReassignments(
    request: AlterPartitionReassignmentsRequest,
  ): ControllerResult<AlterPartitionReassignmentsResponse> {
    return this.decided(decideAlterReassignments(this.replication(), request));
  }

  /** ListPartitionReassignments, answered once everything the view holds has committed. */
  listPartitionReassignments(
    request: ListPartitionReassignmentsRequest,
  ): ControllerResult<ListPartitionReassignmentsResponse> {
    return this.done([], listReassignments(this.state.view, request.topics));
  }

  /**
   * One pass of automatic preferred-leader elections (replication-commands.ts decideBalance), or null when
   * auto.leader.rebalance.enable is off. The response says whether more elections are due at once.
   */
  balancePartitionLeaders(): ControllerResult<boolean> | null {
    if (!this.deps.config.autoLeaderRebalanceEnable) return null;
    return this.decided(decideBalance(this.replication(), this.deps.config.leaderImbalancePerBrokerPercentage));
  }

  /** One pass of the periodic unclean elections; the response says whether more are due at once. */
  electUncleanLeaders(): ControllerResult<boolean> {
    return this.decided(decideUncleanElections(this.replication()));
  }

  // ---- producer ids ---------------------------------------------------------------------------------------------

  /** AllocateProducerIds (Kafka's ProducerIdControlManager): the next block of 1000, for a broker of the right epoch. */
  allocateProducerIds(request: AllocateProducerIdsRequest): ControllerResult<AllocateProducerIdsResponse> {
    const { view } = this.state;
    const base = AllocateProducerIdsResponse.create();
    const reg = view.brokers.get(request.brokerId);
    if (reg === undefined || reg.epoch !== request.brokerEpoch) {
      return this.done([], { ...base, errorCode: ErrorCode.STALE_BROKER_EPOCH });
    }
    const start = view.nextProducerId;
    if (start > MAX_PRODUCER_ID - BigInt(PRODUCER_ID_BLOCK_SIZE)) {
      return this.done([], { ...base, errorCode: ErrorCode.UNKNOWN_SERVER_ERROR });
    }
    const next = start + BigInt(PRODUCER_ID_BLOCK_SIZE);
    return this.done(
      [record(ProducerIdsRecord, { brokerId: reg.id, brokerEpoch: reg.epoch, nextProducerId: next }, 0)],
      { ...base, errorCode: ErrorCode.NONE, producerIdStart: start, producerIdLen: PRODUCER_ID_BLOCK_SIZE },
    );
  }

  // ---- features -------------------------------------------------------------------------------------------------

  /** UpdateFeatures (Kafka's FeatureControlManager): all updates apply together, or none. */
  updateFeatures(request: UpdateFeaturesRequest, apiVersion: number): ControllerResult<UpdateFeaturesResponse> {
    const { view } = this.state;
    const names = request.featureUpdates.map((u) => u.feature);
    const answer = (errorCode: number, errorMessage: string | null, records: MetadataRecordAndVersion[] = []) =>
      this.done(records, {
        ...UpdateFeaturesResponse.create(),
        errorCode,
        errorMessage,
        results: names.map((feature) => ({ feature, errorCode, errorMessage })),
      });
    if (new Set(names).size !== names.length)
      return answer(ErrorCode.INVALID_REQUEST, "The request contains a feature twice.");
    const records: MetadataRecordAndVersion[] = [];
    for (const update of request.featureUpdates) {
      // v0 has allowDowngrade; v1+ has upgradeType (1 upgrade, 2 safe downgrade, 3 unsafe downgrade).
      const upgradeType = apiVersion === 0 ? (update.allowDowngrade === true ? 2 : 1) : (update.upgradeType ?? 1);
      const problem = this.featureUpdateProblem(view, update.feature, update.maxVersionLevel, upgradeType);
      if (problem !== undefined) {
        return answer(
          ErrorCode.INVALID_UPDATE_VERSION,
          `Invalid update version ${update.maxVersionLevel} for feature ${update.feature}. ${problem}`,
        );
      }
      records.push(record(FeatureLevelRecord, { name: update.feature, featureLevel: update.maxVersionLevel }, 0));
    }
    const after = new Map(view.features);
    for (const update of request.featureUpdates) after.set(update.feature, update.maxVersionLevel);
    const dependency = featureDependencyProblem(after);
    if (dependency !== undefined) {
      const update = request.featureUpdates.find((u) => u.feature === ELR_FEATURE) ?? request.featureUpdates[0];
      return answer(
        ErrorCode.INVALID_UPDATE_VERSION,
        `Invalid update version ${update?.maxVersionLevel ?? 0} for feature ${update?.feature ?? ELR_FEATURE}. ${dependency}`,
      );
    }
    if (!elrEnabled(view.features) && elrEnabled(after)) records.push(...this.elrSafetyRecords(view));
    if (elrEnabled(view.features) && !elrEnabled(after)) {
      // Turning ELR off forgets every ELR (Kafka writes a ClearElrRecord for all topics).
      const mv = after.get(METADATA_VERSION) ?? this.deps.config.bootstrapMetadataVersion;
      records.push(...clearElrs(view, undefined, partitionRecordVersion(mv)));
    }
    if (request.validateOnly === true) return answer(ErrorCode.NONE, null);
    return answer(ErrorCode.NONE, null, records);
  }

  /**
   * Kafka's maybeGenerateElrSafetyRecords, for ELR turned on (at bootstrap or by UpdateFeatures): the cluster-wide
   * min.insync.replicas becomes a dynamic config (from server.properties, else 1) so that it can no longer be removed,
   * and changing it clears the ELRs.
   */
  private elrSafetyRecords(view: MetadataImage): MetadataRecordAndVersion[] {
    if (view.configs.get(configKey(ConfigResourceType.BROKER, ""))?.get(MIN_ISR) !== undefined) return [];
    const value = this.deps.config.staticBrokerConfigs.get(MIN_ISR)?.value ?? "1";
    return [
      record(ConfigRecord, { resourceType: ConfigResourceType.BROKER, resourceName: "", name: MIN_ISR, value }, 0),
    ];
  }

  private featureUpdateProblem(
    view: MetadataImage,
    name: string,
    level: number,
    upgradeType: number,
  ): string | undefined {
    if (upgradeType < 1 || upgradeType > 3) return "The controller does not support the given upgrade type.";
    const current = view.features.get(name) ?? 0;
    if (level < 0) return "A feature version cannot be less than 0.";
    const supported = SUPPORTED_FEATURES.get(name);
    if (supported === undefined) {
      if (level !== 0) return `Controller ${this.deps.config.nodeId} does not support this feature.`;
    } else if (level < supported.min || level > supported.max) {
      return `Controller ${this.deps.config.nodeId} only supports versions ${supported.min}-${supported.max}.`;
    }
    if (level < current && upgradeType === 1) {
      return "Can't downgrade the version of this feature without setting the upgrade type to either safe or unsafe downgrade.";
    }
    if (level > current && upgradeType !== 1) return "Can't downgrade to a newer version.";
    if (name === METADATA_VERSION) {
      if (!METADATA_VERSIONS.some((v) => v.level === level)) return "Unknown metadata.version.";
      if (level < MIN_METADATA_VERSION) return `Unable to set a metadata.version less than ${MIN_METADATA_VERSION}`;
      if (level < current && metadataChangedBetween(current, level)) {
        return upgradeType === 3
          ? "Unsafe metadata downgrade is not supported in this version."
          : "Refusing to perform the requested downgrade because it might delete metadata information.";
      }
    }
    // Every registered broker must support the new level, as it stated at registration.
    if (level !== 0) {
      for (const broker of view.brokers.values()) {
        const range = broker.supportedFeatures?.get(name);
        if (broker.supportedFeatures !== undefined && (range === undefined || level < range.min || level > range.max)) {
          return `Broker ${broker.id} does not support the given version. It supports ${range?.min ?? 0} to ${range?.max ?? 0}.`;
        }
      }
    }
    return undefined;
  }

  // ---- topics ---------------------------------------------------------------------------------------------------

  private configLevels(view: MetadataImage) {
    const dynamic = Object.fromEntries(view.configs.get(configKey(ConfigResourceType.BROKER, "")) ?? []);
    return { dynamic, statics: this.deps.config.staticBrokerConfigs };
  }

  /**
   * The policy of a topic's partition changes: the election they get when they lose their leader (UNCLEAN where the
   * topic's effective unclean.leader.election.enable — override, dynamic broker default, static config, Kafka's false —
   * is true), and, with ELR on, the topic's effective min ISR (Kafka's getTopicEffectiveMinIsr: min.insync.replicas,
   * at most the replication factor).
   */
  private policyOf(view: MetadataImage, topicId: string): TopicPolicy {
    const election = this.topicConfig(view, topicId, "unclean.leader.election.enable")?.trim().toLowerCase() === "true";
    const mv = view.features.get(METADATA_VERSION) ?? this.deps.config.bootstrapMetadataVersion;
    const policy: TopicPolicy = {
      election: election ? "UNCLEAN" : "ONLINE",
      recordVersion: partitionRecordVersion(mv),
      directoryOnline: (id, directory) => directoryOnline(view.brokers.get(id), directory),
      defaultDirectory: (id) => this.defaultDirectory(view, id),
    };
    if (!elrEnabled(view.features)) return policy;
    const minIsr = Number(this.topicConfig(view, topicId, "min.insync.replicas") ?? "1");
    const replicationFactor = view.topicsById.get(topicId)?.partitions.get(0)?.replicas.length ?? minIsr;
    return { ...policy, elrMinIsr: Math.min(Number.isFinite(minIsr) ? minIsr : 1, replicationFactor) };
  }

  /**
   * The directory a new replica on broker `id` starts with (Kafka's ClusterControlManager.defaultDir): its only log
   * dir, else UNASSIGNED (the broker picks one and says which with AssignReplicasToDirs).
   */
  private defaultDirectory(view: MetadataImage, id: number): string {
    const dirs = view.brokers.get(id)?.logDirs ?? [];
    return dirs.length === 1 ? (dirs[0] ?? UNASSIGNED_DIRECTORY) : UNASSIGNED_DIRECTORY;
  }

  /** A topic config's effective value (override, dynamic broker default, static config, Kafka's default). */
  private topicConfig(view: MetadataImage, topicId: string, key: string): string | undefined {
    const name = view.topicsById.get(topicId)?.name;
    const def = TOPIC_CONFIG_BY_NAME.get(key);
    if (name === undefined || def === undefined) return undefined;
    const overrides = Object.fromEntries(view.configs.get(configKey(ConfigResourceType.TOPIC, name)) ?? []);
    return resolveTopicConfig(def, overrides, this.configLevels(view)).value;
  }

  private random(bound: number): number {
    const b = this.deps.randomBytes(4);
    const n = ((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0);
    return (n >>> 0) % bound;
  }

  /** The replication factor of `__consumer_offsets` when the request leaves it to the controller. */
  private offsetsTopicReplicationFactor(usable: number): number {
    const configured = this.deps.config.offsetsTopicReplicationFactor;
    return configured ?? Math.max(1, Math.min(3, usable));
  }

  /** CreateTopics: every topic on its own (a failure of one does not stop the others); created ones in one batch. */
  createTopics(
    topics: readonly CreateTopicRequest[],
  ): ControllerResult<
    (AdminResult & { topicId: string; numPartitions: number; replicationFactor: number; configs: EffectiveConfig[] })[]
  > {
    const { view } = this.state;
    const usable = this.usableBrokers(view);
    const creating = new Map<string, string>();
    // Kafka refuses a name that equals an existing one once '.' and '_' are taken as the same (metric names).
    const collisionKey = (name: string) => name.replaceAll(".", "_");
    const collisions = new Map([...view.topicIdsByName.keys()].map((name) => [collisionKey(name), name]));
    const records: MetadataRecordAndVersion[] = [];
    const results = topics.map((request) => {
      const failed = (result: AdminResult) => ({
        ...result,
        topicId: ZERO_UUID,
        numPartitions: -1,
        replicationFactor: -1,
        configs: [],
      });
      let req = request;
      if (request.name === OFFSETS_TOPIC && (!request.assignments || request.assignments.size === 0)) {
        const configs = new Map(request.configs);
        if (!configs.has("cleanup.policy")) configs.set("cleanup.policy", "compact");
        req = {
          ...request,
          numPartitions:
            request.numPartitions === -1 ? this.deps.config.offsetsTopicNumPartitions : request.numPartitions,
          replicationFactor:
            request.replicationFactor === -1
              ? this.offsetsTopicReplicationFactor(usable.length)
              : request.replicationFactor,
          configs,
        };
      }
      const planned = planTopicCreation(req, {
        existing: (name) =>
          topicByName(view, name) !== undefined || creating.has(name) ? name : collisions.get(collisionKey(name)),
        defaultPartitions: this.deps.config.defaultPartitions,
        defaultReplicationFactor: this.deps.config.defaultReplicationFactor,
        usableBrokers: usable.map((b) => b.id),
        replicasProblem: (replicas) => this.unregisteredReplica(view, replicas),
      });
      if (!planned.ok) return failed(planned.result);
      const { plan } = planned;
      let assignment: number[][];
      if (plan.assignments) {
        assignment = [];
        for (let p = 0; p < plan.numPartitions; p++) assignment.push([...(plan.assignments.get(p) ?? [])]);
        const dead = assignment.findIndex((replicas) => !replicas.some((id) => this.usable(view, id)));
        if (dead >= 0) {
          return failed({
            errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
            errorMessage: `All brokers specified in the manual partition assignment for partition ${dead} are fenced or in controlled shutdown.`,
          });
        }
      } else {
        assignment = placeReplicas(0, plan.numPartitions, plan.replicationFactor, usable, (b) => this.random(b));
      }
      const topicConfigs = resolveTopicConfigs(plan.configs, this.configLevels(view));
      if (request.validateOnly) {
        return {
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          topicId: ZERO_UUID,
          numPartitions: plan.numPartitions,
          replicationFactor: plan.replicationFactor,
          configs: topicConfigs,
        };
      }
      const topicId = randomUuid(this.deps.randomBytes);
      creating.set(req.name, topicId);
      collisions.set(collisionKey(req.name), req.name);
      records.push(record(TopicRecord, { name: req.name, topicId }, 0));
      assignment.forEach((replicas, partitionId) =>
        records.push(this.partitionRecord(view, topicId, partitionId, replicas)),
      );
      for (const [name, value] of Object.entries(plan.configs)) {
        records.push(
          record(ConfigRecord, { resourceType: ConfigResourceType.TOPIC, resourceName: req.name, name, value }, 0),
        );
      }
      this.deps.logger.info({ topic: req.name, topicId, partitions: plan.numPartitions }, "Creating a topic");
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        topicId,
        numPartitions: plan.numPartitions,
        replicationFactor: plan.replicationFactor,
        configs: topicConfigs,
      };
    });
    return this.done(records, results);
  }

  /**
   * A new partition (Kafka's createTopic / createPartitions): the ISR is every assigned replica that is unfenced and
   * not shutting down (a replica with no data yet is trivially caught up), and the leader is its first member.
   */
  private partitionRecord(view: MetadataImage, topicId: string, partitionId: number, replicas: readonly number[]) {
    const isr = replicas.filter((id) => this.usable(view, id));
    const version = partitionRecordVersion(
      view.features.get(METADATA_VERSION) ?? this.deps.config.bootstrapMetadataVersion,
    );
    return record(
      PartitionRecord,
      {
        topicId,
        partitionId,
        replicas: [...replicas],
        isr,
        removingReplicas: [],
        addingReplicas: [],
        leader: isr[0] ?? NO_LEADER,
        leaderRecoveryState: 0,
        leaderEpoch: 0,
        partitionEpoch: 0,
        directories: replicas.map((id) => this.defaultDirectory(view, id)),
        ...(version >= 2 ? { eligibleLeaderReplicas: [], lastKnownElr: [] } : {}),
      },
      version,
    );
  }

  private unregisteredReplica(view: MetadataImage, replicas: readonly number[]): string | undefined {
    const missing = replicas.find((id) => !view.brokers.has(id));
    return missing === undefined
      ? undefined
      : `The manual partition assignment includes broker ${missing}, but no such broker is registered.`;
  }

  /** DeleteTopics by name or id (the handler has resolved duplicates): RemoveTopicRecord each. */
  deleteTopics(
    topics: readonly ({ name: string } | { topicId: string })[],
  ): ControllerResult<(AdminResult & { name: string | null; topicId: string })[]> {
    const { view } = this.state;
    const removing = new Set<string>();
    const records: MetadataRecordAndVersion[] = [];
    const results = topics.map((t) => {
      const topic = "name" in t ? topicByName(view, t.name) : view.topicsById.get(t.topicId);
      if (topic === undefined || removing.has(topic.id)) {
        return "name" in t
          ? {
              name: t.name,
              topicId: ZERO_UUID,
              errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              errorMessage: `This server does not host this topic: ${t.name}`,
            }
          : {
              name: null,
              topicId: t.topicId,
              errorCode: ErrorCode.UNKNOWN_TOPIC_ID,
              errorMessage: `Topic id ${t.topicId} does not exist.`,
            };
      }
      if (topic.name === OFFSETS_TOPIC) {
        return {
          name: topic.name,
          topicId: topic.id,
          errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
          errorMessage: "the internal offsets topic cannot be deleted",
        };
      }
      removing.add(topic.id);
      records.push(record(RemoveTopicRecord, { topicId: topic.id }, 0));
      this.deps.logger.info({ topic: topic.name, topicId: topic.id }, "Deleting a topic");
      return { name: topic.name, topicId: topic.id, errorCode: ErrorCode.NONE, errorMessage: null };
    });
    return this.done(records, results);
  }

  /** CreatePartitions: PartitionRecords for the new partitions, placed like a new topic's. */
  createPartitions(
    topics: readonly { name: string; count: number; assignments: readonly (readonly number[])[] | null }[],
    validateOnly: boolean,
  ): ControllerResult<AdminResult[]> {
    const { view } = this.state;
    const usable = this.usableBrokers(view);
    const records: MetadataRecordAndVersion[] = [];
    const results = topics.map((t): AdminResult => {
      const topic = topicByName(view, t.name);
      if (topic === undefined) {
        return {
          errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          errorMessage: `The topic '${t.name}' does not exist.`,
        };
      }
      const current = topic.partitions.size;
      const problem = partitionGrowthProblem(current, t.count, t.assignments ?? undefined, (r) =>
        this.unregisteredReplica(view, r),
      );
      if (problem) return problem;
      const replicationFactor = topic.partitions.get(0)?.replicas.length ?? 1;
      let assignment: number[][];
      if (t.assignments) {
        assignment = t.assignments.map((r) => [...r]);
        const odd = assignment.find((r) => r.length !== replicationFactor);
        if (odd) {
          return {
            errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
            errorMessage: `The manual partition assignment includes a partition with ${odd.length} replica(s), but this is not consistent with previous partitions, which have ${replicationFactor} replica(s).`,
          };
        }
        const dead = assignment.findIndex((replicas) => !replicas.some((id) => this.usable(view, id)));
        if (dead >= 0) {
          return {
            errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
            errorMessage: `All brokers specified in the manual partition assignment for partition ${current + dead} are fenced or in controlled shutdown.`,
          };
        }
      } else {
        const rfProblem = replicationFactorProblem(replicationFactor, usable.length);
        if (rfProblem) return { errorCode: ErrorCode.INVALID_REPLICATION_FACTOR, errorMessage: rfProblem };
        assignment = placeReplicas(current, t.count - current, replicationFactor, usable, (b) => this.random(b));
      }
      if (validateOnly) return { errorCode: ErrorCode.NONE, errorMessage: null };
      assignment.forEach((replicas, i) => records.push(this.partitionRecord(view, topic.id, current + i, replicas)));
      return { errorCode: ErrorCode.NONE, errorMessage: null };
    });
    return this.done(records, results);
  }

  // ---- configs --------------------------------------------------------------------------------------------------

  /**
   * AlterConfigs ("replace") and IncrementalAlterConfigs ("incremental") for TOPIC and BROKER resources (the handler
   * has answered duplicates): ConfigRecords for what changes. BROKER "" is the cluster-wide default; a broker id names
   * that broker's own overrides.
   */
  alterConfigs(
    resources: readonly { resourceType: number; resourceName: string; changes: readonly ConfigChange[] }[],
    mode: "replace" | "incremental",
    validateOnly: boolean,
  ): ControllerResult<AdminResult[]> {
    const { view } = this.state;
    const records: MetadataRecordAndVersion[] = [];
    const results = resources.map(({ resourceType, resourceName, changes }): AdminResult => {
      let problem: (key: string, value: string) => string | undefined;
      let isList: (key: string) => boolean;
      let effective: (key: string) => string | undefined;
      if (resourceType === ConfigResourceType.TOPIC) {
        const nameProblem = topicNameProblem(resourceName);
        if (nameProblem) return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: nameProblem };
        if (topicByName(view, resourceName) === undefined) {
          return {
            errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            errorMessage: `Topic '${resourceName}' does not exist.`,
          };
        }
        const overrides = Object.fromEntries(view.configs.get(configKey(resourceType, resourceName)) ?? []);
        const resolved = resolveTopicConfigs(overrides, this.configLevels(view));
        problem = topicConfigProblem;
        isList = (key) => TOPIC_CONFIG_BY_NAME.get(key)?.configType === CONFIG_TYPE_LIST;
        effective = (key) => resolved.find((c) => c.name === key)?.value;
      } else if (resourceType === ConfigResourceType.BROKER) {
        if (resourceName !== "" && !/^\d+$/.test(resourceName)) {
          return {
            errorCode: ErrorCode.INVALID_REQUEST,
            errorMessage: `Unexpected broker id, expected a broker id or empty string, but received ${JSON.stringify(resourceName)}`,
          };
        }
        const clusterDefaults = view.configs.get(configKey(resourceType, ""));
        problem = brokerConfigProblem;
        isList = (key) => TOPIC_CONFIG_BY_BROKER_KEY.get(key)?.configType === CONFIG_TYPE_LIST;
        effective = (key) =>
          view.configs.get(configKey(resourceType, resourceName))?.get(key) ??
          clusterDefaults?.get(key) ??
          this.deps.config.staticBrokerConfigs.get(key)?.value;
      } else {
        return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unsupported resource type ${resourceType}` };
      }
      const current = Object.fromEntries(view.configs.get(configKey(resourceType, resourceName)) ?? []);
      const outcome = applyConfigChanges(current, changes, { mode, isList, effectiveValue: effective, problem });
      if (!outcome.ok) return { errorCode: outcome.errorCode, errorMessage: outcome.errorMessage };
      if (resourceType === ConfigResourceType.BROKER && elrEnabled(view.features)) {
        // KIP-966: the ELR rules need one min ISR per topic, so, as Kafka 4.x, no broker-level value while ELR is on.
        if (resourceName !== "" && current[MIN_ISR] !== outcome.configs[MIN_ISR]) {
          return {
            errorCode: ErrorCode.INVALID_CONFIG,
            errorMessage: "Broker-level min.insync.replicas cannot be altered while ELR is enabled.",
          };
        }
        if (resourceName === "" && current[MIN_ISR] !== undefined && outcome.configs[MIN_ISR] === undefined) {
          return {
            errorCode: ErrorCode.INVALID_CONFIG,
            errorMessage: "Cluster-level min.insync.replicas cannot be removed while ELR is enabled.",
          };
        }
      }
      if (validateOnly) return { errorCode: ErrorCode.NONE, errorMessage: null };
      for (const [name, value] of Object.entries(outcome.configs)) {
        if (current[name] !== value) records.push(record(ConfigRecord, { resourceType, resourceName, name, value }, 0));
      }
      for (const name of Object.keys(current)) {
        if (!(name in outcome.configs))
          records.push(record(ConfigRecord, { resourceType, resourceName, name, value: null }, 0));
      }
      if (elrEnabled(view.features) && current[MIN_ISR] !== outcome.configs[MIN_ISR]) {
        // KIP-966: a min.insync.replicas change clears the ELRs it concerns (Kafka 4.1+'s ClearElrRecord): the
        // topic's, or every topic's for a broker-level change.
        const topicId = resourceType === ConfigResourceType.TOPIC ? view.topicIdsByName.get(resourceName) : undefined;
        const mv = view.features.get(METADATA_VERSION) ?? this.deps.config.bootstrapMetadataVersion;
        if (resourceType === ConfigResourceType.BROKER || topicId !== undefined) {
          records.push(...clearElrs(view, topicId, partitionRecordVersion(mv)));
        }
      }
      return { errorCode: ErrorCode.NONE, errorMessage: null };
    });
    return this.done(records, results);
  }
}

/** The command reached a node that is not (or stopped being) the active controller: answer NOT_CONTROLLER. */
export class NotControllerError extends Error {
  override readonly name = "NotControllerError";
  constructor() {
    super("This node is not the active controller");
  }
}
