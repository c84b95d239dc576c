package dev.shoal.server.time;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Scheduler} on the system clock: one daemon thread; cancelled timers are removed at
 * once, so a timer per request does not pile up. A task that throws is logged and does not stop
 * later tasks. {@link #close()} drops pending tasks.
 */
public final class SystemScheduler implements Scheduler, AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(SystemScheduler.class);
  private final ScheduledThreadPoolExecutor executor;

  public SystemScheduler(String name) {
    executor = new ScheduledThreadPoolExecutor(1, r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    });
    executor.setRemoveOnCancelPolicy(true);
  }

  @Override
  public Timer schedule(Runnable task, long delayNanos) {
    ScheduledFuture<?> f = executor.schedule(() -> {
      try {
        task.run();
      } catch (RuntimeException e) {
        LOG.warn("scheduled task failed", e);
      }
    }, Math.max(0, delayNanos), TimeUnit.NANOSECONDS);
    return () -> f.cancel(false);
  }

  @Override
  public Clock clock() {
    return Clock.SYSTEM;
  }

  @Override
  public void close() {
    executor.shutdownNow();
  }
}
