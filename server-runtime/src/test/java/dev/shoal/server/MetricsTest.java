package dev.shoal.server;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class MetricsTest {

  @Test
  void rendersPrometheusText() {
    Metrics m = new Metrics();
    m.counter("shoal_docs_total", "Documents.", "shard", "1").add(3);
    m.counter("shoal_docs_total", "Documents.", "shard", "1").inc();
    m.gauge("shoal_lag", "Lag.", () -> 7, "shard", "0");
    Metrics.Histogram h = m.histogram("shoal_seconds", "Latency.", new double[] {0.1, 1});
    h.observe(0.05);
    h.observe(0.5);
    h.observe(5);
    String text = m.scrape();
    assertTrue(text.contains("# TYPE shoal_docs_total counter\n"), text);
    assertTrue(text.contains("shoal_docs_total{shard=\"1\"} 4\n"), text);
    assertTrue(text.contains("shoal_lag{shard=\"0\"} 7\n"), text);
    assertTrue(text.contains("shoal_seconds_bucket{le=\"0.1\"} 1\n"), text);
    assertTrue(text.contains("shoal_seconds_bucket{le=\"1\"} 2\n"), text);
    assertTrue(text.contains("shoal_seconds_bucket{le=\"+Inf\"} 3\n"), text);
    assertTrue(text.contains("shoal_seconds_sum 5.55\n"), text);
    assertTrue(text.contains("shoal_seconds_count 3\n"), text);
  }
}
