import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { DirectoryAssignments } from "../../src/partitions/directory-assignments.ts";
import {
  ErrorCode,
  type AssignReplicasToDirsRequest,
  type AssignReplicasToDirsResponse,
} from "../../src/protocol/index.ts";

// The broker's side of AssignReplicasToDirs (KIP-858): which replicas it reports, when, and what it sends again.

const T = "00000000-0000-0000-0000-0000000000a1";
const DIR_A = "0000000a-0000-4000-8000-00000000000a";
const DIR_B = "0000000b-0000-4000-8000-00000000000b";
const UNASSIGNED = "00000000-0000-0000-0000-000000000000";

function setup() {
  const requests: {
    request: AssignReplicasToDirsRequest;
    answer: (r: AssignReplicasToDirsResponse | Error) => void;
  }[] = [];
  const send = (request: AssignReplicasToDirsRequest) =>
    new Promise<AssignReplicasToDirsResponse>((resolve, reject) => {
      requests.push({ request, answer: (r) => (r instanceof Error ? reject(r) : resolve(r)) });
    });
  const assignments = new DirectoryAssignments({
    brokerId: 1,
    directoryIds: new Map([
      ["/data/a", DIR_A],
      ["/data/b", DIR_B],
    ]),
    retryBackoffMs: 5,
    logger: pino({ level: "silent" }),
  });
  const ok = (
    request: AssignReplicasToDirsRequest,
    errorCode: number = ErrorCode.NONE,
  ): AssignReplicasToDirsResponse => ({
    throttleTimeMs: 0,
    errorCode,
    directories: request.directories.map((d) => ({
      id: d.id,
      topics: d.topics.map((t) => ({
        topicId: t.topicId,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE })),
      })),
    })),
  });
  return { requests, send, assignments, ok };
}

const placed = (r: AssignReplicasToDirsRequest) =>
  r.directories.flatMap((d) =>
    d.topics.flatMap((t) => t.partitions.map((p) => `${t.topicId}:${p.partitionIndex}@${d.id}`)),
  );

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe("directory assignments", () => {
  it("queues until started, sends only replicas whose dir the image lacks, in one request per batch", async () => {
    const { requests, send, assignments, ok } = setup();
    assignments.place(T, 0, "/data/a", UNASSIGNED);
    assignments.place(T, 1, "/data/b", UNASSIGNED);
    assignments.place(T, 2, "/data/a", DIR_A); // the image has it already
    assignments.place(T, 3, "/elsewhere", UNASSIGNED); // not a configured dir
    expect(requests).toHaveLength(0);
    expect(assignments.pending).toBe(2);
    assignments.start(send, () => 42n);
    expect(requests).toHaveLength(1);
    const first = requests[0]!.request;
    expect(first).toMatchObject({ brokerId: 1, brokerEpoch: 42n });
    expect(placed(first).sort()).toEqual([`${T}:0@${DIR_A}`, `${T}:1@${DIR_B}`]);
    // Reported while the first is in flight: waits for it, then goes alone.
    assignments.place(T, 4, "/data/b", UNASSIGNED);
    expect(requests).toHaveLength(1);
    requests[0]!.answer(ok(first));
    await until(() => requests.length === 2, "the second request");
    expect(placed(requests[1]!.request)).toEqual([`${T}:4@${DIR_B}`]);
    requests[1]!.answer(ok(requests[1]!.request));
    await until(() => assignments.pending === 0, "nothing pending");
  });

  it("drops a queued report once the image has the dir, and sends a batch again after a failure or a refusal", async () => {
    const { requests, send, assignments, ok } = setup();
    assignments.place(T, 0, "/data/a", UNASSIGNED);
    assignments.place(T, 0, "/data/a", DIR_A);
    expect(assignments.pending).toBe(0);
    assignments.start(send, () => 7n);
    assignments.place(T, 1, "/data/b", UNASSIGNED);
    requests[0]!.answer(new Error("no controller"));
    await until(() => requests.length === 2, "a retry after the failure");
    requests[1]!.answer(ok(requests[1]!.request, ErrorCode.NOT_CONTROLLER));
    await until(() => requests.length === 3, "a retry after NOT_CONTROLLER");
    expect(placed(requests[2]!.request)).toEqual([`${T}:1@${DIR_B}`]);
    requests[2]!.answer(ok(requests[2]!.request));
    await until(() => assignments.pending === 0, "nothing pending");
    assignments.close();
  });
});
