package dev.shoal.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.api.v1.Document;
import dev.shoal.cluster.ClusterTopics;
import dev.shoal.cluster.KafkaSettings;
import dev.shoal.cluster.Topics;
import dev.shoal.ingest.DocumentProducer;
import dev.shoal.testkit.EmbeddedKafka;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthenticationException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kafka's own security settings reach every Shoal client: a broker that accepts only
 * SASL/SCRAM-SHA-512 on its client port is administered, written and read through
 * {@link KafkaSettings} with the settings from a properties file (what {@code SHOAL_KAFKA_CONFIG}
 * names), and a wrong password is refused by the broker.
 */
class KafkaSecurityIT {

  @TempDir
  Path dir;

  @Test
  void scramSettingsFromAFileReachAdminProducerAndConsumerAndAWrongPasswordIsRefused() throws Exception {
    try (EmbeddedKafka kafka = new EmbeddedKafka(dir.resolve("kafka")).withScramListener().start()) {
      kafka.addScramUser("shoal-it", "correct horse");
      String sasl = kafka.scramBootstrap();
      Path config = dir.resolve("kafka-client.properties");
      Files.writeString(config, """
          security.protocol=SASL_PLAINTEXT
          sasl.mechanism=SCRAM-SHA-512
          sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\
            username="shoal-it" password="correct horse";
          """);
      KafkaSettings.secure(sasl, KafkaSettings.load(config));

      ClusterTopics.ensure(sasl, 2, (short) 1);
      try (DocumentProducer p = new DocumentProducer(sasl)) {
        for (int i = 0; i < 5; i++) {
          p.send(Document.newBuilder().setId("d" + i).setTitle("title " + i).setText("text").build());
        }
        p.flush();
        assertEquals(5, p.acknowledged());
      }
      Set<String> read = new HashSet<>();
      try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(KafkaSettings.consumer(sasl, null))) {
        List<TopicPartition> parts = new ArrayList<>();
        c.partitionsFor(Topics.DOCS).forEach(i -> parts.add(new TopicPartition(i.topic(), i.partition())));
        c.assign(parts);
        c.seekToBeginning(parts);
        long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (read.size() < 5 && System.nanoTime() < until) {
          for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
            read.add(r.key());
          }
        }
      }
      assertEquals(Set.of("d0", "d1", "d2", "d3", "d4"), read, "written and read back over SASL/SCRAM");

      // the same broker by another name, with a wrong password
      String sameBrokerOtherName = sasl.replace("127.0.0.1", "localhost");
      Properties wrong = KafkaSettings.load(config);
      wrong.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required "
          + "username=\"shoal-it\" password=\"wrong\";");
      KafkaSettings.secure(sameBrokerOtherName, wrong);
      Properties pp = KafkaSettings.producer(sameBrokerOtherName);
      pp.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "15000");
      try (KafkaProducer<String, byte[]> bad = new KafkaProducer<>(pp)) {
        Exception e = assertThrows(Exception.class,
            () -> bad.send(new ProducerRecord<>(Topics.DOCS, "x", new byte[0])).get());
        assertTrue(causedBy(e, AuthenticationException.class), "refused for its credentials: " + e);
      }
    }
  }

  @Test
  void aSecurityFileThatSetsAnythingButSecurityIsRefusedNamingTheKey() throws Exception {
    Path config = dir.resolve("bad.properties");
    Files.writeString(config, "security.protocol=SSL\nacks=1\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KafkaSettings.load(config));
    assertTrue(e.getMessage().contains("'acks'"), e.getMessage());
  }

  private static boolean causedBy(Throwable t, Class<? extends Throwable> type) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (type.isInstance(c)) {
        return true;
      }
    }
    return false;
  }
}
