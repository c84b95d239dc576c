package dev.shoal.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * CPU time (user + system) that processes have used, read from {@code /proc/PID/stat}, so a
 * benchmark can report CPU per query: a count that other load on a shared machine hardly moves,
 * where latency and throughput move with it. Linux only; elsewhere, or for a process that has
 * gone, the reading is -1. Resolution: the kernel's clock tick (USER_HZ, 1/100 s on Linux), so
 * read it over seconds, not per query. Stateless.
 */
final class ProcessCpu {

  /** /proc reports CPU times in ticks of USER_HZ, which Linux fixes at 100 whatever the kernel's HZ. */
  private static final long NANOS_PER_TICK = 10_000_000L;

  private ProcessCpu() {
  }

  /** The summed CPU nanoseconds of the processes, or -1 if any cannot be read. */
  static long nanos(List<Long> pids) {
    long sum = 0;
    for (long pid : pids) {
      long n = nanos(pid);
      if (n < 0) {
        return -1;
      }
      sum += n;
    }
    return sum;
  }

  private static long nanos(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      // the command name (field 2) may hold spaces and parentheses: count fields after its last ')'
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      // after the name: state is field 3, so utime (14) and stime (15) are at 11 and 12 here
      return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * NANOS_PER_TICK;
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }
}
