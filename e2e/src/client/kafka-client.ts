// The smoke test's client (image tributary/e2e-client): produces COUNT messages to TOPIC through BOOTSTRAP, consumes
// them back from the beginning in a fresh consumer group, and exits 0 only if every message came back intact.
//
//   BOOTSTRAP=tributary-bootstrap.default.svc.cluster.local:9092 TOPIC=smoke COUNT=100 node kafka-client.js
//
// MODE=produce-loop instead creates TOPIC with replication factor 3 and min.insync.replicas 2, produces one record
// every INTERVAL_MS (acks=all, idempotent) for DURATION_MS, consumes back what was acknowledged, and prints one line
// `RESULT {"acked":..,"failed":..,"lost":..,"maxSendMs":..}`: the operator e2e runs it across a rolling restart.
import { Kafka, logLevel } from "kafkajs";

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
