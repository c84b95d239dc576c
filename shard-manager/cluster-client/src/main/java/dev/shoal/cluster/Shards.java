package dev.shoal.cluster;

import java.nio.charset.StandardCharsets;

/**
 * Which shard holds a document: the partition Kafka's Java producer gives its key, since the
 * partition of {@code shoal.docs.enriched} is the shard. That is the default partitioner's
 * {@code positive(murmur2(utf8(id))) % shards} (murmur2 32-bit, seed 0x9747b28c, as Kafka
 * implements it). librdkafka clients (Python, Go, C) partition with CRC32 by default; the README
 * says how to key them. Stateless.
 */
public final class Shards {

  private Shards() {
  }

  /** The shard of a document id among {@code shardCount} shards. */
  public static int of(String id, int shardCount) {
    if (shardCount <= 0) {
      throw new IllegalArgumentException("shard count must be positive, got " + shardCount);
    }
    return (murmur2(id.getBytes(StandardCharsets.UTF_8)) & 0x7fffffff) % shardCount;
  }

  /** MurmurHash2, 32 bits, with the seed and the tail handling of Kafka's partitioner. */
  static int murmur2(byte[] data) {
    final int m = 0x5bd1e995;
    final int r = 24;
    int length = data.length;
    int h = 0x9747b28c ^ length;
    int blocks = length / 4;
    for (int i = 0; i < blocks; i++) {
      int at = i * 4;
      int k = (data[at] & 0xff) | (data[at + 1] & 0xff) << 8 | (data[at + 2] & 0xff) << 16 | (data[at + 3] & 0xff) << 24;
      k *= m;
      k ^= k >>> r;
      k *= m;
      h *= m;
      h ^= k;
    }
    int tail = blocks * 4;
    switch (length % 4) {
      case 3:
        h ^= (data[tail + 2] & 0xff) << 16;
      case 2:
        h ^= (data[tail + 1] & 0xff) << 8;
      case 1:
        h ^= data[tail] & 0xff;
        h *= m;
      default:
        break;
    }
    h ^= h >>> 13;
    h *= m;
    h ^= h >>> 15;
    return h;
  }
}
