package dev.shoal.encoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.encoder.CrossEncoder.TextPair;
import dev.shoal.encoder.onnx.OnnxCrossEncoder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Concurrent queries' pairs merged into one cross-encoder run, each query getting its own scores
 * back, on the real ONNX Runtime backend (a gate in front of it holds the first run, which found
 * the model idle and runs on its caller's thread, so the next calls are queued while it runs, as
 * under load).
 */
class BatchingCrossEncoderTest {

  @TempDir
  Path tmp;

  /** Holds the first run until released; counts runs and their sizes. */
  private static final class Gate implements CrossEncoder {
    final CrossEncoder model;
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    final AtomicInteger runs = new AtomicInteger();
    final List<Integer> sizes = java.util.Collections.synchronizedList(new ArrayList<>());

    Gate(CrossEncoder model) {
      this.model = model;
    }

    @Override
    public CrossEncoderSpec model() {
      return model.model();
    }

    @Override
    public float[] score(List<TextPair> pairs) {
      if (runs.getAndIncrement() == 0) {
        entered.countDown();
        try {
          release.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      sizes.add(pairs.size());
      return model.score(pairs);
    }

    @Override
    public String backend() {
      return "gate";
    }

    @Override
    public void close() {
      model.close();
    }
  }

  private static List<TextPair> pairsOf(String query, int n, List<String> passages, int from) {
    List<TextPair> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(new TextPair(query, passages.get(from + i)));
    }
    return out;
  }

  @Test
  void concurrentQueriesShareOneRunAndEachGetsItsOwnScores() throws Exception {
    CrossEncoderSpec spec = CrossEncoderSpec.fromDirectory(
        TestCrossEncoders.write(tmp.resolve("ce"), TestCrossEncoders.small(1, 5)), 96);
    List<String> passages = TestTexts.passages(60);
    List<String> queries = TestTexts.queries(4);
    Gate gate = new Gate(new OnnxCrossEncoder(spec, 2, 64));
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(4);
    try (BatchingCrossEncoder batching = new BatchingCrossEncoder(gate, 64, 0)) {
      CompletableFuture<float[]> first = CompletableFuture.supplyAsync(
          () -> batching.score(pairsOf(queries.get(0), 10, passages, 0)), pool);
      assertTrue(gate.entered.await(10, TimeUnit.SECONDS));
      List<CompletableFuture<float[]>> queued = new ArrayList<>();
      for (int q = 1; q < 4; q++) {
        int from = q * 10;
        String query = queries.get(q);
        queued.add(CompletableFuture.supplyAsync(() -> batching.score(pairsOf(query, 10, passages, from)), pool));
      }
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (System.nanoTime() < until && batching.queued() < 3) {
        Thread.sleep(5);
      }
      assertEquals(3, batching.queued(), "three calls wait while the model runs the first");
      gate.release.countDown();
      first.get(30, TimeUnit.SECONDS);
      for (CompletableFuture<float[]> f : queued) {
        f.get(30, TimeUnit.SECONDS);
      }
      assertEquals(List.of(10, 30), gate.sizes, "the three queued queries ran as one batch of 30 pairs");
      assertEquals(2, batching.batches());
      try (OnnxCrossEncoder direct = new OnnxCrossEncoder(spec, 1, 8)) {
        for (int q = 1; q < 4; q++) {
          float[] alone = direct.score(pairsOf(queries.get(q), 10, passages, q * 10));
          float[] merged = queued.get(q - 1).get();
          assertArrayEquals(alone, merged, 1e-4f, "query " + q + " got its own pairs' scores back");
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aCallWhoseDeadlineHasPassedIsRefusedAndACloseFailsLaterCalls() {
    CrossEncoderSpec spec = CrossEncoderSpec.fromDirectory(
        TestCrossEncoders.write(tmp.resolve("ce"), TestCrossEncoders.small(1, 5)), 64);
    BatchingCrossEncoder batching = new BatchingCrossEncoder(new OnnxCrossEncoder(spec, 1, 8), 16, 0);
    List<TextPair> one = List.of(new TextPair("q", "p"));
    assertThrows(Encoder.DeadlineExpiredException.class, () -> batching.score(one, System.nanoTime() - 1));
    assertEquals(1, batching.score(one).length);
    batching.close();
    assertThrows(IllegalStateException.class, () -> batching.score(one));
  }
}
