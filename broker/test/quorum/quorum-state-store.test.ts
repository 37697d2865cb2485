import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  QUORUM_STATE_FILE,
  QuorumStateError,
  QuorumStateStore,
  parseQuorumState,
  quorumStateJson,
} from "../../src/quorum/quorum-state-store.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "quorum-state-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("quorum-state file", () => {
  it("is written in Kafka's format, version 0 with the voters and version 1 with the voted directory", () => {
    const state = { epoch: 7, leaderId: 2, votedId: null };
    expect(quorumStateJson(state, { version: 0, voters: [1, 2, 3] })).toBe(
      '{"clusterId":"","leaderId":2,"leaderEpoch":7,"votedId":-1,"appliedOffset":0,' +
        '"currentVoters":[{"voterId":1},{"voterId":2},{"voterId":3}],"data_version":0}',
    );
    expect(quorumStateJson({ epoch: 3, leaderId: null, votedId: 1 }, { version: 1, voters: [] })).toBe(
      '{"leaderId":-1,"leaderEpoch":3,"votedId":1,"votedDirectoryId":"AAAAAAAAAAAAAAAAAAAAAA","data_version":1}',
    );
  });

  it("round-trips through the file, and a missing file means no state", async () => {
    const store = new QuorumStateStore(join(dir, QUORUM_STATE_FILE));
    expect(await store.read()).toBeNull();
    await store.write({ epoch: 4, leaderId: null, votedId: 3 }, { version: 0, voters: [1, 2, 3] });
    expect(await store.read()).toEqual({ epoch: 4, leaderId: null, votedId: 3 });
    await store.write({ epoch: 5, leaderId: 1, votedId: null }, { version: 1, voters: [] });
    expect(await store.read()).toEqual({ epoch: 5, leaderId: 1, votedId: null });
    expect((await readFile(store.path, "utf8")).split("\n")).toHaveLength(1);
  });

  it("reads the file Kafka writes", () => {
    const kafka =
      '{"leaderId":1,"leaderEpoch":12,"votedId":1,"votedDirectoryId":"AAAAAAAAAAAAAAAAAAAAAA","data_version":1}';
    expect(parseQuorumState(kafka, "quorum-state")).toEqual({ epoch: 12, leaderId: 1, votedId: 1 });
  });

  it("refuses a damaged file with its path and the reason", async () => {
    const path = join(dir, QUORUM_STATE_FILE);
    const cases: [string, RegExp][] = [
      ["{not json", /not JSON/],
      ["[1,2]", /not a JSON object/],
      ['{"leaderId":1,"leaderEpoch":2,"votedId":-1}', /no data_version/],
      ['{"leaderId":1,"leaderEpoch":2,"votedId":-1,"data_version":2}', /data_version 2 is not 0 or 1/],
      ['{"leaderId":"x","leaderEpoch":2,"votedId":-1,"data_version":1}', /"leaderId" is "x"/],
    ];
    for (const [text, reason] of cases) {
      await writeFile(path, text);
      const error = await new QuorumStateStore(path).read().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QuorumStateError);
      expect(String(error)).toMatch(reason);
      expect(String(error)).toContain(path);
    }
  });
});
