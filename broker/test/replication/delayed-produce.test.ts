import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../src/protocol/errors.ts";
import { DelayedProduces, REPLICATED, type ReplicationOutcome } from "../../src/replication/delayed-produce.ts";

describe("DelayedProduces", () => {
  it("completes waiters when a recheck settles them, and only those", async () => {
    const purgatory = new DelayedProduces();
    let hw = 0n;
    const check = (required: bigint): ReplicationOutcome | undefined => (hw >= required ? REPLICATED : undefined);
    const first = purgatory.wait("t-0", 3n, 10_000, check);
    const second = purgatory.wait("t-0", 6n, 10_000, check);
    const other = purgatory.wait("t-1", 1n, 10_000, check);
    hw = 4n;
    purgatory.recheck("t-0");
    expect(await first).toBe(REPLICATED);
    expect(purgatory.waitingOn("t-0")).toBe(1);
    expect(purgatory.waitingOn("t-1")).toBe(1); // not rechecked
    const lost = { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, errorMessage: "moved" };
    purgatory.fail("t-0", lost);
    expect(await second).toBe(lost);
    purgatory.failAll(lost);
    expect(await other).toBe(lost);
    expect(purgatory.waitingOn("t-0") + purgatory.waitingOn("t-1")).toBe(0);
  });

  it("times out with REQUEST_TIMED_OUT", async () => {
    const purgatory = new DelayedProduces();
    const outcome = await purgatory.wait("t-0", 1n, 5, () => undefined);
    expect(outcome.errorCode).toBe(ErrorCode.REQUEST_TIMED_OUT);
    expect(purgatory.waitingOn("t-0")).toBe(0);
  });
});
