package dev.shoal.query.internal;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.shoal.api.v1.FusionParams;
import dev.shoal.api.v1.GetRequest;
import dev.shoal.api.v1.QuerySyntax;
import dev.shoal.api.v1.RankProfile;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.server.HttpServerLimits;
import io.grpc.Status;
import io.grpc.StatusException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTP/JSON front of the search API, on the same {@link QueryPipeline} as gRPC.
 *
 * <ul>
 *   <li>{@code GET /v1/search?q=..&k=..&offset=..&profile=..&syntax=..&explain=..&timeout_ms=..&fields=a,b}
 *       and, for the advanced stages, {@code &retrievers=bm25,dense&rescorer=cosine&fusion=rrf&rrf_k=60&w.bm25=2}</li>
 *   <li>{@code POST /v1/search} with the JSON form of {@code shoal.v1.SearchRequest}</li>
 *   <li>{@code GET /v1/docs/{id}}</li>
 *   <li>{@code GET /healthz}</li>
 *   <li>{@code GET /metrics}: the process's metrics in Prometheus text format</li>
 * </ul>
 * Errors are JSON {@code {"code": "INVALID_ARGUMENT", "message": "..."}} with the HTTP status
 * of the gRPC code (400, 404, 503, 504, 500). Bodies over the request-size limit are 413; a POST
 * body that says it is not JSON is 415; a malformed %-escape is 400; a path that only starts
 * like a route is 404. Paths are decoded as paths ({@code /v1/docs/a+b} is the id "a+b"); query
 * strings as forms ({@code q=a+b} is "a b"). The JDK server's time and connection limits are
 * {@link HttpServerLimits}'.
 */
public final class HttpGateway implements AutoCloseable {

  static {
    HttpServerLimits.apply();
  }

  private static final Logger LOG = LoggerFactory.getLogger(HttpGateway.class);
  private static final JsonFormat.Printer PRINTER = JsonFormat.printer().omittingInsignificantWhitespace();
  private static final JsonFormat.Parser PARSER = JsonFormat.parser();
  private final HttpServer server;
  private final ExecutorService executor;
  private final QueryPipeline pipeline;
  private final int maxBodyBytes;

  public HttpGateway(String host, int port, QueryPipeline pipeline, int maxBodyBytes, int threads,
                     dev.shoal.server.Metrics metrics) {
    this.pipeline = pipeline;
    this.maxBodyBytes = maxBodyBytes;
    try {
      this.server = HttpServer.create(new InetSocketAddress(host, port), 128);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot bind HTTP on " + host + ":" + port, e);
    }
    this.executor = Executors.newFixedThreadPool(threads, r -> {
      Thread t = new Thread(r, "http");
      t.setDaemon(true);
      return t;
    });
    server.setExecutor(executor);
    server.createContext("/v1/search", this::search);
    server.createContext("/v1/docs/", this::doc);
    server.createContext("/healthz", ex -> {
      if (ex.getRequestURI().getRawPath().equals("/healthz")) {
        send(ex, 200, "{\"status\":\"SERVING\"}");
      } else {
        sendError(ex, 404, "NOT_FOUND", "no such path: " + ex.getRequestURI().getRawPath());
      }
    });
    server.createContext("/", ex -> sendError(ex, 404, "NOT_FOUND", "no such path: " + ex.getRequestURI().getRawPath()
        + " (routes: /v1/search, /v1/docs/{id}, /healthz, /metrics)"));
    server.createContext("/metrics", dev.shoal.server.MetricsHttpServer.handler(metrics));
  }

  public HttpGateway start() {
    server.start();
    return this;
  }

  public int port() {
    return server.getAddress().getPort();
  }

  private void search(HttpExchange ex) throws IOException {
    if (!ex.getRequestURI().getRawPath().equals("/v1/search")) {
      sendError(ex, 404, "NOT_FOUND", "no such path: " + ex.getRequestURI().getRawPath());
      return;
    }
    try {
      SearchRequest req;
      switch (ex.getRequestMethod()) {
        case "GET" -> req = fromQueryString(ex.getRequestURI().getRawQuery());
        case "POST" -> {
          String type = ex.getRequestHeaders().getFirst("Content-Type");
          if (type != null && !type.toLowerCase(Locale.ROOT).startsWith("application/json")) {
            sendError(ex, 415, "UNSUPPORTED_MEDIA_TYPE", "POST /v1/search takes application/json, got " + type);
            return;
          }
          SearchRequest.Builder b = SearchRequest.newBuilder();
          try {
            PARSER.merge(new String(readBody(ex), StandardCharsets.UTF_8), b);
          } catch (InvalidProtocolBufferException e) {
            throw Status.INVALID_ARGUMENT.withDescription("request body is not a SearchRequest in JSON: "
                + e.getMessage()).asException();
          }
          req = b.build();
        }
        default -> {
          sendError(ex, 405, "METHOD_NOT_ALLOWED", "use GET or POST");
          return;
        }
      }
      send(ex, 200, PRINTER.print(pipeline.search(req, Long.MAX_VALUE)));
    } catch (StatusException e) {
      sendStatus(ex, e.getStatus());
    } catch (RuntimeException e) {
      LOG.error("HTTP search failed", e);
      sendError(ex, 500, "INTERNAL", e.toString());
    }
  }

  private void doc(HttpExchange ex) throws IOException {
    try {
      // a path, not a form: %XX is decoded, '+' stays a plus
      String id = ex.getRequestURI().getPath().substring("/v1/docs/".length());
      if (id.isEmpty()) {
        sendError(ex, 400, "INVALID_ARGUMENT", "GET /v1/docs/{id}: the id is missing");
        return;
      }
      send(ex, 200, PRINTER.print(pipeline.get(GetRequest.newBuilder().setId(id).build(), Long.MAX_VALUE)));
    } catch (StatusException e) {
      sendStatus(ex, e.getStatus());
    } catch (RuntimeException e) {
      LOG.error("HTTP get failed", e);
      sendError(ex, 500, "INTERNAL", e.toString());
    }
  }

  private byte[] readBody(HttpExchange ex) throws IOException, StatusException {
    try (InputStream in = ex.getRequestBody()) {
      byte[] body = in.readNBytes(maxBodyBytes + 1);
      if (body.length > maxBodyBytes) {
        throw Status.RESOURCE_EXHAUSTED.withDescription("request body over " + maxBodyBytes + " bytes").asException();
      }
      return body;
    }
  }

  static SearchRequest fromQueryString(String raw) throws StatusException {
    Map<String, String> p = new HashMap<>();
    if (raw != null) {
      for (String pair : raw.split("&")) {
        int eq = pair.indexOf('=');
        String k = formDecode(eq < 0 ? pair : pair.substring(0, eq));
        String v = eq < 0 ? "" : formDecode(pair.substring(eq + 1));
        p.put(k, v);
      }
    }
    SearchRequest.Builder b = SearchRequest.newBuilder().setQuery(p.getOrDefault("q", ""));
    b.setTopK(intParam(p, "k"));
    b.setOffset(intParam(p, "offset"));
    b.setRerankDepth(intParam(p, "rerank_depth"));
    b.setTimeoutMs(intParam(p, "timeout_ms"));
    b.setExplain(Boolean.parseBoolean(p.getOrDefault("explain", "false")));
    b.setSession(p.getOrDefault("session", ""));
    if (p.containsKey("profile")) {
      try {
        b.setProfile(RankProfile.valueOf(p.get("profile").toUpperCase(Locale.ROOT)));
      } catch (IllegalArgumentException e) {
        throw Status.INVALID_ARGUMENT.withDescription("profile must be bm25, dense, hybrid or neural, got '"
            + p.get("profile") + "'").asException();
      }
    }
    if (p.containsKey("syntax")) {
      try {
        b.setSyntax(QuerySyntax.valueOf(p.get("syntax").toUpperCase(Locale.ROOT)));
      } catch (IllegalArgumentException e) {
        throw Status.INVALID_ARGUMENT.withDescription("syntax must be plain or lucene, got '" + p.get("syntax") + "'")
            .asException();
      }
    }
    b.addAllFields(list(p.get("fields")));
    b.addAllRetrievers(list(p.get("retrievers")));
    b.setRescorer(p.getOrDefault("rescorer", ""));
    FusionParams.Builder fusion = FusionParams.newBuilder().setRule(p.getOrDefault("fusion", ""))
        .setRrfK(intParam(p, "rrf_k"));
    for (Map.Entry<String, String> e : p.entrySet()) {
      if (e.getKey().startsWith("w.")) {
        try {
          fusion.putWeights(e.getKey().substring(2), Double.parseDouble(e.getValue()));
        } catch (NumberFormatException bad) {
          throw Status.INVALID_ARGUMENT.withDescription("'" + e.getKey() + "' must be a number, got '" + e.getValue()
              + "'").asException();
        }
      }
    }
    if (!fusion.build().equals(FusionParams.getDefaultInstance())) {
      b.setFusion(fusion);
    }
    return b.build();
  }

  private static String formDecode(String s) throws StatusException {
    try {
      return URLDecoder.decode(s, StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw Status.INVALID_ARGUMENT.withDescription("malformed %-escape in the query string near '"
          + (s.length() > 40 ? s.substring(0, 40) + "…" : s) + "': escape '%' as %25").asException();
    }
  }

  private static List<String> list(String commaSeparated) {
    List<String> out = new ArrayList<>();
    if (commaSeparated != null) {
      for (String x : commaSeparated.split(",")) {
        if (!x.isBlank()) {
          out.add(x.trim());
        }
      }
    }
    return out;
  }

  private static int intParam(Map<String, String> p, String name) throws StatusException {
    String v = p.get(name);
    if (v == null || v.isEmpty()) {
      return 0;
    }
    try {
      return Integer.parseInt(v);
    } catch (NumberFormatException e) {
      throw Status.INVALID_ARGUMENT.withDescription("'" + name + "' must be an integer, got '" + v + "'").asException();
    }
  }

  private static void sendStatus(HttpExchange ex, Status s) throws IOException {
    int http = switch (s.getCode()) {
      case INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE -> 400;
      case NOT_FOUND -> 404;
      case RESOURCE_EXHAUSTED -> 413;
      case UNAVAILABLE -> 503;
      case DEADLINE_EXCEEDED -> 504;
      default -> 500;
    };
    sendError(ex, http, s.getCode().name(), s.getDescription() == null ? "" : s.getDescription());
  }

  private static void sendError(HttpExchange ex, int http, String code, String message) throws IOException {
    StringBuilder sb = new StringBuilder("{\"code\":\"").append(code).append("\",\"message\":\"");
    sb.append(com.fasterxml.jackson.core.io.JsonStringEncoder.getInstance().quoteAsString(message));
    sb.append("\"}");
    send(ex, http, sb.toString());
  }

  private static void send(HttpExchange ex, int status, String json) throws IOException {
    byte[] body = json.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
    ex.sendResponseHeaders(status, body.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(body);
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
