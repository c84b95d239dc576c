package dev.shoal.server.time;

/**
 * Runs a task once after a delay measured on its clock: what timers (a hedge after a replica's
 * p95, a deadline) are built on, so they run under a {@link ManualClock} in tests. Thread-safe;
 * tasks must be short and must not block (they run on the scheduler's own thread).
 */
public interface Scheduler {

  /** A scheduled task that can be cancelled; cancelling a task that ran or was cancelled does nothing. */
  interface Timer {
    void cancel();
  }

  Timer schedule(Runnable task, long delayNanos);

  /** The clock whose time the delays are measured on. */
  Clock clock();
}
