import { describe, expect, it } from "vitest";
import { ErrorCode, offsetsTopicCreator, offsetsTopicSpec } from "../../src/coordinator/index.ts";
import { silentLogger } from "./helpers.ts";

// The EnsureOffsetsTopic port: one CreateTopics at a time, none once the topic exists, another after a failure.

function creator(exists: () => boolean) {
  const calls: ((answer: { errorCode: number; errorMessage: string | null }) => void)[] = [];
  const ensure = offsetsTopicCreator({
    spec: offsetsTopicSpec({ offsetsTopicNumPartitions: 50, offsetsTopicReplicationFactor: 3 }),
    exists,
    create: () => new Promise((resolve) => calls.push(resolve)),
    logger: silentLogger,
  });
  return { ensure, calls };
}

describe("offsetsTopicCreator", () => {
  it("sends one CreateTopics for concurrent needs, none once the topic exists", async () => {
    let exists = false;
    const { ensure, calls } = creator(() => exists);
    ensure();
    ensure();
    ensure();
    expect(calls).toHaveLength(1);
    calls[0]?.({ errorCode: ErrorCode.NONE, errorMessage: null });
    exists = true;
    await new Promise((resolve) => setImmediate(resolve));
    ensure();
    expect(calls).toHaveLength(1);
  });

  it("tries again on the next need after a failed attempt", async () => {
    const { ensure, calls } = creator(() => false);
    ensure();
    calls[0]?.({ errorCode: ErrorCode.BROKER_NOT_AVAILABLE, errorMessage: "no broker unfenced" });
    await new Promise((resolve) => setImmediate(resolve));
    ensure();
    expect(calls).toHaveLength(2);
  });
});
