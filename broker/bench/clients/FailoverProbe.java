// The client side of the failover benchmark (broker/bench/failover.ts): kafka-clients from the reference Kafka's Maven
// Central jars, run as a single source file (java -cp "<libs>/*" FailoverProbe.java ...), so it needs no build, and the
// same client measures both systems.
//
//   FailoverProbe.java --bootstrap B --topic T --partition P --coordinator N [--group-prefix X]
//
// Picks a group whose coordinator is node N (the leader of the group's __consumer_offsets partition), then runs
// two loops until stdin closes, each one attempt at a time with a short timeout so that an attempt started while the
// leader was gone does not hide the first one that could succeed:
//   - acks=all sends of one small record to partition P of T (no idempotence, so no producer-id work after a failed
//     batch: only the partition's own availability is measured);
//   - commits of an offset for T-P in that group (a simple consumer, no membership), i.e. the group coordinator.
// Every outcome is a JSON line on stdout with the wall clock in ms: {"ev":"group","group":G}, then
// {"ev":"ack","t":T,"offset":O}, {"ev":"commit","t":T} and {"ev":"fail","what":"produce"|"commit","t":T,"err":E}. Client logging goes to stderr.

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.utils.Utils;

public class FailoverProbe {
  /** Each attempt's bound: a send or commit that has not succeeded within it is given up and the next one starts. */
  static final int ATTEMPT_MS = 1000;

  static synchronized void emit(String json) {
    System.out.println(json);
    System.out.flush();
  }

  static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(' ');
      else b.append(c);
    }
    return b.append('"').toString();
  }

  /** Reports a failed attempt, then pauses 20 ms so that an error returned at once cannot make a busy loop. */
  static void fail(String what, Throwable e) throws InterruptedException {
    Throwable cause = e.getCause() != null ? e.getCause() : e;
    emit("{\"ev\":\"fail\",\"what\":\"" + what + "\",\"t\":" + System.currentTimeMillis() + ",\"err\":"
        + quote(cause.getClass().getSimpleName() + ": " + cause.getMessage()) + "}");
    Thread.sleep(20);
  }

  /** Settings both clients share: short timeouts and backoffs, so the client adds little to what the brokers take. */
  static Properties common(String bootstrap) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("request.timeout.ms", String.valueOf(ATTEMPT_MS));
    p.put("retry.backoff.ms", "20");
    p.put("retry.backoff.max.ms", "100");
    p.put("reconnect.backoff.ms", "20");
    p.put("reconnect.backoff.max.ms", "100");
    return p;
  }

  /**
   * A group whose coordinator is node `coordinator`: the leader of its __consumer_offsets partition, which is
   * abs(hashCode) % partitions of the group id, as every broker and client computes it. One commit of another group
   * first makes the brokers create __consumer_offsets (on its first FindCoordinator).
   */
  static String pickGroup(String bootstrap, String topic, String prefix, int coordinator) throws Exception {
    Properties cp = common(bootstrap);
    cp.put("group.id", prefix + "-setup");
    cp.put("enable.auto.commit", "false");
    cp.put("default.api.timeout.ms", "60000");
    try (KafkaConsumer<byte[], byte[]> c =
        new KafkaConsumer<>(cp, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      c.commitSync(Map.of(new TopicPartition(topic, 0), new OffsetAndMetadata(0)));
    }
    Properties p = common(bootstrap);
    p.put("request.timeout.ms", "5000");
    p.put("default.api.timeout.ms", "60000");
    try (Admin admin = Admin.create(p)) {
      long deadline = System.currentTimeMillis() + 60_000;
      while (System.currentTimeMillis() < deadline) {
        TopicDescription offsets =
            admin.describeTopics(List.of("__consumer_offsets")).allTopicNames().get().get("__consumer_offsets");
        List<TopicPartitionInfo> parts = offsets.partitions();
        for (int i = 0; i < 1000; i++) {
          String name = prefix + "-" + i;
          TopicPartitionInfo part = parts.get(Utils.abs(name.hashCode()) % parts.size());
          if (part.leader() != null && part.leader().id() == coordinator) return name;
        }
        Thread.sleep(200);
      }
    }
    throw new IllegalStateException("node " + coordinator + " leads no __consumer_offsets partition");
  }

  public static void main(String[] argv) throws Exception {
    String bootstrap = null, topic = null, prefix = "failover-probe";
    int partition = -1, coordinator = -1;
    for (int i = 0; i + 1 < argv.length; i += 2) {
      switch (argv[i]) {
        case "--bootstrap" -> bootstrap = argv[i + 1];
        case "--topic" -> topic = argv[i + 1];
        case "--partition" -> partition = Integer.parseInt(argv[i + 1]);
        case "--coordinator" -> coordinator = Integer.parseInt(argv[i + 1]);
        case "--group-prefix" -> prefix = argv[i + 1];
        default -> throw new IllegalArgumentException("unknown argument " + argv[i]);
      }
    }
    if (bootstrap == null || topic == null || partition < 0 || coordinator < 0) {
      throw new IllegalArgumentException(
          "usage: FailoverProbe --bootstrap B --topic T --partition P --coordinator N [--group-prefix X]");
    }
    String group = pickGroup(bootstrap, topic, prefix, coordinator);
    emit("{\"ev\":\"group\",\"group\":" + quote(group) + "}");
    TopicPartition tp = new TopicPartition(topic, partition);

    Properties pp = common(bootstrap);
    pp.put("acks", "all");
    pp.put("enable.idempotence", "false");
    pp.put("linger.ms", "0");
    pp.put("delivery.timeout.ms", String.valueOf(ATTEMPT_MS));
    pp.put("max.block.ms", String.valueOf(ATTEMPT_MS));
    KafkaProducer<byte[], byte[]> producer =
        new KafkaProducer<>(pp, new ByteArraySerializer(), new ByteArraySerializer());
    Thread produce = new Thread(() -> {
      byte[] value = "failover-probe".getBytes(StandardCharsets.UTF_8);
      for (;;) {
        try {
          long offset = producer.send(new ProducerRecord<>(tp.topic(), tp.partition(), null, value)).get().offset();
          emit("{\"ev\":\"ack\",\"t\":" + System.currentTimeMillis() + ",\"offset\":" + offset + "}");
        } catch (InterruptedException e) {
          return;
        } catch (Exception e) {
          try {
            fail("produce", e);
          } catch (InterruptedException stop) {
            return;
          }
        }
      }
    });

    Properties cp = common(bootstrap);
    cp.put("group.id", group);
    cp.put("enable.auto.commit", "false");
    cp.put("default.api.timeout.ms", String.valueOf(ATTEMPT_MS));
    KafkaConsumer<byte[], byte[]> consumer =
        new KafkaConsumer<>(cp, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    Thread commit = new Thread(() -> {
      for (long offset = 0; ; offset++) {
        try {
          consumer.commitSync(Map.of(tp, new OffsetAndMetadata(offset)), Duration.ofMillis(ATTEMPT_MS));
          emit("{\"ev\":\"commit\",\"t\":" + System.currentTimeMillis() + "}");
        } catch (Exception e) {
          try {
            fail("commit", e);
          } catch (InterruptedException stop) {
            return;
          }
        }
      }
    });
    produce.setDaemon(true);
    commit.setDaemon(true);
    produce.start();
    commit.start();
    // Runs until the benchmark closes stdin; the daemon threads die with the JVM, the brokers need no goodbye.
    while (System.in.read() >= 0) {
      // discard
    }
    System.exit(0);
  }
}
