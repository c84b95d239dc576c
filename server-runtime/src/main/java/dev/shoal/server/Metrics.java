package dev.shoal.server;

import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.MetricWithFixedMetadata;
import io.prometheus.metrics.expositionformats.ExpositionFormatWriter;
import io.prometheus.metrics.expositionformats.ExpositionFormats;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.DoubleSupplier;

/**
 * One process's metrics, kept by the Prometheus Java client library: counters, gauges read at
 * scrape time and histograms with fixed buckets, each with optional labels, plus the JVM's own
 * metrics (memory, GC, threads, classes, CPU). Scrapes are in whatever format the scraper's
 * {@code Accept} header asks for (Prometheus text, OpenMetrics, or the protobuf format).
 *
 * <p>A family's label names are fixed by its first series: {@code counter("x", .., "shard", "1")}
 * and then {@code counter("x", .., "node", "a")} is an error. Thread-safe; recording is lock-free.
 * One registry per process; components register what they record when they are built.
 */
public final class Metrics {

  /** A monotonically increasing count. */
  public static final class Counter {
    private final CounterDataPoint point;

    private Counter(CounterDataPoint point) {
      this.point = point;
    }

    public void inc() {
      point.inc();
    }

    public void add(long n) {
      point.inc(n);
    }

    public long value() {
      return point.getLongValue();
    }
  }

  /** Observations sorted into cumulative buckets, with their sum and count. */
  public static final class Histogram {
    private final DistributionDataPoint point;

    private Histogram(DistributionDataPoint point) {
      this.point = point;
    }

    public void observe(double v) {
      point.observe(v);
    }

    /** Observes the seconds since {@code startNanos}. */
    public void observeSince(long startNanos) {
      observe((System.nanoTime() - startNanos) / 1e9);
    }

    public long count() {
      return point.getCount();
    }
  }

  public static final double[] LATENCY_SECONDS = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
      1, 2.5, 5, 10, 30};
  public static final double[] SIZES = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};

  private static final ExpositionFormats FORMATS = ExpositionFormats.init();

  private record Family(String type, MetricWithFixedMetadata metric, List<String> labelNames) {
  }

  /** The series of one callback gauge, by label values. */
  private record GaugeSeries(List<String> labelNames, Map<List<String>, DoubleSupplier> values) {
  }

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final Map<String, Family> families = new ConcurrentHashMap<>();
  private final Map<String, GaugeSeries> gauges = new ConcurrentHashMap<>();

  /** With the JVM's metrics. */
  public Metrics() {
    JvmMetrics.builder().register(registry);
  }

  /** The library's registry, for collectors that register themselves (e.g. gRPC server metrics). */
  public PrometheusRegistry registry() {
    return registry;
  }

  /** The counter with these labels ({@code key, value, key, value...}). */
  public Counter counter(String name, String help, String... labels) {
    Family f = family(name, "counter", labels, () -> io.prometheus.metrics.core.metrics.Counter.builder()
        .name(name).help(help).labelNames(names(labels)).register(registry));
    return new Counter(((io.prometheus.metrics.core.metrics.Counter) f.metric()).labelValues(values(labels)));
  }

  /** A gauge whose value is read from {@code value} at every scrape. */
  public void gauge(String name, String help, DoubleSupplier value, String... labels) {
    GaugeSeries series = gauges.computeIfAbsent(name, n -> {
      GaugeSeries s = new GaugeSeries(List.of(names(labels)), new ConcurrentHashMap<>());
      family(name, "gauge", labels, () -> GaugeWithCallback.builder().name(name).help(help).labelNames(names(labels))
          .callback(cb -> s.values().forEach((v, supplier) -> cb.call(supplier.getAsDouble(), v.toArray(String[]::new))))
          .register(registry));
      return s;
    });
    if (!series.labelNames().equals(List.of(names(labels)))) {
      throw new IllegalArgumentException(name + " has labels " + series.labelNames() + ", not "
          + List.of(names(labels)));
    }
    series.values().put(List.of(values(labels)), value);
  }

  /** Removes a gauge series (e.g. when a shard is closed). */
  public void removeGauge(String name, String... labels) {
    GaugeSeries s = gauges.get(name);
    if (s != null) {
      s.values().remove(List.of(values(labels)));
    }
  }

  public Histogram histogram(String name, String help, double[] buckets, String... labels) {
    Family f = family(name, "histogram", labels, () -> io.prometheus.metrics.core.metrics.Histogram.builder()
        .name(name).help(help).labelNames(names(labels)).classicOnly().classicUpperBounds(buckets).register(registry));
    return new Histogram(((io.prometheus.metrics.core.metrics.Histogram) f.metric()).labelValues(values(labels)));
  }

  private Family family(String name, String type, String[] labels, java.util.function.Supplier<
      MetricWithFixedMetadata> create) {
    Family f = families.computeIfAbsent(name, n -> new Family(type, create.get(), List.of(names(labels))));
    if (!f.type().equals(type)) {
      throw new IllegalArgumentException(name + " is already a " + f.type());
    }
    if (!f.labelNames().equals(List.of(names(labels)))) {
      throw new IllegalArgumentException(name + " has labels " + f.labelNames() + ", not " + List.of(names(labels)));
    }
    return f;
  }

  private static String[] names(String[] kv) {
    if (kv.length % 2 != 0) {
      throw new IllegalArgumentException("labels come in key, value pairs: " + Arrays.toString(kv));
    }
    String[] out = new String[kv.length / 2];
    for (int i = 0; i < out.length; i++) {
      out[i] = kv[2 * i];
    }
    return out;
  }

  private static String[] values(String[] kv) {
    String[] out = new String[kv.length / 2];
    for (int i = 0; i < out.length; i++) {
      out[i] = kv[2 * i + 1];
    }
    return out;
  }

  /** The registry in Prometheus text format (version 0.0.4). */
  public String scrape() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      FORMATS.getPrometheusTextFormatWriter().write(out, registry.scrape());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  /**
   * Writes a scrape in the format {@code accept} (a scraper's {@code Accept} header, null for
   * none) asks for, and returns its content type.
   */
  public String scrape(String accept, OutputStream out) throws IOException {
    ExpositionFormatWriter writer = FORMATS.findWriter(accept);
    writer.write(out, registry.scrape());
    return writer.getContentType();
  }
}
