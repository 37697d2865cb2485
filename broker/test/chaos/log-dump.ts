import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeRecordBatchAsync, readBatchHeader, splitBatches } from "../../src/protocol/records/index.ts";
import { valueId } from "./history.ts";

// Reads a partition directory of a node's log dir (Tributary's or Kafka's: both keep Kafka's segment format) batch by
// batch, straight from the segment files, with what idempotence decides by: producer id, epoch and base sequence, and
// the leader epoch the batch was written under. The chaos run uses it to say, for each anomaly, which batches hold
// the records involved on every node (explain.ts); by hand:
//
//   npx tsx broker/test/chaos/log-dump.ts <partition dir> [FROM[-TO]]
//
// prints one line per batch (only those overlapping offsets FROM..TO when given).

export interface DumpedBatch {
  baseOffset: number;
  lastOffset: number;
  partitionLeaderEpoch: number;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  /** The batch's first record's CreateTime (its base timestamp), ms. */
  baseTimestamp: number;
  /** The records' value ids ("<producer>:<seq>", padding cut off), in offset order. */
  values: string[];
}

export interface PartitionDump {
  batches: DumpedBatch[];
  /** Set when the last segment ends in an incomplete batch (a crash mid-append): its byte count. */
  partialTail?: number;
}

/** Every batch of the partition directory's segments, in offset order. Throws on a directory that is not there. */
export async function dumpPartition(dir: string): Promise<PartitionDump> {
  const segments = readdirSync(dir)
    .filter((f) => /^\d{20}\.log$/.test(f))
    .sort();
  const batches: DumpedBatch[] = [];
  let partialTail: number | undefined;
  for (const file of segments) {
    const split = splitBatches(readFileSync(join(dir, file)));
    partialTail = split.partial?.length;
    for (const raw of split.batches) {
      const h = readBatchHeader(raw);
      let values: string[];
      try {
        const decoded = await decodeRecordBatchAsync(raw);
        values = decoded.records.map((r) => valueId(r.value?.toString("utf8") ?? ""));
      } catch (err) {
        values = [`<undecodable: ${err instanceof Error ? err.message : String(err)}>`];
      }
      batches.push({
        baseOffset: Number(h.baseOffset),
        lastOffset: Number(h.baseOffset) + h.lastOffsetDelta,
        partitionLeaderEpoch: h.partitionLeaderEpoch,
        producerId: h.producerId,
        producerEpoch: h.producerEpoch,
        baseSequence: h.baseSequence,
        baseTimestamp: Number(h.baseTimestamp),
        values,
      });
    }
  }
  return partialTail === undefined ? { batches } : { batches, partialTail };
}

/** One line for a batch: offsets, leader epoch, producer id/epoch/sequence range, time and values. */
export function describeBatch(b: DumpedBatch): string {
  const count = b.lastOffset - b.baseOffset + 1;
  const seq = b.baseSequence < 0 ? "no sequence" : `seq ${b.baseSequence}..${b.baseSequence + count - 1}`;
  const producer = b.producerId < 0n ? "not idempotent" : `pid ${b.producerId} epoch ${b.producerEpoch} ${seq}`;
  const values = b.values.length > 6 ? [...b.values.slice(0, 6), `+${b.values.length - 6}`] : b.values;
  return `offsets ${b.baseOffset}..${b.lastOffset} leader epoch ${b.partitionLeaderEpoch} ${producer} at ${new Date(b.baseTimestamp).toISOString().slice(11, 23)} [${values.join(" ")}]`;
}

async function main(argv: readonly string[]): Promise<number> {
  const [dir, range] = argv;
  if (dir === undefined) {
    process.stderr.write("usage: log-dump.ts <partition dir> [FROM[-TO]]\n");
    return 2;
  }
  const m = range === undefined ? undefined : /^(\d+)(?:-(\d+))?$/.exec(range);
  if (range !== undefined && m == null) {
    process.stderr.write(`log-dump.ts: the range must be FROM or FROM-TO, not ${range}\n`);
    return 2;
  }
  const from = m?.[1] === undefined ? 0 : Number(m[1]);
  const to = m?.[2] === undefined ? (m === undefined ? Infinity : from) : Number(m[2]);
  const dump = await dumpPartition(dir);
  for (const b of dump.batches) {
    if (b.lastOffset >= from && b.baseOffset <= to) process.stdout.write(`${describeBatch(b)}\n`);
  }
  if (dump.partialTail !== undefined)
    process.stdout.write(`(an incomplete batch of ${dump.partialTail} bytes ends the log)\n`);
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`log-dump.ts: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
