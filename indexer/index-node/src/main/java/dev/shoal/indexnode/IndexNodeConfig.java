package dev.shoal.indexnode;

import java.nio.file.Path;

/**
 * Settings of one index node.
 *
 * @param nodeId            stable name; the shard manager places shards by it
 * @param dataDir           where each shard keeps shard-N/lucene and shard-N/docs
 * @param bootstrap         Kafka bootstrap servers
 * @param host              address the ShardSearch server binds and advertises
 * @param port              its port (0 = any free port)
 * @param refreshMillis     near-real-time refresh interval
 * @param commitMillis      durable commit interval
 * @param commitDocs        durable commit after this many documents, whichever comes first
 * @param liveLag           a shard is LIVE once its lag is at most this many records
 */
public record IndexNodeConfig(String nodeId, Path dataDir, String bootstrap, String host, int port,
                              long refreshMillis, long commitMillis, long commitDocs, long liveLag) {

  public static IndexNodeConfig defaults(String nodeId, Path dataDir, String bootstrap) {
    return new IndexNodeConfig(nodeId, dataDir, bootstrap, "127.0.0.1", 0, 1_000, 30_000, 10_000, 100);
  }

  public IndexNodeConfig withHost(String h) {
    return new IndexNodeConfig(nodeId, dataDir, bootstrap, h, port, refreshMillis, commitMillis, commitDocs, liveLag);
  }

  public IndexNodeConfig withPort(int p) {
    return new IndexNodeConfig(nodeId, dataDir, bootstrap, host, p, refreshMillis, commitMillis, commitDocs, liveLag);
  }
}
