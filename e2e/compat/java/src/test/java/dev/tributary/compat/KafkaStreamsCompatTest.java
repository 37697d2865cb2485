package dev.tributary.compat;

import static dev.tributary.compat.BrokerProcess.pollUntil;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Conformance: unmodified Kafka Streams against a real Tributary broker process. The same stateful topology (a count
 * per key, so Streams creates a compacted changelog topic and a RocksDB store) runs with at_least_once, which must
 * process every record, and with exactly_once_v2, which must stop at once with the broker's reason, because the broker
 * has no transaction coordinator.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(120)
@ExtendWith(FailedTests.class)
class KafkaStreamsCompatTest {
    private static final Duration WAIT = Duration.ofSeconds(30);
    /**
     * The bound on "fails fast": with a retriable answer each initTransactions() attempt blocked for max.block.ms (60 s)
     * and Streams tried again; the fatal answer ends it in well under a second.
     */
    private static final Duration FAIL_FAST = Duration.ofSeconds(20);
    private static final Duration CLOSE = Duration.ofSeconds(30);
    private static final String REASON = "Transactions are not supported by this broker";

    private BrokerProcess broker;
    private Admin admin;
    private final List<KafkaStreams> started = new ArrayList<>();
    private final List<Path> stateDirs = new ArrayList<>();

    @BeforeAll
    void startBroker() throws IOException {
        broker = BrokerProcess.startShared(Map.of());
        admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrap));
    }

    @AfterEach
    void closeStreams() throws IOException {
        // A failed assertion must not leave a Streams client running into the next test.
        for (KafkaStreams streams : started) streams.close(CLOSE);
        started.clear();
        for (Path dir : stateDirs) deleteTree(dir);
        stateDirs.clear();
    }

    @AfterAll
    void stopBroker() throws Exception {
        if (admin != null) admin.close();
        if (broker != null) broker.close(FailedTests.in(getClass()));
    }

    // --- helpers ---

    private static String name(TestInfo info) {
        String base = info.getTestMethod().orElseThrow().getName();
        return base.replaceAll("[^A-Za-z0-9]", "-") + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    /** input → count per key → output; the count needs a state store and its changelog topic. */
    private KafkaStreams countingApp(String app, String input, String output, String guarantee) throws IOException {
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
                .groupByKey()
                .count()
                .toStream()
                .to(output, Produced.with(Serdes.String(), Serdes.Long()));
        Path stateDir = Files.createTempDirectory("tributary-compat-streams-");
        stateDirs.add(stateDir);
        Properties config = new Properties();
        config.put(StreamsConfig.APPLICATION_ID_CONFIG, app);
        config.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrap);
        config.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, guarantee);
        config.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        config.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, (int) BrokerProcess.RF);
        config.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
        // Emit every update instead of caching them until the commit.
        config.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        config.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        KafkaStreams streams = new KafkaStreams(builder.build(), config);
        started.add(streams);
        return streams;
    }

    private void createTopics(String... names) throws Exception {
        List<NewTopic> topics = new ArrayList<>();
        for (String n : names) topics.add(new NewTopic(n, 2, BrokerProcess.RF));
        admin.createTopics(topics).all().get();
        for (String n : names) broker.awaitTopic(n, 2);
    }

    private void produce(String topic, Map<String, Integer> perKey) throws Exception {
        Map<String, Object> config = new HashMap<>();
        config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrap);
        config.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        config.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        try (KafkaProducer<String, String> p = new KafkaProducer<>(config)) {
            for (Map.Entry<String, Integer> e : perKey.entrySet()) {
                for (int i = 0; i < e.getValue(); i++) p.send(new ProducerRecord<>(topic, e.getKey(), "v" + i));
            }
            p.flush();
        }
    }

    private static long ms(long startNanos) {
        return (System.nanoTime() - startNanos) / 1_000_000;
    }

    private static boolean mentions(Throwable t, String text) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (String.valueOf(c.getMessage()).contains(text)) return true;
        }
        return false;
    }

    // --- tests ---

    @Test
    void atLeastOnceCountsEveryRecord(TestInfo info) throws Exception {
        String app = name(info);
        String input = app + "-in";
        String output = app + "-out";
        createTopics(input, output);
        Map<String, Integer> perKey = Map.of("a", 30, "b", 20, "c", 10, "d", 5);
        produce(input, perKey);

        KafkaStreams streams = countingApp(app, input, output, StreamsConfig.AT_LEAST_ONCE);
        long start = System.nanoTime();
        streams.start();

        Map<String, Object> config = new HashMap<>();
        config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrap);
        config.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        config.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, LongDeserializer.class);
        Map<String, Long> latest = new HashMap<>();
        try (KafkaConsumer<String, Long> c = new KafkaConsumer<>(config)) {
            List<TopicPartition> partitions = List.of(new TopicPartition(output, 0), new TopicPartition(output, 1));
            c.assign(partitions);
            c.seekToBeginning(partitions);
            pollUntil("counts " + perKey + " in " + output + " (so far " + latest + ")", WAIT, () -> {
                c.poll(Duration.ofMillis(100)).forEach(r -> latest.put(r.key(), r.value()));
                return perKey.entrySet().stream().allMatch(e -> Long.valueOf(e.getValue()).equals(latest.get(e.getKey())));
            });
        }
        long processedMs = ms(start);
        assertEquals(KafkaStreams.State.RUNNING, streams.state());
        // The changelog topic Streams created for the count's store.
        assertTrue(admin.listTopics().names().get().contains(app + "-KSTREAM-AGGREGATE-STATE-STORE-0000000001-changelog"));

        long closeStart = System.nanoTime();
        assertTrue(streams.close(CLOSE), "close() did not finish within " + CLOSE);
        long closeMs = ms(closeStart);
        assertEquals(KafkaStreams.State.NOT_RUNNING, streams.state());
        System.out.printf("kafka-streams at_least_once: %d records counted end to end %d ms after start(); close() %d ms%n",
                perKey.values().stream().mapToInt(Integer::intValue).sum(), processedMs, closeMs);
    }

    /**
     * exactly_once_v2 initializes a transactional producer when the first task is assigned. The broker refuses it with a
     * fatal error, so the stream thread dies at once, the uncaught exception handler gets the broker's reason, the client
     * goes to ERROR, and close() returns promptly. Before, Streams kept retrying without a word.
     */
    @Test
    void exactlyOnceV2FailsFastWithTheBrokersReason(TestInfo info) throws Exception {
        KafkaStreams streams = exactlyOnceApp(info);
        AtomicReference<Throwable> uncaught = new AtomicReference<>();
        AtomicLong uncaughtAt = new AtomicLong();
        streams.setUncaughtExceptionHandler(e -> {
            uncaughtAt.compareAndSet(0, System.nanoTime());
            uncaught.compareAndSet(null, e);
            return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        long start = System.nanoTime();
        long errorMs = startUntilError(streams);
        Throwable failure = uncaught.get();
        assertNotNull(failure, "the uncaught exception handler was not called");
        assertTrue(mentions(failure, REASON), "the handler's exception does not carry the broker's reason: " + failure);
        long handlerMs = (uncaughtAt.get() - start) / 1_000_000;
        long closeMs = closePromptly(streams);
        System.out.printf("kafka-streams exactly_once_v2: handler called %d ms and state ERROR %d ms after start(); "
                + "close() %d ms%n", handlerMs, errorMs, closeMs);
    }

    /** A user who sets no handler gets Streams' default (SHUTDOWN_CLIENT): the same ERROR state and prompt close(). */
    @Test
    void exactlyOnceV2WithoutAHandlerStopsInError(TestInfo info) throws Exception {
        KafkaStreams streams = exactlyOnceApp(info);
        long errorMs = startUntilError(streams);
        long closeMs = closePromptly(streams);
        System.out.printf("kafka-streams exactly_once_v2, default handler: state ERROR %d ms after start(); close() %d ms%n",
                errorMs, closeMs);
    }

    private KafkaStreams exactlyOnceApp(TestInfo info) throws Exception {
        String app = name(info);
        String input = app + "-in";
        String output = app + "-out";
        createTopics(input, output);
        produce(input, Map.of("a", 3));
        return countingApp(app, input, output, StreamsConfig.EXACTLY_ONCE_V2);
    }

    /** Starts the client and returns how many ms it took to reach ERROR; fails after FAIL_FAST. */
    private static long startUntilError(KafkaStreams streams) {
        List<KafkaStreams.State> states = new CopyOnWriteArrayList<>();
        streams.setStateListener((now, before) -> states.add(now));
        long start = System.nanoTime();
        streams.start();
        pollUntil("the Streams client in ERROR (states so far " + states + ")", FAIL_FAST,
                () -> streams.state() == KafkaStreams.State.ERROR);
        return ms(start);
    }

    private static long closePromptly(KafkaStreams streams) {
        long closeStart = System.nanoTime();
        assertTrue(streams.close(CLOSE), "close() did not finish within " + CLOSE);
        long closeMs = ms(closeStart);
        assertEquals(KafkaStreams.State.ERROR, streams.state());
        assertTrue(closeMs < 5_000, "close() took " + closeMs + " ms");
        return closeMs;
    }
}
