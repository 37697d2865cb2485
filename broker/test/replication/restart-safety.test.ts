import { describe, expect, it } from "vitest";
import {
  EMPTY_IMAGE,
  type MetadataImage,
  type PartitionRegistration,
} from "../../src/metadata/image/metadata-image.ts";
import { restartSafety, startingRestartSafety } from "../../src/replication/restart-safety.ts";

function image(partitions: Record<string, [number[], number[]]>, fenced = false): MetadataImage {
  const topicsById = new Map(
    Object.entries(partitions).map(([name, [replicas, isr]], i) => [
      `id-${i}`,
      {
        name,
        id: `id-${i}`,
        partitions: new Map([[0, { replicas, isr, leader: isr[0] ?? -1 } as unknown as PartitionRegistration]]),
      },
    ]),
  );
  const brokers = new Map(
    [1, 2, 3].map((id) => [
      id,
      {
        id,
        epoch: 1n,
        incarnationId: "x",
        endpoints: [],
        rack: null,
        fenced: id === 1 && fenced,
        inControlledShutdown: false,
      },
    ]),
  );
  return { ...EMPTY_IMAGE, topicsById, brokers };
}

const ask = (img: MetadataImage, lifecycle = "running") =>
  restartSafety({ brokerId: 1, image: img, minInsyncReplicas: () => 2, lifecycle });

describe("restart safety", () => {
  it("lets a broker stop when every ISR it is in keeps min.insync.replicas without it", () => {
    const s = ask(
      image({
        a: [
          [1, 2, 3],
          [1, 2, 3],
        ],
        b: [[2, 3], [2]],
      }),
    );
    expect(s).toMatchObject({ canStop: true, canStopReasons: [], caughtUp: true, caughtUpReasons: [] });
  });

  it("blocks on a partition whose ISR would fall below min.insync.replicas, naming it", () => {
    const s = ask(
      image({
        a: [
          [1, 2, 3],
          [1, 2],
        ],
      }),
    );
    expect(s.canStop).toBe(false);
    expect(s.blockingPartitions).toEqual([{ topic: "a", partition: 0, isr: [1, 2], minInsyncReplicas: 2 }]);
    expect(s.canStopReasons).toEqual(["a-0: ISR [1, 2] would fall below min.insync.replicas=2"]);
  });

  it("lists partitions with no more replicas than min.insync.replicas without blocking on them", () => {
    const s = ask(
      image({
        single: [[1], [1]],
        pair: [
          [1, 2],
          [1, 2],
        ],
      }),
    );
    expect(s.canStop).toBe(true);
    expect(s.unavoidablePartitions.map((p) => p.topic).sort()).toEqual(["pair", "single"]);
  });

  it("is not caught up while fenced or out of the ISR of a partition it replicates", () => {
    const s = ask(
      image(
        {
          a: [
            [1, 2, 3],
            [2, 3],
          ],
        },
        true,
      ),
      "fenced",
    );
    expect(s.caughtUp).toBe(false);
    expect(s.caughtUpReasons).toEqual(["fenced (registration state: fenced)", "not in the ISR of a-0"]);
    expect(startingRestartSafety(1)).toMatchObject({ canStop: false, caughtUp: false });
  });
});
