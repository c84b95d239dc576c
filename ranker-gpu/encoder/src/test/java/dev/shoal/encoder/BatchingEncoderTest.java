package dev.shoal.encoder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.encoder.onnx.OnnxEncoder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class BatchingEncoderTest {

  @Test
  void concurrentCallsAreMergedAndEachGetsItsOwnEmbeddings() throws Exception {
    List<String> texts = TestTexts.queries(48);
    try (OnnxEncoder direct = new OnnxEncoder(ModelSpec.ALL_MINILM_L6_V2, 2, 16);
         CountingEncoder counted = new CountingEncoder(new OnnxEncoder(ModelSpec.ALL_MINILM_L6_V2, 2, 16));
         BatchingEncoder batcher = new BatchingEncoder(counted, 64, 20_000)) {
      float[][] expected = direct.embed(texts, Encoder.Kind.QUERY);
      ExecutorService pool = Executors.newFixedThreadPool(16);
      List<Future<float[][]>> results = new ArrayList<>();
      for (int i = 0; i < texts.size(); i += 2) {
        List<String> two = texts.subList(i, i + 2);
        results.add(pool.submit(() -> batcher.embed(two, Encoder.Kind.QUERY)));
      }
      for (int i = 0; i < results.size(); i++) {
        float[][] got = results.get(i).get();
        for (int j = 0; j < 2; j++) {
          float[] e = expected[2 * i + j];
          for (int k = 0; k < e.length; k++) {
            assertEquals(e[k], got[j][k], 1e-5, "call " + i + " text " + j);
          }
        }
      }
      pool.shutdown();
      assertEquals(texts.size(), counted.texts.get(), "every text computed exactly once");
      assertTrue(counted.calls.get() < results.size(), "24 calls merged into " + counted.calls.get() + " batches");
    }
  }

  /**
   * With no batching window an idle batcher runs a call at once, and the calls that arrive while
   * the backend is busy still go together: the backend's own run is the window.
   */
  @Test
  void withNoWindowCallsThatArriveWhileTheBackendIsBusyFormTheNextBatch() throws Exception {
    CountDownLatch running = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger first = new AtomicInteger(1);
    List<Integer> sizes = new java.util.concurrent.CopyOnWriteArrayList<>();
    Encoder held = new CountingEncoder(new OnnxEncoder(ModelSpec.ALL_MINILM_L6_V2, 1, 16)) {
      @Override
      public float[][] embed(List<String> t, Kind kind) {
        sizes.add(t.size());
        if (first.getAndDecrement() > 0) {
          running.countDown();
          try {
            release.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
        return super.embed(t, kind);
      }
    };
    try (BatchingEncoder batcher = new BatchingEncoder(held, 64, 0)) {
      ExecutorService pool = Executors.newFixedThreadPool(6);
      Future<float[][]> alone = pool.submit(() -> batcher.embed(List.of("runs at once"), Encoder.Kind.QUERY));
      assertTrue(running.await(30, TimeUnit.SECONDS), "an idle batcher ran the call without waiting for company");
      List<Future<float[][]>> later = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        String text = "arrives while busy " + i;
        later.add(pool.submit(() -> batcher.embed(List.of(text), Encoder.Kind.QUERY)));
      }
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (batcher.queued() < 5) {
        assertTrue(System.nanoTime() < until, "5 calls queue behind the busy backend: " + batcher.queued());
        Thread.sleep(1);
      }
      release.countDown();
      assertEquals(1, alone.get(30, TimeUnit.SECONDS).length);
      for (Future<float[][]> f : later) {
        assertEquals(1, f.get(30, TimeUnit.SECONDS).length);
      }
      assertEquals(List.of(1, 5), sizes, "the five waiting calls went to the backend as one batch");
      pool.shutdown();
    }
  }

  @Test
  void aCallThatFindsTheModelIdleRunsOnItsOwnThreadWithoutAHandOff() {
    List<String> threads = new java.util.concurrent.CopyOnWriteArrayList<>();
    Encoder recording = new CountingEncoder(new OnnxEncoder(ModelSpec.ALL_MINILM_L6_V2, 1, 16)) {
      @Override
      public float[][] embed(List<String> t, Kind kind) {
        threads.add(Thread.currentThread().getName());
        return super.embed(t, kind);
      }
    };
    try (BatchingEncoder idle = new BatchingEncoder(recording, 64, 0);
         BatchingEncoder windowed = new BatchingEncoder(recording, 64, 1_000)) {
      assertEquals(1, idle.embed(List.of("alone"), Encoder.Kind.QUERY).length);
      assertEquals(List.of(Thread.currentThread().getName()), threads, "no window, idle: the caller's thread ran it");
      assertEquals(1, windowed.embed(List.of("waits for company"), Encoder.Kind.QUERY).length);
      assertEquals("encoder-batcher", threads.get(1), "with a window the dispatcher gathers and runs it");
    }
  }

  @Test
  void anExpiredCallIsDroppedBeforeTheModelRuns() {
    try (CountingEncoder counted = new CountingEncoder(new OnnxEncoder(ModelSpec.ALL_MINILM_L6_V2, 1, 16));
         BatchingEncoder batcher = new BatchingEncoder(counted, 64, 2_000)) {
      assertThrows(Encoder.DeadlineExpiredException.class,
          () -> batcher.embed(List.of("too late"), Encoder.Kind.QUERY, System.nanoTime() - 1));
      assertEquals(0, counted.calls.get());
      assertEquals(1, batcher.expired());
      assertEquals(1, batcher.embed(List.of("in time"), Encoder.Kind.QUERY, System.nanoTime() + 10_000_000_000L).length);
      assertEquals(1, counted.calls.get());
    }
  }

  @Test
  void anErrorFromTheBackendFailsItsBatchAndTheDispatcherServesTheNext() {
    AtomicInteger errorsLeft = new AtomicInteger(1);
    Encoder failsOnce = new CountingEncoder(new OnnxEncoder(ModelSpec.ALL_MINILM_L6_V2, 1, 16)) {
      @Override
      public float[][] embed(List<String> t, Kind kind) {
        if (errorsLeft.getAndDecrement() > 0) {
          throw new OutOfMemoryError("batch tensor (injected)");
        }
        return super.embed(t, kind);
      }
    };
    try (BatchingEncoder batcher = new BatchingEncoder(failsOnce, 64, 1_000)) {
      long deadline = System.nanoTime() + 10_000_000_000L;
      IllegalStateException failed = assertThrows(IllegalStateException.class,
          () -> batcher.embed(List.of("first"), Encoder.Kind.QUERY, deadline));
      assertTrue(failed.getMessage().contains("OutOfMemoryError"), failed.getMessage());
      assertEquals(1, batcher.embed(List.of("second"), Encoder.Kind.QUERY, deadline).length,
          "the dispatcher survived the Error");
    }
  }

  @Test
  void aCallWaitsNoLongerThanItsDeadlineWhileTheBackendIsBusy() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Encoder slow = new CountingEncoder(new OnnxEncoder(ModelSpec.ALL_MINILM_L6_V2, 1, 16)) {
      @Override
      public float[][] embed(List<String> t, Kind kind) {
        entered.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        return super.embed(t, kind);
      }
    };
    try (BatchingEncoder batcher = new BatchingEncoder(slow, 1, 0)) {
      ExecutorService pool = Executors.newSingleThreadExecutor();
      Future<float[][]> blocking = pool.submit(() -> batcher.embed(List.of("holds the backend"), Encoder.Kind.QUERY));
      // the backend must be busy before the timed call: were the timed call first, it would find
      // the model idle and run itself (then block on the latch nobody releases)
      assertTrue(entered.await(30, TimeUnit.SECONDS), "the first call reached the backend");
      long start = System.nanoTime();
      assertThrows(Encoder.DeadlineExpiredException.class,
          () -> batcher.embed(List.of("waits"), Encoder.Kind.QUERY, System.nanoTime() + 200_000_000L));
      long waitedMillis = (System.nanoTime() - start) / 1_000_000;
      assertTrue(waitedMillis < 5_000, "returned at its deadline, not when the backend freed up: " + waitedMillis);
      release.countDown();
      assertEquals(1, blocking.get(30, TimeUnit.SECONDS).length);
      pool.shutdown();
    }
  }

  /** A close while the dispatcher waits for more calls to join a batch must fail the calls it holds. */
  @Test
  void aCallTakenIntoABatchBeingAssembledIsFailedByClose() throws Exception {
    Encoder fast = new Encoder() {
      @Override
      public ModelSpec model() {
        return ModelSpec.ALL_MINILM_L6_V2;
      }

      @Override
      public String backend() {
        return "test";
      }

      @Override
      public float[][] embed(List<String> texts, Kind kind) {
        return new float[texts.size()][4];
      }

      @Override
      public void close() {
      }
    };
    // a 60 s batching window: the dispatcher takes the call and then waits for company
    BatchingEncoder batcher = new BatchingEncoder(fast, 8, 60_000_000L);
    ExecutorService pool = Executors.newSingleThreadExecutor();
    Future<?> call = pool.submit(() -> batcher.embed(List.of("alone"), Encoder.Kind.QUERY));
    Thread.sleep(500);
    batcher.close();
    ExecutionException e = assertThrows(ExecutionException.class, () -> call.get(10, TimeUnit.SECONDS),
        "the call returns instead of waiting forever");
    assertTrue(e.getCause() instanceof IllegalStateException, e.getCause().toString());
    pool.shutdown();
  }

  @Test
  void callsRacingCloseAllCompleteAndCloseWaitsForTheRunsInFlight() throws Exception {
    BatchingEncoder batcher = new BatchingEncoder(new OnnxEncoder(ModelSpec.ALL_MINILM_L6_V2, 1, 16), 8, 500);
    ExecutorService pool = Executors.newFixedThreadPool(8);
    List<Future<?>> calls = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      int n = i;
      calls.add(pool.submit(() -> {
        try {
          batcher.embed(List.of("text " + n), Encoder.Kind.PASSAGE);
        } catch (IllegalStateException closedOrInterrupted) {
          // failed, as a call during close may: what matters is that it returned
        }
      }));
    }
    Thread.sleep(20);
    batcher.close();
    for (Future<?> f : calls) {
      f.get(30, TimeUnit.SECONDS); // none left waiting forever
    }
    pool.shutdown();
    assertThrows(IllegalStateException.class, () -> batcher.embed(List.of("after"), Encoder.Kind.QUERY));
  }
}
