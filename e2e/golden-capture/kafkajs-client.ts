// Drives kafkajs 2.2.4 through the recording proxy: create a topic, produce a few records per codec (one send per
// codec, so one codec per Produce request), then consume them in a group. kafkajs has only gzip built in; snappy comes
// from the kafkajs-snappy plugin, and lz4/zstd are left out (their plugins need native builds).
// Usage: tsx kafkajs-client.ts BOOTSTRAP TOPIC GROUP
import kafkajs from "kafkajs";
import SnappyCodec from "kafkajs-snappy";

const { CompressionCodecs, CompressionTypes, Kafka, logLevel } = kafkajs; // CommonJS: no named ESM exports
CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec;

const CODECS = [
  ["none", CompressionTypes.None],
  ["gzip", CompressionTypes.GZIP],
  ["snappy", CompressionTypes.Snappy],
] as const;
const PER_CODEC = 3;

const [bootstrap, topic, group] = process.argv.slice(2);
if (bootstrap === undefined || topic === undefined || group === undefined) {
  throw new Error("usage: kafkajs-client.ts BOOTSTRAP TOPIC GROUP");
}

const kafka = new Kafka({ clientId: "golden-kafkajs", brokers: [bootstrap], logLevel: logLevel.WARN });
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
await admin.disconnect();

const producer = kafka.producer();
await producer.connect();
for (const [name, compression] of CODECS) {
  const messages = Array.from({ length: PER_CODEC }, (_, i) => ({
    key: `key-${i}`,
    value: `${name} value ${i} ${"x".repeat(40)}`,
    partition: 0,
    headers: { codec: name },
  }));
  await producer.send({ topic, compression, messages });
}
await producer.disconnect();

const expected = CODECS.length * PER_CODEC;
const consumer = kafka.consumer({ groupId: group });
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
let seen = 0;
const done = new Promise<void>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`consumed ${seen} of ${expected}`)), 60_000);
  void consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      seen += batch.messages.length;
      await consumer.commitOffsets([
        { topic, partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) },
      ]);
      if (seen >= expected) {
        clearTimeout(timer);
        resolve();
      }
    },
  });
});
await done;
await consumer.disconnect();
console.log(JSON.stringify({ produced: expected, consumed: seen }));
