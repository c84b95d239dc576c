package dev.shoal.indexnode;

import dev.shoal.cluster.ClusterTimings;
import dev.shoal.server.tls.TlsFiles;
import java.nio.file.Path;

/**
 * Settings of one index node; {@link #defaults} documents each default. Immutable.
 *
 * @param nodeId        stable name; the shard manager places shards by it
 * @param dataDir       where each shard keeps shard-N/lucene and shard-N/docs
 * @param bootstrap     Kafka bootstrap servers
 * @param host          address the ShardSearch server binds (and advertises, unless advertisedHost says otherwise)
 * @param port          its port (0 = any free port)
 * @param refreshMillis near-real-time refresh interval
 * @param commitMillis  durable commit interval
 * @param commitDocs    durable commit after this many documents, whichever comes first
 * @param compactAfterMillis a shard with no write for this long merges its small segments into one
 *                      ({@link dev.shoal.indexnode.shard.CompactingMergePolicy}); 0: never
 * @param liveLag       a shard is LIVE once its lag is at most this many records
 * @param timings       the heartbeat protocol's timings
 * @param tls           ShardSearch's TLS; null: plaintext
 * @param advertisedHost the host in the address heartbeats give (a pod's DNS name); null: {@code host}
 * @param zone          the {@code zone} label of its heartbeats; "": none
 */
public record IndexNodeConfig(String nodeId, Path dataDir, String bootstrap, String host, int port,
                              long refreshMillis, long commitMillis, long commitDocs, long compactAfterMillis,
                              long liveLag,
                              ClusterTimings timings, TlsFiles tls, String advertisedHost, String zone) {

  /**
   * Localhost on any free port; refresh every 1 s; commit every 30 s or 10,000 documents; small
   * segments compacted after 5 s without a write; LIVE within 100 records.
   */
  public static IndexNodeConfig defaults(String nodeId, Path dataDir, String bootstrap) {
    return new IndexNodeConfig(nodeId, dataDir, bootstrap, "127.0.0.1", 0, 1_000, 30_000, 10_000, 5_000, 100,
        ClusterTimings.defaults(), null, null, "");
  }

  public IndexNodeConfig withHost(String h) {
    return new IndexNodeConfig(nodeId, dataDir, bootstrap, h, port, refreshMillis, commitMillis, commitDocs,
        compactAfterMillis, liveLag, timings, tls, advertisedHost, zone);
  }

  public IndexNodeConfig withPort(int p) {
    return new IndexNodeConfig(nodeId, dataDir, bootstrap, host, p, refreshMillis, commitMillis, commitDocs,
        compactAfterMillis, liveLag, timings, tls, advertisedHost, zone);
  }

  public IndexNodeConfig withCommits(long everyMillis, long everyDocs) {
    return new IndexNodeConfig(nodeId, dataDir, bootstrap, host, port, refreshMillis, everyMillis, everyDocs,
        compactAfterMillis, liveLag, timings, tls, advertisedHost, zone);
  }

  /** These settings with small segments compacted after {@code idleMillis} without a write (0: never). */
  public IndexNodeConfig withCompaction(long idleMillis) {
    if (idleMillis < 0) {
      throw new IllegalArgumentException("compaction idle time must be 0 (never) or positive: " + idleMillis);
    }
    return new IndexNodeConfig(nodeId, dataDir, bootstrap, host, port, refreshMillis, commitMillis, commitDocs,
        idleMillis, liveLag, timings, tls, advertisedHost, zone);
  }

  /**
   * These settings with the host other services reach this node by (null: the bind host) and its
   * zone, the {@code zone} label of its heartbeats ("" for none), which placement spreads replicas over.
   */
  public IndexNodeConfig withAdvertisement(String host, String zoneName) {
    return new IndexNodeConfig(nodeId, dataDir, bootstrap, this.host, port, refreshMillis, commitMillis, commitDocs,
        compactAfterMillis, liveLag, timings, tls, host, zoneName == null ? "" : zoneName);
  }

  /** These settings with ShardSearch over TLS (mutual where the files say so); null: plaintext. */
  public IndexNodeConfig withTls(TlsFiles files) {
    return new IndexNodeConfig(nodeId, dataDir, bootstrap, host, port, refreshMillis, commitMillis, commitDocs,
        compactAfterMillis, liveLag, timings, files, advertisedHost, zone);
  }
}
