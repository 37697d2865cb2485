import { readFile } from "node:fs/promises";
import { uuidToKafkaBase64, ZERO_UUID } from "../protocol/index.ts";
import { isNotFound, writeFileAtomic } from "../log/checkpoint.ts";
import type { ElectionState } from "../raft/index.ts";

// The `quorum-state` file of the metadata log directory, in Kafka's format (FileQuorumStateStore): one line of JSON,
// QuorumStateData as Kafka's JSON converter writes it plus "data_version". Version 0 (static voters) carries the voter
// set; version 1 (KIP-853) the voted replica's directory id instead. Written to a temporary file, fsynced and renamed,
// so the raft core's `persistElection` is durable before any message that depends on it leaves.

export const QUORUM_STATE_FILE = "quorum-state";

export class QuorumStateError extends Error {
  override readonly name = "QuorumStateError";
}

export interface QuorumStateOptions {
  /** 0 for a static voter set (`controller.quorum.voters`), 1 once voters live in the log (KIP-853). */
  readonly version: 0 | 1;
  /** Version 0 records the voter set. */
  readonly voters: readonly number[];
}

/** Kafka's JSON text of the election state, field order as its converter writes it. */
export function quorumStateJson(state: ElectionState, options: QuorumStateOptions): string {
  const common = { leaderId: state.leaderId ?? -1, leaderEpoch: state.epoch, votedId: state.votedId ?? -1 };
  const data =
    options.version === 0
      ? {
          clusterId: "",
          ...common,
          appliedOffset: 0,
          currentVoters: options.voters.map((voterId) => ({ voterId })),
          data_version: 0,
        }
      : { ...common, votedDirectoryId: uuidToKafkaBase64(ZERO_UUID), data_version: 1 };
  return JSON.stringify(data);
}

function int(json: Record<string, unknown>, field: string, path: string): number {
  const value = json[field];
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new QuorumStateError(`${path}: "${field}" is ${JSON.stringify(value)}, not an integer`);
  }
  return value;
}

/** Parses the file's first line; anything Kafka would refuse is refused with the file and the reason. */
export function parseQuorumState(text: string, path: string): ElectionState {
  const line = text.split("\n", 1)[0] ?? "";
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new QuorumStateError(`${path}: not JSON: ${JSON.stringify(line.slice(0, 80))}`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new QuorumStateError(`${path}: not a JSON object`);
  }
  const data = json as Record<string, unknown>;
  if (!("data_version" in data)) throw new QuorumStateError(`${path}: has no data_version`);
  const version = int(data, "data_version", path);
  if (version < 0 || version > 1) throw new QuorumStateError(`${path}: data_version ${version} is not 0 or 1`);
  // votedDirectoryId (version 1) is not read: with static voters a replica is known by its id alone.
  const epoch = int(data, "leaderEpoch", path);
  const leaderId = int(data, "leaderId", path);
  const votedId = int(data, "votedId", path);
  if (epoch < 0) throw new QuorumStateError(`${path}: leaderEpoch ${epoch} is negative`);
  return { epoch, leaderId: leaderId < 0 ? null : leaderId, votedId: votedId < 0 ? null : votedId };
}

export class QuorumStateStore {
  constructor(readonly path: string) {}

  /** The persisted election state, or null when the file does not exist (a node that never took part). */
  async read(): Promise<ElectionState | null> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    return parseQuorumState(text, this.path);
  }

  /** Resolves once the new state is durable (fsynced file and directory). */
  async write(state: ElectionState, options: QuorumStateOptions): Promise<void> {
    await writeFileAtomic(this.path, quorumStateJson(state, options));
  }
}
