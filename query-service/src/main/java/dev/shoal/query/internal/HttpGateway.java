package dev.shoal.query.internal;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import dev.shoal.api.v1.FusionParams;
import dev.shoal.api.v1.GetRequest;
import dev.shoal.api.v1.QuerySyntax;
import dev.shoal.api.v1.RankProfile;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.api.v1.SearchResponse;
import dev.shoal.server.auth.Authenticator;
import dev.shoal.server.auth.Scope;
import dev.shoal.server.tls.Tls;
import io.grpc.Status;
import io.grpc.StatusException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTP/JSON front of the search API, on the same {@link QueryPipeline} as gRPC, served by Jetty 12
 * (HTTP/1.1 with keep-alive, and HTTP/2 over cleartext for clients that ask for it).
 *
 * <ul>
 *   <li>{@code GET /}: the search page ({@link SearchPage}), open even where keys are required</li>
 *   <li>{@code GET /v1/search?q=..&k=..&offset=..&profile=..&syntax=..&explain=..&timeout_ms=..&fields=a,b&ids_only=..}
 *       and, for the advanced stages, {@code &retrievers=bm25,dense&rescorer=cosine&fusion=rrf&rrf_k=60&w.bm25=2}</li>
 *   <li>{@code POST /v1/search} with the JSON form of {@code shoal.v1.SearchRequest}</li>
 *   <li>{@code GET /v1/docs/{id}}</li>
 *   <li>{@code GET /healthz}</li>
 *   <li>{@code GET /metrics}: the process's metrics in Prometheus text format</li>
 * </ul>
 * Errors are JSON {@code {"code": "INVALID_ARGUMENT", "message": "..."}} with the HTTP status
 * of the gRPC code (400, 404, 503, 504, 500), Jetty's own (a malformed request line, headers
 * over {@value #MAX_HEADER_BYTES} bytes: 431) included. Bodies over the request-size limit are 413;
 * a POST body that says it is not JSON is 415; a malformed %-escape is 400; a path that only starts
 * like a route is 404. Paths are decoded as paths ({@code /v1/docs/a+b} is the id "a+b"); query
 * strings as forms ({@code q=a+b} is "a b").
 *
 * <p>Limits (a slow or hostile client cannot hold the front): connections are read by Jetty's
 * selector, not by a request thread, so a client that trickles its headers or body holds no
 * worker; a connection idle for {@value #IDLE_TIMEOUT_MS} ms (waiting for headers, a body or the
 * next keep-alive request) is closed; at most {@value #MAX_CONNECTIONS} connections are open, and
 * once there, idle ones are closed after {@value #IDLE_AT_LIMIT_MS} ms; the request threads are
 * {@code threads}, so searches are admitted at most that many at a time.
 *
 * <p>With an {@link Authenticator}, every route but {@code /healthz} needs
 * {@code authorization: Bearer <key>}: {@code search} for search and documents, {@code admin} for
 * {@code /metrics}; a missing or unknown key is 401 (one message for both), a key without the
 * scope 403.
 *
 * <p>Lifecycle: created bound, serving after {@link #start()}, {@link #close()} stops it. Thread-safe.
 */
public final class HttpGateway implements AutoCloseable {

  /** A connection that sends nothing for this long (headers, body, next request) is closed. */
  public static final int IDLE_TIMEOUT_MS = 30_000;
  /** Open connections at most; past it Jetty stops accepting until one closes. */
  public static final int MAX_CONNECTIONS = 1_024;
  /** The idle timeout of every connection while {@link #MAX_CONNECTIONS} are open. */
  public static final int IDLE_AT_LIMIT_MS = 2_000;
  /** Request line and headers at most. */
  public static final int MAX_HEADER_BYTES = 16 * 1024;

  private static final Logger LOG = LoggerFactory.getLogger(HttpGateway.class);
  private static final JsonFormat.Printer PRINTER = JsonFormat.printer().omittingInsignificantWhitespace();
  private static final JsonFormat.Parser PARSER = JsonFormat.parser();
  private static final String ROUTES = " (routes: / (the search page), /v1/search, /v1/docs/{id}, /healthz, /metrics)";
  private final Server server;
  private final ServerConnector connector;
  private final QueryPipeline pipeline;
  private final dev.shoal.server.Metrics metrics;
  private final int maxBodyBytes;
  private final Authenticator auth;

  public HttpGateway(String host, int port, QueryPipeline pipeline, int maxBodyBytes, int threads,
                     dev.shoal.server.Metrics metrics) {
    this(host, port, pipeline, maxBodyBytes, threads, metrics, null, Tls.plaintext());
  }

  /**
   * @param auth API keys for every route but {@code /healthz} ({@code search} for search and
   *             documents, {@code admin} for metrics); null: open
   * @param tls  HTTPS (HTTP/2 by ALPN) when enabled; else HTTP/1.1 and cleartext HTTP/2
   */
  public HttpGateway(String host, int port, QueryPipeline pipeline, int maxBodyBytes, int threads,
                     dev.shoal.server.Metrics metrics, Authenticator auth, Tls tls) {
    this.auth = auth;
    this.pipeline = pipeline;
    this.maxBodyBytes = maxBodyBytes;
    this.metrics = metrics;
    // one acceptor and one selector lease their threads from the pool; the rest serve requests
    QueuedThreadPool pool = new QueuedThreadPool(threads + 2, Math.min(threads + 2, 4));
    pool.setName("http");
    pool.setDaemon(true);
    this.server = new Server(pool);
    HttpConfiguration config = new HttpConfiguration();
    config.setSendServerVersion(false);
    config.setRequestHeaderSize(MAX_HEADER_BYTES);
    config.setIdleTimeout(IDLE_TIMEOUT_MS);
    // ids may hold any character, escaped: "/v1/docs/a%2Fb" is the id "a/b", not a path to refuse
    config.setUriCompliance(UriCompliance.UNSAFE);
    this.connector = new ServerConnector(server, 1, 1, tls.jettyConnectionFactories(config));
    connector.setHost(host);
    connector.setPort(port);
    connector.setIdleTimeout(IDLE_TIMEOUT_MS);
    connector.setAcceptQueueSize(128);
    server.addConnector(connector);
    NetworkConnectionLimit limit = new NetworkConnectionLimit(MAX_CONNECTIONS, server);
    limit.setEndPointIdleTimeout(IDLE_AT_LIMIT_MS);
    server.addBean(limit);
    server.setErrorHandler(new JsonErrors());
    server.setHandler(new Routes());
  }

  public HttpGateway start() {
    try {
      server.start();
    } catch (Exception e) {
      throw new IllegalStateException("cannot start HTTP on " + connector.getHost() + ":" + connector.getPort()
          + ": " + e.getMessage(), e);
    }
    return this;
  }

  public int port() {
    return connector.getLocalPort();
  }

  /** The routes; each answers on a request thread (blocking is fine there: the pipeline waits on shards). */
  private final class Routes extends Handler.Abstract {
    @Override
    public boolean handle(Request request, Response response, Callback callback) {
      String path = request.getHttpURI().getPath();
      try {
        String caller = "";
        if (path.equals("/") || path.equals("/index.html")) {
          // the page holds no data; it asks for a key when the API answers 401
          SearchPage.serve(request, response, callback);
          return true;
        }
        if (auth != null && !path.equals("/healthz")) {
          caller = allowed(request, response, callback, path.equals("/metrics") ? Scope.ADMIN : Scope.SEARCH);
          if (caller == null) {
            return true;
          }
        }
        if (path.equals("/v1/search")) {
          search(request, response, callback, caller);
        } else if (path.startsWith("/v1/docs/")) {
          doc(request, response, callback, caller);
        } else if (path.equals("/healthz")) {
          send(response, callback, 200, "{\"status\":\"SERVING\"}");
        } else if (path.equals("/metrics")) {
          dev.shoal.server.MetricsHttpServer.write(metrics, request, response, callback);
        } else {
          sendError(response, callback, 404, "NOT_FOUND", "no such path: " + path + ROUTES);
        }
      } catch (RuntimeException e) {
        LOG.error("HTTP {} failed", path, e);
        sendError(response, callback, 500, "INTERNAL", e.toString());
      }
      return true;
    }
  }

  /** The name of the request's key when it has the scope; if not, null, and the 401 or 403 is sent. */
  private String allowed(Request request, Response response, Callback callback, Scope needed) {
    Authenticator.Decision d = auth.check(request.getHeaders().get(HttpHeader.AUTHORIZATION), needed);
    switch (d.outcome()) {
      case ALLOWED -> {
        return d.keyName();
      }
      case UNAUTHENTICATED -> {
        response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer");
        sendError(response, callback, 401, "UNAUTHENTICATED", Authenticator.UNAUTHENTICATED_MESSAGE);
      }
      case PERMISSION_DENIED -> sendError(response, callback, 403, "PERMISSION_DENIED",
          Authenticator.permissionDenied(needed));
    }
    return null;
  }

  /** Jetty's own errors (bad request line, headers too large, ...) in the API's JSON form. */
  private static final class JsonErrors extends ErrorHandler {
    @Override
    public boolean handle(Request request, Response response, Callback callback) {
      int status = request.getAttribute(ERROR_STATUS) instanceof Integer i ? i : 500;
      String message = request.getAttribute(ERROR_MESSAGE) instanceof String m ? m : "";
      String code = switch (status) {
        case 400 -> "INVALID_ARGUMENT";
        case 404 -> "NOT_FOUND";
        case 413, 414, 431 -> "RESOURCE_EXHAUSTED";
        case 503 -> "UNAVAILABLE";
        default -> status < 500 ? "INVALID_ARGUMENT" : "INTERNAL";
      };
      sendError(response, callback, status, code, message.isEmpty() ? "HTTP " + status : message);
      return true;
    }
  }

  private void search(Request request, Response response, Callback callback, String caller) {
    try {
      SearchRequest req;
      switch (request.getMethod()) {
        case "GET" -> req = fromQueryString(request.getHttpURI().getQuery());
        case "POST" -> {
          String type = request.getHeaders().get(HttpHeader.CONTENT_TYPE);
          if (type != null && !type.toLowerCase(Locale.ROOT).startsWith("application/json")) {
            sendError(response, callback, 415, "UNSUPPORTED_MEDIA_TYPE", "POST /v1/search takes application/json, got "
                + type);
            return;
          }
          SearchRequest.Builder b = SearchRequest.newBuilder();
          try {
            PARSER.merge(new String(readBody(request), StandardCharsets.UTF_8), b);
          } catch (InvalidProtocolBufferException e) {
            throw Status.INVALID_ARGUMENT.withDescription("request body is not a SearchRequest in JSON: "
                + e.getMessage()).asException();
          }
          req = b.build();
        }
        default -> {
          sendError(response, callback, 405, "METHOD_NOT_ALLOWED", "use GET or POST");
          return;
        }
      }
      SearchRequest parsed = req;
      SearchResponse answer = HttpTracing.serve(request, response, "/v1/search",
          () -> pipeline.search(parsed, Long.MAX_VALUE, caller));
      send(response, callback, 200, PRINTER.print(answer));
    } catch (StatusException e) {
      sendStatus(response, callback, e);
    } catch (IOException e) {
      sendError(response, callback, 400, "INVALID_ARGUMENT", "could not read the request body: " + e.getMessage());
    }
  }

  private void doc(Request request, Response response, Callback callback, String caller) {
    try {
      // a path, not a form: %XX is decoded, '+' stays a plus
      String id = request.getHttpURI().getDecodedPath().substring("/v1/docs/".length());
      if (id.isEmpty()) {
        sendError(response, callback, 400, "INVALID_ARGUMENT", "GET /v1/docs/{id}: the id is missing");
        return;
      }
      send(response, callback, 200, PRINTER.print(pipeline.get(GetRequest.newBuilder().setId(id).build(),
          Long.MAX_VALUE, caller)));
    } catch (StatusException e) {
      sendStatus(response, callback, e);
    } catch (InvalidProtocolBufferException e) {
      throw new IllegalStateException(e);
    }
  }

  private byte[] readBody(Request request) throws IOException, StatusException {
    long declared = request.getLength();
    if (declared > maxBodyBytes) {
      throw Status.RESOURCE_EXHAUSTED.withDescription("request body over " + maxBodyBytes + " bytes").asException();
    }
    try (InputStream in = Content.Source.asInputStream(request)) {
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
    b.setIdsOnly(Boolean.parseBoolean(p.getOrDefault("ids_only", "false")));
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

  /**
   * A refusal from admission control (a retry hint) is 429 with {@code Retry-After} in whole
   * seconds, rounded up; any other RESOURCE_EXHAUSTED is a request over a size limit, 413.
   */
  private static void sendStatus(Response response, Callback callback, StatusException e) {
    Status s = e.getStatus();
    long retryMillis = Admission.retryMillis(e);
    if (retryMillis >= 0) {
      response.getHeaders().put(HttpHeader.RETRY_AFTER, Long.toString(Math.max(1, (retryMillis + 999) / 1000)));
    }
    int http = switch (s.getCode()) {
      case INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE -> 400;
      case NOT_FOUND -> 404;
      case RESOURCE_EXHAUSTED -> retryMillis >= 0 ? 429 : 413;
      case UNAVAILABLE -> 503;
      case DEADLINE_EXCEEDED -> 504;
      default -> 500;
    };
    sendError(response, callback, http, s.getCode().name(), s.getDescription() == null ? "" : s.getDescription());
  }

  private static void sendError(Response response, Callback callback, int http, String code, String message) {
    StringBuilder sb = new StringBuilder("{\"code\":\"").append(code).append("\",\"message\":\"");
    sb.append(com.fasterxml.jackson.core.io.JsonStringEncoder.getInstance().quoteAsString(message));
    sb.append("\"}");
    send(response, callback, http, sb.toString());
  }

  private static void send(Response response, Callback callback, int status, String json) {
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json; charset=utf-8");
    response.write(true, ByteBuffer.wrap(json.getBytes(StandardCharsets.UTF_8)), callback);
  }

  @Override
  public void close() {
    try {
      server.stop();
    } catch (Exception e) {
      LOG.warn("HTTP front did not stop cleanly", e);
    }
  }
}
