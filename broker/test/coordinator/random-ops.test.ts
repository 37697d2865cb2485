import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { JoinGroupResult } from "../../src/coordinator/index.ts";
import { flush, joinRequest, startCoordinator } from "./helpers.ts";

type Op =
  | { kind: "join"; group: number; instance: number | null; requireKnown: boolean; protocol: number }
  | { kind: "rejoin"; member: number; protocol: number }
  | { kind: "sync"; member: number }
  | { kind: "everyone"; group: number; action: "rejoin" | "sync" | "heartbeat" }
  | { kind: "heartbeat"; member: number }
  | { kind: "leave"; member: number }
  | { kind: "commit"; member: number }
  | { kind: "advance"; ms: number };

const protocols = [
  [{ name: "range", metadata: Buffer.from("r") }],
  [
    { name: "cooperative-sticky", metadata: Buffer.from("c") },
    { name: "range", metadata: Buffer.from("r") },
  ],
  [{ name: "range", metadata: Buffer.from("r2") }],
];

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("join" as const),
    group: fc.integer({ min: 0, max: 1 }),
    instance: fc.option(fc.integer({ min: 0, max: 2 }), { nil: null }),
    requireKnown: fc.boolean(),
    protocol: fc.integer({ min: 0, max: 2 }),
  }),
  fc.record({
    kind: fc.constant("rejoin" as const),
    member: fc.nat(20),
    protocol: fc.integer({ min: 0, max: 2 }),
  }),
  fc.record({ kind: fc.constant("sync" as const), member: fc.nat(20) }),
  // Clients react together (all rejoin after REBALANCE_IN_PROGRESS, all sync after JoinGroup), which is what moves
  // groups through every state.
  {
    arbitrary: fc.record({
      kind: fc.constant("everyone" as const),
      group: fc.integer({ min: 0, max: 1 }),
      action: fc.constantFrom("rejoin" as const, "sync" as const, "heartbeat" as const),
    }),
    weight: 5,
  },
  fc.record({ kind: fc.constant("heartbeat" as const), member: fc.nat(20) }),
  fc.record({ kind: fc.constant("leave" as const), member: fc.nat(20) }),
  fc.record({ kind: fc.constant("commit" as const), member: fc.nat(20) }),
  {
    arbitrary: fc.record({
      kind: fc.constant("advance" as const),
      // Mostly short steps, so groups get through a rebalance; sometimes long ones, so timeouts fire.
      ms: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 4000 }), weight: 4 }, fc.integer({ min: 0, max: 40_000 })),
    }),
    weight: 3,
  },
);

interface Known {
  groupId: string;
  memberId: string;
  instance: string | null;
  generationId: number;
  protocolName: string | null;
  leader: boolean;
}

describe("random operation sequences over two groups", () => {
  it("never throw, keep every group consistent and leave no request unanswered", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 10, maxLength: 80, size: "max" }), async (ops) => {
        const h = await startCoordinator({ initialRebalanceDelayMs: 3000, newMemberJoinTimeoutMs: 120_000 });
        const { coordinator, scheduler } = h;
        const known: Known[] = [];
        const outstanding: Promise<unknown>[] = [];
        const settled = new Set<Promise<unknown>>();
        const track = <T>(p: Promise<T>): Promise<T> => {
          outstanding.push(p);
          void p.then(() => settled.add(p));
          return p;
        };
        const remember = (groupId: string, instance: string | null, r: JoinGroupResult) => {
          if (r.memberId === "") return;
          const entry = known.find((k) => k.groupId === groupId && k.memberId === r.memberId);
          const fields = {
            generationId: r.generationId,
            protocolName: r.protocolName,
            leader: r.errorCode === 0 && r.leader === r.memberId,
          };
          if (entry === undefined) known.push({ groupId, memberId: r.memberId, instance, ...fields });
          else if (r.errorCode === 0) Object.assign(entry, fields);
        };

        const rejoin = (k: Known, protocol: number) => {
          const request = joinRequest({
            groupId: k.groupId,
            memberId: k.memberId,
            groupInstanceId: k.instance,
            protocols: protocols[protocol] ?? [],
          });
          void track(coordinator.joinGroup(request)).then((r) => remember(k.groupId, k.instance, r));
        };
        const sync = (k: Known) => {
          const assignments = k.leader
            ? known
                .filter((x) => x.groupId === k.groupId)
                .map((x) => ({ memberId: x.memberId, assignment: Buffer.from(x.memberId) }))
            : [];
          void track(
            coordinator.syncGroup({
              groupId: k.groupId,
              generationId: k.generationId,
              memberId: k.memberId,
              groupInstanceId: k.instance,
              protocolType: "consumer",
              protocolName: k.protocolName,
              assignments,
            }),
          );
        };

        const heartbeat = (k: Known) =>
          coordinator.heartbeat({
            groupId: k.groupId,
            generationId: k.generationId,
            memberId: k.memberId,
            groupInstanceId: k.instance,
          });

        for (const o of ops) {
          const k = "member" in o ? known[o.member % Math.max(known.length, 1)] : undefined;
          switch (o.kind) {
            case "join": {
              const groupId = `g${o.group}`;
              const instance = o.instance === null ? null : `i${o.instance}`;
              const request = joinRequest({
                groupId,
                groupInstanceId: instance,
                requireKnownMemberId: o.requireKnown,
                protocols: protocols[o.protocol] ?? [],
              });
              void track(coordinator.joinGroup(request)).then((r) => remember(groupId, instance, r));
              break;
            }
            case "rejoin":
              if (k !== undefined) rejoin(k, o.protocol);
              break;
            case "sync":
              if (k !== undefined) sync(k);
              break;
            case "everyone":
              for (const x of known.filter((x) => x.groupId === `g${o.group}`)) {
                if (o.action === "rejoin") rejoin(x, 0);
                else if (o.action === "sync") sync(x);
                else heartbeat(x);
              }
              break;
            case "heartbeat":
              if (k !== undefined) heartbeat(k);
              break;
            case "leave":
              if (k === undefined) break;
              coordinator.leaveGroup({
                groupId: k.groupId,
                members: [{ memberId: k.memberId, groupInstanceId: k.instance }],
              });
              break;
            case "commit":
              if (k === undefined) break;
              void track(
                coordinator.commitOffsets({
                  groupId: k.groupId,
                  generationId: k.generationId,
                  memberId: k.memberId,
                  groupInstanceId: k.instance,
                  offsets: [{ topic: "t", partition: 0, offset: 1n, leaderEpoch: -1, metadata: null }],
                }),
              );
              break;
            case "advance":
              scheduler.advance(o.ms);
              break;
          }
          await flush();
          for (const d of coordinator.describeGroups(["g0", "g1"])) {
            // A group with members is never Empty, and one without members is never Stable or syncing.
            if (d.groupState === "Empty") expect(d.members).toEqual([]);
            if (d.groupState === "Stable" || d.groupState === "CompletingRebalance") {
              expect(d.members.length).toBeGreaterThan(0);
            }
          }
        }

        // With nobody heartbeating, every member eventually expires and every parked request is answered.
        for (let t = 0; t < 20; t++) {
          scheduler.advance(60_000);
          await flush();
        }
        expect(outstanding.filter((p) => !settled.has(p))).toEqual([]);
        for (const d of coordinator.describeGroups(["g0", "g1"])) expect(["Empty", "Dead"]).toContain(d.groupState);

        coordinator.shutdown();
        expect(scheduler.pendingTasks).toBe(0);
      }),
      { numRuns: 150 },
    );
  });
});
