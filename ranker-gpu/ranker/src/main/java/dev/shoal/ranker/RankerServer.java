package dev.shoal.ranker;

import dev.shoal.encoder.CrossEncoder;
import dev.shoal.encoder.Encoder;
import dev.shoal.server.GrpcServer;
import dev.shoal.server.Metrics;
import dev.shoal.server.time.Clock;
import dev.shoal.server.tls.Tls;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ranker's gRPC server: {@link RankerService} over one encoder (and a cross-encoder, when
 * given), with health and reflection.
 * Lifecycle: {@link #start()} (which warms the encoder up first), then {@link #close()} (the encoder is
 * the caller's to close).
 */
public final class RankerServer implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(RankerServer.class);

  private final String host;
  private final int port;
  private final RankerService service;
  private final Tls tls;
  private final Metrics metrics;
  private final Encoder encoder;
  private final CrossEncoder crossEncoder;
  private GrpcServer server;

  public RankerServer(String host, int port, Encoder encoder) {
    this(host, port, encoder, RankerService.QUERY_CACHE_SIZE);
  }

  /** @param queryCacheSize query embeddings kept; 0 turns the cache off */
  public RankerServer(String host, int port, Encoder encoder, int queryCacheSize) {
    this(host, port, encoder, queryCacheSize, Tls.plaintext());
  }

  /**
   * @param queryCacheSize query embeddings kept; 0 turns the cache off
   * @param tls            the server's TLS (mutual where its files say so); the caller's to close after this
   */
  public RankerServer(String host, int port, Encoder encoder, int queryCacheSize, Tls tls) {
    this(host, port, encoder, queryCacheSize, tls, null);
  }

  /**
   * @param queryCacheSize query embeddings kept; 0 turns the cache off
   * @param tls            the server's TLS (mutual where its files say so); the caller's to close after this
   * @param metrics        where the server's gRPC metrics go; null for none
   */
  public RankerServer(String host, int port, Encoder encoder, int queryCacheSize, Tls tls, Metrics metrics) {
    this(host, port, encoder, null, queryCacheSize, tls, metrics);
  }

  /**
   * @param crossEncoder   the second-phase model {@code Score} uses when asked for it; null for none
   *                       (the caller's to close, as the encoder)
   * @param queryCacheSize query embeddings kept; 0 turns the cache off
   * @param tls            the server's TLS (mutual where its files say so); the caller's to close after this
   * @param metrics        where the server's gRPC metrics go; null for none
   */
  public RankerServer(String host, int port, Encoder encoder, CrossEncoder crossEncoder, int queryCacheSize, Tls tls,
                      Metrics metrics) {
    this.metrics = metrics;
    this.tls = tls;
    this.host = host;
    this.port = port;
    this.encoder = encoder;
    this.crossEncoder = crossEncoder;
    this.service = new RankerService(encoder, crossEncoder, queryCacheSize);
  }

  /**
   * Warms the encoder up ({@link RankerWarmup}: a few seconds at most), then binds the port: a
   * client's first calls then meet a compiled path, and a probe sees the port only once it is.
   */
  public RankerServer start() {
    RankerWarmup.Report r = RankerWarmup.run(encoder, RankerWarmup.ROUNDS, RankerWarmup.BUDGET_MILLIS, Clock.SYSTEM);
    LOG.info("ranker warmed up: {} texts in {} calls, {} ms", r.texts(), r.calls(), r.millis());
    if (crossEncoder != null) {
      RankerWarmup.Report c = RankerWarmup.run(crossEncoder, RankerWarmup.ROUNDS, RankerWarmup.BUDGET_MILLIS,
          Clock.SYSTEM);
      LOG.info("cross-encoder {} warmed up: {} pairs in {} calls, {} ms", crossEncoder.model().name(), c.texts(),
          c.calls(), c.millis());
    }
    GrpcServer.Builder b = GrpcServer.forAddress(host, port).service(service).tls(tls);
    if (metrics != null) {
      b.metrics(metrics);
    }
    server = b.start();
    return this;
  }

  public String address() {
    return server.address();
  }

  public int port() {
    return server.port();
  }

  @Override
  public void close() {
    if (server != null) {
      server.close();
    }
  }
}
