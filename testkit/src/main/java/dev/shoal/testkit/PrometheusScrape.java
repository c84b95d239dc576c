package dev.shoal.testkit;

import io.prometheus.metrics.expositionformats.generated.com_google_protobuf_4_36_2.Metrics.LabelPair;
import io.prometheus.metrics.expositionformats.generated.com_google_protobuf_4_36_2.Metrics.Metric;
import io.prometheus.metrics.expositionformats.generated.com_google_protobuf_4_36_2.Metrics.MetricFamily;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One scrape of a {@code /metrics} endpoint in the Prometheus protobuf format, parsed by the
 * Prometheus Java client's own generated classes (the client library has writers for the text
 * formats but no text parser; the protobuf format is the one a Prometheus server also accepts,
 * and asking for it checks the endpoint's content negotiation too). Immutable.
 */
public final class PrometheusScrape {
  /** The {@code Accept} header a Prometheus server sends for the protobuf format. */
  public static final String PROTOBUF =
      "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";

  private final Map<String, MetricFamily> families;

  private PrometheusScrape(Map<String, MetricFamily> families) {
    this.families = families;
  }

  /** Scrapes {@code url} (with {@code bearer} as the API key when not null). */
  public static PrometheusScrape of(HttpClient client, URI url, String bearer) throws IOException, InterruptedException {
    HttpRequest.Builder r = HttpRequest.newBuilder(url).header("Accept", PROTOBUF);
    if (bearer != null) {
      r.header("authorization", "Bearer " + bearer);
    }
    HttpResponse<byte[]> answer = client.send(r.build(), HttpResponse.BodyHandlers.ofByteArray());
    if (answer.statusCode() != 200) {
      throw new IOException(url + " answered " + answer.statusCode());
    }
    String type = answer.headers().firstValue("content-type").orElse("");
    if (!type.startsWith("application/vnd.google.protobuf")) {
      throw new IOException(url + " ignored Accept: " + PROTOBUF + " and sent " + type);
    }
    return parse(answer.body());
  }

  /** Parses length-delimited {@code MetricFamily} messages. */
  public static PrometheusScrape parse(byte[] delimited) throws IOException {
    Map<String, MetricFamily> out = new LinkedHashMap<>();
    InputStream in = new ByteArrayInputStream(delimited);
    MetricFamily f;
    while ((f = MetricFamily.parseDelimitedFrom(in)) != null) {
      if (out.put(f.getName(), f) != null) {
        throw new IOException("metric family " + f.getName() + " appears twice");
      }
    }
    return new PrometheusScrape(out);
  }

  public Set<String> families() {
    return families.keySet();
  }

  /** COUNTER, GAUGE, HISTOGRAM, ...; null when the family is missing. */
  public String type(String family) {
    MetricFamily f = families.get(family);
    return f == null ? null : f.getType().name();
  }

  /**
   * The sum over the family's series whose labels include {@code labels} ({@code key, value...}):
   * counters' and gauges' values, histograms' counts; 0 when none match.
   */
  public double sum(String family, String... labels) {
    MetricFamily f = families.get(family);
    if (f == null) {
      return 0;
    }
    double total = 0;
    for (Metric m : f.getMetricList()) {
      if (matches(m.getLabelList(), labels)) {
        total += m.hasCounter() ? m.getCounter().getValue()
            : m.hasGauge() ? m.getGauge().getValue()
            : m.hasHistogram() ? m.getHistogram().getSampleCount()
            : m.hasUntyped() ? m.getUntyped().getValue() : 0;
      }
    }
    return total;
  }

  /** How many series of the family have labels including {@code labels}. */
  public int series(String family, String... labels) {
    MetricFamily f = families.get(family);
    return f == null ? 0 : (int) f.getMetricList().stream().filter(m -> matches(m.getLabelList(), labels)).count();
  }

  private static boolean matches(List<LabelPair> have, String[] want) {
    for (int i = 0; i + 1 < want.length; i += 2) {
      String k = want[i];
      String v = want[i + 1];
      if (have.stream().noneMatch(p -> p.getName().equals(k) && p.getValue().equals(v))) {
        return false;
      }
    }
    return true;
  }
}
