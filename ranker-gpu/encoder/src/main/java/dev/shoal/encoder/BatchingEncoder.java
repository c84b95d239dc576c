package dev.shoal.encoder;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Dynamic batching in front of a backend {@link Encoder}: the calls waiting when the backend
 * becomes free, and those that arrive within {@code maxDelayMicros} of the first of them, are
 * merged, up to {@code maxBatch} texts of the same kind, into one backend call (which sorts them
 * by length, so padding stays low). With a window of 0, the default of Shoal's services, an idle
 * batcher runs a call at once (no queueing delay at low load) and the backend's own run is the
 * window in which the next batch gathers. A call whose deadline has passed while it waited is
 * dropped before the model runs.
 *
 * <p>Thread-safe; one dispatcher thread feeds the backend, so the backend sees one merged
 * batch at a time and spreads it over its own workers. {@link #close()} fails waiting calls
 * and closes the backend; a call that arrives during or after close fails at once.
 *
 * <p>Error policy: whatever the backend throws, an {@link Error} such as an OutOfMemoryError in a
 * batch tensor included, fails the calls of that batch and the dispatcher goes on with the next;
 * no call waits past its deadline (it gets {@link DeadlineExpiredException}), and a call without
 * a deadline is failed should the dispatcher ever stop.
 */
public final class BatchingEncoder implements Encoder {

  private record Pending(List<String> texts, Kind kind, long deadlineNanos, CompletableFuture<float[][]> result) {
  }

  private final Encoder backend;
  private final int maxBatch;
  private final long maxDelayNanos;
  private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
  private final Thread dispatcher;
  private final AtomicLong batches = new AtomicLong();
  private final AtomicLong expired = new AtomicLong();
  private volatile boolean closed;

  public BatchingEncoder(Encoder backend, int maxBatch, long maxDelayMicros) {
    this.backend = backend;
    this.maxBatch = maxBatch;
    this.maxDelayNanos = TimeUnit.MICROSECONDS.toNanos(maxDelayMicros);
    this.dispatcher = new Thread(this::dispatch, "encoder-batcher");
    this.dispatcher.setDaemon(true);
    this.dispatcher.start();
  }

  @Override
  public ModelSpec model() {
    return backend.model();
  }

  @Override
  public String backend() {
    return backend.backend() + ", dynamic batching (max " + maxBatch + ", " + maxDelayNanos / 1000 + " µs)";
  }

  /** Backend calls made so far (for metrics and tests). */
  public long batches() {
    return batches.get();
  }

  /** Calls waiting for the dispatcher (for tests and metrics). */
  public int queued() {
    return queue.size();
  }

  /** Calls dropped because their deadline passed before they ran. */
  public long expired() {
    return expired.get();
  }

  @Override
  public float[][] embed(List<String> texts, Kind kind) {
    return embed(texts, kind, Long.MAX_VALUE);
  }

  /** Waits in the queue; dropped, with {@link DeadlineExpiredException}, if the deadline passes first. */
  @Override
  public float[][] embed(List<String> texts, Kind kind, long deadlineNanos) {
    if (closed) {
      throw new IllegalStateException("encoder closed");
    }
    if (texts.isEmpty()) {
      return new float[0][];
    }
    if (deadlineNanos != Long.MAX_VALUE && System.nanoTime() >= deadlineNanos) {
      expired.incrementAndGet();
      throw new DeadlineExpiredException();
    }
    Pending p = new Pending(List.copyOf(texts), kind, deadlineNanos, new CompletableFuture<>());
    queue.add(p);
    if (closed) {
      // close() may have drained the queue before this add; nothing would ever complete it.
      p.result().completeExceptionally(new IllegalStateException("encoder closed"));
    }
    try {
      if (deadlineNanos == Long.MAX_VALUE) {
        return p.result().get();
      }
      return p.result().get(Math.max(0, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      expired.incrementAndGet();
      throw new DeadlineExpiredException("deadline passed while the call waited for its batch");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for a batch", e);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof RuntimeException re ? re
          : new IllegalStateException("encoder backend failed: " + e.getCause(), e.getCause());
    }
  }

  private void dispatch() {
    List<Pending> carry = new ArrayList<>();
    try {
      dispatchUntilClosed(carry);
    } finally {
      // Normally on close; on anything else no waiting call may be left behind.
      closed = true;
      IllegalStateException gone = new IllegalStateException("encoder closed");
      carry.forEach(p -> p.result().completeExceptionally(gone));
      Pending p;
      while ((p = queue.poll()) != null) {
        p.result().completeExceptionally(gone);
      }
    }
  }

  private void dispatchUntilClosed(List<Pending> carry) {
    while (!closed) {
      // outside the try: a close that interrupts the wait for more calls must find the calls
      // already taken from the queue (they go back to carry, and are failed with it)
      List<Pending> batch = new ArrayList<>();
      try {
        Pending first = carry.isEmpty() ? queue.poll(100, TimeUnit.MILLISECONDS) : carry.removeFirst();
        if (first == null) {
          continue;
        }
        batch.add(first);
        int size = first.texts().size();
        long until = System.nanoTime() + maxDelayNanos;
        while (size < maxBatch) {
          long left = until - System.nanoTime();
          Pending next = left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : queue.poll();
          if (next == null) {
            break;
          }
          if (next.kind() != first.kind() || size + next.texts().size() > maxBatch) {
            carry.add(next); // starts the next batch
            break;
          }
          batch.add(next);
          size += next.texts().size();
        }
        run(batch);
      } catch (InterruptedException e) {
        carry.addAll(0, batch);
        break;
      }
    }
  }

  private void run(List<Pending> batch) {
    long now = System.nanoTime();
    List<Pending> live = new ArrayList<>();
    List<String> texts = new ArrayList<>();
    for (Pending p : batch) {
      if (now >= p.deadlineNanos()) {
        expired.incrementAndGet();
        p.result().completeExceptionally(new DeadlineExpiredException());
      } else {
        live.add(p);
        texts.addAll(p.texts());
      }
    }
    if (live.isEmpty()) {
      return;
    }
    try {
      batches.incrementAndGet();
      float[][] all = backend.embed(texts, batch.getFirst().kind());
      int at = 0;
      for (Pending p : live) {
        float[][] mine = new float[p.texts().size()][];
        System.arraycopy(all, at, mine, 0, mine.length);
        at += mine.length;
        p.result().complete(mine);
      }
    } catch (Throwable e) {
      // An Error included: the batch fails, the dispatcher lives on for the next one.
      live.forEach(p -> p.result().completeExceptionally(e));
    }
  }

  @Override
  public void close() {
    closed = true;
    dispatcher.interrupt();
    try {
      dispatcher.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    Pending p;
    while ((p = queue.poll()) != null) {
      p.result().completeExceptionally(new IllegalStateException("encoder closed"));
    }
    backend.close();
  }
}
