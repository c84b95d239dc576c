package dev.shoal.indexnode.shard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.api.v1.Document;
import dev.shoal.api.v1.Operation;
import dev.shoal.internal.v1.EnrichedDocument;
import dev.shoal.server.time.Clock;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The replica's self-search before LIVE, on real Lucene and RocksDB. */
class ShardWarmupTest {

  private static final String[] WORDS = {"protein", "folding", "kinetics", "vitamin", "bone", "density",
      "mineral", "cells", "chaperone", "deficiency", "enzyme", "membrane", "receptor", "signal"};

  @TempDir
  Path dir;

  private static void load(ShardStore s, int docs) throws Exception {
    Random r = new Random(7);
    List<ShardStore.Record> records = new ArrayList<>();
    for (int i = 0; i < docs; i++) {
      StringBuilder text = new StringBuilder();
      for (int w = 0; w < 30; w++) {
        text.append(WORDS[r.nextInt(WORDS.length)]).append(' ');
      }
      EnrichedDocument.Builder d = EnrichedDocument.newBuilder().setOp(Operation.UPSERT).setModel("m")
          .setSourceOffset(i)
          .setDocument(Document.newBuilder().setId("d" + i).setTitle(WORDS[i % WORDS.length] + " study")
              .setText(text.toString()));
      float[] v = new float[8];
      double n = 0;
      for (int j = 0; j < v.length; j++) {
        v[j] = (float) r.nextGaussian();
        n += v[j] * v[j];
      }
      for (float x : v) {
        d.addEmbedding((float) (x / Math.sqrt(n)));
      }
      records.add(ShardStore.Record.of(i, d.build()));
    }
    s.apply(records, docs);
    s.refresh();
  }

  @Test
  void everySearchOfTheMixRunsWithoutFailureOnAShardWithDocuments() throws Exception {
    try (ShardStore s = new ShardStore(0, dir)) {
      load(s, 40);
      ShardWarmup.Report r = ShardWarmup.run(s, ShardWarmup.SEARCHES, 60_000, Clock.SYSTEM);
      // a request the shard refuses (a leg it cannot parse, a scorer of the wrong dimension, a
      // statistics request it does not accept) would be counted here
      assertEquals(new ShardWarmup.Report(ShardWarmup.SEARCHES, 0), r);
    }
  }

  @Test
  void anEmptyShardRunsNothing() throws Exception {
    try (ShardStore s = new ShardStore(0, dir)) {
      assertEquals(new ShardWarmup.Report(0, 0), ShardWarmup.run(s, ShardWarmup.SEARCHES, 60_000, Clock.SYSTEM));
    }
  }

  @Test
  void stopsOnceItsBudgetHasPassed() throws Exception {
    try (ShardStore s = new ShardStore(0, dir)) {
      load(s, 40);
      // each reading of the clock is 100 ms after the last: the budget of 1 s lasts ten readings
      AtomicLong now = new AtomicLong();
      Clock slow = new Clock() {
        @Override
        public long nanoTime() {
          return now.getAndAdd(TimeUnit.MILLISECONDS.toNanos(100));
        }

        @Override
        public long currentTimeMillis() {
          return TimeUnit.NANOSECONDS.toMillis(now.get());
        }
      };
      ShardWarmup.Report r = ShardWarmup.run(s, 1_000, 1_000, slow);
      assertEquals(0, r.failed());
      assertTrue(r.searches() >= 2 && r.searches() <= 11, "stopped by the budget: " + r);
    }
  }

  @Test
  void aStoreThatCannotBeSearchedIsCountedNotThrown() throws Exception {
    ShardStore s = new ShardStore(0, dir);
    load(s, 10);
    s.close();
    ShardWarmup.Report r = ShardWarmup.run(s, ShardWarmup.SEARCHES, 60_000, Clock.SYSTEM);
    assertEquals(r.searches(), r.failed(), "every search failed and each was counted: " + r);
    assertTrue(r.searches() >= 1);
  }
}
