// Protocol benchmark (issue 2): Produce request decode/encode throughput, the produce path's record validation (issue
// 10), CRC32C beside memcpy. Run by `make bench`.
//   npx tsx broker/bench/protocol.ts [--quick]
// Prints the environment and a text table, and writes the same to broker/bench/out/protocol.json. No assertions on
// timing; the only failure is a decoder that copied record payloads.
import {
  ApiKey,
  BATCH_HEADER_SIZE,
  CompressionCodec,
  ProduceRequest,
  RecordWalker,
  crc32c,
  decodeRecordBatch,
  encodeRecordBatch,
  encodeRequest,
  parseRequestHeader,
  validateBatch,
  validateProduceRecords,
  type RecordInput,
} from "../src/protocol/index.ts";
import { environment, formatTable, loadAverage, median, printEnvironment, round, writeJson } from "./report.ts";

const quick = process.argv.includes("--quick");
const PRODUCE_VERSION = 11;
const RECORD_SIZE = 1024;
/** Like a Java producer with batch.size=65536: one ~64 KiB batch per partition, 16 partitions make 1 MiB. */
const PARTITIONS = 16;
const RECORDS_PER_BATCH = 63;
const WARMUP_MS = quick ? 100 : 1000;
const SAMPLES = quick ? 5 : 15;
const SAMPLE_MS = quick ? 20 : 60;

interface Row {
  name: string;
  bytesPerOp: number;
  /** Median over the samples, bytes per second. */
  medianBytesPerSec: number;
  minBytesPerSec: number;
  maxBytesPerSec: number;
  samples: number;
  opsPerSample: number;
}

/**
 * Runs `op` in timed samples of ~SAMPLE_MS after a warm-up; throughput per sample, median reported. An op that returns
 * a promise is awaited (the produce path's validation is asynchronous once it decompresses).
 */
async function measure(name: string, bytesPerOp: number, op: () => unknown): Promise<Row> {
  const warmEnd = performance.now() + WARMUP_MS;
  let calls = 0;
  while (performance.now() < warmEnd) {
    const done = op();
    if (done instanceof Promise) await done;
    calls++;
  }
  const perCallMs = WARMUP_MS / Math.max(calls, 1);
  const reps = Math.max(1, Math.round(SAMPLE_MS / perCallMs));
  const rates: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) {
      const done = op();
      if (done instanceof Promise) await done;
    }
    const ns = Number(process.hrtime.bigint() - t0);
    rates.push((bytesPerOp * reps) / (ns / 1e9));
  }
  return {
    name,
    bytesPerOp,
    medianBytesPerSec: median(rates),
    minBytesPerSec: Math.min(...rates),
    maxBytesPerSec: Math.max(...rates),
    samples: SAMPLES,
    opsPerSample: reps,
  };
}

// ---- the workload: a Produce v11 request with 16 partitions × one 64 KiB batch of 1 KiB records ----
const payload = Buffer.alloc(RECORD_SIZE);
for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff;
const now = BigInt(Date.now());
const recordInputs: RecordInput[] = Array.from({ length: RECORDS_PER_BATCH }, (_, i) => ({
  key: null,
  value: payload,
  timestamp: now + BigInt(i),
}));
const batchInput = { records: recordInputs, producerId: 1000n, producerEpoch: 0, baseSequence: 0 };
const batches = Array.from({ length: PARTITIONS }, () => encodeRecordBatch(batchInput));
const batchBytes = batches.reduce((n, b) => n + b.length, 0);
const request: ProduceRequest = {
  transactionalId: null,
  acks: -1,
  timeoutMs: 30000,
  topicData: [{ name: "bench", partitionData: batches.map((records, index) => ({ index, records })) }],
};
const header = { apiKey: ApiKey.Produce, apiVersion: PRODUCE_VERSION, correlationId: 1, clientId: "bench" };
const frame = encodeRequest(header, ProduceRequest, request);

function decodeFrame(buf: Buffer): ProduceRequest {
  const { header: h, body } = parseRequestHeader(buf);
  const req = ProduceRequest.read(body, h.requestApiVersion);
  body.expectEnd("ProduceRequest");
  return req;
}

// ---- zero-copy check: the decoded records, and each record value inside them, are views of the frame ----
const decoded = decodeFrame(frame);
const partitionRecords = decoded.topicData.flatMap((t) => t.partitionData.map((p) => p.records));
const recordsAreViews = partitionRecords.every((r) => r !== null && r.buffer === frame.buffer);
const firstRecords = partitionRecords[0];
const firstBatch = firstRecords ? decodeRecordBatch(firstRecords) : undefined;
const valuesAreViews =
  firstBatch !== undefined && firstBatch.records.every((r) => r.value !== null && r.value.buffer === frame.buffer);
const decodedBytes = partitionRecords.reduce((n, r) => n + (r?.length ?? 0), 0);
if (decodedBytes !== batchBytes) throw new Error(`decoded ${decodedBytes} bytes of records, expected ${batchBytes}`);

const env = environment();
console.log("Tributary protocol benchmark (issue 2)");
printEnvironment(env);
console.log(
  `workload     Produce v${PRODUCE_VERSION} frame of ${frame.length} B: ${PARTITIONS} partitions × 1 batch of ` +
    `${RECORDS_PER_BATCH} × ${RECORD_SIZE} B records (${batchBytes} B of batches); ` +
    `median of ${SAMPLES} samples after ${WARMUP_MS} ms warm-up`,
);

const rows: Row[] = [];
let sink = 0;
rows.push(
  await measure("produce decode (header + body, records as views)", frame.length, () => {
    sink += decodeFrame(frame).acks;
  }),
);
rows.push(
  await measure("produce decode + every batch (CRC, records as views)", frame.length, () => {
    for (const t of decodeFrame(frame).topicData) {
      for (const p of t.partitionData) if (p.records) sink += decodeRecordBatch(p.records).records.length;
    }
  }),
);
rows.push(
  await measure("produce validate (header, CRC, every record walked)", batchBytes, () => {
    for (const batch of batches) {
      const verdict = validateBatch(batch, { fromClient: true });
      if (!verdict.ok) throw new Error(verdict.message);
      const walker = new RecordWalker(verdict.header.recordsCount);
      walker.push(batch.subarray(BATCH_HEADER_SIZE));
      if (!walker.finish().ok) throw new Error("the walk refused a good batch");
    }
  }),
);
rows.push(
  await measure("record walk only (16 × 63 records)", batchBytes, () => {
    for (const batch of batches) {
      const walker = new RecordWalker(RECORDS_PER_BATCH);
      walker.push(batch.subarray(BATCH_HEADER_SIZE));
      sink += walker.finish().ok ? 1 : 0;
    }
  }),
);
const gzipBatches = batches.map(() => encodeRecordBatch({ ...batchInput, compression: CompressionCodec.Gzip }));
rows.push(
  await measure("produce validate gzip (streamed inflate + walk)", batchBytes, async () => {
    for (const verdict of await Promise.all(gzipBatches.map((b) => validateProduceRecords(b))))
      if (!verdict.ok) throw new Error(verdict.message);
  }),
);
rows.push(
  await measure("produce encode (header + body, batches given)", frame.length, () => {
    sink += encodeRequest(header, ProduceRequest, request).length;
  }),
);
rows.push(
  await measure("record batch encode (16 × 63 records, CRC)", batchBytes, () => {
    for (let i = 0; i < PARTITIONS; i++) sink += encodeRecordBatch(batchInput).length;
  }),
);

const MiB = 1024 * 1024;
const crcInput = Buffer.alloc(MiB, 0x5a);
rows.push(
  await measure("crc32c 1 MiB (in cache)", crcInput.length, () => {
    sink ^= crc32c(crcInput);
  }),
);
const big = Buffer.alloc(64 * MiB, 0x5a);
const bigTarget = Buffer.alloc(64 * MiB);
rows.push(
  await measure("crc32c 64 MiB", big.length, () => {
    sink ^= crc32c(big);
  }),
);
rows.push(
  await measure("memcpy: Buffer.copy 64 MiB", big.length, () => {
    sink += big.copy(bigTarget);
  }),
);
const loadAfter = loadAverage();

const unit = (r: Row): { unit: string; div: number } =>
  r.name.startsWith("crc32c") || r.name.startsWith("memcpy") ? { unit: "GB/s", div: 1e9 } : { unit: "MB/s", div: 1e6 };
const table = formatTable(
  ["benchmark", "bytes/op", "median", "min", "max", "unit"],
  rows.map((r) => {
    const { unit: u, div } = unit(r);
    const fmt = (x: number): string => (x / div).toFixed(div === 1e9 ? 2 : 0);
    return [r.name, String(r.bytesPerOp), fmt(r.medianBytesPerSec), fmt(r.minBytesPerSec), fmt(r.maxBytesPerSec), u];
  }),
);
console.log();
console.log(table);
const crcRow = rows.find((r) => r.name === "crc32c 64 MiB");
const copyRow = rows.find((r) => r.name.startsWith("memcpy"));
const crcVsCopy = crcRow && copyRow ? crcRow.medianBytesPerSec / copyRow.medianBytesPerSec : Number.NaN;
console.log();
console.log(`crc32c / memcpy (64 MiB)          ${crcVsCopy.toFixed(2)}`);
console.log(
  `decoded records share the frame    ${recordsAreViews ? "yes" : "NO"} (records Buffer.buffer === input ArrayBuffer)`,
);
console.log(`decoded record values are views    ${valuesAreViews ? "yes" : "NO"}`);
console.log(`load average at end                ${loadAfter.join(" ")}`);

const path = writeJson("protocol.json", {
  benchmark: "protocol",
  date: new Date().toISOString(),
  environment: { ...env, loadAverageEnd: loadAfter },
  workload: {
    produceVersion: PRODUCE_VERSION,
    frameBytes: frame.length,
    batchBytes,
    partitions: PARTITIONS,
    recordsPerBatch: RECORDS_PER_BATCH,
    recordSize: RECORD_SIZE,
    warmupMs: WARMUP_MS,
    samples: SAMPLES,
  },
  results: rows.map((r) => ({
    ...r,
    medianMBps: round(r.medianBytesPerSec / 1e6, 1),
    medianGBps: round(r.medianBytesPerSec / 1e9, 3),
  })),
  crc32cOverMemcpy: round(crcVsCopy, 3),
  zeroCopy: { recordsShareInputArrayBuffer: recordsAreViews, recordValuesAreViews: valuesAreViews },
  checksum: sink,
});
console.log(`\nwrote ${path}`);
if (!recordsAreViews || !valuesAreViews) {
  console.error("FAIL: the Produce decoder copied record payloads");
  process.exitCode = 1;
}
