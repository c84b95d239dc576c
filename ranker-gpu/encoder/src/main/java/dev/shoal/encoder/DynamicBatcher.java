package dev.shoal.encoder;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiFunction;

/**
 * The dynamic batching behind {@link BatchingEncoder} and {@link BatchingCrossEncoder}: the calls
 * waiting when the model becomes free, and those that arrive within {@code maxDelayNanos} of the
 * first of them, are merged, up to {@code maxBatch} items of the same key (an embedding's kind),
 * into one model run. The model runs one batch at a time (a permit): with no window, a call that
 * finds the model idle and nobody waiting runs on its own thread at once, with no hand-off to the
 * dispatcher (no queueing delay at low load); calls that arrive while the model runs wait in the queue, and the
 * dispatcher takes them as one batch the moment the model is free, so the model's own run is the
 * window in which the next batch gathers (plus {@code maxDelayNanos}, 0 in Shoal's services). A
 * call whose deadline has passed while it waited is dropped before the model runs.
 *
 * <p>Thread-safe; one dispatcher thread calls the model, one merged batch at a time. Error
 * policy: whatever the model throws, an {@link Error} included, fails the calls of that batch and
 * the dispatcher goes on with the next; no call waits past its deadline, and a call without one
 * is failed should the dispatcher ever stop. {@link #close()} fails waiting calls; a call that
 * arrives during or after close fails at once.
 *
 * @param <I> one item of a call (a text, a pair)
 * @param <K> what items of one batch must share
 * @param <O> the model's result for one item
 */
final class DynamicBatcher<I, K, O> implements AutoCloseable {

  private record Pending<I, K, O>(List<I> items, K key, long deadlineNanos, CompletableFuture<List<O>> result) {
  }

  private final BiFunction<List<I>, K, List<O>> model;
  private final int maxBatch;
  private final long maxDelayNanos;
  private final String closedMessage;
  private final LinkedBlockingQueue<Pending<I, K, O>> queue = new LinkedBlockingQueue<>();
  private final Thread dispatcher;
  private final AtomicLong batches = new AtomicLong();
  private final AtomicLong expired = new AtomicLong();
  private final AtomicLong inline = new AtomicLong();
  private final java.util.concurrent.atomic.AtomicInteger waiting = new java.util.concurrent.atomic.AtomicInteger();
  /** Held by whoever runs the model: the dispatcher, or a caller that found it idle. */
  private final Semaphore modelPermit = new Semaphore(1);
  private volatile boolean closed;

  /**
   * @param model         runs one merged batch; returns one result per item, in order
   * @param closedMessage what a call made after close is told
   */
  DynamicBatcher(BiFunction<List<I>, K, List<O>> model, int maxBatch, long maxDelayNanos, String threadName,
                 String closedMessage) {
    this.model = model;
    this.maxBatch = maxBatch;
    this.maxDelayNanos = maxDelayNanos;
    this.closedMessage = closedMessage;
    this.dispatcher = new Thread(this::dispatch, threadName);
    this.dispatcher.setDaemon(true);
    this.dispatcher.start();
  }

  long batches() {
    return batches.get();
  }

  /** Calls waiting for the model: in the queue, or taken by the dispatcher until the model is free. */
  int queued() {
    return waiting.get();
  }

  long expired() {
    return expired.get();
  }

  /** Calls that found the model idle and ran on their own thread. */
  long inline() {
    return inline.get();
  }

  /** Waits in the queue; dropped, with {@link Encoder.DeadlineExpiredException}, if the deadline passes first. */
  List<O> submit(List<I> items, K key, long deadlineNanos) {
    if (closed) {
      throw new IllegalStateException(closedMessage);
    }
    if (items.isEmpty()) {
      return List.of();
    }
    if (deadlineNanos != Long.MAX_VALUE && System.nanoTime() >= deadlineNanos) {
      expired.incrementAndGet();
      throw new Encoder.DeadlineExpiredException();
    }
    List<I> copy = List.copyOf(items);
    // the model idle and nobody waiting: run here, sparing two thread hand-offs (not with a
    // batching window, whose point is to wait for company)
    if (maxDelayNanos == 0 && queue.isEmpty() && modelPermit.tryAcquire()) {
      try {
        if (queue.isEmpty() && !closed) {
          inline.incrementAndGet();
          batches.incrementAndGet();
          try {
            return model.apply(copy, key).subList(0, copy.size());
          } catch (RuntimeException e) {
            throw e;
          } catch (Throwable e) {
            // an Error as the dispatcher reports it: this call fails, the batcher lives on
            throw new IllegalStateException("model backend failed: " + e, e);
          }
        }
      } finally {
        modelPermit.release();
      }
    }
    Pending<I, K, O> p = new Pending<>(copy, key, deadlineNanos, new CompletableFuture<>());
    waiting.incrementAndGet();
    queue.add(p);
    if (closed) {
      // close() may have drained the queue before this add; nothing would ever complete it.
      p.result().completeExceptionally(new IllegalStateException(closedMessage));
    }
    try {
      if (deadlineNanos == Long.MAX_VALUE) {
        return p.result().get();
      }
      return p.result().get(Math.max(0, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      expired.incrementAndGet();
      throw new Encoder.DeadlineExpiredException("deadline passed while the call waited for its batch");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for a batch", e);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof RuntimeException re ? re
          : new IllegalStateException("model backend failed: " + e.getCause(), e.getCause());
    }
  }

  private void dispatch() {
    List<Pending<I, K, O>> carry = new ArrayList<>();
    try {
      dispatchUntilClosed(carry);
    } finally {
      // Normally on close; on anything else no waiting call may be left behind.
      closed = true;
      IllegalStateException gone = new IllegalStateException(closedMessage);
      carry.forEach(p -> p.result().completeExceptionally(gone));
      Pending<I, K, O> p;
      while ((p = queue.poll()) != null) {
        p.result().completeExceptionally(gone);
      }
    }
  }

  private void dispatchUntilClosed(List<Pending<I, K, O>> carry) {
    while (!closed) {
      // outside the try: a close that interrupts the wait for more calls must find the calls
      // already taken from the queue (they go back to carry, and are failed with it)
      List<Pending<I, K, O>> batch = new ArrayList<>();
      boolean held = false;
      try {
        Pending<I, K, O> first = carry.isEmpty() ? queue.poll(100, TimeUnit.MILLISECONDS) : carry.removeFirst();
        if (first == null) {
          continue;
        }
        batch.add(first);
        // wait for a caller's inline run to end; calls arriving meanwhile join this batch
        modelPermit.acquire();
        held = true;
        int size = first.items().size();
        long until = System.nanoTime() + maxDelayNanos;
        while (size < maxBatch) {
          long left = until - System.nanoTime();
          Pending<I, K, O> next = left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : queue.poll();
          if (next == null) {
            break;
          }
          if (!Objects.equals(next.key(), first.key()) || size + next.items().size() > maxBatch) {
            carry.add(next); // starts the next batch
            break;
          }
          batch.add(next);
          size += next.items().size();
        }
        run(batch);
      } catch (InterruptedException e) {
        carry.addAll(0, batch);
        break;
      } finally {
        if (held) {
          modelPermit.release();
        }
      }
    }
  }

  private void run(List<Pending<I, K, O>> batch) {
    waiting.addAndGet(-batch.size());
    long now = System.nanoTime();
    List<Pending<I, K, O>> live = new ArrayList<>();
    List<I> items = new ArrayList<>();
    for (Pending<I, K, O> p : batch) {
      if (now >= p.deadlineNanos()) {
        expired.incrementAndGet();
        p.result().completeExceptionally(new Encoder.DeadlineExpiredException());
      } else {
        live.add(p);
        items.addAll(p.items());
      }
    }
    if (live.isEmpty()) {
      return;
    }
    try {
      batches.incrementAndGet();
      List<O> all = model.apply(items, batch.getFirst().key());
      int at = 0;
      for (Pending<I, K, O> p : live) {
        p.result().complete(all.subList(at, at + p.items().size()));
        at += p.items().size();
      }
    } catch (Throwable e) {
      // An Error included: the batch fails, the dispatcher lives on for the next one.
      live.forEach(p -> p.result().completeExceptionally(e));
    }
  }

  /** Fails the waiting calls and stops the dispatcher; the model itself is the caller's to close. */
  @Override
  public void close() {
    closed = true;
    dispatcher.interrupt();
    try {
      dispatcher.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    Pending<I, K, O> p;
    while ((p = queue.poll()) != null) {
      p.result().completeExceptionally(new IllegalStateException(closedMessage));
    }
  }
}
