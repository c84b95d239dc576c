package dev.shoal.cli.internal;

import dev.shoal.server.ServiceLoop;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The tail of every single-service command: wait until the service's loops have started, print
 * the ready line (what scripts and {@code shoal cluster up} wait for), then block until
 * SIGTERM/Ctrl-C and close the parts in reverse order, so each one drains before what it depends
 * on goes away. A loop that fails to start, or stops on an error later (a fenced producer, an
 * {@code initTransactions} that timed out), ends the process with exit code 1 and the reason on
 * stderr: a service whose work has stopped must not stay up looking healthy.
 */
public final class UntilStopped {

  /** Exit code of a process whose loop stopped on an error. */
  public static final int LOOP_FAILED = 1;
  private static final long CHECK_MILLIS = 250;

  private UntilStopped() {
  }

  /** @param parts in start order */
  public static int serve(String readyLine, List<? extends AutoCloseable> parts) throws InterruptedException {
    return serve(readyLine, parts, List.of());
  }

  /**
   * @param parts in start order
   * @param loops the loops whose failure ends the process (already started)
   */
  public static int serve(String readyLine, List<? extends AutoCloseable> parts, List<? extends ServiceLoop> loops)
      throws InterruptedException {
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      for (int i = parts.size() - 1; i >= 0; i--) {
        try {
          parts.get(i).close();
        } catch (Exception e) {
          System.err.println("error while stopping: " + e);
        }
      }
      stopped.countDown();
    }, "shoal-shutdown"));
    while (!loops.stream().allMatch(ServiceLoop::isReady)) {
      if (failed(loops)) {
        return LOOP_FAILED;
      }
      if (stopped.await(CHECK_MILLIS / 5, TimeUnit.MILLISECONDS)) {
        return 0;
      }
    }
    System.out.println(readyLine);
    System.out.flush();
    while (!stopped.await(CHECK_MILLIS, TimeUnit.MILLISECONDS)) {
      if (failed(loops)) {
        return LOOP_FAILED;
      }
    }
    return 0;
  }

  private static boolean failed(List<? extends ServiceLoop> loops) {
    for (ServiceLoop l : loops) {
      Throwable t = l.failure();
      if (t != null) {
        System.err.println(l.name() + " stopped on an error, exiting: " + t);
        System.err.flush();
        return true;
      }
    }
    return false;
  }
}
