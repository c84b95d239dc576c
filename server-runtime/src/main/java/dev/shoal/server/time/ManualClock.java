package dev.shoal.server.time;

import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.TimeUnit;

/**
 * A clock and scheduler that move only when told to, for unit tests of timing (hedging,
 * failure detection, fencing), as Kafka's {@code MockTime}. {@link #advance} moves both clocks
 * and runs, on the calling thread and in time order, every task that has come due, each seeing
 * the clock at its own due time. Thread-safe.
 */
public final class ManualClock implements Clock, Scheduler {

  private record Task(long dueNanos, long seq, Runnable run, boolean[] cancelled) {
  }

  private final long startMillis;
  private long nanos;
  private long seq;
  private final PriorityQueue<Task> tasks = new PriorityQueue<>((a, b) -> a.dueNanos != b.dueNanos
      ? Long.compare(a.dueNanos, b.dueNanos) : Long.compare(a.seq, b.seq));

  /** Starts at an arbitrary wall-clock time and monotonic 0. */
  public ManualClock() {
    this(1_800_000_000_000L);
  }

  public ManualClock(long startMillis) {
    this.startMillis = startMillis;
  }

  @Override
  public synchronized long nanoTime() {
    return nanos;
  }

  @Override
  public synchronized long currentTimeMillis() {
    return startMillis + TimeUnit.NANOSECONDS.toMillis(nanos);
  }

  @Override
  public Clock clock() {
    return this;
  }

  @Override
  public synchronized Timer schedule(Runnable task, long delayNanos) {
    boolean[] cancelled = {false};
    tasks.add(new Task(nanos + Math.max(0, delayNanos), seq++, task, cancelled));
    return () -> {
      synchronized (ManualClock.this) {
        cancelled[0] = true;
      }
    };
  }

  /** Moves time forward, running what comes due on the way. */
  public void advance(long amount, TimeUnit unit) {
    long target;
    synchronized (this) {
      target = nanos + unit.toNanos(amount);
    }
    while (true) {
      Task next;
      synchronized (this) {
        next = tasks.peek();
        if (next == null || next.dueNanos > target) {
          setNanos(target);
          return;
        }
        tasks.poll();
        setNanos(next.dueNanos);
        if (next.cancelled[0]) {
          continue;
        }
      }
      next.run.run();
    }
  }

  public void advanceMillis(long ms) {
    advance(ms, TimeUnit.MILLISECONDS);
  }

  private void setNanos(long n) {
    nanos = n;
  }

  /** Tasks scheduled and neither run nor cancelled. */
  public synchronized int pending() {
    List<Task> live = new ArrayList<>();
    for (Task t : tasks) {
      if (!t.cancelled[0]) {
        live.add(t);
      }
    }
    return live.size();
  }
}
