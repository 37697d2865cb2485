// The smoke test's client (image tributary/e2e-client): produces COUNT messages to TOPIC through BOOTSTRAP, consumes
// them back from the beginning in a fresh consumer group, and exits 0 only if every message came back intact.
//
//   BOOTSTRAP=tributary-bootstrap.default.svc.cluster.local:9092 TOPIC=smoke COUNT=100 node kafka-client.js
import { Kafka, logLevel } from "kafkajs";

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
