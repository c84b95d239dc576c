package dev.shoal.cluster;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.shoal.cluster.Topics;
import dev.shoal.internal.v1.HostedShard;
import dev.shoal.internal.v1.NodeHeartbeat;
import dev.shoal.internal.v1.ShardState;
import dev.shoal.server.time.Clock;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Follows {@code shoal.cluster.heartbeats} from one freshness window back (so a watcher that just
 * started knows at once every replica that reported recently, rather than calling them all silent
 * until their next heartbeat) and keeps, for every replica, the
 * searcher generation it last reported: what a result cache needs to know that a shard's
 * visible documents changed. A replica silent for longer than the freshness window
 * ({@link ClusterTimings#freshMillis()}) reports {@link #UNKNOWN}: nothing is known about what it
 * serves. It also knows which replicas are LIVE ({@link #tier}), which is what query services
 * route by. Safe from any thread.
 */
public final class HeartbeatWatcher extends TopicFollower {

  /** Returned for a replica that has not reported (never equal to a real generation). */
  public static final long UNKNOWN = Long.MIN_VALUE;
  /** A replica silent for this many freshness windows is forgotten. */
  static final int FORGET_AFTER_FRESH = 20;
  private final Clock clock;
  private final long freshMillis;

  private record Reported(long generation, boolean live, long atMillis) {
  }

  private final Map<String, Reported> generations = new ConcurrentHashMap<>();

  public HeartbeatWatcher(String bootstrap) {
    this(bootstrap, Clock.SYSTEM, ClusterTimings.defaults());
  }

  public HeartbeatWatcher(String bootstrap, Clock clock, ClusterTimings timings) {
    super("heartbeat-watcher", bootstrap, Topics.HEARTBEATS, false);
    this.clock = clock;
    this.freshMillis = timings.freshMillis();
  }

  /** The key of a replica: "address/shard". */
  public static String replica(String address, int shard) {
    return address + "/" + shard;
  }

  public long generation(String replica) {
    Reported r = generations.get(replica);
    return r == null || clock.currentTimeMillis() - r.atMillis() > freshMillis ? UNKNOWN : r.generation();
  }

  /** What is known of a replica now; query services route to the best tier a shard has. */
  public ReplicaTier tier(String address, int shard) {
    Reported r = generations.get(replica(address, shard));
    if (r == null || clock.currentTimeMillis() - r.atMillis() > freshMillis) {
      return ReplicaTier.SILENT;
    }
    return r.live() ? ReplicaTier.SERVING : ReplicaTier.BUILDING;
  }

  @Override
  protected long startAt() {
    return clock.currentTimeMillis() - freshMillis;
  }

  @Override
  protected void handle(ConsumerRecord<String, byte[]> r) {
    try {
      // a heartbeat read while catching up is as old as its timestamp says (never newer than now);
      // one read live is dated on receipt, so the nodes' clocks skew nothing after the start
      long now = clock.currentTimeMillis();
      accept(NodeHeartbeat.parseFrom(r.value()), replayed(r) ? Math.min(now, r.timestamp()) : now);
    } catch (InvalidProtocolBufferException e) {
      // not ours to fix; the shard manager logs unreadable heartbeats
    }
  }

  /** Takes one heartbeat as received now (directly, in tests). */
  public void accept(NodeHeartbeat hb) {
    accept(hb, clock.currentTimeMillis());
  }

  private void accept(NodeHeartbeat hb, long sentMillis) {
    long now = clock.currentTimeMillis();
    Set<String> hosted = new HashSet<>();
    for (HostedShard s : hb.getShardsList()) {
      hosted.add(replica(hb.getAddress(), s.getShard()));
      generations.put(replica(hb.getAddress(), s.getShard()),
          new Reported(s.getSearcherGeneration(), s.getState() == ShardState.LIVE, sentMillis));
    }
    // a shard the node no longer reports is not served there any more; a replica silent for
    // FORGET_AFTER_FRESH freshness windows is forgotten (a node on port 0 gets a new address at
    // every restart, so its old entries would otherwise stay forever)
    generations.entrySet().removeIf(e -> e.getKey().startsWith(hb.getAddress() + "/") && !hosted.contains(e.getKey())
        || now - e.getValue().atMillis() > FORGET_AFTER_FRESH * freshMillis);
  }

  /** Replicas the watcher knows of now (for tests and metrics). */
  public int known() {
    return generations.size();
  }
}
