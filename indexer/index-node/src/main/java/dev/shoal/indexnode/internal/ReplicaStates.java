package dev.shoal.indexnode.internal;

import dev.shoal.internal.v1.ShardSearchGrpc;
import dev.shoal.internal.v1.ShardState;
import dev.shoal.server.GrpcServer;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The state machine of a node's replicas: RECOVERING when opened (and again while a failed
 * apply is retried from the last commit), then CATCHING_UP or LIVE by lag (LIVE within
 * {@code liveLag} records of the partition's end), FAILED with a reason when it cannot progress
 * (a lag measurement never turns a FAILED replica LIVE), gone when closed; and the gRPC health
 * that mirrors it ({@code ShardSearch/shard-N} per shard, {@code ShardSearch} SERVING
 * only while every hosted shard is LIVE). What heartbeats and readiness report. A replica is
 * <em>rebuilding</em> from when it is opened until it is first LIVE: it serves nothing yet, so
 * its node leaves its searcher alone until then. Thread-safe.
 */
public final class ReplicaStates {

  private static final Logger LOG = LoggerFactory.getLogger(ReplicaStates.class);

  /** A replica's state, its lag in records (-1 before it was first measured) and, when FAILED, why. */
  public record Replica(ShardState state, long lag, String failure) {
  }

  private final String nodeId;
  private final long liveLag;
  private final Map<Integer, Replica> replicas = new ConcurrentHashMap<>();
  private final Set<Integer> rebuilding = ConcurrentHashMap.newKeySet();
  private volatile GrpcServer health;

  public ReplicaStates(String nodeId, long liveLag) {
    this.nodeId = nodeId;
    this.liveLag = liveLag;
  }

  /** The server whose health mirrors the states. */
  public void reportTo(GrpcServer server) {
    this.health = server;
    server.setHealth(ShardSearchGrpc.SERVICE_NAME, ServingStatus.NOT_SERVING);
  }

  public void opened(int shard) {
    replicas.put(shard, new Replica(ShardState.RECOVERING, -1, ""));
    rebuilding.add(shard);
    setHealth(ShardSearchGrpc.SERVICE_NAME + "/shard-" + shard, ServingStatus.NOT_SERVING);
    overallHealth();
  }

  public void closed(int shard) {
    replicas.remove(shard);
    rebuilding.remove(shard);
    setHealth(ShardSearchGrpc.SERVICE_NAME + "/shard-" + shard, ServingStatus.NOT_SERVING);
    overallHealth();
  }

  /** A new lag measurement: the replica is LIVE or CATCHING_UP by it, unless it is retrying or FAILED. */
  public void measured(int shard, long lag) {
    Replica prev = replicas.get(shard);
    ShardState state = measuredState(prev, lag);
    if (state == null) {
      replicas.put(shard, new Replica(prev.state(), lag, prev.failure()));
      return;
    }
    replicas.put(shard, new Replica(state, lag, ""));
    if (state == ShardState.LIVE) {
      rebuilding.remove(shard);
    }
    if (prev == null || prev.state() != state) {
      LOG.info("shard {} on {} is {} (lag {})", shard, nodeId, state, lag);
      setHealth(ShardSearchGrpc.SERVICE_NAME + "/shard-" + shard,
          state == ShardState.LIVE ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
      overallHealth();
    }
  }

  /** A failed apply being retried from the last commit: RECOVERING, with the failure, until an apply succeeds. */
  public void retrying(int shard, String why) {
    Replica prev = replicas.get(shard);
    replicas.put(shard, new Replica(ShardState.RECOVERING, prev == null ? -1 : prev.lag(), why));
    if (prev == null || prev.state() != ShardState.RECOVERING) {
      LOG.warn("shard {} on {} is retrying from its last commit: {}", shard, nodeId, why);
      setHealth(ShardSearchGrpc.SERVICE_NAME + "/shard-" + shard, ServingStatus.NOT_SERVING);
      overallHealth();
    }
  }

  /** An apply succeeded again: the next lag measurement decides the state. */
  public void recovered(int shard) {
    Replica prev = replicas.get(shard);
    if (prev != null && prev.state() != ShardState.FAILED && !prev.failure().isEmpty()) {
      replicas.put(shard, new Replica(prev.state(), prev.lag(), ""));
    }
  }

  /** The replica cannot progress: FAILED with the reason, until the assignment takes it away. */
  public void failed(int shard, String why) {
    Replica prev = replicas.get(shard);
    replicas.put(shard, new Replica(ShardState.FAILED, prev == null ? -1 : prev.lag(), why));
    LOG.error("shard {} on {} FAILED: {}", shard, nodeId, why);
    setHealth(ShardSearchGrpc.SERVICE_NAME + "/shard-" + shard, ServingStatus.NOT_SERVING);
    overallHealth();
  }

  /** The shards this node hosts or tries to (failed ones included), ascending. */
  public java.util.List<Integer> hosted() {
    return replicas.keySet().stream().sorted().toList();
  }

  /** Whether a lag measurement of {@code lag} records would make the replica LIVE. */
  public boolean wouldBeLive(int shard, long lag) {
    return measuredState(replicas.get(shard), lag) == ShardState.LIVE;
  }

  /** The state a lag measurement gives a replica, or null where it keeps its own (retrying or FAILED). */
  private ShardState measuredState(Replica prev, long lag) {
    if (prev != null && (prev.state() == ShardState.FAILED || !prev.failure().isEmpty())) {
      return null;
    }
    return lag <= liveLag ? ShardState.LIVE : ShardState.CATCHING_UP;
  }

  /** Opened and not yet LIVE since: replaying its partition from its last commit. */
  public boolean rebuilding(int shard) {
    return rebuilding.contains(shard);
  }

  public String failure(int shard) {
    Replica r = replicas.get(shard);
    return r == null ? "" : r.failure();
  }

  public ShardState state(int shard) {
    Replica r = replicas.get(shard);
    return r == null ? ShardState.SHARD_STATE_UNSPECIFIED : r.state();
  }

  public long lag(int shard) {
    Replica r = replicas.get(shard);
    return r == null ? -1 : r.lag();
  }

  private void overallHealth() {
    boolean allLive = !replicas.isEmpty() && replicas.values().stream().allMatch(r -> r.state() == ShardState.LIVE);
    setHealth(ShardSearchGrpc.SERVICE_NAME, allLive ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
  }

  private void setHealth(String service, ServingStatus status) {
    GrpcServer s = health;
    if (s != null) {
      s.setHealth(service, status);
    }
  }
}
