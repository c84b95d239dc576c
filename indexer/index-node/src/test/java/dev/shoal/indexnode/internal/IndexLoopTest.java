package dev.shoal.indexnode.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.api.v1.Document;
import dev.shoal.api.v1.Operation;
import dev.shoal.cluster.Topics;
import dev.shoal.indexnode.IndexNodeConfig;
import dev.shoal.indexnode.shard.ShardStore;
import dev.shoal.internal.v1.EnrichedDocument;
import dev.shoal.internal.v1.ShardState;
import dev.shoal.server.Metrics;
import dev.shoal.server.time.ManualClock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.MockConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.store.FSDirectory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The indexing loop against Kafka's MockConsumer and real shards (Lucene + RocksDB): what it does
 * with records it cannot apply and with failures while applying.
 */
class IndexLoopTest {

  @TempDir
  Path dir;

  private final MockConsumer<String, byte[]> consumer = new MockConsumer<>("earliest");
  private final Map<Integer, ShardStore> shards = new ConcurrentSkipListMap<>();
  private final ReplicaStates states = new ReplicaStates("n1", 100);
  private final ManualClock clock = new ManualClock();
  private IndexLoop loop;

  static final TopicPartition P0 = new TopicPartition(Topics.ENRICHED, 0);

  static byte[] upsert(String id, float... v) {
    EnrichedDocument.Builder e = EnrichedDocument.newBuilder().setOp(Operation.UPSERT)
        .setDocument(Document.newBuilder().setId(id).setTitle("title " + id).setText("text about " + id));
    for (float x : v) {
      e.addEmbedding(x);
    }
    return e.build().toByteArray();
  }

  private IndexLoop loop(Set<Integer> hosted) {
    return loop(hosted, ShardStore::new);
  }

  private IndexLoop loop(Set<Integer> hosted, IndexLoop.ShardOpener opener) {
    return loop(IndexNodeConfig.defaults("n1", dir, "unused:9092"), hosted, opener);
  }

  private IndexLoop loop(IndexNodeConfig config, Set<Integer> hosted, IndexLoop.ShardOpener opener) {
    loop = new IndexLoop(config, shards, states, () -> hosted, () -> consumer, opener, clock, new Metrics());
    return loop;
  }

  /** Records for partition 0 from offset 0, added once the loop has assigned it. */
  private void feed(List<byte[]> values) {
    feed(0, values);
  }

  private void feed(int partition, List<byte[]> values) {
    TopicPartition tp = new TopicPartition(Topics.ENRICHED, partition);
    consumer.updateBeginningOffsets(Map.of(tp, 0L));
    consumer.updateEndOffsets(Map.of(tp, (long) values.size()));
    consumer.schedulePollTask(() -> {
      for (int i = 0; i < values.size(); i++) {
        consumer.addRecord(new ConsumerRecord<>(Topics.ENRICHED, partition, i, "k" + i, values.get(i)));
      }
    });
  }

  /**
   * At each of the next polls, every partition's records from its position on, as a broker would
   * serve them again after a rewind (MockConsumer forgets what it has returned).
   */
  private void refeedOnRewind(Map<Integer, List<byte[]>> byPartition) {
    for (int round = 0; round < 30; round++) {
      consumer.schedulePollTask(() -> byPartition.forEach((partition, values) -> {
        TopicPartition tp = new TopicPartition(Topics.ENRICHED, partition);
        if (consumer.assignment().contains(tp) && !consumer.paused().contains(tp)) {
          for (long o = consumer.position(tp); o < values.size(); o++) {
            consumer.addRecord(new ConsumerRecord<>(Topics.ENRICHED, partition, o, "k" + o, values.get((int) o)));
          }
        }
      }));
    }
  }

  private static List<byte[]> docs(String prefix, int n) {
    List<byte[]> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(upsert(prefix + i, 1, 0));
    }
    return out;
  }

  /** Runs the loop as its thread would: an exception is logged and the next iteration goes on. */
  private void run(int iterations) {
    for (int i = 0; i < iterations; i++) {
      try {
        loop.runOnce();
      } catch (Exception e) {
        // the service loop logs it and retries after a backoff
      }
    }
  }

  @AfterEach
  void close() throws Exception {
    if (loop != null) {
      loop.onStop();
    }
  }

  @Test
  void aRebuildingReplicaIsRefreshedAsItTurnsLiveSoItNeverServesWithAnEmptySearcher() throws Exception {
    List<byte[]> values = docs("r", 300);
    consumer.updateBeginningOffsets(Map.of(P0, 0L));
    consumer.updateEndOffsets(Map.of(P0, 300L));
    consumer.schedulePollTask(() -> {
      for (int i = 0; i < 150; i++) {
        consumer.addRecord(new ConsumerRecord<>(Topics.ENRICHED, 0, i, "k" + i, values.get(i)));
      }
    });
    consumer.schedulePollTask(() -> {
      for (int i = 150; i < 300; i++) {
        consumer.addRecord(new ConsumerRecord<>(Topics.ENRICHED, 0, i, "k" + i, values.get(i)));
      }
    });
    loop(Set.of(0)).onStart();
    run(1);
    ShardStore s = shards.get(0);
    assertEquals(ShardState.CATCHING_UP, states.state(0), "150 records behind, more than the LIVE lag of 100");
    assertTrue(states.rebuilding(0));
    assertEquals(150, s.appliedOffset());
    assertEquals(0, s.visibleOffset(), "nothing refreshes a rebuilding replica while it replays");
    run(1);
    assertEquals(ShardState.LIVE, states.state(0));
    assertFalse(states.rebuilding(0), "once LIVE the node's refresher takes over");
    assertEquals(300, s.visibleOffset(), "LIVE only with a searcher over everything applied");
    assertEquals(300, s.docCount());
  }

  @Test
  void aRecordWithoutAValueIsDeadLetteredAndTheRestOfThePollIsApplied() throws Exception {
    List<byte[]> values = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      values.add(upsert("a" + i, 1, 0));
    }
    values.add(null); // a tombstone: nothing the enricher writes, but the topic is compacted and anyone may
    for (int i = 0; i < 10; i++) {
      values.add(upsert("b" + i, 0, 1));
    }
    feed(values);
    loop(Set.of(0)).onStart();
    run(4);
    ShardStore s = shards.get(0);
    s.refresh();
    assertEquals(20, s.docCount(), "every applicable record is applied");
    assertEquals(21, s.appliedOffset());
    assertEquals(List.of(10L), s.deadLetters().stream().map(ShardStore.DeadLetter::offset).toList());
    assertTrue(s.deadLetters().getFirst().reason().contains("no value"), s.deadLetters().getFirst().reason());
  }

  @Test
  void aVectorOfAnotherDimensionIsDeadLetteredAndNeitherStoreGetsIt() throws Exception {
    feed(List.of(upsert("a", 1, 0), upsert("odd", 1, 0, 0), upsert("b", 0, 1)));
    loop(Set.of(0)).onStart();
    run(3);
    ShardStore s = shards.get(0);
    s.refresh();
    assertEquals(2, s.docCount());
    assertEquals(null, s.load("odd"), "the document store does not get it either");
    assertEquals(3, s.appliedOffset());
    assertEquals(List.of(1L), s.deadLetters().stream().map(ShardStore.DeadLetter::offset).toList());
    assertTrue(s.deadLetters().getFirst().reason().contains("dimension"), s.deadLetters().getFirst().reason());
  }

  @Test
  void aFailedApplyRollsBackToTheLastCommitAndReplaysSoNothingIsSkippedOrDoubled() throws Exception {
    List<byte[]> values = docs("d", 30);
    feed(values.subList(0, 10));
    loop(Set.of(0)).onStart();
    run(2);
    shards.get(0).commit(); // committed at 10
    AtomicInteger failuresLeft = new AtomicInteger(1);
    shards.get(0).injectFaults((shard, first) -> {
      if (failuresLeft.getAndDecrement() > 0) {
        throw new IOException("disk full (injected)");
      }
    });
    consumer.updateEndOffsets(Map.of(P0, 30L));
    consumer.schedulePollTask(() -> {
      for (int i = 10; i < 30; i++) {
        consumer.addRecord(new ConsumerRecord<>(Topics.ENRICHED, 0, i, "k" + i, values.get(i)));
      }
    });
    refeedOnRewind(Map.of(0, values));
    run(2);
    assertEquals(ShardState.RECOVERING, states.state(0), "retrying from its commit: " + states.failure(0));
    clock.advanceMillis(200);
    run(6);
    ShardStore s = shards.get(0);
    s.refresh();
    assertEquals(30, s.docCount(), "the batch that failed was replayed, not skipped");
    assertEquals(30, s.appliedOffset());
    assertTrue(states.failure(0).isEmpty());
    for (int i = 0; i < 30; i++) {
      assertEquals("title d" + i, s.load("d" + i).getDocument().getTitle());
    }
  }

  @Test
  void aShardThatKeepsFailingIsFailedWithTheReasonAndTheOthersKeepIndexing() throws Exception {
    IndexLoop.ShardOpener broken = (shard, d) -> {
      ShardStore s = new ShardStore(shard, d);
      if (shard == 1) {
        s.injectFaults((n, first) -> {
          throw new IOException("RocksDB is read-only after a disk error (injected)");
        });
      }
      return s;
    };
    TopicPartition p1 = new TopicPartition(Topics.ENRICHED, 1);
    consumer.updateBeginningOffsets(Map.of(P0, 0L, p1, 0L));
    consumer.updateEndOffsets(Map.of(P0, 5L, p1, 5L));
    List<byte[]> zero = docs("z", 5);
    List<byte[]> one = docs("o", 5);
    refeedOnRewind(Map.of(0, zero, 1, one));
    loop(Set.of(0, 1), broken).onStart();
    for (int i = 0; i < 12; i++) {
      run(1);
      clock.advanceMillis(6_000);
    }
    assertEquals(ShardState.FAILED, states.state(1));
    assertTrue(states.failure(1).contains("read-only"), states.failure(1));
    states.measured(1, 0);
    assertEquals(ShardState.FAILED, states.state(1), "a lag of 0 never turns a FAILED shard LIVE");
    ShardStore s0 = shards.get(0);
    s0.refresh();
    assertEquals(5, s0.docCount(), "shard 0 indexed beside the failing shard");
    assertEquals(ShardState.LIVE, states.state(0));
  }

  @Test
  void aShardThatCannotOpenDoesNotStopTheNodesOtherShards() throws Exception {
    Files.createDirectories(dir.resolve("shard-1"));
    Files.writeString(dir.resolve("shard-1").resolve("lucene"), "a file where the index directory should be");
    feed(docs("x", 7));
    loop(Set.of(0, 1)).onStart();
    for (int i = 0; i < 8; i++) {
      run(1);
      clock.advanceMillis(6_000);
    }
    ShardStore s0 = shards.get(0);
    s0.refresh();
    assertEquals(7, s0.docCount());
    assertEquals(ShardState.FAILED, states.state(1));
    assertTrue(states.failure(1).contains("FileAlreadyExistsException"), states.failure(1));
  }

  /** Records {@code from..to-1} of partition 0 at the next poll. */
  private void pollWith(List<byte[]> values, int from, int to) {
    consumer.schedulePollTask(() -> {
      for (int i = from; i < to; i++) {
        consumer.addRecord(new ConsumerRecord<>(Topics.ENRICHED, 0, i, "k" + i, values.get(i)));
      }
    });
  }

  /** Segments in the shard's last commit: what a restart, or a reader of the directory, opens. */
  private int committedSegments() throws IOException {
    try (DirectoryReader r = DirectoryReader.open(FSDirectory.open(dir.resolve("shard-0").resolve("lucene")))) {
      return r.leaves().size();
    }
  }

  @Test
  void aShardWithNoWriteForAWhileCompactsItsSmallSegmentsAndCommitsThem() throws Exception {
    List<byte[]> values = docs("c", 200);
    consumer.updateBeginningOffsets(Map.of(P0, 0L));
    consumer.updateEndOffsets(Map.of(P0, 200L));
    for (int from = 0; from < 200; from += 50) {
      pollWith(values, from, from + 50);
    }
    // a commit every 50 documents: one segment per poll
    loop(IndexNodeConfig.defaults("n1", dir, "unused:9092").withCommits(30_000, 50), Set.of(0), ShardStore::new)
        .onStart();
    run(4);
    ShardStore s = shards.get(0);
    assertEquals(200, s.committedOffset());
    assertEquals(4, committedSegments());
    s.refresh();
    assertEquals(4, s.segments());
    long generation = s.searcherGeneration();
    clock.advanceMillis(4_900);
    run(3);
    assertEquals(4, committedSegments(), "no compaction before 5 s without a write");
    assertFalse(loop.compactedAll());
    clock.advanceMillis(100);
    for (int i = 0; i < 50 && !loop.compactedAll(); i++) {
      run(1);
      Thread.sleep(20); // the merge runs on Lucene's merge thread
    }
    assertTrue(loop.compactedAll(), "compacted and committed");
    assertEquals(1, committedSegments(), "the commit holds the merged segment");
    assertEquals(1, s.segments(), "and so does the searcher");
    assertEquals(200, s.committedOffset(), "a compaction moves no offset");
    assertEquals(200, s.docCount(), "the searcher sees every document after the merge");
    assertTrue(s.searcherGeneration() != generation, "refreshed onto the merged segment");
    for (int i = 0; i < 200; i += 37) {
      assertEquals("title c" + i, s.load("c" + i).getDocument().getTitle());
    }

    List<byte[]> more = new ArrayList<>(values);
    more.addAll(docs("m", 10));
    consumer.updateEndOffsets(Map.of(P0, 210L));
    pollWith(more, 200, 210);
    run(1);
    assertFalse(loop.compactedAll(), "a write makes the shard a candidate again");
  }
}
