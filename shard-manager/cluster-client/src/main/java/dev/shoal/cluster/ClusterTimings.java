package dev.shoal.cluster;

/**
 * The one set of timings the heartbeat protocol runs on, shared by every process so they cannot
 * drift apart: nodes heartbeat every {@code heartbeatMillis}; a report is fresh (routing, the
 * result cache, status) for {@code freshMillis}; a node silent for {@code failureMillis} loses
 * its shards to the others. Immutable.
 */
public record ClusterTimings(long heartbeatMillis, long freshMillis, long failureMillis) {

  public ClusterTimings {
    if (heartbeatMillis <= 0 || freshMillis < 2 * heartbeatMillis || failureMillis <= freshMillis) {
      throw new IllegalArgumentException("need 0 < heartbeat, 2 x heartbeat <= fresh < failure; got " + heartbeatMillis
          + ", " + freshMillis + ", " + failureMillis);
    }
  }

  /** A heartbeat a second, fresh for 3 s, failed after 5 s. */
  public static ClusterTimings defaults() {
    return new ClusterTimings(1_000, 3_000, 5_000);
  }

  public ClusterTimings withFailureMillis(long ms) {
    return new ClusterTimings(heartbeatMillis, freshMillis, ms);
  }
}
