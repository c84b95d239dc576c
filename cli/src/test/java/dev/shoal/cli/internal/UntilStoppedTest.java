package dev.shoal.cli.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.server.ServiceLoop;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A service whose loop cannot start, or stops on an error, ends its process instead of idling "ready". */
class UntilStoppedTest {

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();
  private PrintStream stdout;
  private PrintStream stderr;

  @BeforeEach
  void capture() {
    stdout = System.out;
    stderr = System.err;
    System.setOut(new PrintStream(out, true));
    System.setErr(new PrintStream(err, true));
  }

  @AfterEach
  void restore() {
    System.setOut(stdout);
    System.setErr(stderr);
  }

  /** A loop that fails in onStart, as an enricher whose initTransactions timed out. */
  private static final class CannotStart extends ServiceLoop {
    CannotStart() {
      super("enricher");
    }

    @Override
    protected void onStart() {
      throw new IllegalStateException("Timeout expired after 60000ms while awaiting InitProducerId (injected)");
    }

    @Override
    protected void runOnce() {
    }
  }

  /** A loop that runs, then hits a fatal error when the test says so, as a fenced producer. */
  private static final class FailsLater extends ServiceLoop {
    final CountDownLatch fail = new CountDownLatch(1);

    FailsLater() {
      super("enricher");
    }

    @Override
    protected void runOnce() throws Exception {
      if (fail.await(20, java.util.concurrent.TimeUnit.MILLISECONDS)) {
        throw new IllegalStateException("producer fenced (injected)");
      }
    }

    @Override
    protected boolean isFatal(Exception e) {
      return true;
    }
  }

  @Test
  void aLoopThatCannotStartExitsWithoutPrintingTheReadyLine() throws Exception {
    ServiceLoop loop = new CannotStart().start();
    int code = assertTimeoutPreemptively(Duration.ofSeconds(10),
        () -> UntilStopped.serve("enricher e1 running", List.of(), List.of(loop)));
    assertEquals(UntilStopped.LOOP_FAILED, code);
    assertFalse(out.toString().contains("enricher e1 running"), "no ready line for a service that never ran");
    assertTrue(err.toString().contains("enricher stopped on an error") && err.toString().contains("InitProducerId"),
        err.toString());
  }

  @Test
  void aLoopThatStopsOnAnErrorLaterEndsTheProcess() throws Exception {
    FailsLater loop = new FailsLater();
    loop.start();
    Thread failer = new Thread(() -> {
      try {
        Thread.sleep(500);
      } catch (InterruptedException e) {
        return;
      }
      loop.fail.countDown();
    });
    failer.start();
    int code = assertTimeoutPreemptively(Duration.ofSeconds(10),
        () -> UntilStopped.serve("enricher e1 running", List.of(), List.of(loop)));
    assertEquals(UntilStopped.LOOP_FAILED, code);
    assertTrue(out.toString().contains("enricher e1 running"), "it was ready before it failed");
    assertTrue(err.toString().contains("producer fenced"), err.toString());
  }
}
