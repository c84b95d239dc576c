package dev.shoal.testkit;

import dev.shoal.cluster.KafkaSettings;
import dev.shoal.cluster.Topics;
import dev.shoal.internal.v1.HostedShard;
import dev.shoal.internal.v1.NodeHeartbeat;
import dev.shoal.internal.v1.ShardAssignment;
import dev.shoal.internal.v1.ShardState;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;

/**
 * What the cluster says about itself, for tests: every heartbeat and every assignment on the
 * cluster topics, followed from the beginning on a background thread.
 */
public final class ClusterView implements AutoCloseable {

  /** A heartbeat and when this view received it. */
  public record Beat(NodeHeartbeat heartbeat, long receivedAtMillis) {
  }

  /** An assignment and when this view received it. */
  public record Published(ShardAssignment assignment, long receivedAtMillis) {
  }

  private final KafkaConsumer<String, byte[]> consumer;
  private final Map<String, Beat> lastBeat = new ConcurrentHashMap<>();
  private final List<Beat> beats = new CopyOnWriteArrayList<>();
  private final List<Published> assignments = new CopyOnWriteArrayList<>();
  private final Thread thread;
  private volatile boolean running = true;

  public ClusterView(String bootstrap) {
    consumer = new KafkaConsumer<>(KafkaSettings.consumer(bootstrap, null));
    List<TopicPartition> tps = List.of(new TopicPartition(Topics.HEARTBEATS, 0),
        new TopicPartition(Topics.ASSIGNMENTS, 0));
    consumer.assign(tps);
    consumer.seekToBeginning(tps);
    thread = new Thread(this::run, "cluster-view");
    thread.setDaemon(true);
    thread.start();
  }

  private void run() {
    try {
      while (running) {
        for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(100))) {
          long now = System.currentTimeMillis();
          try {
            if (r.topic().equals(Topics.HEARTBEATS)) {
              Beat b = new Beat(NodeHeartbeat.parseFrom(r.value()), now);
              beats.add(b);
              lastBeat.put(b.heartbeat().getNodeId(), b);
            } else {
              assignments.add(new Published(ShardAssignment.parseFrom(r.value()), now));
            }
          } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
          }
        }
      }
    } catch (WakeupException e) {
      // closing
    } finally {
      consumer.close();
    }
  }

  /** Nodes whose last heartbeat is at most this old. */
  public Map<String, NodeHeartbeat> freshNodes(long maxAgeMillis) {
    long now = System.currentTimeMillis();
    Map<String, NodeHeartbeat> out = new HashMap<>();
    lastBeat.forEach((n, b) -> {
      if (now - b.receivedAtMillis() <= maxAgeMillis) {
        out.put(n, b.heartbeat());
      }
    });
    return out;
  }

  public List<Beat> beats() {
    return new ArrayList<>(beats);
  }

  public List<Published> assignments() {
    return new ArrayList<>(assignments);
  }

  public ShardAssignment latest() {
    List<Published> all = assignments();
    return all.isEmpty() ? null : all.getLast().assignment();
  }

  /**
   * Whether every shard of the latest assignment has {@code replicas} replicas on nodes that
   * heartbeat now and report it LIVE with no lag and {@code docs} documents over all shards.
   */
  public boolean fullyReplicated(int shards, int replicas, long docsPerReplicaSet) {
    ShardAssignment a = latest();
    if (a == null) {
      return false;
    }
    Map<String, NodeHeartbeat> fresh = freshNodes(2_500);
    long docs = 0;
    for (var p : a.getPlacementsList()) {
      if (p.getReplicasCount() != replicas) {
        return false;
      }
      long shardDocs = -1;
      for (var r : p.getReplicasList()) {
        NodeHeartbeat hb = fresh.get(r.getNodeId());
        HostedShard h = hb == null ? null : hb.getShardsList().stream().filter(s -> s.getShard() == p.getShard())
            .findFirst().orElse(null);
        if (h == null || h.getState() != ShardState.LIVE || h.getLag() != 0
            || (shardDocs >= 0 && shardDocs != h.getDocCount())) {
          return false;
        }
        shardDocs = h.getDocCount();
      }
      docs += shardDocs;
    }
    return a.getPlacementsCount() == shards && docs == docsPerReplicaSet;
  }

  /** Waits until the latest heartbeat of every node heard from in the last 2.5 s satisfies the condition. */
  public boolean awaitNodes(java.util.function.Predicate<Map<String, NodeHeartbeat>> condition, long timeoutMillis)
      throws InterruptedException {
    return await(() -> condition.test(freshNodes(2_500)), timeoutMillis);
  }

  /** Every shard the node hosts is LIVE with no lag. */
  public static boolean allLive(NodeHeartbeat hb) {
    return hb.getShardsList().stream().allMatch(s -> s.getState() == ShardState.LIVE && s.getLag() == 0);
  }

  /** Documents over every shard the node hosts. */
  public static long docs(NodeHeartbeat hb) {
    return hb.getShardsList().stream().mapToLong(HostedShard::getDocCount).sum();
  }

  public static boolean await(BooleanSupplier condition, long timeoutMillis) throws InterruptedException {
    long until = System.currentTimeMillis() + timeoutMillis;
    while (System.currentTimeMillis() < until) {
      if (condition.getAsBoolean()) {
        return true;
      }
      Thread.sleep(100);
    }
    return condition.getAsBoolean();
  }

  @Override
  public void close() throws InterruptedException {
    running = false;
    consumer.wakeup();
    thread.join(5_000);
  }
}
