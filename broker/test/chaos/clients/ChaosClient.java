// The Java-client side of the chaos workload: kafka-clients from the reference Kafka's Maven Central jars
// (e2e/reference-kafka), run as a single source file (java -cp "<libs>/*" ChaosClient.java ...), so it needs no build.
//
//   ChaosClient.java --bootstrap B --topic T --partitions P [--rate R] [--padding N]
//       [--producer NAME]... [--consumer NAME:GROUP]...
//
// Same roles, history and stdin commands as rdkafka_client.py (which see): idempotent acks=all producers sending
// "<NAME>:<seq>|<padding>" to partition seq % P, and group members that commit what they read. History events are JSON
// lines on stdout; the client library's own logging goes to stderr.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class ChaosClient {
  static final Object OUT = new Object();

  static void emit(String json) {
    synchronized (OUT) {
      System.out.println(json);
      System.out.flush();
    }
  }

  static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }

  static void note(String actor, String msg) {
    emit("{\"ev\":\"note\",\"a\":" + quote(actor) + ",\"msg\":" + quote(msg) + ",\"t\":" + System.currentTimeMillis() + "}");
  }

  static String valueId(String v) {
    if (v == null) return "";
    int bar = v.indexOf('|');
    return bar < 0 ? v : v.substring(0, bar);
  }

  static String bootstrap;
  static String topic;
  static int partitions;
  static double rate = 50;
  static int padding = 100;

  static final AtomicBoolean stopProducers = new AtomicBoolean();
  static final AtomicBoolean stopAll = new AtomicBoolean();

  static Thread producer(String name) {
    return new Thread(() -> {
      Properties p = new Properties();
      p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
      p.put(ProducerConfig.CLIENT_ID_CONFIG, name);
      p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
      p.put(ProducerConfig.ACKS_CONFIG, "all");
      p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
      p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "120000");
      p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "1000");
      p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
      p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
      String pad = "x".repeat(padding);
      long seq = 0;
      long intervalNs = (long) (1e9 / rate);
      long nextAt = System.nanoTime();
      try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
        while (!stopProducers.get()) {
          final long s = seq;
          final int partition = (int) (s % partitions);
          try {
            producer.send(new ProducerRecord<>(topic, partition, null, name + ":" + s + "|" + pad), (md, err) -> {
              long t = System.currentTimeMillis();
              if (err == null) {
                emit("{\"ev\":\"ack\",\"a\":" + quote(name) + ",\"seq\":" + s + ",\"p\":" + md.partition() + ",\"o\":"
                    + md.offset() + ",\"t\":" + t + "}");
              } else {
                emit("{\"ev\":\"nack\",\"a\":" + quote(name) + ",\"seq\":" + s + ",\"p\":" + partition + ",\"err\":"
                    + quote(err.toString()) + ",\"t\":" + t + "}");
              }
            });
          } catch (RuntimeException e) {
            // send() itself refused (buffer full past max.block.ms, metadata unavailable): the same seq again later.
            note(name, "send refused: " + e);
            continue;
          }
          seq++;
          // Pacing the load, not synchronising with anything.
          nextAt += intervalNs;
          long delay = nextAt - System.nanoTime();
          if (delay > 0) TimeUnit.NANOSECONDS.sleep(delay);
          else nextAt = System.nanoTime();
        }
        producer.flush();
        note(name, "flushed, " + seq + " sent");
      } catch (Exception e) {
        note(name, "producer failed: " + e);
      }
    }, name);
  }

  static Thread consumer(String name, String group) {
    return new Thread(() -> {
      Properties p = new Properties();
      p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
      p.put(ConsumerConfig.CLIENT_ID_CONFIG, name);
      p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
      p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
      p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
      p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000");
      p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "1000");
      p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, "org.apache.kafka.clients.consumer.RangeAssignor");
      p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
      p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
      Map<TopicPartition, OffsetAndMetadata> positions = new HashMap<>();
      try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
        Runnable commit = () -> {
          if (positions.isEmpty()) return;
          Map<TopicPartition, OffsetAndMetadata> offsets = new TreeMap<>((a, b) -> a.partition() - b.partition());
          offsets.putAll(positions);
          try {
            consumer.commitSync(offsets, Duration.ofSeconds(10));
          } catch (WakeupException e) {
            throw e;
          } catch (RuntimeException e) {
            note(name, "commit failed: " + e);
            return;
          }
          long t = System.currentTimeMillis();
          for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
            emit("{\"ev\":\"commit\",\"a\":" + quote(name) + ",\"g\":" + quote(group) + ",\"p\":" + e.getKey().partition()
                + ",\"o\":" + e.getValue().offset() + ",\"t\":" + t + "}");
          }
        };
        consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
          @Override
          public void onPartitionsRevoked(Collection<TopicPartition> revoked) {
            commit.run();
            for (TopicPartition tp : revoked) positions.remove(tp);
          }

          @Override
          public void onPartitionsAssigned(Collection<TopicPartition> assigned) {
            List<String> ps = new ArrayList<>();
            for (TopicPartition tp : assigned) ps.add(String.valueOf(tp.partition()));
            emit("{\"ev\":\"assign\",\"a\":" + quote(name) + ",\"g\":" + quote(group) + ",\"ps\":[" + String.join(",", ps)
                + "],\"t\":" + System.currentTimeMillis() + "}");
          }
        });
        long lastCommit = System.nanoTime();
        while (!stopAll.get()) {
          try {
            for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
              emit("{\"ev\":\"read\",\"a\":" + quote(name) + ",\"g\":" + quote(group) + ",\"p\":" + r.partition() + ",\"o\":"
                  + r.offset() + ",\"v\":" + quote(valueId(r.value())) + ",\"t\":" + System.currentTimeMillis() + "}");
              positions.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
            }
          } catch (RuntimeException e) {
            note(name, "poll failed: " + e);
          }
          if (System.nanoTime() - lastCommit >= 500_000_000L) {
            commit.run();
            lastCommit = System.nanoTime();
          }
        }
        commit.run();
      } catch (Exception e) {
        note(name, "consumer failed: " + e);
      }
    }, name);
  }

  public static void main(String[] args) throws Exception {
    List<Thread> producers = new ArrayList<>();
    List<Thread> others = new ArrayList<>();
    List<String[]> consumerSpecs = new ArrayList<>();
    List<String> producerNames = new ArrayList<>();
    for (int i = 0; i < args.length; i += 2) {
      if (i + 1 >= args.length) throw new IllegalArgumentException(args[i] + " needs a value");
      String v = args[i + 1];
      switch (args[i]) {
        case "--bootstrap" -> bootstrap = v;
        case "--topic" -> topic = v;
        case "--partitions" -> partitions = Integer.parseInt(v);
        case "--rate" -> rate = Double.parseDouble(v);
        case "--padding" -> padding = Integer.parseInt(v);
        case "--producer" -> producerNames.add(v);
        case "--consumer" -> consumerSpecs.add(v.split(":", 2));
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    if (bootstrap == null || topic == null || partitions <= 0) {
      throw new IllegalArgumentException("--bootstrap, --topic and --partitions are required");
    }
    for (String n : producerNames) producers.add(producer(n));
    for (String[] c : consumerSpecs) {
      if (c.length != 2) throw new IllegalArgumentException("--consumer wants NAME:GROUP");
      others.add(consumer(c[0], c[1]));
    }
    for (Thread t : producers) t.start();
    for (Thread t : others) t.start();

    CountDownLatch producersDone = new CountDownLatch(1);
    Thread stopper = new Thread(() -> {
      try {
        for (Thread t : producers) t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      note("driver", "producers-stopped");
      producersDone.countDown();
    });
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    boolean stopping = false;
    while ((line = in.readLine()) != null) {
      String command = line.trim();
      if (command.equals("stop-producers") && !stopping) {
        stopping = true;
        stopProducers.set(true);
        stopper.start();
      } else if (command.equals("stop")) {
        break;
      } else if (!command.isEmpty()) {
        note("driver", "unknown command " + command);
      }
    }
    stopProducers.set(true);
    stopAll.set(true);
    for (Thread t : producers) t.join(60_000);
    for (Thread t : others) t.join(60_000);
    note("driver", "stopped");
    System.exit(0);
  }
}
