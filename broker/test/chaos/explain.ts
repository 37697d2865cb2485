import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Anomaly } from "./checker.ts";
import { describeBatch, dumpPartition, type DumpedBatch, type PartitionDump } from "./log-dump.ts";

// After a failed check: for each anomaly that names log positions, the batches holding them on every node, read from
// the nodes' kept log dirs (log-dump.ts). Whether a record written twice went in under the same producer id and
// epoch, or under a new one with its sequence restarted, tells a broker's idempotence bug from a client renumbering:
// librdkafka bumps its epoch after its own message timeouts and then resends records it may already have written
// (librdkafka #4953), which no broker can tell from new records.

/** The log dirs to read, per node id: the directory holding the `<topic>-<partition>` directories. */
export type NodeLogDirs = ReadonlyMap<number, string>;

/** Sets `batches` on every anomaly with positions; returns them for convenience. */
export async function explainAnomalies(anomalies: Anomaly[], topic: string, logDirs: NodeLogDirs): Promise<Anomaly[]> {
  const dumps = new Map<string, PartitionDump | string>();
  const dumpOf = async (node: number, dir: string, p: number): Promise<PartitionDump | string> => {
    const key = `${node}/${p}`;
    let d = dumps.get(key);
    if (d === undefined) {
      const partitionDir = join(dir, `${topic}-${p}`);
      d = existsSync(partitionDir)
        ? await dumpPartition(partitionDir).catch((err: unknown) => `unreadable: ${String(err)}`)
        : "no replica";
      dumps.set(key, d);
    }
    return d;
  };
  for (const a of anomalies) {
    if (a.at === undefined || a.at.length === 0) continue;
    const lines: string[] = [];
    const copies = new Map<string, DumpedBatch>();
    for (const [node, dir] of [...logDirs].sort((x, y) => x[0] - y[0])) {
      const partitions = [...new Set(a.at.map((x) => x.p))];
      for (const p of partitions) {
        const d = await dumpOf(node, dir, p);
        if (typeof d === "string") {
          lines.push(`node ${node} ${topic}-${p}: ${d}`);
          continue;
        }
        const offsets = a.at.filter((x) => x.p === p).map((x) => x.o);
        const hit = d.batches.filter((b) => offsets.some((o) => o >= b.baseOffset && o <= b.lastOffset));
        if (hit.length === 0) {
          const end = d.batches.at(-1)?.lastOffset;
          lines.push(
            `node ${node} ${topic}-${p}: no batch holds offset ${offsets.join(", ")} (log ends at ${end === undefined ? "nothing" : end + 1})`,
          );
        }
        for (const b of hit) lines.push(`node ${node} ${topic}-${p}: ${describeBatch(b)}`);
        for (const o of offsets) {
          const b = hit.find((x) => o >= x.baseOffset && o <= x.lastOffset);
          if (b !== undefined && !copies.has(`${p}/${o}`)) copies.set(`${p}/${o}`, b);
        }
      }
    }
    a.batches = lines;
    if (a.kind === "duplicate" && a.at.length === 2) {
      const [first, second] = a.at.map((x) => copies.get(`${x.p}/${x.o}`));
      if (first !== undefined && second !== undefined) {
        const sameEpoch = first.producerId === second.producerId && first.producerEpoch === second.producerEpoch;
        a.duplicateCause = sameEpoch ? "same-epoch" : "new-epoch";
      }
    }
  }
  return anomalies;
}
