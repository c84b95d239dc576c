package dev.shoal.cluster;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.shoal.cluster.Topics;
import dev.shoal.internal.v1.HostedShard;
import dev.shoal.internal.v1.NodeHeartbeat;
import dev.shoal.internal.v1.ShardState;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Follows {@code shoal.cluster.heartbeats} from its end and keeps, for every replica, the
 * searcher generation it last reported: what a result cache needs to know that a shard's
 * visible documents changed. A replica silent for more than {@value #FRESH_MILLIS} ms reports
 * {@link #UNKNOWN}: nothing is known about what it serves. It also knows which replicas are
 * LIVE ({@link #tier}), which is what query services route by. Safe from any thread.
 */
public final class HeartbeatWatcher extends TopicFollower {

  /** Returned for a replica that has not reported (never equal to a real generation). */
  public static final long UNKNOWN = Long.MIN_VALUE;
  static final long FRESH_MILLIS = 3_000;

  private record Reported(long generation, boolean live, long atMillis) {
  }

  private final Map<String, Reported> generations = new ConcurrentHashMap<>();

  public HeartbeatWatcher(String bootstrap) {
    super("heartbeat-watcher", bootstrap, Topics.HEARTBEATS, false);
  }

  /** The key of a replica: "address/shard". */
  public static String replica(String address, int shard) {
    return address + "/" + shard;
  }

  public long generation(String replica) {
    Reported r = generations.get(replica);
    return r == null || System.currentTimeMillis() - r.atMillis() > FRESH_MILLIS ? UNKNOWN : r.generation();
  }

  /** Route preference: LIVE in a fresh heartbeat. */
  public static final int SERVING = 0;
  /** Reported in a fresh heartbeat, but not LIVE yet (recovering or catching up). */
  public static final int BUILDING = 1;
  /** No fresh heartbeat names this replica. */
  public static final int SILENT = 2;

  /**
   * What is known of a replica: {@link #SERVING}, {@link #BUILDING} or {@link #SILENT}. Query
   * services route to the best tier a shard has, so a replica still building gets no queries
   * while another one is LIVE.
   */
  public int tier(String address, int shard) {
    Reported r = generations.get(replica(address, shard));
    if (r == null || System.currentTimeMillis() - r.atMillis() > FRESH_MILLIS) {
      return SILENT;
    }
    return r.live() ? SERVING : BUILDING;
  }

  @Override
  protected void handle(ConsumerRecord<String, byte[]> r) {
    try {
      NodeHeartbeat hb = NodeHeartbeat.parseFrom(r.value());
      long now = System.currentTimeMillis();
      java.util.Set<String> hosted = new java.util.HashSet<>();
      for (HostedShard s : hb.getShardsList()) {
        hosted.add(replica(hb.getAddress(), s.getShard()));
        generations.put(replica(hb.getAddress(), s.getShard()),
            new Reported(s.getSearcherGeneration(), s.getState() == ShardState.LIVE, now));
      }
      // a shard the node no longer reports is not served there any more
      generations.keySet().removeIf(k -> k.startsWith(hb.getAddress() + "/") && !hosted.contains(k));
    } catch (InvalidProtocolBufferException e) {
      // not ours to fix; the shard manager logs unreadable heartbeats
    }
  }
}
