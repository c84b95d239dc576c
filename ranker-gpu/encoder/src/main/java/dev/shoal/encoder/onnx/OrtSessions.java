package dev.shoal.encoder.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * One model's ONNX Runtime sessions and the way a call's rows are spread over the CPU, shared by
 * the embedding and the cross-encoder backends.
 *
 * <p>A call's rows are sorted by token length and cut into sub-batches of similar length (less
 * padding), at least one per worker, and the sub-batches run in parallel, each single-threaded
 * inside ONNX Runtime: on a small shared machine several single-threaded runs beat one
 * multi-threaded run. A single row cannot be split, so it runs on a second session that uses all
 * workers' threads inside ONNX Runtime; so does a bulk call with more sub-batches than workers
 * (the enricher's), one sub-batch after another, which keeps every core busy to the end
 * (measured 5-10% faster on 300 SciFact passages in batches of 64).
 *
 * <p>Thread-safe: concurrent calls share the worker pool; ONNX Runtime sessions allow concurrent
 * {@code run}. {@link #close()} refuses new runs, waits for those in flight, then frees the
 * sessions: ONNX Runtime does not check for a closed session, so freeing one under a running
 * {@code run} crashes the JVM (a caller interrupted while it waits returns at once, but its
 * sub-batches still run on the workers).
 */
final class OrtSessions implements AutoCloseable {

  /** Runs the given rows of a call, padded to their longest, on a session. */
  interface RowsRun {
    void run(int[] rows, OrtSession session) throws OrtException;
  }

  private final OrtSession session;
  private final OrtSession wideSession;
  private final int parallelism;
  private final ExecutorService workers;
  private final AtomicBoolean closed = new AtomicBoolean();
  /** Held shared by every session run, exclusively by close. */
  private final ReentrantReadWriteLock runs = new ReentrantReadWriteLock();

  /** @param parallelism sub-batches run at once (one ONNX Runtime thread each) */
  OrtSessions(OrtEnvironment env, byte[] model, int parallelism, String threadName) throws OrtException {
    this.parallelism = Math.max(1, parallelism);
    this.session = env.createSession(model, options(1));
    this.wideSession = this.parallelism > 1 ? env.createSession(model, options(this.parallelism)) : session;
    this.workers = Executors.newFixedThreadPool(this.parallelism, r -> {
      Thread t = new Thread(r, threadName);
      t.setDaemon(true);
      return t;
    });
  }

  private static OrtSession.SessionOptions options(int threads) throws OrtException {
    OrtSession.SessionOptions o = new OrtSession.SessionOptions();
    o.setIntraOpNumThreads(threads);
    o.setInterOpNumThreads(1);
    o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
    return o;
  }

  Set<String> inputNames() throws OrtException {
    return session.getInputNames();
  }

  Set<String> outputNames() throws OrtException {
    return session.getOutputNames();
  }

  boolean closed() {
    return closed.get();
  }

  /**
   * Runs all rows of a call: sorted by {@code lengths}, in sub-batches of at most {@code maxBatch}.
   *
   * @throws IllegalStateException when closed, interrupted, or when ONNX Runtime fails (its message kept)
   */
  void runAll(int[] lengths, int maxBatch, RowsRun run) {
    if (closed.get()) {
      throw new IllegalStateException("encoder closed");
    }
    int n = lengths.length;
    if (n == 0) {
      return;
    }
    if (n == 1) {
      guarded(new int[] {0}, wideSession, run);
      return;
    }
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    Arrays.sort(order, Comparator.comparingInt(i -> lengths[i]));
    // at least one sub-batch per worker, so every core has work
    int size = Math.max(1, Math.min(maxBatch, (n + parallelism - 1) / parallelism));
    // a bulk call: one sub-batch after another on the wide session keeps every core busy to the
    // end (single rows, as a model with dynamic quantisation runs, still go one per worker)
    boolean bulk = parallelism > 1 && size > 1 && (n + size - 1) / size > parallelism;
    List<Future<?>> pending = new ArrayList<>();
    for (int from = 0; from < n; from += size) {
      int[] batch = new int[Math.min(size, n - from)];
      for (int j = 0; j < batch.length; j++) {
        batch[j] = order[from + j];
      }
      if (bulk) {
        guarded(batch, wideSession, run);
      } else {
        pending.add(workers.submit(() -> guarded(batch, session, run)));
      }
    }
    for (Future<?> f : pending) {
      try {
        f.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while the model ran", e);
      } catch (ExecutionException e) {
        throw e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
      }
    }
  }

  private void guarded(int[] rows, OrtSession on, RowsRun run) {
    runs.readLock().lock();
    try {
      if (closed.get()) {
        throw new IllegalStateException("encoder closed");
      }
      run.run(rows, on);
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime failed on a batch of " + rows.length + ": " + e.getMessage(), e);
    } finally {
      runs.readLock().unlock();
    }
  }

  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      workers.shutdown();
      runs.writeLock().lock();
      try {
        session.close();
        if (wideSession != session) {
          wideSession.close();
        }
      } catch (OrtException e) {
        throw new IllegalStateException(e);
      } finally {
        runs.writeLock().unlock();
      }
    }
  }
}
