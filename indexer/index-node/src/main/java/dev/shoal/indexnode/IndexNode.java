package dev.shoal.indexnode;

import dev.shoal.indexnode.internal.ShardSearchService;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.shoal.cluster.Topics;
import dev.shoal.server.GrpcService;
import dev.shoal.server.Metrics;
import dev.shoal.server.ServiceLoop;
import dev.shoal.internal.v1.EnrichedDocument;
import dev.shoal.internal.v1.HostedShard;
import dev.shoal.internal.v1.NodeHeartbeat;
import dev.shoal.internal.v1.ShardAssignment;
import dev.shoal.internal.v1.ShardPlacement;
import dev.shoal.internal.v1.ShardSearchGrpc;
import dev.shoal.internal.v1.ShardState;
import dev.shoal.cluster.AssignmentWatcher;
import dev.shoal.cluster.KafkaSettings;
import dev.shoal.indexnode.shard.ShardStore;
import io.grpc.BindableService;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import java.io.IOException;
import java.time.Duration;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An index node: hosts the shards the routing table gives it, replays each shard's partition
 * of {@code shoal.docs.enriched} into a {@link ShardStore}, serves {@code ShardSearch}, and
 * publishes a heartbeat every second.
 *
 * <p>Threads: one indexing thread owns the Kafka consumer and all writes (it also opens and
 * closes shards when the assignment changes); a scheduler refreshes searchers and sends
 * heartbeats; gRPC threads search. Lifecycle: {@link #start()}, then {@link #close()}, which
 * stops indexing, commits every shard and closes the server.
 */
public final class IndexNode implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(IndexNode.class);
  private final IndexNodeConfig config;
  private final Map<Integer, ShardStore> shards = new ConcurrentSkipListMap<>();
  private final Map<Integer, ShardState> states = new ConcurrentHashMap<>();
  private final AtomicReference<Set<Integer>> desired = new AtomicReference<>(Set.of());
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicReference<Long> appliedEpoch = new AtomicReference<>(0L);
  private final AssignmentWatcher watcher;
  private final IndexLoop indexLoop;
  private final ScheduledExecutorService scheduler = Executors.newScheduledThreadPool(1, r -> {
    Thread t = new Thread(r, "index-node-scheduler");
    t.setDaemon(true);
    return t;
  });
  private GrpcService server;
  private KafkaProducer<String, byte[]> heartbeatProducer;

  private final Metrics metrics;
  private final Metrics.Histogram refreshSeconds;
  private final Metrics.Histogram commitSeconds;

  public IndexNode(IndexNodeConfig config) {
    this(config, new Metrics());
  }

  public IndexNode(IndexNodeConfig config, Metrics metrics) {
    this.config = config;
    this.metrics = metrics;
    this.refreshSeconds = metrics.histogram("shoal_indexer_refresh_seconds", "Near-real-time refresh of one shard.",
        Metrics.LATENCY_SECONDS, "node", config.nodeId());
    this.commitSeconds = metrics.histogram("shoal_indexer_commit_seconds", "Durable commit of one shard.",
        Metrics.LATENCY_SECONDS, "node", config.nodeId());
    this.watcher = new AssignmentWatcher(config.bootstrap());
    this.indexLoop = new IndexLoop();
  }

  public IndexNode start() {
    ShardSearchService search = new ShardSearchService(config.nodeId(), shards::get, inFlight, metrics);
    server = new GrpcService(config.host(), config.port()) {
      @Override
      protected List<BindableService> services() {
        return List.of(search);
      }

      @Override
      protected boolean handlersNeverBlock() {
        return true; // shard searches and reads: CPU and local storage only
      }
    }.start();
    server.setHealth(ShardSearchGrpc.SERVICE_NAME, ServingStatus.NOT_SERVING);
    heartbeatProducer = new KafkaProducer<>(KafkaSettings.producer(config.bootstrap()));
    watcher.onAssignment(this::onAssignment);
    watcher.start();
    indexLoop.start();
    scheduler.scheduleWithFixedDelay(this::refreshAll, config.refreshMillis(), config.refreshMillis(),
        TimeUnit.MILLISECONDS);
    scheduler.scheduleWithFixedDelay(this::heartbeat, 0, 1, TimeUnit.SECONDS);
    LOG.info("index node {} serving ShardSearch on {}", config.nodeId(), server.address());
    return this;
  }

  public String address() {
    return server.address();
  }

  public String nodeId() {
    return config.nodeId();
  }

  /** The shards hosted right now, with their stores (read-only view). */
  public Map<Integer, ShardStore> shards() {
    return java.util.Collections.unmodifiableMap(shards);
  }

  public ShardState state(int shard) {
    return states.getOrDefault(shard, ShardState.SHARD_STATE_UNSPECIFIED);
  }

  private void onAssignment(ShardAssignment a) {
    Set<Integer> mine = new TreeSet<>();
    for (ShardPlacement p : a.getPlacementsList()) {
      if (p.getReplicasList().stream().anyMatch(r -> r.getNodeId().equals(config.nodeId()))) {
        mine.add(p.getShard());
      }
    }
    desired.set(Set.copyOf(mine));
    appliedEpoch.set(a.getEpoch());
    LOG.info("node {} assignment epoch {}: shards {}", config.nodeId(), a.getEpoch(), mine);
  }

  private void refreshAll() {
    for (ShardStore s : shards.values()) {
      try {
        if (s.visibleOffset() != s.appliedOffset()) {
          long start = System.nanoTime();
          s.refresh();
          refreshSeconds.observeSince(start);
        }
      } catch (IOException | RuntimeException e) {
        LOG.warn("refresh of shard {} failed: {}", s.shard(), e.toString());
      }
    }
  }

  private void heartbeat() {
    try {
      NodeHeartbeat.Builder hb = NodeHeartbeat.newBuilder().setNodeId(config.nodeId()).setAddress(server.address())
          .setLoad(inFlight.get()).setTimestampMs(System.currentTimeMillis()).setAssignmentEpoch(appliedEpoch.get());
      for (ShardStore s : shards.values()) {
        hb.addShards(HostedShard.newBuilder().setShard(s.shard()).setState(state(s.shard())).setLag(s.lag())
            .setDocCount(s.docCount()).setSearcherGeneration(s.searcherGeneration()));
      }
      heartbeatProducer.send(new ProducerRecord<>(Topics.HEARTBEATS, 0, config.nodeId(), hb.build().toByteArray()));
    } catch (RuntimeException e) {
      LOG.warn("heartbeat failed: {}", e.toString());
    }
  }

  /** The indexing thread: reconciles hosted shards with the assignment, replays, commits. */
  private final class IndexLoop extends ServiceLoop {
    private KafkaConsumer<String, byte[]> consumer;
    private long lastCommit = System.currentTimeMillis();

    IndexLoop() {
      super("index-" + config.nodeId());
    }

    @Override
    protected void onStart() {
      consumer = new KafkaConsumer<>(KafkaSettings.consumer(config.bootstrap(), null));
    }

    @Override
    protected void runOnce() throws IOException {
      reconcile();
      if (shards.isEmpty()) {
        try {
          Thread.sleep(100);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        return;
      }
      ConsumerRecords<String, byte[]> records;
      try {
        records = consumer.poll(Duration.ofMillis(200));
      } catch (WakeupException e) {
        return;
      }
      for (TopicPartition tp : records.partitions()) {
        ShardStore store = shards.get(tp.partition());
        if (store == null) {
          continue;
        }
        List<ConsumerRecord<String, byte[]>> rs = records.records(tp);
        List<Map.Entry<Long, EnrichedDocument>> batch = new ArrayList<>(rs.size());
        for (ConsumerRecord<String, byte[]> r : rs) {
          try {
            batch.add(new AbstractMap.SimpleImmutableEntry<>(r.offset(), EnrichedDocument.parseFrom(r.value())));
          } catch (InvalidProtocolBufferException e) {
            // only the enricher writes this topic; an unreadable record is a bug, not user input
            LOG.error("skipping unreadable enriched record {}@{}: {}", tp, r.offset(), e.getMessage());
          }
        }
        store.apply(batch, rs.getLast().offset() + 1);
        metrics.counter("shoal_indexer_documents_indexed_total", "Enriched records applied to a shard.",
            "node", config.nodeId(), "shard", Integer.toString(tp.partition())).add(batch.size());
      }
      updateStates();
      long now = System.currentTimeMillis();
      boolean due = now - lastCommit >= config.commitMillis();
      for (ShardStore s : shards.values()) {
        if ((due && s.appliedOffset() != s.committedOffset()) || s.pendingSinceCommit() >= config.commitDocs()) {
          long start = System.nanoTime();
          s.commit();
          commitSeconds.observeSince(start);
        }
      }
      if (due) {
        lastCommit = now;
      }
    }

    private void updateStates() {
      // one broker round trip for all hosted partitions, not one per shard
      Map<TopicPartition, Long> ends = consumer.endOffsets(consumer.assignment());
      for (ShardStore s : shards.values()) {
        TopicPartition tp = new TopicPartition(Topics.ENRICHED, s.shard());
        // position() rather than the applied offset: transaction markers occupy offsets too
        long end = ends.getOrDefault(tp, 0L);
        long lag = Math.max(0, end - consumer.position(tp));
        s.setLag(lag);
        ShardState state = lag <= config.liveLag() ? ShardState.LIVE : ShardState.CATCHING_UP;
        ShardState prev = states.put(s.shard(), state);
        if (prev != state) {
          LOG.info("shard {} on {} is {} (lag {})", s.shard(), config.nodeId(), state, lag);
          server.setHealth(ShardSearchGrpc.SERVICE_NAME + "/shard-" + s.shard(),
              state == ShardState.LIVE ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
        }
      }
      boolean allLive = !shards.isEmpty() && shards.keySet().stream().allMatch(k -> states.get(k) == ShardState.LIVE);
      server.setHealth(ShardSearchGrpc.SERVICE_NAME, allLive ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
    }

    private void reconcile() throws IOException {
      Set<Integer> want = desired.get();
      if (want.equals(shards.keySet())) {
        return;
      }
      for (Integer s : new ArrayList<>(shards.keySet())) {
        if (!want.contains(s)) {
          states.remove(s);
          shards.remove(s).close();
          metrics.removeGauge("shoal_indexer_consumer_lag", "node", config.nodeId(), "shard", Integer.toString(s));
          LOG.info("node {} closed shard {}", config.nodeId(), s);
        }
      }
      for (Integer s : want) {
        if (!shards.containsKey(s)) {
          states.put(s, ShardState.RECOVERING);
          ShardStore store = new ShardStore(s, config.dataDir().resolve("shard-" + s));
          shards.put(s, store);
          metrics.gauge("shoal_indexer_consumer_lag", "Records of the shard's partition not yet applied.",
              () -> Math.max(0, store.lag()), "node", config.nodeId(), "shard", Integer.toString(s));
          LOG.info("node {} opened shard {} at offset {}", config.nodeId(), s, store.recoveredOffset());
        }
      }
      List<TopicPartition> tps = shards.keySet().stream().map(s -> new TopicPartition(Topics.ENRICHED, s)).toList();
      consumer.assign(tps);
      for (TopicPartition tp : tps) {
        consumer.seek(tp, shards.get(tp.partition()).appliedOffset());
      }
    }

    @Override
    protected void interrupt() {
      if (consumer != null) {
        consumer.wakeup();
      }
    }

    @Override
    protected void onStop() throws IOException {
      if (consumer != null) {
        consumer.close(Duration.ofSeconds(1));
      }
      IOException first = null;
      for (Integer s : new ArrayList<>(shards.keySet())) {
        try {
          shards.remove(s).close();
        } catch (IOException e) {
          first = first == null ? e : first;
        }
      }
      if (first != null) {
        throw first;
      }
    }
  }

  @Override
  public void close() {
    scheduler.shutdownNow();
    watcher.close();
    indexLoop.close();
    if (heartbeatProducer != null) {
      heartbeatProducer.close(Duration.ofSeconds(1));
    }
    if (server != null) {
      server.close();
    }
  }
}
