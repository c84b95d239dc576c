package dev.shoal.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The metrics port on a real Jetty server: what it serves, and that stalled scrapers hold nothing. */
class MetricsHttpServerTest {

  private static HttpResponse<String> get(HttpClient c, int port, String path) throws Exception {
    return c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void servesTheRegistryAndAJson404ElseEvenBesideStalledClients() throws Exception {
    Metrics metrics = new Metrics();
    metrics.counter("shoal_test_total", "A counter for this test.").add(7);
    try (MetricsHttpServer server = new MetricsHttpServer("127.0.0.1", 0, metrics);
         HttpClient c = HttpClient.newHttpClient()) {
      List<Socket> stalled = new ArrayList<>();
      try {
        for (int i = 0; i < 40; i++) { // more than the server's threads, fewer than its connection limit
          Socket s = new Socket("127.0.0.1", server.port());
          s.getOutputStream().write("GET /metrics HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
          stalled.add(s);
        }
        HttpResponse<String> scrape = get(c, server.port(), "/metrics");
        assertEquals(200, scrape.statusCode());
        assertTrue(scrape.headers().firstValue("content-type").orElse("").startsWith("text/plain; version=0.0.4"));
        assertTrue(scrape.body().contains("shoal_test_total 7"), scrape.body());
        HttpResponse<String> other = get(c, server.port(), "/metricsx");
        assertEquals(404, other.statusCode());
        assertTrue(other.body().contains("\"code\":\"NOT_FOUND\""), other.body());
      } finally {
        for (Socket s : stalled) {
          s.close();
        }
      }
    }
  }
}
