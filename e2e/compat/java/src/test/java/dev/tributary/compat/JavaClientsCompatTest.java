package dev.tributary.compat;

import static dev.tributary.compat.BrokerProcess.pollUntil;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Conformance: unmodified Java kafka-clients against a real Tributary broker process. With -Dtributary.nodes=3
 * (run.sh with TRIBUTARY_COMPAT_NODES=3) every test runs against a 3-node cluster, and those tagged cluster-only only
 * there (docs/compat.md).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(120)
@ExtendWith(FailedTests.class)
class JavaClientsCompatTest {
    private static final Duration WAIT = Duration.ofSeconds(30);
    private BrokerProcess broker;
    private Admin admin;

    @BeforeAll
    void startBroker() throws IOException {
        broker = BrokerProcess.startShared(Map.of());
        admin = admin(broker);
    }

    @AfterAll
    void stopBroker() throws Exception {
        if (admin != null) admin.close();
        if (broker != null) broker.close(FailedTests.in(getClass()));
    }

    // --- helpers ---

    private static Admin admin(BrokerProcess b) {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, b.bootstrap));
    }

    private static String topicName(TestInfo info) {
        String base = info.getTestMethod().orElseThrow().getName() + "-" + info.getDisplayName();
        return base.replaceAll("[^A-Za-z0-9]", "-").replaceAll("-+", "-") + UUID.randomUUID().toString().substring(0, 8);
    }

    /** Creates a topic through `a` and waits until every broker of `b` serves it (BrokerProcess.awaitTopic). */
    private static void createTopic(BrokerProcess b, Admin a, String name, int partitions, Map<String, String> configs)
            throws Exception {
        a.createTopics(List.of(new NewTopic(name, partitions, BrokerProcess.RF).configs(configs))).all().get();
        b.awaitTopic(name, partitions);
    }

    private static KafkaProducer<String, String> producer(BrokerProcess b, Map<String, Object> extra) {
        Map<String, Object> config = new HashMap<>();
        config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, b.bootstrap);
        config.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        config.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        config.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        config.putAll(extra);
        return new KafkaProducer<>(config);
    }

    private static KafkaConsumer<String, String> consumer(BrokerProcess b, String group, Map<String, Object> extra) {
        Map<String, Object> config = new HashMap<>();
        config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, b.bootstrap);
        config.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        config.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        if (group != null) config.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        config.putAll(extra);
        return new KafkaConsumer<>(config);
    }

    /** Produces and waits for every acknowledgement; returns the metadata in send order. */
    private static List<RecordMetadata> produceAll(KafkaProducer<String, String> p, List<ProducerRecord<String, String>> records)
            throws Exception {
        List<Future<RecordMetadata>> futures = new ArrayList<>();
        for (ProducerRecord<String, String> r : records) futures.add(p.send(r));
        p.flush();
        List<RecordMetadata> out = new ArrayList<>();
        for (Future<RecordMetadata> f : futures) out.add(f.get());
        return out;
    }

    /** Reads count records of one partition from offset start with an assign-only consumer. */
    private static List<ConsumerRecord<String, String>> read(BrokerProcess b, String topic, int partition, long start, int count) {
        try (KafkaConsumer<String, String> c = consumer(b, null, Map.of())) {
            TopicPartition tp = new TopicPartition(topic, partition);
            c.assign(List.of(tp));
            c.seek(tp, start);
            List<ConsumerRecord<String, String>> out = new ArrayList<>();
            pollUntil(count + " records from " + tp, WAIT, () -> {
                c.poll(Duration.ofMillis(100)).forEach(out::add);
                return out.size() >= count;
            });
            return out.subList(0, count);
        }
    }

    private static long diskBytes(BrokerProcess b, String topic, int partition) throws IOException {
        try (Stream<Path> files = Files.list(b.partitionDir(topic, partition))) {
            return files.filter(f -> f.toString().endsWith(".log")).mapToLong(f -> f.toFile().length()).sum();
        }
    }

    /**
     * A topic's retention.ms entry once DescribeConfigs reports `expected`. On a cluster the broker asked may apply the
     * controller's config record after the broker that forwarded the change, as with Kafka.
     */
    private ConfigEntry retentionMsWhen(ConfigResource resource, String expected) {
        ConfigEntry[] found = new ConfigEntry[1];
        pollUntil("retention.ms " + expected, WAIT, () -> {
            try {
                found[0] = admin.describeConfigs(List.of(resource)).all().get().get(resource).get("retention.ms");
                return found[0] != null && expected.equals(found[0].value());
            } catch (InterruptedException | ExecutionException e) {
                return false; // the broker asked does not know the topic yet
            }
        });
        return found[0];
    }

    // --- tests ---

    @Test
    void topicCreateDescribeAlterDelete(TestInfo info) throws Exception {
        String topic = topicName(info);
        createTopic(broker, admin, topic, 3, Map.of("retention.ms", "123456"));
        TopicDescription description = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
        assertEquals(3, description.partitions().size());
        assertTrue(broker.nodes.containsKey(description.partitions().get(0).leader().id()));
        assertNotEquals(null, description.topicId());

        ExecutionException dup = assertThrows(ExecutionException.class, () -> createTopic(broker, admin, topic, 3, Map.of()));
        assertInstanceOf(TopicExistsException.class, dup.getCause());

        String dry = topic + "-dry";
        admin.createTopics(List.of(new NewTopic(dry, 2, (short) 1)), new CreateTopicsOptions().validateOnly(true)).all().get();
        assertFalse(admin.listTopics().names().get().contains(dry));

        ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        assertEquals("123456", retentionMsWhen(resource, "123456").value());
        admin.incrementalAlterConfigs(Map.of(resource, List.of(
                new AlterConfigOp(new ConfigEntry("retention.ms", "654321"), AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("cleanup.policy", "delete"), AlterConfigOp.OpType.SET))))
                .all().get();
        assertEquals(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, retentionMsWhen(resource, "654321").source());
        admin.incrementalAlterConfigs(Map.of(resource, List.of(
                new AlterConfigOp(new ConfigEntry("retention.ms", ""), AlterConfigOp.OpType.DELETE)))).all().get();
        assertEquals("604800000", retentionMsWhen(resource, "604800000").value());

        admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(5))).all().get();
        pollUntil("5 partitions", WAIT, () -> {
            try {
                return admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size() == 5;
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });

        admin.deleteTopics(List.of(topic)).all().get();
        pollUntil(topic + " gone", WAIT, () -> {
            try {
                return !admin.listTopics().names().get().contains(topic);
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
    }

    @Test
    void keyedProduceLandsOnTheKeysPartition(TestInfo info) throws Exception {
        String topic = topicName(info);
        int partitions = 4;
        createTopic(broker, admin, topic, partitions, Map.of());
        List<ProducerRecord<String, String>> records = IntStream.range(0, 96)
                .mapToObj(i -> new ProducerRecord<>(topic, "key-" + (i % 12), "v" + i)).toList();
        List<RecordMetadata> acked;
        try (KafkaProducer<String, String> p = producer(broker, Map.of())) { // idempotent by default
            acked = produceAll(p, records);
        }
        Map<Integer, List<String>> expected = new TreeMap<>();
        for (int i = 0; i < records.size(); i++) {
            String key = records.get(i).key();
            // The default partitioner: murmur2 of the key bytes, modulo the partition count.
            int partition = Utils.toPositive(Utils.murmur2(key.getBytes(StandardCharsets.UTF_8))) % partitions;
            assertEquals(partition, acked.get(i).partition(), key);
            expected.computeIfAbsent(partition, k -> new ArrayList<>()).add(key + "=" + records.get(i).value());
        }
        assertTrue(expected.size() > 1, "every key on one partition");
        for (var entry : expected.entrySet()) {
            List<ConsumerRecord<String, String>> stored = read(broker, topic, entry.getKey(), 0, entry.getValue().size());
            assertEquals(entry.getValue(), stored.stream().map(r -> r.key() + "=" + r.value()).toList());
            assertEquals(LongStreamRange.of(entry.getValue().size()), stored.stream().map(ConsumerRecord::offset).toList());
        }
    }

    /** 0..n-1 as a list of longs. */
    private static final class LongStreamRange {
        static List<Long> of(int n) {
            return IntStream.range(0, n).mapToObj(i -> (long) i).toList();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "1", "all"})
    void acks(String acks, TestInfo info) throws Exception {
        String topic = topicName(info);
        createTopic(broker, admin, topic, 1, Map.of());
        List<ProducerRecord<String, String>> records = IntStream.range(0, 200)
                .mapToObj(i -> new ProducerRecord<String, String>(topic, acks + "-" + i)).toList();
        Map<String, Object> config = new HashMap<>(Map.of(ProducerConfig.ACKS_CONFIG, acks));
        if (!acks.equals("all")) config.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false); // idempotence needs all
        List<RecordMetadata> acked;
        try (KafkaProducer<String, String> p = producer(broker, config)) {
            acked = produceAll(p, records);
        }
        if (acks.equals("0")) {
            assertTrue(acked.stream().allMatch(m -> m.offset() == -1), "acks=0 has no offsets");
        } else {
            assertEquals(LongStreamRange.of(records.size()), acked.stream().map(RecordMetadata::offset).toList());
        }
        List<ConsumerRecord<String, String>> stored = read(broker, topic, 0, 0, records.size());
        assertEquals(records.stream().map(ProducerRecord::value).toList(), stored.stream().map(ConsumerRecord::value).toList());
        TopicPartition tp = new TopicPartition(topic, 0);
        assertEquals(records.size(), admin.listOffsets(Map.of(tp, OffsetSpec.latest())).all().get().get(tp).offset());
    }

    @ParameterizedTest
    @ValueSource(strings = {"none", "gzip", "snappy", "lz4", "zstd"})
    void compressionCodec(String codec, TestInfo info) throws Exception {
        String topic = topicName(info);
        createTopic(broker, admin, topic, 1, Map.of());
        String payload = "tributary compresses well ".repeat(40);
        List<ProducerRecord<String, String>> records = IntStream.range(0, 300)
                .mapToObj(i -> {
                    var r = new ProducerRecord<>(topic, "k" + i, payload + i);
                    r.headers().add("h", ("x" + i).getBytes(StandardCharsets.UTF_8));
                    return r;
                }).toList();
        try (KafkaProducer<String, String> p = producer(broker, Map.of(
                ProducerConfig.COMPRESSION_TYPE_CONFIG, codec, ProducerConfig.LINGER_MS_CONFIG, 50))) {
            produceAll(p, records);
        }
        List<ConsumerRecord<String, String>> stored = read(broker, topic, 0, 0, records.size());
        for (int i = 0; i < records.size(); i++) {
            assertEquals(records.get(i).key(), stored.get(i).key());
            assertEquals(records.get(i).value(), stored.get(i).value());
            assertEquals("x" + i, new String(stored.get(i).headers().lastHeader("h").value(), StandardCharsets.UTF_8));
        }
        long raw = records.stream().mapToLong(r -> r.value().length()).sum();
        long onDisk = diskBytes(broker, topic, 0);
        if (codec.equals("none")) assertTrue(onDisk > raw, onDisk + " <= " + raw);
        else assertTrue(onDisk < raw / 4, codec + ": " + onDisk + " bytes on disk for " + raw + " bytes of values");
    }

    private static Set<Integer> assigned(KafkaConsumer<String, String> c) {
        return c.assignment().stream().map(TopicPartition::partition).collect(Collectors.toSet());
    }

    private static void pollEach(List<KafkaConsumer<String, String>> consumers, Map<KafkaConsumer<String, String>, List<String>> seen) {
        for (KafkaConsumer<String, String> c : consumers) {
            c.poll(Duration.ofMillis(50)).forEach(r -> seen.computeIfAbsent(c, k -> new ArrayList<>()).add(r.value()));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"range", "cooperative-sticky"})
    void consumerGroupRebalancesCommitsAndResumes(String assignor, TestInfo info) throws Exception {
        String topic = topicName(info);
        int partitions = 4;
        createTopic(broker, admin, topic, partitions, Map.of());
        List<ProducerRecord<String, String>> first = IntStream.range(0, 40)
                .mapToObj(i -> new ProducerRecord<String, String>(topic, i % partitions, null, "a" + i)).toList();
        try (KafkaProducer<String, String> p = producer(broker, Map.of())) {
            produceAll(p, first);
        }
        String group = "group-" + topic;
        String strategy = assignor.equals("range")
                ? "org.apache.kafka.clients.consumer.RangeAssignor"
                : "org.apache.kafka.clients.consumer.CooperativeStickyAssignor";
        Map<String, Object> config = Map.of(
                ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, strategy,
                ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 300,
                ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10000);
        Set<Integer> everything = IntStream.range(0, partitions).boxed().collect(Collectors.toSet());
        Map<KafkaConsumer<String, String>, List<String>> seen = new HashMap<>();
        List<KafkaConsumer<String, String>> members = new CopyOnWriteArrayList<>();
        try {
            KafkaConsumer<String, String> c1 = consumer(broker, group, config);
            members.add(c1);
            c1.subscribe(List.of(topic));
            pollUntil("c1 owns every partition", WAIT, () -> {
                pollEach(members, seen);
                return assigned(c1).equals(everything);
            });
            KafkaConsumer<String, String> c2 = consumer(broker, group, config);
            members.add(c2);
            c2.subscribe(List.of(topic));
            pollUntil("a 2/2 split", WAIT, () -> {
                pollEach(members, seen);
                Set<Integer> a1 = assigned(c1), a2 = assigned(c2);
                Set<Integer> union = new HashSet<>(a1);
                union.addAll(a2);
                return a1.size() == 2 && a2.size() == 2 && union.equals(everything);
            });
            Set<String> wanted = first.stream().map(ProducerRecord::value).collect(Collectors.toSet());
            pollUntil("every record consumed", WAIT, () -> {
                pollEach(members, seen);
                return seen.values().stream().flatMap(Collection::stream).collect(Collectors.toSet()).containsAll(wanted);
            });
            // Each member's position reaches the end of each partition it owns (10 records each) before it commits.
            pollUntil("positions at the end of every owned partition", WAIT, () -> {
                pollEach(members, seen);
                return members.stream().allMatch(c -> c.assignment().stream().allMatch(tp -> c.position(tp) == 10));
            });
            assertFalse(seen.getOrDefault(c2, List.of()).isEmpty(), "the second member consumed nothing");
            c1.commitSync();
            c2.commitSync();

            c2.close();
            members.remove(c2);
            pollUntil("c1 owns every partition again", WAIT, () -> {
                pollEach(members, seen);
                return assigned(c1).equals(everything);
            });
            Set<TopicPartition> tps = everything.stream().map(p -> new TopicPartition(topic, p)).collect(Collectors.toSet());
            Map<TopicPartition, OffsetAndMetadata> committed = c1.committed(tps);
            for (TopicPartition tp : tps) assertEquals(10, committed.get(tp).offset(), tp.toString());
            c1.close();
            members.remove(c1);

            List<ProducerRecord<String, String>> second = IntStream.range(0, 20)
                    .mapToObj(i -> new ProducerRecord<String, String>(topic, i % partitions, null, "b" + i)).toList();
            try (KafkaProducer<String, String> p = producer(broker, Map.of())) {
                produceAll(p, second);
            }
            KafkaConsumer<String, String> c3 = consumer(broker, group, config);
            members.add(c3);
            c3.subscribe(List.of(topic));
            seen.clear();
            pollUntil("c3 reads the new records", WAIT, () -> {
                pollEach(members, seen);
                return seen.getOrDefault(c3, List.of()).size() >= second.size();
            });
            assertEquals(second.stream().map(ProducerRecord::value).sorted().toList(), seen.get(c3).stream().sorted().toList());
        } finally {
            members.forEach(KafkaConsumer::close);
        }
    }

    @Test
    void seekToEarliestLatestAndTimestamp(TestInfo info) throws Exception {
        String topic = topicName(info);
        createTopic(broker, admin, topic, 1, Map.of());
        long base = System.currentTimeMillis() - 3_600_000;
        List<ProducerRecord<String, String>> records = IntStream.range(0, 30)
                .mapToObj(i -> new ProducerRecord<String, String>(topic, 0, base + i * 1000L, null, "t" + i)).toList();
        try (KafkaProducer<String, String> p = producer(broker, Map.of())) {
            produceAll(p, records);
        }
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaConsumer<String, String> c = consumer(broker, null, Map.of())) {
            assertEquals(15, c.offsetsForTimes(Map.of(tp, base + 15_000)).get(tp).offset());
            OffsetAndTimestamp next = c.offsetsForTimes(Map.of(tp, base + 15_500)).get(tp);
            assertEquals(16, next.offset());
            assertEquals(base + 16_000, next.timestamp());
            assertNull(c.offsetsForTimes(Map.of(tp, base + 100_000)).get(tp));
            assertEquals(0, c.beginningOffsets(List.of(tp)).get(tp));
            assertEquals(30, c.endOffsets(List.of(tp)).get(tp));

            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            assertEquals(0, c.position(tp));
            List<ConsumerRecord<String, String>> got = new ArrayList<>();
            pollUntil("the first record", WAIT, () -> {
                c.poll(Duration.ofMillis(100)).forEach(got::add);
                return !got.isEmpty();
            });
            assertEquals("t0", got.get(0).value());
            assertEquals(base, got.get(0).timestamp());

            c.seek(tp, c.offsetsForTimes(Map.of(tp, base + 20_000)).get(tp).offset());
            got.clear();
            pollUntil("the record at the timestamp", WAIT, () -> {
                c.poll(Duration.ofMillis(100)).forEach(got::add);
                return !got.isEmpty();
            });
            assertEquals(20, got.get(0).offset());

            c.seekToEnd(List.of(tp));
            assertEquals(30, c.position(tp));
            try (KafkaProducer<String, String> p = producer(broker, Map.of())) {
                produceAll(p, List.of(new ProducerRecord<>(topic, 0, null, "after-seek")));
            }
            got.clear();
            pollUntil("the record after the seek", WAIT, () -> {
                c.poll(Duration.ofMillis(100)).forEach(got::add);
                return !got.isEmpty();
            });
            assertEquals(30, got.get(0).offset());
            assertEquals("after-seek", got.get(0).value());
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void restartKeepsAcknowledgedRecordsAndCommittedOffsets(boolean kill, TestInfo info) throws Exception {
        String topic = topicName(info);
        String group = "group-" + topic;
        // One broker restarts (a broker of this test's own, so the shared one keeps running); on a cluster the node
        // leading partition 0 does while the others keep serving. Under replication factor 1 partition 0 has no leader
        // while its only replica is down, so its records wait in the producer until the node is back.
        BrokerProcess own = BrokerProcess.NODES > 1 ? broker : BrokerProcess.start(Map.of());
        boolean ok = false;
        try (Admin a = admin(own)) {
            createTopic(own, a, topic, 2, Map.of());
            TopicPartition p0 = new TopicPartition(topic, 0), p1 = new TopicPartition(topic, 1);
            try (KafkaConsumer<String, String> c = consumer(own, group, Map.of())) {
                c.commitSync(Map.of(p0, new OffsetAndMetadata(7), p1, new OffsetAndMetadata(3)));
            }
            int total = 2000, stopAt = 600;
            List<RecordMetadata> acked = new CopyOnWriteArrayList<>();
            List<Exception> errors = new CopyOnWriteArrayList<>();
            try (KafkaProducer<String, String> p = producer(own, Map.of(
                    ProducerConfig.LINGER_MS_CONFIG, 2,
                    ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 200,
                    ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 60_000))) {
                for (int i = 0; i < total; i++) {
                    p.send(new ProducerRecord<>(topic, i % 2, null, "r" + i), (m, e) -> {
                        if (e != null) errors.add(e);
                        else acked.add(m);
                    });
                    if (i == stopAt) {
                        // Some records acknowledged, the rest still queued or in flight when the broker goes down.
                        pollUntil("records acknowledged", WAIT, () -> acked.size() >= stopAt / 2);
                        Integer code = own.restartLeaderOf(topic, 0, kill);
                        // Our clean shutdown exits 0.
                        if (!kill && BrokerProcess.SYSTEM.equals("tributary")) assertEquals(0, code, own.output());
                    }
                }
                p.flush();
            }
            assertEquals(List.of(), errors);
            assertEquals(total, acked.size());
            for (int partition = 0; partition < 2; partition++) {
                final int part = partition;
                List<ConsumerRecord<String, String>> stored = read(own, topic, partition, 0, total / 2);
                // Every record once, in order, at the offset it was acknowledged with (idempotence across restart).
                List<String> expected = IntStream.range(0, total).filter(i -> i % 2 == part).mapToObj(i -> "r" + i).toList();
                assertEquals(expected, stored.stream().map(ConsumerRecord::value).toList());
                Map<Long, String> ackedOffsets = new TreeMap<>();
                for (ConsumerRecord<String, String> r : stored) ackedOffsets.put(r.offset(), r.value());
                assertEquals(total / 2, acked.stream().filter(m -> m.partition() == part)
                        .filter(m -> ackedOffsets.containsKey(m.offset())).count());
                TopicPartition tp = new TopicPartition(topic, partition);
                assertEquals(total / 2, a.listOffsets(Map.of(tp, OffsetSpec.latest())).all().get().get(tp).offset());
            }
            try (KafkaConsumer<String, String> c = consumer(own, group, Map.of())) {
                Map<TopicPartition, OffsetAndMetadata> committed = c.committed(Set.of(p0, p1));
                assertEquals(7, committed.get(p0).offset());
                assertEquals(3, committed.get(p1).offset());
            }
            ok = true;
        } finally {
            if (own != broker) own.close(!ok);
        }
    }

    private void retentionCase(String topic, Map<String, String> config, Long oldTimestamp) throws Exception {
        Map<String, String> configs = new HashMap<>(config);
        configs.put("segment.bytes", "2048");
        createTopic(broker, admin, topic, 1, configs);
        Random random = new Random(42);
        try (KafkaProducer<String, String> p = producer(broker, Map.of(ProducerConfig.LINGER_MS_CONFIG, 0))) {
            for (int i = 0; i < 60; i++) {
                byte[] bytes = new byte[150];
                random.nextBytes(bytes);
                String value = java.util.HexFormat.of().formatHex(bytes); // 300 characters
                // One record per batch (waited for), so the batches fill several 2 KiB segments.
                Long ts = oldTimestamp != null && i < 50 ? oldTimestamp : null;
                p.send(new ProducerRecord<>(topic, 0, ts, null, value)).get();
            }
        }
        TopicPartition tp = new TopicPartition(topic, 0);
        pollUntil("the log start offset to move", WAIT, () -> {
            try {
                return admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).all().get().get(tp).offset() > 0;
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        long low = admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).all().get().get(tp).offset();
        assertTrue(low < 60, "low " + low);
        assertEquals(60, admin.listOffsets(Map.of(tp, OffsetSpec.latest())).all().get().get(tp).offset());
        // The broker publishes the new log start offset before it unlinks the segment's files (Kafka even delays the
        // unlink by file.delete.delay.ms), so the file's removal is awaited, not assumed.
        Path firstSegment = broker.partitionDir(topic, 0).resolve("00000000000000000000.log");
        pollUntil("the first segment's file to be removed", WAIT, () -> !Files.exists(firstSegment));
        try (KafkaConsumer<String, String> c = consumer(broker, null, Map.of())) {
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            assertTrue(c.position(tp) >= low);
        }
    }

    @Test
    void retentionByBytesDeletesOldSegments(TestInfo info) throws Exception {
        String topic = topicName(info);
        retentionCase(topic, Map.of("retention.bytes", "4096"), null);
        TopicPartition tp = new TopicPartition(topic, 0);
        pollUntil("retention.bytes applied", WAIT, () -> {
            try {
                return admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).all().get().get(tp).offset() >= 40;
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
    }

    @Test
    void retentionByTimeDeletesOldSegments(TestInfo info) throws Exception {
        String topic = topicName(info);
        retentionCase(topic, Map.of("retention.ms", "60000"), System.currentTimeMillis() - 3_600_000);
        TopicPartition tp = new TopicPartition(topic, 0);
        assertTrue(admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).all().get().get(tp).offset() <= 50);
    }

    /**
     * The broker has no transaction coordinator. A retriable answer made initTransactions() retry FindCoordinator
     * until max.block.ms (Kafka Streams with exactly_once_v2 hung without a word); it must fail at once, with the
     * broker's reason in the message, and leave the broker serving idempotent producers.
     */
    @Test
    void transactionalProducerFailsFastWithAClearError(TestInfo info) throws Exception {
        String topic = topicName(info);
        createTopic(broker, admin, topic, 1, Map.of());
        Map<String, Object> transactional = Map.of(
                ProducerConfig.TRANSACTIONAL_ID_CONFIG, topic + "-txn",
                ProducerConfig.MAX_BLOCK_MS_CONFIG, 60_000);
        try (KafkaProducer<String, String> p = producer(broker, transactional)) {
            long started = System.nanoTime();
            KafkaException failure = assertThrows(KafkaException.class, p::initTransactions);
            long elapsedMs = (System.nanoTime() - started) / 1_000_000;
            assertFalse(failure instanceof org.apache.kafka.common.errors.TimeoutException, failure.toString());
            assertTrue(elapsedMs < 10_000, "initTransactions took " + elapsedMs + " ms to fail: " + failure);
            assertTrue(
                    String.valueOf(failure.getMessage()).contains("Transactions are not supported by this broker"),
                    failure.toString());
        }
        try (KafkaProducer<String, String> p = producer(broker, Map.of(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true))) {
            assertEquals(0L, p.send(new ProducerRecord<>(topic, "k", "after the refusal")).get().offset());
        }
    }

    /**
     * Issue 11: on a cluster a topic's partitions are led by different brokers and groups are coordinated by the broker
     * leading their __consumer_offsets partition, so several groups land on several brokers. Each broker serves what it
     * leads: every partition takes and returns records, and every group keeps its committed offset.
     */
    @Test
    @Tag("cluster-only")
    void partitionsAndGroupCoordinatorsSpreadOverTheBrokers(TestInfo info) throws Exception {
        String topic = topicName(info);
        createTopic(broker, admin, topic, 6, Map.of());
        Set<Integer> brokers = broker.nodes.keySet();
        assertEquals(brokers, admin.describeCluster().nodes().get().stream().map(Node::id).collect(Collectors.toSet()));
        TopicDescription description = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
        Map<Integer, Integer> leaders = description.partitions().stream()
                .collect(Collectors.toMap(TopicPartitionInfo::partition, p -> p.leader().id()));
        assertEquals(brokers, new HashSet<>(leaders.values()), "partition leaders " + leaders);

        List<ProducerRecord<String, String>> records = IntStream.range(0, 30)
                .mapToObj(i -> new ProducerRecord<String, String>(topic, i % 6, null, "p" + (i % 6) + "-" + i)).toList();
        try (KafkaProducer<String, String> p = producer(broker, Map.of(ProducerConfig.ACKS_CONFIG, "all"))) {
            produceAll(p, records);
        }
        for (int p = 0; p < 6; p++) {
            int partition = p;
            assertEquals(records.stream().filter(r -> r.partition() == partition).map(ProducerRecord::value).toList(),
                    read(broker, topic, p, 0, 5).stream().map(ConsumerRecord::value).toList());
        }

        List<String> groups = IntStream.range(0, 12).mapToObj(g -> "spread-" + topic + "-" + g).toList();
        for (int g = 0; g < groups.size(); g++) {
            TopicPartition tp = new TopicPartition(topic, g % 6);
            try (KafkaConsumer<String, String> c = consumer(broker, groups.get(g), Map.of())) {
                c.commitSync(Map.of(tp, new OffsetAndMetadata(g + 1)));
                assertEquals(g + 1, c.committed(Set.of(tp)).get(tp).offset());
            }
        }
        Map<String, Integer> coordinators = new TreeMap<>();
        for (Map.Entry<String, ConsumerGroupDescription> e : admin.describeConsumerGroups(groups).all().get().entrySet()) {
            coordinators.put(e.getKey(), e.getValue().coordinator().id());
        }
        assertTrue(brokers.containsAll(coordinators.values()), "coordinators " + coordinators);
        // __consumer_offsets is created on the first FindCoordinator, once every broker is registered: its partitions
        // are led by several brokers, and the groups' coordinators spread with them.
        Set<Integer> offsetsLeaders = admin.describeTopics(List.of("__consumer_offsets")).allTopicNames().get()
                .get("__consumer_offsets").partitions().stream().map(p -> p.leader().id()).collect(Collectors.toSet());
        assertTrue(offsetsLeaders.size() > 1, "every __consumer_offsets partition is led by broker " + offsetsLeaders);
        assertTrue(new HashSet<>(coordinators.values()).size() > 1, "every group on one coordinator: " + coordinators);
    }
}
