package dev.shoal.manager;

import dev.shoal.cluster.ClusterTimings;

/**
 * Settings of one shard manager; {@link #defaults} documents each default. Immutable.
 *
 * @param bootstrap         Kafka bootstrap servers
 * @param managerId         a name for logs and assignments; unique per manager
 * @param shards            shards = partitions of the document topics
 * @param replicas          replicas per shard (R)
 * @param timings           the heartbeat protocol's timings; a node silent for {@code failureMillis} loses its shards
 * @param settleMillis      wait this long after start before the first placement, so nodes starting together are placed together
 * @param evaluateMillis    recompute the placement this often
 * @param electionSessionMs a silent leader leads this long before a standby takes over
 * @param graceMillis       a node silent this long loses its replicas for good; until then they stay
 *                          beside their replacements, so a node back from a blip needs no rebuild
 */
public record ShardManagerConfig(String bootstrap, String managerId, int shards, int replicas, ClusterTimings timings,
                                 long settleMillis, long evaluateMillis, int electionSessionMs, long graceMillis) {

  /**
   * Kafka's default minimum group session timeout ({@code group.min.session.timeout.ms}): the
   * fastest a standby can take over from a silent leader.
   */
  public static final int ELECTION_SESSION_MS = 6_000;

  /** R = 2, {@link ClusterTimings#defaults()}, settle 2 s, placement every second, election session 6 s, grace 60 s. */
  public static ShardManagerConfig defaults(String bootstrap, String managerId, int shards) {
    return new ShardManagerConfig(bootstrap, managerId, shards, 2, ClusterTimings.defaults(), 2_000, 1_000,
        ELECTION_SESSION_MS, 60_000);
  }

  public ShardManagerConfig withReplicas(int r) {
    return new ShardManagerConfig(bootstrap, managerId, shards, r, timings, settleMillis, evaluateMillis,
        electionSessionMs, graceMillis);
  }

  public ShardManagerConfig withFailureTimeoutMillis(long ms) {
    return new ShardManagerConfig(bootstrap, managerId, shards, replicas, timings.withFailureMillis(ms), settleMillis,
        evaluateMillis, electionSessionMs, Math.max(graceMillis, ms));
  }
}
