package dev.shoal.server;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lifecycle of a component that works in a loop on its own thread (a Kafka consumer, a
 * heartbeat publisher): {@link #start()}, then {@link #runOnce()} until {@link #close()},
 * then {@link #onStop()} on the same thread, so resources owned by the loop (a KafkaConsumer
 * is single-threaded) are closed by the thread that used them.
 *
 * <p>Error policy: an exception from {@code runOnce} is logged and the loop goes on after
 * {@link #backoffMillis()}, unless {@link #isFatal(Exception)} says otherwise; a loop never
 * dies silently. {@code close()} is idempotent and waits for the loop to finish.
 */
public abstract class ServiceLoop implements AutoCloseable {

  private final Logger log = LoggerFactory.getLogger(getClass());
  private final String name;
  private final CountDownLatch stopped = new CountDownLatch(1);
  private volatile boolean running;
  private volatile boolean ready;
  private volatile Throwable failure;
  private Thread thread;

  protected ServiceLoop(String name) {
    this.name = name;
  }

  /** Called on the loop thread before the first {@link #runOnce()}. */
  protected void onStart() throws Exception {
  }

  /** One unit of work; it should return within about a second so that close is prompt. */
  protected abstract void runOnce() throws Exception;

  /** Called on the loop thread after the last {@link #runOnce()}. */
  protected void onStop() throws Exception {
  }

  protected long backoffMillis() {
    return 500;
  }

  protected boolean isFatal(Exception e) {
    return false;
  }

  /** Called on another thread by {@link #close()} to break a blocking call (e.g. consumer.wakeup()). */
  protected void interrupt() {
  }

  public synchronized ServiceLoop start() {
    if (thread != null) {
      throw new IllegalStateException(name + " already started");
    }
    running = true;
    thread = new Thread(this::loop, name);
    thread.setDaemon(true);
    thread.start();
    return this;
  }

  public String name() {
    return name;
  }

  public boolean isRunning() {
    return running;
  }

  /** Whether {@link #onStart()} has returned and the loop still runs: what a health check reports. */
  public boolean isReady() {
    return ready && running;
  }

  /** The exception that stopped the loop, if any. */
  public Throwable failure() {
    return failure;
  }

  private void loop() {
    try {
      onStart();
      ready = true;
      while (running) {
        try {
          runOnce();
        } catch (Exception e) {
          if (!running) {
            break;
          }
          if (isFatal(e)) {
            throw e;
          }
          log.warn("{}: {}; retrying in {} ms", name, e.toString(), backoffMillis(), e);
          sleepQuietly(backoffMillis());
        }
      }
    } catch (Throwable t) {
      failure = t;
      log.error("{} stopped on an error", name, t);
    } finally {
      running = false;
      ready = false;
      try {
        onStop();
      } catch (Exception e) {
        log.warn("{}: error while stopping", name, e);
      }
      stopped.countDown();
    }
  }

  private static void sleepQuietly(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    Thread t;
    synchronized (this) {
      t = thread;
    }
    if (t == null) {
      return;
    }
    running = false;
    interrupt();
    try {
      if (!stopped.await(30, TimeUnit.SECONDS)) {
        log.warn("{} did not stop within 30 s", name);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
