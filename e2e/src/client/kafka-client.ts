// The smoke test's client (image tributary/e2e-client): produces COUNT messages to TOPIC through BOOTSTRAP, consumes
// them back from the beginning in a fresh consumer group, and exits 0 only if every message came back intact.
//
//   BOOTSTRAP=tributary-bootstrap.default.svc.cluster.local:9092 TOPIC=smoke COUNT=100 node kafka-client.js
//
// MODE=produce-loop instead creates TOPIC with replication factor 3 and min.insync.replicas 2, produces one record
// every INTERVAL_MS (acks=all, idempotent) for DURATION_MS, consumes back what was acknowledged, and prints one line
// `RESULT {"acked":..,"failed":..,"lost":..,"maxSendMs":..}`: the operator e2e runs it across a rolling restart.
//
// MODE=consume-loop consumes TOPIC (the produce loop's keys r-<i>) in consumer group GROUP from the beginning, with
// offsets committed after every batch, for DURATION_MS and then until it has read and committed up to every
// partition's high watermark; meanwhile it reads the group's committed offsets every second (OffsetFetch) and counts any that went backwards. It
// prints `RESULT {"records":..,"unique":..,"duplicates":..,"gaps":..,"ranges":[[first,last],..],"committed":{..},
// "regressions":[..]}`: ranges are the key indices consumed, so the caller can tell which acked records it missed.
import { Kafka, logLevel, type Admin } from "kafkajs";

async function produceLoop(kafka: Kafka, env: NodeJS.ProcessEnv, topic: string): Promise<number> {
  const intervalMs = Number(env["INTERVAL_MS"] ?? "100");
  const durationMs = Number(env["DURATION_MS"] ?? "120000");
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      {
        topic,
        numPartitions: 3,
        replicationFactor: 3,
        configEntries: [{ name: "min.insync.replicas", value: "2" }],
      },
    ],
    waitForLeaders: true,
  });
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const acked: string[] = [];
  const failures: string[] = [];
  let maxSendMs = 0;
  const end = Date.now() + durationMs;
  console.log(`producing to ${topic} every ${intervalMs} ms for ${durationMs} ms`);
  for (let i = 0; Date.now() < end; i++) {
    const key = `r-${i}`;
    const t0 = Date.now();
    try {
      await producer.send({ topic, acks: -1, messages: [{ key, value: `record ${i}` }] });
      acked.push(key);
    } catch (error) {
      failures.push(`${key}: ${error instanceof Error ? error.message : String(error)}`);
    }
    maxSendMs = Math.max(maxSendMs, Date.now() - t0);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, intervalMs - (Date.now() - t0))));
  }
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: `loop-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Set<string>();
  const want = new Set(acked);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 60_000);
    void consumer.run({
      eachMessage: ({ message }) => {
        const key = message.key?.toString() ?? "";
        seen.add(key);
        if ([...want].every((k) => seen.has(k))) {
          clearTimeout(timer);
          resolve();
        }
        return Promise.resolve();
      },
    });
  });
  await consumer.disconnect();
  const lost = acked.filter((k) => !seen.has(k)).length;
  for (const f of failures.slice(0, 10)) console.log(`failed ${f}`);
  console.log(`RESULT ${JSON.stringify({ acked: acked.length, failed: failures.length, lost, maxSendMs })}`);
  return 0;
}

export interface ConsumeLoopResult {
  /** Records delivered, duplicates included. */
  records: number;
  /** Distinct keys delivered. */
  unique: number;
  /** Records delivered again (at-least-once: after a rebalance, from the last committed offset). */
  duplicates: number;
  /** Offsets skipped within a partition: a record after offset o that was not o + 1 (none may be). */
  gaps: number;
  /** Key indices consumed, as [first, last] runs. */
  ranges: [number, number][];
  /** The group's committed offset per partition at the end, and each partition's high watermark then. */
  committed: Record<string, number>;
  highWatermarks: Record<string, number>;
  /** Committed offsets that a later OffsetFetch found lower ("partition: before → after"). */
  regressions: string[];
  /** OffsetFetch answers read, and those that failed (the coordinator moving, say). */
  offsetFetches: number;
  offsetFetchErrors: number;
}

/** [first, last] runs of the sorted distinct numbers. */
export function runsOf(values: Iterable<number>): [number, number][] {
  const runs: [number, number][] = [];
  for (const v of [...new Set(values)].sort((a, b) => a - b)) {
    const last = runs.at(-1);
    if (last !== undefined && v === last[1] + 1) last[1] = v;
    else runs.push([v, v]);
  }
  return runs;
}

async function committedOffsets(admin: Admin, group: string, topic: string): Promise<Map<number, number>> {
  const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return new Map((t?.partitions ?? []).map((p) => [p.partition, Number(p.offset)] as const));
}

async function consumeLoop(kafka: Kafka, env: NodeJS.ProcessEnv, topic: string): Promise<number> {
  const durationMs = Number(env["DURATION_MS"] ?? "120000");
  const drainMs = Number(env["DRAIN_MS"] ?? "60000");
  const group = env["GROUP"] ?? `consume-loop-${topic}`;
  const admin = kafka.admin();
  await admin.connect();
  const consumer = kafka.consumer({ groupId: group });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Set<number>();
  const next = new Map<number, number>();
  let records = 0;
  let duplicates = 0;
  let gaps = 0;
  await consumer.run({
    // kafkajs also commits after every batch. Not after every record: each OffsetCommit waits for the offsets topic's
    // replicas, and a commit per record (autoCommitThreshold 1) held the consumer to about 5 records/s here.
    autoCommit: true,
    autoCommitInterval: 1000,
    eachMessage: ({ partition, message }) => {
      const offset = Number(message.offset);
      const expected = next.get(partition);
      // A resumed partition starts at or below `expected` (its committed offset); only a jump ahead skips records.
      if (expected !== undefined && offset > expected) gaps += offset - expected;
      next.set(partition, offset + 1);
      records++;
      const i = Number((message.key?.toString() ?? "").replace(/^r-/, ""));
      if (seen.has(i)) duplicates++;
      else seen.add(i);
      return Promise.resolve();
    },
  });
  console.log(`consuming ${topic} in group ${group} for ${durationMs} ms`);
  const lastCommitted = new Map<number, number>();
  const regressions: string[] = [];
  let offsetFetches = 0;
  let offsetFetchErrors = 0;
  const checkCommitted = async (): Promise<Map<number, number> | undefined> => {
    try {
      const now = await committedOffsets(admin, group, topic);
      offsetFetches++;
      for (const [p, o] of now) {
        const before = lastCommitted.get(p);
        // -1: nothing committed yet for the partition.
        if (o < 0) continue;
        if (before !== undefined && o < before) regressions.push(`${p}: ${before} → ${o}`);
        lastCommitted.set(p, Math.max(o, before ?? o));
      }
      return now;
    } catch (error) {
      offsetFetchErrors++;
      console.log(`OffsetFetch failed: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  };
  const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1000));
  const end = Date.now() + durationMs;
  while (Date.now() < end) {
    await checkCommitted();
    await tick();
  }
  // Then until every partition is consumed and committed up to its high watermark (the producer has stopped).
  const high = new Map<number, number>();
  const drainEnd = Date.now() + drainMs;
  for (;;) {
    for (const p of await admin.fetchTopicOffsets(topic)) high.set(p.partition, Number(p.high));
    const committed = await checkCommitted();
    const done = [...high].every(([p, h]) => (next.get(p) ?? 0) >= h && (committed?.get(p) ?? -1) >= h);
    if (done || Date.now() > drainEnd) break;
    await tick();
  }
  await consumer.stop();
  await consumer.disconnect();
  const committed = (await checkCommitted()) ?? new Map<number, number>();
  await admin.disconnect();
  const result: ConsumeLoopResult = {
    records,
    unique: seen.size,
    duplicates,
    gaps,
    ranges: runsOf(seen),
    committed: Object.fromEntries([...committed].map(([p, o]) => [String(p), o])),
    highWatermarks: Object.fromEntries([...high].map(([p, o]) => [String(p), o])),
    regressions,
    offsetFetches,
    offsetFetchErrors,
  };
  console.log(`RESULT ${JSON.stringify(result)}`);
  return 0;
}

async function main(env: NodeJS.ProcessEnv): Promise<number> {
  const bootstrap = env["BOOTSTRAP"] ?? "localhost:9092";
  const topic = env["TOPIC"] ?? "smoke";
  const count = Number(env["COUNT"] ?? "100");
  const timeoutMs = Number(env["TIMEOUT_MS"] ?? "120000");
  const kafka = new Kafka({
    clientId: "tributary-e2e-client",
    brokers: bootstrap.split(","),
    logLevel: logLevel.INFO,
    retry: { retries: 10 },
  });
  if (env["MODE"] === "produce-loop") return produceLoop(kafka, env, topic);
  if (env["MODE"] === "consume-loop") return consumeLoop(kafka, env, topic);

  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();

  const runId = `${Date.now()}`;
  const producer = kafka.producer();
  await producer.connect();
  const messages = Array.from({ length: count }, (_, i) => ({ key: `${runId}-${i}`, value: `message ${i}` }));
  await producer.send({ topic, messages });
  await producer.disconnect();
  console.log(`produced ${count} messages to ${topic} via ${bootstrap}`);

  const consumer = kafka.consumer({ groupId: `smoke-${runId}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Set<string>();
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`consumed ${seen.size}/${count} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    void consumer.run({
      eachMessage: ({ message }) => {
        const key = message.key?.toString() ?? "";
        if (key.startsWith(`${runId}-`)) {
          const i = Number(key.slice(runId.length + 1));
          if (message.value?.toString() !== `message ${i}`) {
            reject(new Error(`message ${key} has value ${message.value?.toString()}`));
          }
          seen.add(key);
          if (seen.size === count) {
            clearTimeout(timer);
            resolve();
          }
        }
        return Promise.resolve();
      },
    });
  });
  try {
    await done;
  } finally {
    await consumer.disconnect();
  }
  console.log(`consumed ${count} messages back from ${topic}: OK`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.env).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

export { main };
