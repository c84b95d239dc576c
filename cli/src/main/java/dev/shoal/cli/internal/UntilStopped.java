package dev.shoal.cli.internal;

import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * The tail of every single-service command: print the ready line (what scripts and
 * {@code shoal cluster up} wait for), then block until SIGTERM/Ctrl-C and close the parts in
 * reverse order, so each one drains before what it depends on goes away.
 */
public final class UntilStopped {

  private UntilStopped() {
  }

  /** @param parts in start order */
  public static int serve(String readyLine, List<? extends AutoCloseable> parts) throws InterruptedException {
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
    System.out.println(readyLine);
    System.out.flush();
    stopped.await();
    return 0;
  }
}
