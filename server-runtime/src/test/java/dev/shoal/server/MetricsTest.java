package dev.shoal.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.prometheus.metrics.expositionformats.generated.com_google_protobuf_4_36_2.Metrics.MetricFamily;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MetricsTest {

  static Map<String, MetricFamily> protobuf(Metrics m) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    String type = m.scrape(
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", out);
    assertTrue(type.startsWith("application/vnd.google.protobuf"), type);
    Map<String, MetricFamily> families = new LinkedHashMap<>();
    ByteArrayInputStream in = new ByteArrayInputStream(out.toByteArray());
    MetricFamily f;
    while ((f = MetricFamily.parseDelimitedFrom(in)) != null) {
      families.put(f.getName(), f);
    }
    return families;
  }

  @Test
  void countersGaugesAndHistogramsReachTheScrapeWithTheirLabels() throws Exception {
    Metrics m = new Metrics();
    m.counter("shoal_docs_total", "Documents.", "shard", "1").add(3);
    m.counter("shoal_docs_total", "Documents.", "shard", "1").inc();
    m.counter("shoal_docs_total", "Documents.", "shard", "2").inc();
    m.gauge("shoal_lag", "Lag.", () -> 7, "shard", "0");
    Metrics.Histogram h = m.histogram("shoal_seconds", "Latency.", new double[] {0.1, 1});
    h.observe(0.05);
    h.observe(0.5);
    h.observe(5);
    assertEquals(3, h.count());
    assertEquals(4, m.counter("shoal_docs_total", "Documents.", "shard", "1").value());

    String text = m.scrape();
    assertTrue(text.contains("# TYPE shoal_docs_total counter\n"), text);
    assertTrue(text.contains("shoal_docs_total{shard=\"1\"} 4"), text);
    assertTrue(text.contains("shoal_lag{shard=\"0\"} 7"), text);
    assertTrue(text.contains("shoal_seconds_bucket{le=\"0.1\"} 1\n"), text);
    assertTrue(text.contains("shoal_seconds_bucket{le=\"1.0\"} 2\n"), text);
    assertTrue(text.contains("shoal_seconds_bucket{le=\"+Inf\"} 3\n"), text);
    assertTrue(text.contains("shoal_seconds_count 3\n"), text);
    assertTrue(text.contains("# TYPE jvm_memory_used_bytes gauge"), "the JVM's own metrics: " + text);

    Map<String, MetricFamily> families = protobuf(m);
    MetricFamily docs = families.get("shoal_docs_total");
    assertEquals(2, docs.getMetricCount(), "one series per label value: " + docs);
    double shard1 = docs.getMetricList().stream().filter(x -> x.getLabel(0).getValue().equals("1"))
        .mapToDouble(x -> x.getCounter().getValue()).sum();
    assertEquals(4, shard1);
    assertEquals(7, families.get("shoal_lag").getMetric(0).getGauge().getValue());
    assertEquals(3, families.get("shoal_seconds").getMetric(0).getHistogram().getSampleCount());
    assertEquals(5.55, families.get("shoal_seconds").getMetric(0).getHistogram().getSampleSum(), 1e-9);
  }

  @Test
  void aRemovedGaugeSeriesLeavesTheScrape() throws Exception {
    Metrics m = new Metrics();
    m.gauge("shoal_lag", "Lag.", () -> 1, "shard", "0");
    m.gauge("shoal_lag", "Lag.", () -> 2, "shard", "1");
    m.removeGauge("shoal_lag", "shard", "0");
    MetricFamily lag = protobuf(m).get("shoal_lag");
    assertEquals(1, lag.getMetricCount(), lag.toString());
    assertEquals("1", lag.getMetric(0).getLabel(0).getValue());
  }

  @Test
  void aFamilyKeepsItsTypeAndLabelNames() {
    Metrics m = new Metrics();
    m.counter("shoal_x_total", "X.", "shard", "1");
    assertThrows(IllegalArgumentException.class, () -> m.counter("shoal_x_total", "X.", "node", "a"));
    assertThrows(IllegalArgumentException.class, () -> m.histogram("shoal_x_total", "X.", Metrics.SIZES, "shard", "1"));
    assertThrows(IllegalArgumentException.class, () -> m.counter("shoal_y_total", "Y.", "odd"));
  }
}
