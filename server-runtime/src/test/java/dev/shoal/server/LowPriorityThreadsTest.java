package dev.shoal.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class LowPriorityThreadsTest {

  /** The nice value of the calling thread, from Linux's /proc (field 19 of its stat line). */
  private static int niceOfThisThread() throws Exception {
    String stat = Files.readString(Path.of("/proc/thread-self/stat"));
    String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return Integer.parseInt(fields[16]);
  }

  @Test
  void itsThreadsRunAtNiceTenAndOthersAreUntouched() throws Exception {
    assertTrue(Files.exists(Path.of("/proc/thread-self/stat")), "Linux: the tests run where Shoal is deployed");
    int before = niceOfThisThread();
    CompletableFuture<Integer> nice = new CompletableFuture<>();
    Thread t = new LowPriorityThreads("test").newThread(() -> {
      try {
        nice.complete(niceOfThisThread());
      } catch (Exception e) {
        nice.completeExceptionally(e);
      }
    });
    t.start();
    assertEquals(LowPriorityThreads.NICE, (int) nice.get(10, TimeUnit.SECONDS), "setpriority took effect");
    assertTrue(t.isDaemon());
    assertEquals(before, niceOfThisThread(), "the caller's own priority is unchanged");
  }
}
