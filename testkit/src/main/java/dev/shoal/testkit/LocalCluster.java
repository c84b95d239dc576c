package dev.shoal.testkit;

import dev.shoal.cluster.ClusterTopics;
import dev.shoal.encoder.BatchingCrossEncoder;
import dev.shoal.encoder.BatchingEncoder;
import dev.shoal.encoder.CrossEncoderSpec;
import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.Encoders;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.PassageWindows;
import dev.shoal.enricher.Enricher;
import dev.shoal.enricher.EnricherConfig;
import dev.shoal.indexnode.IndexNode;
import dev.shoal.indexnode.IndexNodeConfig;
import dev.shoal.indexnode.shard.ShardStore;
import dev.shoal.ingest.IngestGrpcService;
import dev.shoal.internal.v1.ShardState;
import dev.shoal.manager.ShardManager;
import dev.shoal.manager.ShardManagerConfig;
import dev.shoal.query.QueryService;
import dev.shoal.query.QueryServiceConfig;
import dev.shoal.query.WarmupReport;
import dev.shoal.ranker.RankerServer;
import dev.shoal.server.Metrics;
import dev.shoal.server.tls.Tls;
import dev.shoal.server.tls.TlsFiles;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;

/**
 * Every Shoal service in one JVM against one Kafka: what {@code shoal demo} runs and what the
 * end-to-end tests start. Wires parts only; each part owns its own logic and lifecycle.
 * {@link #close()} stops them in reverse order of start (the broker last), so every shard is
 * committed before Kafka goes away.
 */
public final class LocalCluster implements AutoCloseable {

  /** The id of the cluster's one index node, and its directory under the data directory. */
  private static final String NODE_ID = "node-1";

  /**
   * @param dataDir      root of all state (kafka/, node-1/)
   * @param bootstrap    an external Kafka, or null to embed one under dataDir/kafka
   * @param shards       partitions of the document topics = shards
   * @param model        the encoder's model
   * @param host         address to bind services on
   * @param grpcPort     SearchService gRPC port (0 = any)
   * @param httpPort     HTTP/JSON port (0 = any)
   * @param rankerPort   Ranker gRPC port (0 = any)
   * @param parallelism  encoder threads
   * @param caches       result cache and query-embedding cache on (off only to measure the uncached path)
   * @param maxWindows   model windows a long passage is embedded as (1: truncated to its first window)
   * @param tls          null: plaintext; else the one identity of every service: the query service's fronts
   *                     serve TLS to any client, the index node and the ranker require this CA's client
   *                     certificates (mutual TLS), which the query service presents
   * @param apiKeyFile   null: open; else the query service requires keys from this file
   * @param crossEncoder null: none; else the ranker serves this cross-encoder (the {@code cross-encoder} rescorer)
   * @param inProcessCalls the query service calls the node and the ranker in-process (one JVM: no sockets), as a
   *                     single-machine deployment does; false: over loopback TCP, as between machines
   */
  public record Options(Path dataDir, String bootstrap, int shards, ModelSpec model, String host, int grpcPort,
                        int httpPort, int rankerPort, int parallelism, boolean caches, int maxWindows, TlsFiles tls,
                        Path apiKeyFile, CrossEncoderSpec crossEncoder, boolean inProcessCalls) {
    public Options(Path dataDir, String bootstrap, int shards, ModelSpec model, String host, int grpcPort,
                   int httpPort, int rankerPort, int parallelism) {
      this(dataDir, bootstrap, shards, model, host, grpcPort, httpPort, rankerPort, parallelism, true,
          PassageWindows.DEFAULT_MAX_WINDOWS, null, null, null, true);
    }

    public Options withoutCaches() {
      return new Options(dataDir, bootstrap, shards, model, host, grpcPort, httpPort, rankerPort, parallelism, false,
          maxWindows, tls, apiKeyFile, crossEncoder, inProcessCalls);
    }

    public Options withMaxWindows(int n) {
      return new Options(dataDir, bootstrap, shards, model, host, grpcPort, httpPort, rankerPort, parallelism, caches,
          n, tls, apiKeyFile, crossEncoder, inProcessCalls);
    }

    /** These options with the query service's calls to the node and ranker over TCP, as between machines. */
    public Options withNetworkCalls() {
      return new Options(dataDir, bootstrap, shards, model, host, grpcPort, httpPort, rankerPort, parallelism, caches,
          maxWindows, tls, apiKeyFile, crossEncoder, false);
    }

    /** These options with the ranker serving a cross-encoder. */
    public Options withCrossEncoder(CrossEncoderSpec spec) {
      return new Options(dataDir, bootstrap, shards, model, host, grpcPort, httpPort, rankerPort, parallelism, caches,
          maxWindows, tls, apiKeyFile, spec, inProcessCalls);
    }

    /** These options with TLS everywhere (mutual between services) and API keys on the query service. */
    public Options secured(TlsFiles mutualTls, Path keys) {
      if (!mutualTls.requireClientCertificate()) {
        throw new IllegalArgumentException("a secured cluster's services require each other's certificates: "
            + "give mutual TLS files (TlsFiles.mutual)");
      }
      return new Options(dataDir, bootstrap, shards, model, host, grpcPort, httpPort, rankerPort, parallelism, caches,
          maxWindows, mutualTls, keys, crossEncoder, inProcessCalls);
    }
  }

  private final Options options;
  private final Deque<AutoCloseable> started = new ArrayDeque<>();
  private final Metrics metrics = new Metrics();
  private EmbeddedKafka kafka;
  private String bootstrap;
  private Encoder encoder;
  private RankerServer ranker;
  private IndexNode node;
  private QueryService query;
  private Enricher enricher;

  public LocalCluster(Options options) {
    this.options = options;
  }

  public Options options() {
    return options;
  }

  public LocalCluster start() {
    try {
      if (options.bootstrap() == null) {
        kafka = new EmbeddedKafka(options.dataDir().resolve("kafka")).start();
        started.push(kafka);
        bootstrap = kafka.bootstrap();
      } else {
        bootstrap = options.bootstrap();
      }
      ClusterTopics.ensure(bootstrap, options.shards(), (short) 1);
      encoder = Encoders.create(options.model(), "auto", options.parallelism(), 16);
      started.push(encoder);
      // queries go through the dynamic batcher; the enricher batches on its own and calls the
      // backend directly, so a long passage batch never sits in front of a query in one queue
      BatchingEncoder batcher = new BatchingEncoder(encoder, 64, 0);
      started.push(batcher);
      Tls internal = Tls.of(options.tls());
      started.push(internal);
      BatchingCrossEncoder crossEncoder = null;
      if (options.crossEncoder() != null) {
        crossEncoder = new BatchingCrossEncoder(Encoders.createCrossEncoder(options.crossEncoder(), "auto",
            options.parallelism(), 32), 64, 0);
        started.push(crossEncoder);
      }
      ranker = new RankerServer(options.host(), options.rankerPort(), batcher, crossEncoder,
          options.caches() ? dev.shoal.ranker.RankerService.QUERY_CACHE_SIZE : 0, internal, metrics);
      ranker.start();
      started.push(ranker);
      enricher = new Enricher(EnricherConfig.defaults(bootstrap, "shoal-enricher-1")
          .withMaxWindows(options.maxWindows()), encoder, metrics);
      enricher.start();
      started.push(enricher);
      ShardManager manager = new ShardManager(ShardManagerConfig.defaults(bootstrap, "manager-1", options.shards()));
      manager.start();
      started.push(manager);
      node = new IndexNode(IndexNodeConfig.defaults(NODE_ID, options.dataDir().resolve(NODE_ID), bootstrap)
          .withHost(options.host()).withTls(options.tls()), metrics).start();
      started.push(node);
      IngestGrpcService ingest = new IngestGrpcService(bootstrap);
      started.push(ingest);
      QueryServiceConfig config = QueryServiceConfig.defaults(bootstrap, ranker.address())
          .withAddress(options.host(), options.grpcPort(), options.httpPort())
          .withTls(options.tls() == null ? null : options.tls().withClientCertificatesRequired(false));
      if (options.apiKeyFile() != null) {
        config = config.withApiKeyFile(options.apiKeyFile());
      }
      config = config.withInProcessCalls(options.inProcessCalls());
      query = new QueryService(options.caches() ? config : config.withResultCacheBytes(0), metrics, List.of(ingest))
          .start();
      started.push(query);
      return this;
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  public String bootstrap() {
    return bootstrap;
  }

  public int grpcPort() {
    return query.grpcPort();
  }

  public int httpPort() {
    return query.httpPort();
  }

  public String rankerAddress() {
    return ranker.address();
  }

  public Encoder encoder() {
    return encoder;
  }

  public Enricher enricher() {
    return enricher;
  }

  /**
   * Runs the query service's warm-up again, now (it ran once on its own before the service
   * reported SERVING, but perhaps over shards still empty): for a caller that has just loaded the
   * data. Blocks.
   */
  public WarmupReport warmUp() throws InterruptedException {
    return query.warmUp();
  }

  /** The index node (for tests and diagnostics). */
  public IndexNode indexNode() {
    return node;
  }

  /**
   * Where a cluster on {@code dataDir} keeps shard {@code shard}'s Lucene index (the node's
   * directory, the shard's, then the store's index): what a benchmark's baseline opens, read-only,
   * at the last commit.
   */
  public static Path luceneDir(Path dataDir, int shard) {
    return dataDir.resolve(NODE_ID).resolve("shard-" + shard).resolve("lucene");
  }

  /**
   * Waits until the index node has compacted every shard's small segments (they compact once a
   * shard has had no write for the node's idle time; see {@link IndexNode#compacted}) and the
   * query service's heartbeats report the generations the shards' searchers have then, so that
   * the shards' searchers and their last commits hold the segments they will keep (for a
   * benchmark whose baseline opens the commits) and an answer cached after this stays valid until
   * the next write (for a test of the cache). Blocks.
   *
   * @throws IllegalStateException if that has not happened within {@code timeout}
   */
  public void awaitCompacted(Duration timeout) throws InterruptedException {
    long until = System.nanoTime() + timeout.toNanos();
    while (!node.compacted() || !generationsReported()) {
      if (System.nanoTime() > until) {
        throw new IllegalStateException("the index node's shards were not compacted within " + timeout);
      }
      Thread.sleep(50);
    }
  }

  /** Whether the query service's heartbeats report each shard's current searcher generation. */
  private boolean generationsReported() {
    for (ShardStore s : node.shards().values()) {
      if (query.reportedGeneration(node.address(), s.shard()) != s.searcherGeneration()) {
        return false;
      }
    }
    return true;
  }

  /** Documents searchable now, over all shards. */
  public long searchableDocs() {
    long n = 0;
    for (ShardStore s : node.shards().values()) {
      n += s.docCount();
    }
    return n;
  }

  /**
   * Every shard hosted, LIVE, with everything it applied visible to searches, and routed: the
   * query service's routing table sends every shard to a replica that reports LIVE. (On a restart
   * the routing table read back from Kafka names the node's address of the previous run until the
   * manager publishes the new one; searches sent before that find nobody.)
   */
  public boolean caughtUp() {
    if (node.shards().size() < options.shards() || !query.ready()) {
      return false;
    }
    Map<Integer, List<String>> routed = query.liveReplicas();
    for (int shard = 0; shard < options.shards(); shard++) {
      if (routed.getOrDefault(shard, List.of()).isEmpty()) {
        return false;
      }
    }
    for (ShardStore s : node.shards().values()) {
      if (node.state(s.shard()) != ShardState.LIVE || node.lag(s.shard()) != 0
          || s.visibleOffset() != s.appliedOffset()) {
        return false;
      }
    }
    return true;
  }

  @Override
  public void close() {
    while (!started.isEmpty()) {
      try {
        started.pop().close();
      } catch (Exception e) {
        System.err.println("error while stopping: " + e);
      }
    }
  }
}
