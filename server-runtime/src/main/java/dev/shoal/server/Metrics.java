package dev.shoal.server;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.DoubleSupplier;

/**
 * A small metrics registry that renders the Prometheus text format (version 0.0.4): counters,
 * gauges read at scrape time, and histograms with fixed buckets, each with optional labels.
 * Thread-safe; recording is lock-free. One registry per process; components register what
 * they record when they are built.
 */
public final class Metrics {

  private record Family(String name, String help, String type) {
  }

  /** A monotonically increasing count. */
  public static final class Counter {
    private final LongAdder value = new LongAdder();

    public void inc() {
      value.increment();
    }

    public void add(long n) {
      value.add(n);
    }

    public long value() {
      return value.sum();
    }
  }

  /** Observations sorted into cumulative buckets, with their sum and count. */
  public static final class Histogram {
    private final double[] bounds;
    private final LongAdder[] counts;
    private final DoubleAdder sum = new DoubleAdder();
    private final LongAdder count = new LongAdder();

    Histogram(double[] bounds) {
      this.bounds = bounds.clone();
      this.counts = new LongAdder[bounds.length];
      for (int i = 0; i < counts.length; i++) {
        counts[i] = new LongAdder();
      }
    }

    public void observe(double v) {
      int i = Arrays.binarySearch(bounds, v);
      int bucket = i >= 0 ? i : -i - 1;
      if (bucket < counts.length) {
        counts[bucket].increment();
      }
      sum.add(v);
      count.increment();
    }

    /** Observes the seconds since {@code startNanos}. */
    public void observeSince(long startNanos) {
      observe((System.nanoTime() - startNanos) / 1e9);
    }

    public long count() {
      return count.sum();
    }
  }

  public static final double[] LATENCY_SECONDS = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
      1, 2.5, 5, 10, 30};
  public static final double[] SIZES = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};

  private final Map<String, Family> families = new ConcurrentSkipListMap<>();
  private final Map<String, Map<String, Object>> series = new ConcurrentHashMap<>();

  private Map<String, Object> family(String name, String help, String type) {
    Family f = families.computeIfAbsent(name, n -> new Family(n, help, type));
    if (!f.type().equals(type)) {
      throw new IllegalArgumentException(name + " is already a " + f.type());
    }
    return series.computeIfAbsent(name, n -> new ConcurrentSkipListMap<>());
  }

  /** The counter with these labels ({@code key, value, key, value...}). */
  public Counter counter(String name, String help, String... labels) {
    return (Counter) family(name, help, "counter").computeIfAbsent(labels(labels), k -> new Counter());
  }

  /** A gauge whose value is read from {@code value} at every scrape. */
  public void gauge(String name, String help, DoubleSupplier value, String... labels) {
    family(name, help, "gauge").put(labels(labels), value);
  }

  /** Removes a gauge series (e.g. when a shard is closed). */
  public void removeGauge(String name, String... labels) {
    Map<String, Object> s = series.get(name);
    if (s != null) {
      s.remove(labels(labels));
    }
  }

  public Histogram histogram(String name, String help, double[] buckets, String... labels) {
    return (Histogram) family(name, help, "histogram").computeIfAbsent(labels(labels), k -> new Histogram(buckets));
  }

  private static String labels(String... kv) {
    if (kv.length % 2 != 0) {
      throw new IllegalArgumentException("labels come in key, value pairs: " + List.of(kv));
    }
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < kv.length; i += 2) {
      sb.append(sb.isEmpty() ? "" : ",").append(kv[i]).append("=\"")
          .append(kv[i + 1].replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")).append('"');
    }
    return sb.toString();
  }

  /** The registry in Prometheus text format. */
  public String scrape() {
    StringBuilder out = new StringBuilder();
    for (Family f : families.values()) {
      out.append("# HELP ").append(f.name()).append(' ').append(f.help()).append('\n');
      out.append("# TYPE ").append(f.name()).append(' ').append(f.type()).append('\n');
      for (Map.Entry<String, Object> s : series.getOrDefault(f.name(), Map.of()).entrySet()) {
        String l = s.getKey();
        switch (s.getValue()) {
          case Counter c -> line(out, f.name(), l, c.value());
          case DoubleSupplier g -> line(out, f.name(), l, g.getAsDouble());
          case Histogram h -> {
            long cumulative = 0;
            for (int i = 0; i < h.bounds.length; i++) {
              cumulative += h.counts[i].sum();
              line(out, f.name() + "_bucket", join(l, "le=\"" + num(h.bounds[i]) + "\""), cumulative);
            }
            line(out, f.name() + "_bucket", join(l, "le=\"+Inf\""), h.count.sum());
            line(out, f.name() + "_sum", l, h.sum.sum());
            line(out, f.name() + "_count", l, h.count.sum());
          }
          default -> throw new IllegalStateException("unknown series " + s.getValue());
        }
      }
    }
    return out.toString();
  }

  private static String join(String a, String b) {
    return a.isEmpty() ? b : a + "," + b;
  }

  private static void line(StringBuilder out, String name, String labels, double v) {
    out.append(name);
    if (!labels.isEmpty()) {
      out.append('{').append(labels).append('}');
    }
    out.append(' ').append(num(v)).append('\n');
  }

  private static String num(double v) {
    if (v == Math.rint(v) && Math.abs(v) < 1e15) {
      return Long.toString((long) v);
    }
    return String.format(Locale.ROOT, "%s", v);
  }
}
