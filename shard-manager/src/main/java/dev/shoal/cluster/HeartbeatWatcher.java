package dev.shoal.cluster;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.shoal.api.json.Topics;
import dev.shoal.api.v1.HostedShard;
import dev.shoal.api.v1.NodeHeartbeat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Follows {@code shoal.cluster.heartbeats} from its end and keeps, for every replica, the
 * searcher generation it last reported: what a result cache needs to know that a shard's
 * visible documents changed. A replica silent for more than {@value #FRESH_MILLIS} ms reports
 * {@link #UNKNOWN}: nothing is known about what it serves. {@link #generation} is safe from any
 * thread.
 */
public final class HeartbeatWatcher extends TopicFollower {

  /** Returned for a replica that has not reported (never equal to a real generation). */
  public static final long UNKNOWN = Long.MIN_VALUE;
  static final long FRESH_MILLIS = 3_000;

  private record Reported(long generation, long atMillis) {
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

  @Override
  protected void handle(ConsumerRecord<String, byte[]> r) {
    try {
      NodeHeartbeat hb = NodeHeartbeat.parseFrom(r.value());
      for (HostedShard s : hb.getShardsList()) {
        generations.put(replica(hb.getAddress(), s.getShard()),
            new Reported(s.getSearcherGeneration(), System.currentTimeMillis()));
      }
    } catch (InvalidProtocolBufferException e) {
      // not ours to fix; the shard manager logs unreadable heartbeats
    }
  }
}
