package dev.shoal.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.Test;

class ShardsTest {

  /** Kafka's own partitioner arithmetic is the reference: the shard must be the partition the producer picks. */
  @Test
  void theShardIsThePartitionKafkasProducerGivesTheKey() {
    Random random = new Random(42);
    for (int i = 0; i < 20_000; i++) {
      StringBuilder id = new StringBuilder();
      int len = random.nextInt(40);
      for (int j = 0; j < len; j++) {
        id.append((char) (random.nextBoolean() ? 'a' + random.nextInt(26) : 0x20 + random.nextInt(0x3000)));
      }
      String s = id.toString();
      int shards = 1 + random.nextInt(64);
      int kafka = Utils.toPositive(Utils.murmur2(s.getBytes(StandardCharsets.UTF_8))) % shards;
      assertEquals(kafka, Shards.of(s, shards), "id '" + s + "' over " + shards + " shards");
    }
  }

  @Test
  void aShardCountBelowOneIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> Shards.of("x", 0));
  }
}
