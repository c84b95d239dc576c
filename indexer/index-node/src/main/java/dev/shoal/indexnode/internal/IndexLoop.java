package dev.shoal.indexnode.internal;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.shoal.cluster.Topics;
import dev.shoal.indexnode.IndexNodeConfig;
import dev.shoal.indexnode.shard.ShardStore;
import dev.shoal.internal.v1.EnrichedDocument;
import dev.shoal.server.Metrics;
import dev.shoal.server.ServiceLoop;
import dev.shoal.server.time.Clock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The indexing thread of a node: opens and closes shards as the assignment asks (removing the
 * directory of a shard that moved away), replays each hosted shard's partition of
 * {@code shoal.docs.enriched} into its {@link ShardStore}, measures lag, and commits every
 * {@code commitMillis} or {@code commitDocs}. Owns the Kafka consumer and every write: both are
 * used on this thread only.
 */
public final class IndexLoop extends ServiceLoop {

  private static final Logger LOG = LoggerFactory.getLogger(IndexLoop.class);
  private final IndexNodeConfig config;
  private final Map<Integer, ShardStore> shards;
  private final ReplicaStates states;
  private final Supplier<Set<Integer>> desired;
  private final Supplier<Consumer<String, byte[]>> consumers;
  private final Clock clock;
  private final Metrics metrics;
  private final Metrics.Histogram commitSeconds;
  private final Map<Integer, Metrics.Counter> indexed = new ConcurrentHashMap<>();
  private Consumer<String, byte[]> consumer;
  private long lastCommitNanos;

  /**
   * @param shards    the node's hosted shards; this loop is the only writer of the map
   * @param desired   the shards the newest assignment gives this node
   * @param consumers creates the loop's consumer (read_committed, no group), on the loop's thread
   */
  public IndexLoop(IndexNodeConfig config, Map<Integer, ShardStore> shards, ReplicaStates states,
                   Supplier<Set<Integer>> desired, Supplier<Consumer<String, byte[]>> consumers, Clock clock,
                   Metrics metrics) {
    super("index-" + config.nodeId());
    this.config = config;
    this.shards = shards;
    this.states = states;
    this.desired = desired;
    this.consumers = consumers;
    this.clock = clock;
    this.metrics = metrics;
    this.commitSeconds = metrics.histogram("shoal_indexer_commit_seconds", "Durable commit of one shard.",
        Metrics.LATENCY_SECONDS, "node", config.nodeId());
  }

  @Override
  protected void onStart() {
    consumer = consumers.get();
    lastCommitNanos = clock.nanoTime();
  }

  @Override
  protected void runOnce() throws IOException, InterruptedException {
    reconcile();
    if (shards.isEmpty()) {
      Thread.sleep(100);
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
      indexed(tp.partition()).add(batch.size());
    }
    measureLag();
    long now = clock.nanoTime();
    boolean due = now - lastCommitNanos >= config.commitMillis() * 1_000_000;
    for (ShardStore s : shards.values()) {
      if ((due && s.appliedOffset() != s.committedOffset()) || s.pendingSinceCommit() >= config.commitDocs()) {
        long start = clock.nanoTime();
        s.commit();
        commitSeconds.observe((clock.nanoTime() - start) / 1e9);
      }
    }
    if (due) {
      lastCommitNanos = now;
    }
  }

  private Metrics.Counter indexed(int shard) {
    return indexed.computeIfAbsent(shard, s -> metrics.counter("shoal_indexer_documents_indexed_total",
        "Enriched records applied to a shard.", "node", config.nodeId(), "shard", Integer.toString(s)));
  }

  private void measureLag() {
    // one broker round trip for all hosted partitions, not one per shard
    Map<TopicPartition, Long> ends = consumer.endOffsets(consumer.assignment());
    for (ShardStore s : shards.values()) {
      TopicPartition tp = new TopicPartition(Topics.ENRICHED, s.shard());
      // position() rather than the applied offset: transaction markers occupy offsets too
      long lag = Math.max(0, ends.getOrDefault(tp, 0L) - consumer.position(tp));
      states.measured(s.shard(), lag);
    }
  }

  private void reconcile() throws IOException {
    Set<Integer> want = desired.get();
    if (want.equals(shards.keySet())) {
      return;
    }
    for (Integer s : new ArrayList<>(shards.keySet())) {
      if (!want.contains(s)) {
        states.closed(s);
        shards.remove(s).close();
        metrics.removeGauge("shoal_indexer_consumer_lag", "node", config.nodeId(), "shard", Integer.toString(s));
        deleteRecursively(shardDir(s));
        LOG.info("node {} closed shard {} and removed its directory", config.nodeId(), s);
      }
    }
    for (Integer s : want) {
      if (!shards.containsKey(s)) {
        states.opened(s);
        ShardStore store = new ShardStore(s, shardDir(s));
        shards.put(s, store);
        metrics.gauge("shoal_indexer_consumer_lag", "Records of the shard's partition not yet applied.",
            () -> Math.max(0, states.lag(store.shard())), "node", config.nodeId(), "shard", Integer.toString(s));
        LOG.info("node {} opened shard {} at offset {}", config.nodeId(), s, store.recoveredOffset());
      }
    }
    List<TopicPartition> tps = shards.keySet().stream().map(s -> new TopicPartition(Topics.ENRICHED, s)).toList();
    consumer.assign(tps);
    for (TopicPartition tp : tps) {
      consumer.seek(tp, shards.get(tp.partition()).appliedOffset());
    }
  }

  private Path shardDir(int shard) {
    return config.dataDir().resolve("shard-" + shard);
  }

  private static void deleteRecursively(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
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
