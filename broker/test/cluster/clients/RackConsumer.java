// A plain Java-client consumer for the fetch-from-follower test (KIP-392): kafka-clients from the reference Kafka's
// Maven Central jars (e2e/reference-kafka), run as a single source file, so it needs no build.
//
//   java -cp "<libs>/*" RackConsumer.java BOOTSTRAP TOPIC RACK|- METADATA_MAX_AGE_MS
//
// Reads partition 0 of TOPIC from the beginning, with client.rack=RACK ("-": none), and prints one line per record,
// "<offset>", on stdout. metadata.max.age.ms is also how long the client keeps a preferred read replica before asking
// the leader again. Exits when stdin closes.

import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

public class RackConsumer {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    if (!args[2].equals("-")) props.put(ConsumerConfig.CLIENT_RACK_CONFIG, args[2]);
    props.put(ConsumerConfig.METADATA_MAX_AGE_CONFIG, args[3]);
    props.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    Thread watcher = new Thread(() -> {
      try {
        while (System.in.read() >= 0) {}
      } catch (Exception ignored) {
      }
      Runtime.getRuntime().halt(0);
    });
    watcher.setDaemon(true);
    watcher.start();
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
      TopicPartition tp = new TopicPartition(args[1], 0);
      consumer.assign(List.of(tp));
      consumer.seekToBeginning(List.of(tp));
      for (;;) {
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
          System.out.println(r.offset());
        }
        System.out.flush();
      }
    }
  }
}
