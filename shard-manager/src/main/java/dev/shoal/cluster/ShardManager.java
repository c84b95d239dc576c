package dev.shoal.cluster;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.shoal.api.json.Topics;
import dev.shoal.api.server.ServiceLoop;
import dev.shoal.api.v1.NodeHeartbeat;
import dev.shoal.api.v1.Replica;
import dev.shoal.api.v1.ShardAssignment;
import dev.shoal.api.v1.ShardPlacement;
import dev.shoal.cluster.internal.Placement;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Places shards on index nodes from their heartbeats and publishes the epoch-stamped routing
 * table to {@code shoal.cluster.assignments}.
 *
 * <p>A node is live while its heartbeats arrive within the failure timeout. Every second the
 * manager recomputes the placement ({@link Placement}); when it changes, or the address of a
 * replica changes, it publishes a new assignment with the next epoch, continuing from the
 * newest epoch on the topic. After it starts it listens for {@value #SETTLE_MILLIS} ms before
 * its first placement, so nodes starting together are placed together rather than all shards
 * landing on whichever heartbeat came first. Runs on its own thread; {@link #close()} stops it.
 */
public final class ShardManager extends ServiceLoop {

  private static final Logger LOG = LoggerFactory.getLogger(ShardManager.class);
  private final String bootstrap;
  private final String managerId;
  private final int shards;
  private final int replicas;
  private final long failureTimeoutMs;
  private final AssignmentWatcher watcher;
  private final Map<String, NodeHeartbeat> lastBeat = new HashMap<>();
  private final Map<String, Long> lastSeen = new HashMap<>();
  private KafkaConsumer<String, byte[]> heartbeats;
  private KafkaProducer<String, byte[]> producer;
  private long lastEvaluation;
  private long startedAt;
  static final long SETTLE_MILLIS = 2_000;

  public ShardManager(String bootstrap, String managerId, int shards, int replicas, long failureTimeoutMs) {
    super("shard-manager");
    this.bootstrap = bootstrap;
    this.managerId = managerId;
    this.shards = shards;
    this.replicas = replicas;
    this.failureTimeoutMs = failureTimeoutMs;
    this.watcher = new AssignmentWatcher(bootstrap);
  }

  @Override
  protected void onStart() {
    startedAt = System.currentTimeMillis();
    watcher.start();
    producer = new KafkaProducer<>(KafkaSettings.producer(bootstrap));
    heartbeats = new KafkaConsumer<>(KafkaSettings.consumer(bootstrap, null));
    TopicPartition tp = new TopicPartition(Topics.HEARTBEATS, 0);
    heartbeats.assign(List.of(tp));
    heartbeats.seekToEnd(List.of(tp));
  }

  @Override
  protected void runOnce() {
    long now = System.currentTimeMillis();
    try {
      for (ConsumerRecord<String, byte[]> r : heartbeats.poll(Duration.ofMillis(250))) {
        try {
          NodeHeartbeat hb = NodeHeartbeat.parseFrom(r.value());
          lastBeat.put(hb.getNodeId(), hb);
          lastSeen.put(hb.getNodeId(), now);
        } catch (InvalidProtocolBufferException e) {
          LOG.warn("ignoring unreadable heartbeat: {}", e.getMessage());
        }
      }
    } catch (WakeupException e) {
      return;
    }
    if (now - startedAt >= SETTLE_MILLIS && now - lastEvaluation >= 1000) {
      lastEvaluation = now;
      evaluate(now);
    }
  }

  private void evaluate(long now) {
    Set<String> live = new TreeSet<>();
    lastSeen.forEach((node, seen) -> {
      if (now - seen <= failureTimeoutMs) {
        live.add(node);
      }
    });
    if (live.isEmpty()) {
      return;
    }
    ShardAssignment current = watcher.current();
    Map<Integer, List<String>> placed = new HashMap<>();
    if (current != null) {
      for (ShardPlacement p : current.getPlacementsList()) {
        placed.put(p.getShard(), p.getReplicasList().stream().map(Replica::getNodeId).toList());
      }
    }
    Map<Integer, List<String>> next = Placement.place(shards, replicas, live, placed);
    ShardAssignment.Builder a = ShardAssignment.newBuilder()
        .setEpoch(current == null ? 1 : current.getEpoch() + 1)
        .setManagerId(managerId).setShardCount(shards).setIssuedAtMs(now);
    next.forEach((shard, nodes) -> {
      ShardPlacement.Builder p = ShardPlacement.newBuilder().setShard(shard);
      nodes.forEach(n -> p.addReplicas(Replica.newBuilder().setNodeId(n).setAddress(lastBeat.get(n).getAddress())));
      a.addPlacements(p);
    });
    if (current != null && current.getPlacementsList().equals(a.getPlacementsList())) {
      return;
    }
    ShardAssignment assignment = a.build();
    producer.send(new ProducerRecord<>(Topics.ASSIGNMENTS, 0, "routing", assignment.toByteArray()));
    producer.flush();
    watcher.offer(assignment);
    LOG.info("published assignment epoch {} over live nodes {}: {}", assignment.getEpoch(), live, next);
  }

  @Override
  protected void interrupt() {
    if (heartbeats != null) {
      heartbeats.wakeup();
    }
  }

  @Override
  protected void onStop() {
    watcher.close();
    if (heartbeats != null) {
      heartbeats.close(Duration.ofSeconds(1));
    }
    if (producer != null) {
      producer.close(Duration.ofSeconds(2));
    }
  }
}
