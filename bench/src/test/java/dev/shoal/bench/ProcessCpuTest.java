package dev.shoal.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProcessCpuTest {

  /** Spins this thread for about 400 ms of CPU: the reading moves by that much, as the JVM's own count does. */
  @Test
  void theReadingFollowsTheCpuThisProcessBurns() {
    long pid = ProcessHandle.current().pid();
    var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    long before = ProcessCpu.nanos(List.of(pid));
    long jvmBefore = os.getProcessCpuTime();
    long threadFrom = ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    double sink = 0;
    while (ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime() - threadFrom < 400_000_000L) {
      for (int i = 0; i < 100_000; i++) {
        sink += Math.sqrt(i + sink % 7);
      }
    }
    long after = ProcessCpu.nanos(List.of(pid));
    long jvm = os.getProcessCpuTime() - jvmBefore;
    assertTrue(before >= 0 && sink > 0, "readable on Linux: " + before);
    long read = after - before;
    assertTrue(read >= 350_000_000L, "the spin shows: " + read / 1e6 + " ms");
    assertEquals(jvm / 1e6, read / 1e6, 60, "within a few ticks of the JVM's own count (ms)");
    assertEquals(-1, ProcessCpu.nanos(List.of(pid, Long.MAX_VALUE)), "a process that is not there: unreadable");
  }
}
