package dev.shoal.indexnode;

import dev.shoal.cluster.AssignmentWatcher;
import dev.shoal.cluster.HeartbeatPublisher;
import dev.shoal.cluster.KafkaSettings;
import dev.shoal.indexnode.internal.IndexLoop;
import dev.shoal.indexnode.internal.ReplicaStates;
import dev.shoal.indexnode.internal.ShardSearchService;
import dev.shoal.indexnode.shard.SearchThreads;
import dev.shoal.indexnode.shard.ShardStore;
import dev.shoal.internal.v1.HostedShard;
import dev.shoal.internal.v1.NodeHeartbeat;
import dev.shoal.internal.v1.ShardAssignment;
import dev.shoal.internal.v1.ShardPlacement;
import dev.shoal.internal.v1.ShardState;
import dev.shoal.server.GrpcServer;
import dev.shoal.server.Metrics;
import dev.shoal.server.ServiceLoop;
import dev.shoal.server.time.Clock;
import dev.shoal.server.tls.Tls;
import java.io.IOException;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An index node: hosts the shards the routing table gives it, replays each shard's partition of
 * {@code shoal.docs.enriched} into a {@link ShardStore} ({@link IndexLoop}), serves
 * {@code ShardSearch}, and heartbeats its replicas' states ({@link ReplicaStates},
 * {@link HeartbeatPublisher}). Wires parts; each owns its logic.
 *
 * <p>Threads: the indexing thread owns the Kafka consumer and every write (it also opens and
 * closes shards when the assignment changes, and refreshes a rebuilding replica as it turns
 * LIVE); a scheduler refreshes the other replicas' searchers; the heartbeat thread reports; a pool
 * of its own runs shard calls. Lifecycle: {@link #start()}, then {@link #close()}.
 */
public final class IndexNode implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(IndexNode.class);
  private final IndexNodeConfig config;
  private final Clock clock;
  private final Metrics metrics;
  private final Map<Integer, ShardStore> shards = new ConcurrentSkipListMap<>();
  private final ReplicaStates states;
  private final AtomicReference<Set<Integer>> desired = new AtomicReference<>(Set.of());
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicLong appliedEpoch = new AtomicLong();
  private final AssignmentWatcher watcher;
  private final IndexLoop indexLoop;
  private final Metrics.Histogram refreshSeconds;
  private final ScheduledExecutorService refresher = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "index-node-refresh");
    t.setDaemon(true);
    return t;
  });
  private ShardSearchService search;
  private final ExecutorService searchPool = Executors.newFixedThreadPool(
      Math.max(2, Runtime.getRuntime().availableProcessors()), r -> {
        Thread t = new Thread(r, "shard-search");
        t.setDaemon(true);
        return t;
      });
  /** A lone search spreads its shards' segments over every core; under load, one thread each. */
  private final SearchThreads searchThreads = SearchThreads.upTo(Runtime.getRuntime().availableProcessors(), inFlight);
  /** The heartbeat label placement reads a node's zone from (the shard manager's ZONE_LABEL). */
  public static final String ZONE_LABEL = "zone";
  private GrpcServer server;
  private Tls tls = Tls.plaintext();
  private HeartbeatPublisher heartbeats;

  public IndexNode(IndexNodeConfig config) {
    this(config, new Metrics(), Clock.SYSTEM);
  }

  public IndexNode(IndexNodeConfig config, Metrics metrics) {
    this(config, metrics, Clock.SYSTEM);
  }

  public IndexNode(IndexNodeConfig config, Metrics metrics, Clock clock) {
    this.config = config;
    this.clock = clock;
    this.metrics = metrics;
    this.states = new ReplicaStates(config.nodeId(), config.liveLag());
    this.refreshSeconds = metrics.histogram("shoal_indexer_refresh_seconds", "Near-real-time refresh of one shard.",
        Metrics.LATENCY_SECONDS, "node", config.nodeId());
    this.watcher = new AssignmentWatcher(config.bootstrap());
    this.indexLoop = new IndexLoop(config, shards, states, desired::get, () -> new KafkaConsumer<>(replayConsumer()),
        clock, metrics);
  }

  /**
   * The index loop's consumer, sized for a replica that rebuilds from the start of the enriched
   * topic: an enriched record is 3-4 KB (a 384-float vector and the passage), so Kafka's default
   * 1 MB per partition and fetch is ~300 records; 8 MB per partition and up to 4,000 records a
   * poll keep the loop applying instead of waiting on fetches. A poll holds at most
   * {@code fetch.max.bytes} (32 MB) in memory.
   */
  private Properties replayConsumer() {
    Properties p = KafkaSettings.consumer(config.bootstrap(), null);
    p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Integer.toString(8 << 20));
    p.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, Integer.toString(32 << 20));
    p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "4000");
    return p;
  }

  public IndexNode start() {
    search = new ShardSearchService(config.nodeId(), shards::get, inFlight, metrics, searchThreads);
    // shard calls run on their own pool, never on the transport's event loops: one slow call (a
    // regexp over a large term dictionary, a deep page of snippets) must not hold up the others
    tls = Tls.of(config.tls());
    server = GrpcServer.forAddress(config.host(), config.port()).service(search).executor(searchPool).tls(tls)
        .metrics(metrics).start();
    states.reportTo(server);
    heartbeats = new HeartbeatPublisher(config.bootstrap(), config.timings(), this::heartbeat).start();
    watcher.onAssignment(this::onAssignment);
    watcher.start();
    indexLoop.start();
    refresher.scheduleWithFixedDelay(this::refreshAll, config.refreshMillis(), config.refreshMillis(),
        TimeUnit.MILLISECONDS);
    LOG.info("index node {} serving ShardSearch on {}", config.nodeId(), server.address());
    return this;
  }

  /** The node's loops (indexing, routing-table follower): if one stops on an error, the node's work has stopped. */
  public List<ServiceLoop> loops() {
    return List.of(indexLoop, watcher);
  }

  /** Where other services reach this node's ShardSearch: the advertised host (or the bound one) and the port. */
  public String address() {
    return config.advertisedHost() == null ? server.address() : config.advertisedHost() + ":" + server.port();
  }

  /** Whether every shard this node hosts is LIVE (true with none): what its health reports as SERVING. */
  public boolean allShardsLive() {
    return states.hosted().stream().allMatch(s -> states.state(s) == ShardState.LIVE);
  }

  public String nodeId() {
    return config.nodeId();
  }

  /** The shards hosted right now, with their stores (read-only view). */
  public Map<Integer, ShardStore> shards() {
    return Collections.unmodifiableMap(shards);
  }

  public ShardState state(int shard) {
    return states.state(shard);
  }

  /**
   * Whether every hosted shard has compacted its small segments since its last write (or had none
   * to compact): its searchers and its last commit then hold the same few segments. True when
   * compaction is off ({@link IndexNodeConfig#compactAfterMillis} 0).
   */
  public boolean compacted() {
    return indexLoop.compactedAll();
  }

  /** Records of the shard's partition not applied yet, as last measured (-1 before the first measurement). */
  public long lag(int shard) {
    return states.lag(shard);
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
        // a replica rebuilding serves no query until it is LIVE, and the index loop refreshes it
        // as it turns LIVE: refreshing it meanwhile only cuts small segments to merge again
        if (s.visibleOffset() != s.appliedOffset() && !states.rebuilding(s.shard())) {
          long start = clock.nanoTime();
          s.refresh();
          refreshSeconds.observe((clock.nanoTime() - start) / 1e9);
        }
      } catch (IOException | RuntimeException e) {
        LOG.warn("refresh of shard {} failed: {}", s.shard(), e.toString());
      }
    }
  }

  private NodeHeartbeat heartbeat() {
    NodeHeartbeat.Builder hb = NodeHeartbeat.newBuilder().setNodeId(config.nodeId()).setAddress(address())
        .setLoad(inFlight.get()).setTimestampMs(clock.currentTimeMillis()).setAssignmentEpoch(appliedEpoch.get());
    if (!config.zone().isEmpty()) {
      hb.putLabels(ZONE_LABEL, config.zone());
    }
    for (int shard : states.hosted()) {
      HostedShard.Builder h = HostedShard.newBuilder().setShard(shard).setState(states.state(shard))
          .setLag(states.lag(shard)).setFailure(states.failure(shard));
      ShardStore s = shards.get(shard);
      if (s != null && s.tryAcquire()) {
        try {
          h.setDocCount(s.docCount()).setSearcherGeneration(s.searcherGeneration()).setDeadLetters(s.deadLetterCount());
        } finally {
          s.release();
        }
      }
      hb.addShards(h);
    }
    return hb.build();
  }

  /**
   * Stops heartbeating, then serving (in-flight calls drain for up to 2 s), then indexing: every
   * shard is committed and closed once no call reads it any more.
   */
  @Override
  public void close() {
    if (heartbeats != null) {
      heartbeats.close();
    }
    if (server != null) {
      server.close();
    }
    tls.close();
    if (search != null) {
      search.close();
    }
    searchPool.shutdown();
    refresher.shutdownNow();
    watcher.close();
    indexLoop.close();
    searchPool.shutdownNow();
    searchThreads.close();
  }
}
