import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../log/checkpoint.ts";
import { uuidFromKafkaBase64 } from "../protocol/index.ts";
import { encodeSnapshot, snapshotFileName } from "../quorum/snapshot-file.ts";
import type { Voter } from "../raft/index.ts";
import { parseKafkaUuid, randomDirectoryId } from "./kafka-uuid.ts";

// KIP-853's formatting of a dynamic quorum (kafka-storage format --standalone / --initial-controllers): the voters
// are written into the metadata log directory as the bootstrap snapshot (`00000000000000000000-0000000000.checkpoint`
// in `__cluster_metadata-0/`, a header, KRaftVersionRecord 1 and VotersRecord, a footer), and each voter's metadata
// directory gets the directory id its entry names. The controllers then find the leader among these voters; later
// controllers join with --no-initial-controllers and AddRaftVoter.

/** One entry of --initial-controllers: `id@host:port:directoryId`. */
export interface InitialController {
  readonly id: number;
  readonly host: string;
  readonly port: number;
  /** Kafka's 22-character base64url form, as meta.properties holds it. */
  readonly directoryId: string;
}

/** The kraft.version range a Tributary controller supports. */
export const KRAFT_VERSIONS = { min: 0, max: 1 } as const;

/** Parses `id@host:port:directoryId,...` (Kafka's DynamicVoters.parse); an error names the entry at fault. */
export function parseInitialControllers(text: string): InitialController[] | { error: string } {
  const out: InitialController[] = [];
  for (const item of text.split(",").map((s) => s.trim())) {
    const m = /^(\d+)@(\[[^\]]+\]|[^:[\]]+):(\d{1,5}):([A-Za-z0-9_-]+)$/.exec(item);
    if (m === null) return { error: `"${item}" is not id@host:port:directoryId` };
    const [, id = "", rawHost = "", port = "", directoryId = ""] = m;
    const parsed = parseKafkaUuid(directoryId);
    if ("error" in parsed) return { error: `"${item}": the directory id is not valid: ${parsed.error}` };
    if (Number(port) > 65535) return { error: `"${item}": port ${port} is out of range` };
    if (out.some((c) => c.id === Number(id))) return { error: `node id ${id} appears twice` };
    if (out.some((c) => c.directoryId === directoryId)) return { error: `directory id ${directoryId} appears twice` };
    out.push({ id: Number(id), host: rawHost.replace(/^\[|\]$/g, ""), port: Number(port), directoryId });
  }
  return out;
}

/** This controller alone as the initial voter (--standalone), with a new directory id. */
export function standaloneController(id: number, host: string, port: number): InitialController {
  return { id, host, port, directoryId: randomDirectoryId() };
}

/** Writes the bootstrap snapshot naming `controllers` as the voters (kraft.version 1) into `metadataDir`. */
export async function writeBootstrapVoters(
  metadataDir: string,
  controllers: readonly InitialController[],
  listenerName: string,
): Promise<void> {
  const voters: Voter[] = controllers.map((c) => ({
    id: c.id,
    directoryId: uuidFromKafkaBase64(c.directoryId),
    endpoints: [{ name: listenerName, host: c.host, port: c.port }],
    kraftVersion: KRAFT_VERSIONS,
  }));
  const id = { offset: 0, epoch: 0 };
  const bytes = encodeSnapshot(id, [], { timestampMs: Date.now(), voters: { kraftVersion: 1, voters } });
  const dir = join(metadataDir, "__cluster_metadata-0");
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, snapshotFileName(id)), bytes);
}
