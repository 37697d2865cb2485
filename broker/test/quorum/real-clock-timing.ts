import { DEFAULT_RAFT_TIMING } from "../../src/raft/index.ts";

/** Raft timing for quorums on the real clock in tests: short enough for a quick test, long enough that a loaded
 * machine (shared CPU) does not make leaders churn. */
export const REAL_CLOCK_TEST_TIMING = {
  ...DEFAULT_RAFT_TIMING,
  electionTimeoutMs: 300,
  fetchTimeoutMs: 1000,
  electionBackoffMaxMs: 300,
  requestTimeoutMs: 1000,
  fetchMaxWaitMs: 100,
  retryBackoffMs: 20,
};
