package dev.shoal.manager;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.shoal.cluster.AssignmentWatcher;
import dev.shoal.cluster.KafkaSettings;
import dev.shoal.cluster.Topics;
import dev.shoal.server.ServiceLoop;
import dev.shoal.internal.v1.HostedShard;
import dev.shoal.internal.v1.NodeHeartbeat;
import dev.shoal.internal.v1.Replica;
import dev.shoal.internal.v1.ShardAssignment;
import dev.shoal.internal.v1.ShardPlacement;
import dev.shoal.internal.v1.ShardState;
import dev.shoal.manager.internal.ManagerElection;
import dev.shoal.manager.internal.Placement;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Places shards on index nodes from their heartbeats and publishes the epoch-stamped routing
 * table to {@code shoal.cluster.assignments}.
 *
 * <p>High availability: run two or more; they elect a leader through Kafka group membership
 * ({@link ManagerElection}), and only the leader publishes. Every manager follows heartbeats
 * all the time, so a standby that takes over knows the cluster at once. Two fences keep a
 * deposed leader out: its epochs carry the group generation of its term in their high bits
 * (older than any epoch of its successor, and nodes ignore older epochs), and all managers
 * publish through one transactional id, so the successor's producer fences the old one's.
 *
 * <p>A node is live while its heartbeats arrive within the failure timeout. Every second the
 * leader recomputes the placement ({@link Placement}: keep, fail over, fill to R, rebalance one
 * move at a time without dropping below R LIVE replicas); when it changes it publishes the next
 * epoch. It waits {@value #SETTLE_MILLIS} ms after it starts before its first placement, so
 * nodes starting together are placed together. Runs on its own thread; {@link #close()} stops
 * it and leaves the group at once, so a standby takes over without waiting for the session
 * timeout.
 */
public final class ShardManager extends ServiceLoop {

  private static final Logger LOG = LoggerFactory.getLogger(ShardManager.class);
  /** Shared by every manager: a new leader's producer fences the previous leader's. */
  static final String TRANSACTIONAL_ID = "shoal-shard-manager";
  /** Node label that placement spreads replicas across. */
  public static final String ZONE_LABEL = "zone";
  static final long SETTLE_MILLIS = 2_000;
  /**
   * A silent leader leads this long before a standby takes over: Kafka's default minimum group
   * session timeout ({@code group.min.session.timeout.ms}).
   */
  public static final int ELECTION_SESSION_MS = 6_000;

  private final String bootstrap;
  private final String managerId;
  private final int shards;
  private final int replicas;
  private final long failureTimeoutMs;
  private final AssignmentWatcher watcher;
  private final Map<String, NodeHeartbeat> lastBeat = new HashMap<>();
  private final Map<String, Long> lastSeen = new HashMap<>();
  private KafkaConsumer<String, byte[]> heartbeats;
  private ManagerElection election;
  private KafkaProducer<String, byte[]> producer;
  private long lastEvaluation;
  private long startedAt;
  private volatile boolean leading;
  /** Whether this term has published an assignment yet: a new leader always does, to fence the old epochs. */
  private boolean termAnnounced;

  /** @param failureTimeoutMs a node silent this long loses its shards */
  public ShardManager(String bootstrap, String managerId, int shards, int replicas, long failureTimeoutMs) {
    super("shard-manager");
    this.bootstrap = bootstrap;
    this.managerId = managerId;
    this.shards = shards;
    this.replicas = replicas;
    this.failureTimeoutMs = failureTimeoutMs;
    this.watcher = new AssignmentWatcher(bootstrap);
  }

  /** Whether this manager leads now. */
  public boolean leading() {
    return leading;
  }

  public String managerId() {
    return managerId;
  }

  @Override
  protected void onStart() {
    startedAt = System.currentTimeMillis();
    watcher.start();
    heartbeats = new KafkaConsumer<>(KafkaSettings.consumer(bootstrap, null));
    TopicPartition tp = new TopicPartition(Topics.HEARTBEATS, 0);
    heartbeats.assign(List.of(tp));
    heartbeats.seekToEnd(List.of(tp));
    election = new ManagerElection(bootstrap, managerId, ELECTION_SESSION_MS);
  }

  @Override
  protected void runOnce() {
    long now = System.currentTimeMillis();
    try {
      for (ConsumerRecord<String, byte[]> r : heartbeats.poll(Duration.ofMillis(200))) {
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
    boolean leads = election.poll(Duration.ofMillis(10));
    if (leads != leading) {
      leading = leads;
      termAnnounced = false;
      if (!leads) {
        closeProducer();
      }
    }
    if (leads && watcher.caughtUp() && now - startedAt >= SETTLE_MILLIS && now - lastEvaluation >= 1000) {
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
    Map<String, String> zones = new HashMap<>();
    Map<String, Set<Integer>> liveShards = new HashMap<>();
    Map<String, Double> load = new HashMap<>();
    for (String n : live) {
      NodeHeartbeat hb = lastBeat.get(n);
      zones.put(n, hb.getLabelsMap().getOrDefault(ZONE_LABEL, ""));
      load.put(n, hb.getLoad());
      Set<Integer> ls = new HashSet<>();
      for (HostedShard h : hb.getShardsList()) {
        if (h.getState() == ShardState.LIVE) {
          ls.add(h.getShard());
        }
      }
      liveShards.put(n, ls);
    }
    ShardAssignment current = watcher.current();
    Map<Integer, List<String>> placed = new HashMap<>();
    if (current != null) {
      for (ShardPlacement p : current.getPlacementsList()) {
        placed.put(p.getShard(), p.getReplicasList().stream().map(Replica::getNodeId).toList());
      }
    }
    Map<Integer, List<String>> next = Placement.place(shards, replicas,
        new Placement.Nodes(live, zones, liveShards, load), placed);
    long termFloor = (long) election.generation() << 32;
    ShardAssignment.Builder a = ShardAssignment.newBuilder()
        .setEpoch(Math.max(current == null ? 1 : current.getEpoch() + 1, termFloor))
        .setManagerId(managerId).setShardCount(shards).setIssuedAtMs(now);
    next.forEach((shard, nodes) -> {
      ShardPlacement.Builder p = ShardPlacement.newBuilder().setShard(shard);
      nodes.forEach(n -> p.addReplicas(Replica.newBuilder().setNodeId(n).setAddress(lastBeat.get(n).getAddress())));
      a.addPlacements(p);
    });
    if (termAnnounced && current != null && current.getPlacementsList().equals(a.getPlacementsList())) {
      return;
    }
    ShardAssignment assignment = a.build();
    try {
      publish(assignment);
    } catch (ProducerFencedException | InvalidProducerEpochException e) {
      LOG.warn("manager {} was fenced by a newer leader; stepping down: {}", managerId, e.getMessage());
      leading = false;
      closeProducer();
      return;
    } catch (KafkaException e) {
      LOG.warn("could not publish assignment epoch {}: {}", assignment.getEpoch(), e.getMessage());
      closeProducer();
      return;
    }
    termAnnounced = true;
    watcher.offer(assignment);
    LOG.info("published assignment epoch {} over live nodes {}: {}", assignment.getEpoch(), live, next);
  }

  private void publish(ShardAssignment assignment) {
    if (producer == null) {
      Properties p = KafkaSettings.producer(bootstrap);
      p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, TRANSACTIONAL_ID);
      p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "10000");
      producer = new KafkaProducer<>(p);
      producer.initTransactions(); // fences the previous leader's producer
    }
    producer.beginTransaction();
    producer.send(new ProducerRecord<>(Topics.ASSIGNMENTS, 0, "routing", assignment.toByteArray()));
    producer.commitTransaction();
  }

  private void closeProducer() {
    if (producer != null) {
      try {
        producer.close(Duration.ofSeconds(1));
      } catch (KafkaException e) {
        LOG.debug("closing a fenced producer: {}", e.getMessage());
      }
      producer = null;
    }
  }

  @Override
  protected void interrupt() {
    if (heartbeats != null) {
      heartbeats.wakeup();
    }
    if (election != null) {
      election.wakeup();
    }
  }

  @Override
  protected void onStop() {
    watcher.close();
    if (election != null) {
      election.close();
    }
    leading = false;
    if (heartbeats != null) {
      heartbeats.close(Duration.ofSeconds(1));
    }
    closeProducer();
  }
}
