import type { Logger } from "pino";
import type { CommittedView } from "./committed.ts";
import type { GroupCoordinatorConfig } from "./config.ts";
import type { ClassicGroup } from "./group.ts";
import type { Scheduler } from "./scheduler.ts";
import type { GroupStore } from "./store.ts";
import type { JoinGroupResult, SyncGroupResult } from "./types.ts";

/**
 * What the parts of one coordinator shard (membership, offsets, admin, loading) share: the groups of one
 * `__consumer_offsets` partition, the store on that partition, the committed view every write goes through, and the
 * clock.
 */
export interface ShardContext {
  readonly groups: Map<string, ClassicGroup>;
  readonly store: GroupStore;
  readonly committed: CommittedView;
  readonly log: Logger;
  readonly scheduler: Scheduler;
  readonly config: Readonly<GroupCoordinatorConfig>;
  readonly newUuid: () => string;
}

/** Base of each part of a shard: the shared context under short names. */
export abstract class ShardPart {
  protected readonly groups: Map<string, ClassicGroup>;
  protected readonly store: GroupStore;
  protected readonly committed: CommittedView;
  protected readonly log: Logger;
  protected readonly scheduler: Scheduler;
  protected readonly config: Readonly<GroupCoordinatorConfig>;

  constructor(context: ShardContext) {
    this.groups = context.groups;
    this.store = context.store;
    this.committed = context.committed;
    this.log = context.log;
    this.scheduler = context.scheduler;
    this.config = context.config;
  }
}

export const EMPTY = Buffer.alloc(0);

export function joinError(memberId: string, errorCode: number): JoinGroupResult {
  return {
    errorCode,
    generationId: -1,
    protocolType: null,
    protocolName: null,
    leader: "",
    skipAssignment: false,
    memberId,
    members: [],
  };
}

export function syncError(errorCode: number): SyncGroupResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
}
