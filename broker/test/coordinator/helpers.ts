import { pino } from "pino";
import { GroupCoordinatorShard, InMemoryGroupStore } from "../../src/coordinator/index.ts";
import type {
  Cancel,
  GroupCoordinatorConfig,
  GroupStore,
  JoinGroupRequest,
  JoinGroupResult,
  OffsetCommitRequest,
  Scheduler,
} from "../../src/coordinator/index.ts";

/** A clock that moves only when the test says so; due tasks run in time order, as timers would. */
export class ManualScheduler implements Scheduler {
  private time = 1_700_000_000_000;
  private seq = 0;
  private readonly tasks: { at: number; seq: number; task: () => void }[] = [];

  now(): number {
    return this.time;
  }

  schedule(delayMs: number, task: () => void): Cancel {
    const entry = { at: this.time + Math.max(0, delayMs), seq: this.seq++, task };
    this.tasks.push(entry);
    return () => {
      const i = this.tasks.indexOf(entry);
      if (i >= 0) this.tasks.splice(i, 1);
    };
  }

  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      let next: (typeof this.tasks)[number] | undefined;
      for (const t of this.tasks) {
        if (t.at <= until && (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      }
      if (next === undefined) break;
      this.tasks.splice(this.tasks.indexOf(next), 1);
      this.time = next.at;
      next.task();
    }
    this.time = until;
  }

  get pendingTasks(): number {
    return this.tasks.length;
  }
}

/** Lets already-resolved promise chains run, so a test can tell a parked promise from a settled one. */
export async function flush(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
}

export async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await flush();
  return settled;
}

/** Bytes from hex digits; spaces group fields for the reader. */
export function hex(digits: string): Buffer {
  return Buffer.from(digits.replace(/\s+/g, ""), "hex");
}

export const silentLogger = pino({ level: "silent" });

export interface Harness {
  coordinator: GroupCoordinatorShard;
  scheduler: ManualScheduler;
  store: GroupStore;
}

export async function startCoordinator(
  config: Partial<GroupCoordinatorConfig> = {},
  store: GroupStore = new InMemoryGroupStore(),
  scheduler = new ManualScheduler(),
): Promise<Harness> {
  let n = 0;
  const coordinator = new GroupCoordinatorShard({
    store,
    logger: silentLogger,
    scheduler,
    config: { initialRebalanceDelayMs: 0, ...config },
    newUuid: () => `uuid${++n}`,
  });
  await coordinator.start();
  return { coordinator, scheduler, store };
}

export function joinRequest(overrides: Partial<JoinGroupRequest> = {}): JoinGroupRequest {
  return {
    groupId: "g",
    memberId: "",
    groupInstanceId: null,
    protocolType: "consumer",
    protocols: [{ name: "range", metadata: Buffer.from("sub") }],
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 30_000,
    clientId: "c",
    clientHost: "/127.0.0.1",
    requireKnownMemberId: false,
    ...overrides,
  };
}

/** Two members in generation 2, before anyone has synced: the first alone got generation 1, then rejoined. */
export async function joinPair(coordinator: GroupCoordinatorShard): Promise<[JoinGroupResult, JoinGroupResult]> {
  const a = await coordinator.joinGroup(joinRequest());
  const bJoin = coordinator.joinGroup(joinRequest());
  return Promise.all([coordinator.joinGroup(joinRequest({ memberId: a.memberId })), bJoin]);
}

/** A standalone commit (no member, generation -1, as a simple consumer sends) of `t`-0 at `offset`. */
export function standaloneCommit(groupId: string, offset = 5n): OffsetCommitRequest {
  return {
    groupId,
    generationId: -1,
    memberId: "",
    groupInstanceId: null,
    offsets: [{ topic: "t", partition: 0, offset, leaderEpoch: -1, metadata: "" }],
  };
}

export function assignmentFor(memberId: string): Buffer {
  return Buffer.from(`assigned:${memberId}`);
}

/**
 * Builds a Stable group of `count` members the way clients do: each newcomer joins, the existing members learn of
 * the rebalance from a heartbeat and rejoin, then everybody syncs with the leader's assignment. The group is "g" unless
 * `overrides(0)` names another.
 */
export async function stableGroup(
  h: { coordinator: Pick<GroupCoordinatorShard, "joinGroup" | "syncGroup"> },
  count: number,
  overrides: (i: number) => Partial<JoinGroupRequest> = () => ({}),
): Promise<{ members: string[]; generationId: number; leader: string }> {
  const { coordinator } = h;
  let members: JoinGroupResult[] = [];
  for (let i = 0; i < count; i++) {
    // The newcomer first: it starts the rebalance that the others then rejoin.
    const joined = coordinator.joinGroup(joinRequest(overrides(i)));
    const rejoins = members.map((m, j) =>
      coordinator.joinGroup(joinRequest({ ...overrides(j), memberId: m.memberId })),
    );
    const [newcomer, ...rest] = await Promise.all([joined, ...rejoins]);
    if (newcomer === undefined) throw new Error("join lost");
    members = [...rest, newcomer];
  }
  const first = members[0];
  if (first === undefined) throw new Error("no members");
  const generationId = first.generationId;
  const leader = first.leader;
  const groupId = overrides(0).groupId ?? "g";
  const syncs = members.map((m) =>
    coordinator.syncGroup({
      groupId,
      generationId,
      memberId: m.memberId,
      groupInstanceId: overrides(members.indexOf(m)).groupInstanceId ?? null,
      protocolType: "consumer",
      protocolName: m.protocolName,
      assignments:
        m.memberId === leader
          ? members.map((x) => ({ memberId: x.memberId, assignment: assignmentFor(x.memberId) }))
          : [],
    }),
  );
  const results = await Promise.all(syncs);
  for (const r of results) if (r.errorCode !== 0) throw new Error(`sync failed with ${r.errorCode}`);
  return { members: members.map((m) => m.memberId), generationId, leader };
}
