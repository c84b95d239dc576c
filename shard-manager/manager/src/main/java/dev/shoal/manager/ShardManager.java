package dev.shoal.manager;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.shoal.cluster.AssignmentWatcher;
import dev.shoal.cluster.Epoch;
import dev.shoal.cluster.KafkaSettings;
import dev.shoal.cluster.Topics;
import dev.shoal.internal.v1.NodeHeartbeat;
import dev.shoal.internal.v1.Replica;
import dev.shoal.internal.v1.ShardAssignment;
import dev.shoal.internal.v1.ShardPlacement;
import dev.shoal.manager.internal.ManagerElection;
import dev.shoal.manager.internal.Membership;
import dev.shoal.manager.internal.Placement;
import dev.shoal.manager.internal.Planner;
import dev.shoal.server.ServiceLoop;
import dev.shoal.server.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.function.Function;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.ProducerFencedException;
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
 * publish through one transactional id, so the successor's producer fences the old one's. A
 * deposed leader that resumes (a paused process) may re-initialise that producer before it learns
 * it lost the election, fencing its successor in turn: so a manager that takes the producer reads
 * the topic first and steps down if a newer term is there, and a leader that finds itself fenced
 * steps down only if another manager has published in its term or a later one (else it takes the
 * producer back). Epochs on the topic only grow, and the rightful leader keeps leading.
 *
 * <p>A node is live while its heartbeats arrive within the failure timeout. Every second the
 * leader recomputes the placement ({@link Planner} over the {@link Membership}; {@link Placement}:
 * keep, fail over, fill to R, rebalance one move at a time without dropping below R LIVE
 * replicas); when it changes it publishes the next epoch. It waits the settle time after it starts
 * before its first placement, so nodes starting together are placed together. Time is the
 * injected clock's. Runs on its own thread; {@link #close()} stops
 * it and leaves the group at once, so a standby takes over without waiting for the session
 * timeout.
 */
public final class ShardManager extends ServiceLoop {

  private static final Logger LOG = LoggerFactory.getLogger(ShardManager.class);
  /** Shared by every manager: a new leader's producer fences the previous leader's. */
  static final String TRANSACTIONAL_ID = "shoal-shard-manager";
  /** Node label that placement spreads replicas across. */
  public static final String ZONE_LABEL = Membership.ZONE_LABEL;

  private final ShardManagerConfig config;
  private final Clock clock;
  private final AssignmentWatcher watcher;
  private final Membership membership;
  private final Planner planner;
  private KafkaConsumer<String, byte[]> heartbeats;
  private final Function<ShardManagerConfig, Election> elections;
  private Election election;
  /** The term this manager was fenced in: it stays a follower until the election moves past it. */
  private int fencedInTerm = Integer.MIN_VALUE;
  /**
   * Made while a standby (connecting, no transaction), so a takeover pays only its
   * initTransactions: a fresh producer and consumer on a busy machine cost seconds of the 10 s in
   * which a standby must lead.
   */
  private KafkaProducer<String, byte[]> producer;
  /** Whether {@link #producer} holds the transactional id (initTransactions done in this term). */
  private boolean producerHeld;
  /** Reads the newest committed assignments before a new term's first publish. */
  private KafkaConsumer<String, byte[]> latestReader;
  private long lastEvaluation;
  private long startedAt;
  private volatile boolean leading;
  /** Whether this term has published an assignment yet: a new leader always does, to fence the old epochs. */
  private boolean termAnnounced;

  public ShardManager(ShardManagerConfig config) {
    this(config, Clock.SYSTEM);
  }

  public ShardManager(ShardManagerConfig config, Clock clock) {
    this(config, clock, c -> new ManagerElection(c.bootstrap(), c.managerId(), c.electionSessionMs()));
  }

  /** @param elections how this manager learns whether it leads (tests pass a zombie's stub) */
  public ShardManager(ShardManagerConfig config, Clock clock, Function<ShardManagerConfig, Election> elections) {
    super("shard-manager");
    this.config = config;
    this.clock = clock;
    this.elections = elections;
    this.watcher = new AssignmentWatcher(config.bootstrap());
    this.membership = new Membership(clock, config.timings().freshMillis(), config.timings().failureMillis(),
        config.graceMillis());
    this.planner = new Planner(config.managerId(), config.shards(), config.replicas(), clock);
  }

  /** Whether this manager leads now. */
  public boolean leading() {
    return leading;
  }

  public String managerId() {
    return config.managerId();
  }

  @Override
  protected void onStart() {
    startedAt = clock.currentTimeMillis();
    watcher.start();
    heartbeats = new KafkaConsumer<>(KafkaSettings.consumer(config.bootstrap(), null));
    TopicPartition tp = new TopicPartition(Topics.HEARTBEATS, 0);
    heartbeats.assign(List.of(tp));
    heartbeats.seekToEnd(List.of(tp));
    latestReader = new KafkaConsumer<>(KafkaSettings.consumer(config.bootstrap(), null));
    latestReader.assign(List.of(new TopicPartition(Topics.ASSIGNMENTS, 0)));
    election = elections.apply(config);
  }

  @Override
  protected void runOnce() {
    try {
      for (ConsumerRecord<String, byte[]> r : heartbeats.poll(Duration.ofMillis(200))) {
        try {
          membership.heartbeat(NodeHeartbeat.parseFrom(r.value()));
        } catch (InvalidProtocolBufferException e) {
          LOG.warn("ignoring unreadable heartbeat: {}", e.getMessage());
        }
      }
    } catch (WakeupException e) {
      return;
    }
    // a manager fenced by a newer leader's producer stays a follower until the election moves on:
    // it may believe it leads for a while (a paused process, a partition from the coordinator)
    boolean leads = election.poll(Duration.ofMillis(10)) && election.generation() > fencedInTerm;
    if (leads != leading) {
      leading = leads;
      termAnnounced = false;
      if (!leads) {
        closeProducer();
      }
    }
    if (!leads && producer == null) {
      producer = newProducer(); // ready for a takeover; it holds nothing until initTransactions
    }
    long now = clock.currentTimeMillis();
    if (leads && watcher.caughtUp() && now - startedAt >= config.settleMillis()
        && now - lastEvaluation >= config.evaluateMillis()) {
      lastEvaluation = now;
      evaluate();
    }
  }

  private void evaluate() {
    ShardAssignment current = watcher.current();
    ShardAssignment assignment = planner.next(membership, current, election.generation());
    if (assignment == null) {
      return;
    }
    if (termAnnounced && current != null && current.getPlacementsList().equals(assignment.getPlacementsList())) {
      return;
    }
    try {
      if (!publish(assignment)) {
        stepDown("a newer term is on the topic");
        return;
      }
    } catch (ProducerFencedException | InvalidProducerEpochException e) {
      // fenced: by a newer leader, or by a deposed one that re-initialised the shared producer
      // before it noticed it was deposed. Only the topic tells them apart: step down if another
      // manager has published in this term or a later one, else take the producer back next round.
      ShardAssignment latest = latestOnTopic();
      if (latest != null && !latest.getManagerId().equals(config.managerId())
          && Epoch.term(latest.getEpoch()) >= election.generation()) {
        stepDown(e.getMessage());
      } else {
        LOG.warn("manager {} (term {}) was fenced, but no manager published a newer term: re-initialising",
            config.managerId(), election.generation());
        closeProducer();
      }
      return;
    } catch (KafkaException e) {
      LOG.warn("could not publish assignment epoch {}: {}", assignment.getEpoch(), e.getMessage());
      closeProducer();
      return;
    }
    termAnnounced = true;
    watcher.offer(assignment);
    LOG.info("published assignment epoch {}: {}", assignment.getEpoch(), summary(assignment));
  }

  private static String summary(ShardAssignment a) {
    StringBuilder sb = new StringBuilder();
    for (ShardPlacement p : a.getPlacementsList()) {
      sb.append(sb.isEmpty() ? "" : " ").append(p.getShard()).append('=')
          .append(String.join(",", p.getReplicasList().stream().map(Replica::getNodeId).toList()));
    }
    return sb.toString();
  }

  /** Publishes; false (nothing published) when a newer term than this manager's is on the topic. */
  private boolean publish(ShardAssignment assignment) {
    if (producer == null) {
      producer = newProducer();
    }
    if (!producerHeld) {
      producer.initTransactions(); // fences the previous leader's producer
      producerHeld = true;
      // a paused leader that resumes may still believe it leads: once it holds the producer, every
      // assignment committed before is readable, so a newer term among them means it was deposed
      ShardAssignment latest = latestOnTopic();
      if (latest != null && Epoch.term(latest.getEpoch()) > election.generation()) {
        return false;
      }
    }
    producer.beginTransaction();
    producer.send(new ProducerRecord<>(Topics.ASSIGNMENTS, 0, "routing", assignment.toByteArray()));
    producer.commitTransaction();
    return true;
  }

  private KafkaProducer<String, byte[]> newProducer() {
    Properties p = KafkaSettings.producer(config.bootstrap());
    p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, TRANSACTIONAL_ID);
    p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "10000");
    return new KafkaProducer<>(p);
  }

  private void stepDown(String why) {
    LOG.warn("manager {} steps down: deposed; a follower until its election moves past term {}: {}",
        config.managerId(), election.generation(), why);
    fencedInTerm = election.generation();
    leading = false;
    closeProducer();
  }

  /**
   * The newest committed assignment on the topic now (the highest epoch among its last records),
   * read with a consumer of its own; null when there is none or the topic cannot be read in 5 s.
   */
  private ShardAssignment latestOnTopic() {
    TopicPartition tp = new TopicPartition(Topics.ASSIGNMENTS, 0);
    KafkaConsumer<String, byte[]> c = latestReader;
    try {
      long end = c.endOffsets(List.of(tp), Duration.ofSeconds(5)).get(tp);
      // each publish is one record and one transaction marker: the last 32 offsets hold several records
      c.seek(tp, Math.max(0, end - 32));
      ShardAssignment newest = null;
      long deadline = clock.nanoTime() + Duration.ofSeconds(5).toNanos();
      while (c.position(tp) < end && clock.nanoTime() < deadline) {
        for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
          try {
            ShardAssignment a = ShardAssignment.parseFrom(r.value());
            if (newest == null || a.getEpoch() > newest.getEpoch()) {
              newest = a;
            }
          } catch (InvalidProtocolBufferException e) {
            LOG.warn("ignoring unreadable assignment at offset {}", r.offset());
          }
        }
      }
      return newest;
    } catch (KafkaException e) {
      LOG.warn("could not read the newest assignment: {}", e.getMessage());
      return null;
    }
  }

  private void closeProducer() {
    producerHeld = false;
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
    if (latestReader != null) {
      latestReader.wakeup();
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
    if (latestReader != null) {
      latestReader.close(Duration.ofSeconds(1));
    }
    closeProducer();
  }
}
