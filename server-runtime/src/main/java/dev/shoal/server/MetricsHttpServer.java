package dev.shoal.server;

import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/** Serves a {@link Metrics} registry at {@code GET /metrics} for processes with no other HTTP server. */
public final class MetricsHttpServer implements AutoCloseable {

  static {
    HttpServerLimits.apply();
  }

  private final HttpServer server;

  public MetricsHttpServer(String host, int port, Metrics metrics) {
    try {
      server = HttpServer.create(new InetSocketAddress(host, port), 16);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot bind the metrics port " + host + ":" + port, e);
    }
    server.createContext("/metrics", handler(metrics));
    server.start();
  }

  /** The {@code GET /metrics} handler, for any JDK HTTP server that serves a registry. */
  public static HttpHandler handler(Metrics metrics) {
    return ex -> {
      byte[] body = metrics.scrape().getBytes(StandardCharsets.UTF_8);
      ex.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
      ex.sendResponseHeaders(200, body.length);
      try (OutputStream out = ex.getResponseBody()) {
        out.write(body);
      }
    };
  }

  public int port() {
    return server.getAddress().getPort();
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
