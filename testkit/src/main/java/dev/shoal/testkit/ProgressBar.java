package dev.shoal.testkit;

import java.io.PrintStream;
import java.time.Duration;

/**
 * A one-line progress bar: count/total, rate and ETA. Redraws in place on a terminal; on a
 * pipe or log it prints a line every few seconds instead. Single-threaded use.
 */
public final class ProgressBar {

  private final PrintStream out;
  private final String label;
  private final long total;
  private final String unit;
  private final boolean terminal;
  private final long startNanos = System.nanoTime();
  private long lastPrint;
  private boolean finished;

  public ProgressBar(PrintStream out, String label, long total) {
    this(out, label, total, "docs");
  }

  public ProgressBar(PrintStream out, String label, long total, String unit) {
    this(out, label, total, unit, onTerminal());
  }

  ProgressBar(PrintStream out, String label, long total, String unit, boolean terminal) {
    this.terminal = terminal;
    this.out = out;
    this.label = label;
    this.total = total;
    this.unit = unit;
  }

  public void update(long done) {
    if (finished) {
      return;
    }
    finished = done >= total;
    long now = System.nanoTime();
    long interval = terminal ? 200_000_000L : 5_000_000_000L;
    if (done < total && now - lastPrint < interval) {
      return;
    }
    lastPrint = now;
    double secs = Math.max(1e-3, (now - startNanos) / 1e9);
    double rate = done / secs;
    String eta = rate > 0 && done < total ? format(Duration.ofSeconds((long) ((total - done) / rate))) : "-";
    int width = 30;
    int filled = total == 0 ? width : (int) Math.min(width, width * done / total);
    String bar = "#".repeat(filled) + ".".repeat(width - filled);
    String line = String.format("%s [%s] %d/%d %s  %.1f %s/s  ETA %s", label, bar, done, total, unit, rate, unit, eta);
    if (terminal) {
      out.print("\r" + line + "   ");
      if (done >= total) {
        out.println();
      }
    } else {
      out.println(line);
    }
    out.flush();
  }

  /**
   * Whether the process writes to a terminal. Since JDK 22 {@link System#console()} is non-null
   * even when output goes to a pipe or file, so {@link java.io.Console#isTerminal()} decides.
   */
  static boolean onTerminal() {
    java.io.Console c = System.console();
    return c != null && c.isTerminal();
  }

  static String format(Duration d) {
    long s = d.toSeconds();
    return s >= 60 ? (s / 60) + "m" + String.format("%02d", s % 60) + "s" : s + "s";
  }
}
