package dev.shoal.indexnode.internal;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.shoal.cluster.Topics;
import dev.shoal.indexnode.IndexNodeConfig;
import dev.shoal.indexnode.shard.ShardStore;
import dev.shoal.indexnode.shard.ShardWarmup;
import dev.shoal.internal.v1.EnrichedDocument;
import dev.shoal.server.Metrics;
import dev.shoal.server.ServiceLoop;
import dev.shoal.server.time.Clock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
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
 * {@code shoal.docs.enriched} into its {@link ShardStore}, measures lag, refreshes a rebuilding
 * replica as it turns LIVE, commits every {@code commitMillis} or {@code commitDocs}, and
 * compacts a shard's small segments once it has had no write for {@code compactAfterMillis} (the
 * merge runs on Lucene's merge threads; this loop refreshes and commits it when it is done). Owns
 * the Kafka consumer and every write: both are used on this thread only.
 *
 * <p>Error policy, per shard, so one shard's trouble never stops the others: a record that can
 * never be applied (no value, unreadable, an embedding of another dimension) is a dead letter of
 * its shard and passed over; any other failure while opening, applying or committing a shard
 * discards the shard's uncommitted changes, reopens it from its last commit, seeks its partition
 * back there and pauses it for a backoff (100 ms doubling, at most 5 s), so nothing polled is
 * skipped; after {@value #MAX_ATTEMPTS} failures in a row the shard is FAILED with the reason
 * (reported in the heartbeat, so the manager places a replacement) and stays paused.
 */
public final class IndexLoop extends ServiceLoop {

  /** Consecutive failures after which a shard is FAILED. */
  static final int MAX_ATTEMPTS = 5;
  private static final Logger LOG = LoggerFactory.getLogger(IndexLoop.class);

  /** A shard in trouble: paused until {@code retryAtNanos} (never, once FAILED). */
  private record Trouble(String reason, long retryAtNanos) {
  }

  private final IndexNodeConfig config;
  private final Map<Integer, ShardStore> shards;
  private final ReplicaStates states;
  private final Supplier<Set<Integer>> desired;
  private final Supplier<Consumer<String, byte[]>> consumers;
  private final ShardOpener opener;
  private final Clock clock;
  private final Metrics metrics;
  private final Metrics.Histogram commitSeconds;
  private final Map<Integer, Metrics.Counter> indexed = new ConcurrentHashMap<>();
  private final Map<Integer, Trouble> trouble = new HashMap<>();
  /** Failures in a row per shard; cleared by an apply that succeeds. */
  private final Map<Integer, Integer> failures = new HashMap<>();
  /** When each open shard last applied records (or opened); cleared when it closes or fails. */
  private final Map<Integer, Long> lastWriteNanos = new HashMap<>();
  /** Shards whose compaction merge is running. */
  private final Set<Integer> compacting = new HashSet<>();
  /** Shards with no write since they were last compacted, or found with nothing to compact; read by other threads. */
  private final Set<Integer> compacted = ConcurrentHashMap.newKeySet();
  private Consumer<String, byte[]> consumer;
  private long lastCommitNanos;

  /** Opens a shard's store from its directory (tests open them with faults injected on purpose). */
  public interface ShardOpener {
    ShardStore open(int shard, Path dir) throws IOException;
  }

  public IndexLoop(IndexNodeConfig config, Map<Integer, ShardStore> shards, ReplicaStates states,
                   Supplier<Set<Integer>> desired, Supplier<Consumer<String, byte[]>> consumers, Clock clock,
                   Metrics metrics) {
    this(config, shards, states, desired, consumers, ShardStore::new, clock, metrics);
  }

  /**
   * @param shards    the node's hosted shards; this loop is the only writer of the map
   * @param desired   the shards the newest assignment gives this node
   * @param consumers creates the loop's consumer (read_committed, no group), on the loop's thread
   */
  public IndexLoop(IndexNodeConfig config, Map<Integer, ShardStore> shards, ReplicaStates states,
                   Supplier<Set<Integer>> desired, Supplier<Consumer<String, byte[]>> consumers, ShardOpener opener,
                   Clock clock, Metrics metrics) {
    super("index-" + config.nodeId());
    this.config = config;
    this.shards = shards;
    this.states = states;
    this.desired = desired;
    this.consumers = consumers;
    this.opener = opener;
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
    retryDue();
    if (shards.isEmpty() || consumer.assignment().size() == consumer.paused().size()) {
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
      int shard = tp.partition();
      ShardStore store = shards.get(shard);
      if (store == null || trouble.containsKey(shard)) {
        continue;
      }
      List<ConsumerRecord<String, byte[]>> rs = records.records(tp);
      try {
        store.apply(parse(rs), rs.getLast().offset() + 1);
        lastWriteNanos.put(shard, clock.nanoTime());
        compacted.remove(shard);
        indexed(shard).add(rs.size());
        if (failures.remove(shard) != null) {
          states.recovered(shard);
        }
      } catch (IOException | RuntimeException e) {
        failed(shard, "applying records " + rs.getFirst().offset() + ".." + rs.getLast().offset(), e);
      }
    }
    measureLag();
    commitDue();
    compactIdle();
  }

  /**
   * Whether every open shard is compacted: none has been written to since its last compaction or
   * since it was found to have nothing to compact (true when compaction is off). Any thread.
   */
  public boolean compactedAll() {
    return config.compactAfterMillis() == 0 || compacted.containsAll(shards.keySet());
  }

  /**
   * Starts a compaction of each shard that has had no write for {@code compactAfterMillis} and has
   * not been compacted since its last write, and finishes (refresh, commit) those whose merge is
   * done. A rebuilding replica is left alone: nothing refreshes it before it turns LIVE. A failure
   * fails the shard as a failed commit does.
   */
  private void compactIdle() {
    if (config.compactAfterMillis() == 0) {
      return;
    }
    long now = clock.nanoTime();
    for (ShardStore s : new ArrayList<>(shards.values())) {
      int shard = s.shard();
      if (trouble.containsKey(shard) || states.rebuilding(shard)) {
        continue;
      }
      try {
        if (compacting.contains(shard)) {
          if (s.finishCompaction()) {
            // not marked compacted yet: the next round finds nothing left to merge and marks it, or
            // merges what writes during this merge flushed
            compacting.remove(shard);
          }
        } else if (!compacted.contains(shard)
            && now - lastWriteNanos.computeIfAbsent(shard, k -> now) >= config.compactAfterMillis() * 1_000_000) {
          if (s.startCompaction()) {
            compacting.add(shard);
            LOG.info("shard {} on {}: no write for {} ms, compacting its small segments", shard, config.nodeId(),
                (now - lastWriteNanos.get(shard)) / 1_000_000);
          } else {
            compacted.add(shard);
          }
        }
      } catch (IOException | RuntimeException e) {
        failed(shard, "compacting", e);
      }
    }
  }

  /** The shard's searcher's segments, for a scrape on any thread; NaN while it is closed or closing. */
  private double segments(int shard) {
    ShardStore open = shards.get(shard);
    try {
      return open == null ? Double.NaN : open.segments();
    } catch (RuntimeException closing) {
      return Double.NaN;
    }
  }

  /** Forgets a shard's write time and compaction (it closed, or failed and reopens from its commit). */
  private void forgetCompaction(int shard) {
    lastWriteNanos.remove(shard);
    compacting.remove(shard);
    compacted.remove(shard);
  }

  private static List<ShardStore.Record> parse(List<ConsumerRecord<String, byte[]>> rs) {
    List<ShardStore.Record> out = new ArrayList<>(rs.size());
    for (ConsumerRecord<String, byte[]> r : rs) {
      if (r.value() == null) {
        out.add(ShardStore.Record.unreadable(r.offset(), "record with no value (a tombstone): deletes are "
            + "DELETE records"));
        continue;
      }
      try {
        out.add(ShardStore.Record.of(r.offset(), EnrichedDocument.parseFrom(r.value())));
      } catch (InvalidProtocolBufferException e) {
        out.add(ShardStore.Record.unreadable(r.offset(), "not an EnrichedDocument: " + e.getMessage()));
      }
    }
    return out;
  }

  private void commitDue() {
    long now = clock.nanoTime();
    boolean due = now - lastCommitNanos >= config.commitMillis() * 1_000_000;
    for (ShardStore s : new ArrayList<>(shards.values())) {
      if (trouble.containsKey(s.shard())) {
        continue;
      }
      if ((due && s.appliedOffset() != s.committedOffset()) || s.pendingSinceCommit() >= config.commitDocs()) {
        long start = clock.nanoTime();
        try {
          s.commit();
          commitSeconds.observe((clock.nanoTime() - start) / 1e9);
        } catch (IOException | RuntimeException e) {
          failed(s.shard(), "committing", e);
        }
      }
    }
    if (due) {
      lastCommitNanos = now;
    }
  }

  /**
   * A shard failed: its uncommitted changes are discarded, it is reopened from its last commit and
   * its partition sought back there and paused until the backoff has passed (or for good, FAILED).
   */
  private void failed(int shard, String what, Exception e) {
    int attempts = failures.merge(shard, 1, Integer::sum);
    forgetCompaction(shard);
    String reason = what + " failed: " + e;
    LOG.warn("shard {} on {}: {} (failure {} of {})", shard, config.nodeId(), reason, attempts, MAX_ATTEMPTS, e);
    ShardStore store = shards.remove(shard);
    if (store != null) {
      try {
        store.abandon();
      } catch (IOException | RuntimeException closing) {
        LOG.warn("discarding shard {}'s uncommitted changes failed: {}", shard, closing.toString());
      }
    }
    TopicPartition tp = new TopicPartition(Topics.ENRICHED, shard);
    if (consumer.assignment().contains(tp)) {
      consumer.pause(List.of(tp));
    }
    long backoff = Math.min(5_000, 100L << Math.min(attempts - 1, 10));
    boolean gaveUp = attempts >= MAX_ATTEMPTS;
    trouble.put(shard, new Trouble(reason, gaveUp ? Long.MAX_VALUE : clock.nanoTime() + backoff * 1_000_000));
    if (gaveUp) {
      states.failed(shard, reason);
    } else {
      states.retrying(shard, reason);
    }
  }

  /** Shards whose backoff has passed reopen from their commit and resume where it left off. */
  private void retryDue() {
    long now = clock.nanoTime();
    for (Map.Entry<Integer, Trouble> e : new ArrayList<>(trouble.entrySet())) {
      int shard = e.getKey();
      if (now < e.getValue().retryAtNanos() || !desired.get().contains(shard)) {
        continue;
      }
      try {
        ShardStore store = shards.get(shard);
        if (store == null) {
          store = opener.open(shard, shardDir(shard));
          shards.put(shard, store);
        }
        TopicPartition tp = new TopicPartition(Topics.ENRICHED, shard);
        assign();
        consumer.seek(tp, store.appliedOffset());
        consumer.resume(List.of(tp));
        trouble.remove(shard);
        LOG.info("shard {} on {} resumes at offset {}", shard, config.nodeId(), store.appliedOffset());
      } catch (IOException | RuntimeException reopen) {
        failed(shard, "reopening", reopen);
      }
    }
  }

  private Metrics.Counter indexed(int shard) {
    return indexed.computeIfAbsent(shard, s -> metrics.counter("shoal_indexer_documents_indexed_total",
        "Enriched records applied to a shard.", "node", config.nodeId(), "shard", Integer.toString(s)));
  }

  private void measureLag() {
    // one broker round trip for all hosted partitions, not one per shard
    Map<TopicPartition, Long> ends = consumer.endOffsets(consumer.assignment());
    for (int shard : shards.keySet()) {
      TopicPartition tp = new TopicPartition(Topics.ENRICHED, shard);
      if (!consumer.assignment().contains(tp)) {
        continue;
      }
      // position() rather than the applied offset: transaction markers occupy offsets too
      long lag = Math.max(0, ends.getOrDefault(tp, 0L) - consumer.position(tp));
      if (states.rebuilding(shard) && states.wouldBeLive(shard, lag) && !refreshBeforeLive(shard)) {
        continue;
      }
      states.measured(shard, lag);
    }
  }

  /**
   * A rebuilding replica is not refreshed while it replays (see {@link ReplicaStates}): it is made
   * searchable here, before it reports LIVE, so no query reaches a LIVE replica that shows nothing;
   * then it searches itself ({@link ShardWarmup}), so the first queries routed to it do not pay
   * for cold readers and an uncompiled search path. A failed refresh fails the shard like a failed
   * apply.
   */
  private boolean refreshBeforeLive(int shard) {
    ShardStore store = shards.get(shard);
    try {
      if (store != null && store.visibleOffset() != store.appliedOffset()) {
        store.refresh();
      }
      if (store != null) {
        long start = clock.nanoTime();
        ShardWarmup.Report r = ShardWarmup.run(store, ShardWarmup.SEARCHES, ShardWarmup.BUDGET_MILLIS, clock);
        LOG.info("shard {} on {} warmed up: {} searches ({} failed) in {} ms", shard, config.nodeId(),
            r.searches(), r.failed(), (clock.nanoTime() - start) / 1_000_000);
      }
      return true;
    } catch (IOException | RuntimeException e) {
      failed(shard, "refreshing before LIVE", e);
      return false;
    }
  }

  private void reconcile() throws IOException {
    Set<Integer> want = desired.get();
    Set<Integer> hosted = new TreeSet<>(shards.keySet());
    hosted.addAll(trouble.keySet());
    if (want.equals(hosted)) {
      return;
    }
    for (Integer s : hosted) {
      if (!want.contains(s)) {
        states.closed(s);
        trouble.remove(s);
        failures.remove(s);
        forgetCompaction(s);
        ShardStore store = shards.remove(s);
        if (store != null) {
          store.close();
        }
        metrics.removeGauge("shoal_indexer_consumer_lag", "node", config.nodeId(), "shard", Integer.toString(s));
        metrics.removeGauge("shoal_indexer_segments", "node", config.nodeId(), "shard", Integer.toString(s));
        deleteRecursively(shardDir(s));
        LOG.info("node {} closed shard {} and removed its directory", config.nodeId(), s);
      }
    }
    for (Integer s : want) {
      if (!hosted.contains(s)) {
        states.opened(s);
        metrics.gauge("shoal_indexer_consumer_lag", "Records of the shard's partition not yet applied.",
            () -> Math.max(0, states.lag(s)), "node", config.nodeId(), "shard", Integer.toString(s));
        metrics.gauge("shoal_indexer_segments", "Segments of the shard's current searcher.",
            () -> segments(s), "node", config.nodeId(), "shard", Integer.toString(s));
        try {
          ShardStore store = opener.open(s, shardDir(s));
          shards.put(s, store);
          LOG.info("node {} opened shard {} at offset {}", config.nodeId(), s, store.recoveredOffset());
        } catch (IOException | RuntimeException e) {
          failed(s, "opening", e);
        }
      }
    }
    assign();
  }

  /** Assigns the partitions of the open shards, each at its applied offset (new ones) or where it is. */
  private void assign() {
    Set<TopicPartition> before = consumer.assignment();
    List<TopicPartition> tps = shards.keySet().stream().map(s -> new TopicPartition(Topics.ENRICHED, s)).toList();
    consumer.assign(tps);
    for (TopicPartition tp : tps) {
      if (!before.contains(tp)) {
        consumer.seek(tp, shards.get(tp.partition()).appliedOffset());
      }
    }
    for (Map.Entry<Integer, Trouble> t : trouble.entrySet()) {
      TopicPartition tp = new TopicPartition(Topics.ENRICHED, t.getKey());
      if (consumer.assignment().contains(tp)) {
        consumer.pause(List.of(tp));
      }
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
