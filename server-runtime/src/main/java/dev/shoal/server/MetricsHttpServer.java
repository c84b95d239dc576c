package dev.shoal.server;

import dev.shoal.server.tls.Tls;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * Serves a {@link Metrics} registry at {@code GET /metrics} (Prometheus text format) for processes
 * with no other HTTP server, on Jetty: connections are read by its selector, so a scraper that
 * stalls holds no thread; idle connections close after {@value #IDLE_TIMEOUT_MS} ms; at most
 * {@value #MAX_CONNECTIONS} are open. Any other path is a JSON 404.
 *
 * <p>Lifecycle: serving once constructed; {@link #close()} stops it. Thread-safe.
 */
public final class MetricsHttpServer implements AutoCloseable {

  public static final int IDLE_TIMEOUT_MS = 30_000;
  public static final int MAX_CONNECTIONS = 64;

  private final Server server;
  private final ServerConnector connector;

  /** Plaintext. @throws IllegalStateException when the port cannot be bound */
  public MetricsHttpServer(String host, int port, Metrics metrics) {
    this(host, port, metrics, Tls.plaintext());
  }

  /** Over {@code tls} (HTTPS when enabled). @throws IllegalStateException when the port cannot be bound */
  public MetricsHttpServer(String host, int port, Metrics metrics, Tls tls) {
    QueuedThreadPool pool = new QueuedThreadPool(6, 2);
    pool.setName("metrics-http");
    pool.setDaemon(true);
    server = new Server(pool);
    HttpConfiguration config = new HttpConfiguration();
    config.setSendServerVersion(false);
    config.setIdleTimeout(IDLE_TIMEOUT_MS);
    connector = new ServerConnector(server, 1, 1, tls.jettyConnectionFactories(config));
    connector.setHost(host);
    connector.setPort(port);
    connector.setIdleTimeout(IDLE_TIMEOUT_MS);
    server.addConnector(connector);
    server.addBean(new NetworkConnectionLimit(MAX_CONNECTIONS, server));
    server.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) {
        if (request.getHttpURI().getPath().equals("/metrics")) {
          write(metrics, request, response, callback);
        } else {
          response.setStatus(404);
          response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json; charset=utf-8");
          String body = "{\"code\":\"NOT_FOUND\",\"message\":\"no such path (this port serves GET /metrics)\"}";
          response.write(true, ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)), callback);
        }
        return true;
      }
    });
    try {
      server.start();
    } catch (Exception e) {
      throw new IllegalStateException("cannot serve metrics on " + host + ":" + port + ": " + e.getMessage(), e);
    }
  }

  /**
   * The registry as a {@code GET /metrics} answer, in the format the request's {@code Accept}
   * header names (Prometheus text when it names none), for any Jetty server that serves one.
   */
  public static void write(Metrics metrics, Request request, Response response, Callback callback) {
    java.io.ByteArrayOutputStream body = new java.io.ByteArrayOutputStream();
    String type;
    try {
      type = metrics.scrape(request.getHeaders().get(HttpHeader.ACCEPT), body);
    } catch (java.io.IOException e) {
      Response.writeError(request, response, callback, e);
      return;
    }
    response.setStatus(200);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, type);
    response.write(true, ByteBuffer.wrap(body.toByteArray()), callback);
  }

  public int port() {
    return connector.getLocalPort();
  }

  @Override
  public void close() {
    try {
      server.stop();
    } catch (Exception e) {
      throw new IllegalStateException("metrics server did not stop cleanly", e);
    }
  }
}
