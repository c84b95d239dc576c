package dev.shoal.query;

import dev.shoal.api.v1.SearchServiceGrpc;
import dev.shoal.cluster.AssignmentWatcher;
import dev.shoal.cluster.HeartbeatWatcher;
import dev.shoal.cluster.ReplicaTier;
import dev.shoal.internal.v1.RankerGrpc;
import dev.shoal.query.internal.GrpcShardClient;
import dev.shoal.query.internal.HttpGateway;
import dev.shoal.query.internal.QueryPipeline;
import dev.shoal.query.internal.QueryWarmup;
import dev.shoal.query.internal.SearchGrpcService;
import dev.shoal.query.internal.ShardRouter;
import dev.shoal.query.plan.QueryStages;
import dev.shoal.server.Colocated;
import dev.shoal.server.GrpcServer;
import dev.shoal.server.Metrics;
import dev.shoal.server.ServiceLoop;
import dev.shoal.server.auth.ApiKeyFile;
import dev.shoal.server.auth.ApiKeyInterceptor;
import dev.shoal.server.auth.Authenticator;
import dev.shoal.server.time.SystemScheduler;
import dev.shoal.server.tls.Tls;
import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The query service: follows the routing table and the heartbeats, serves {@code SearchService}
 * over gRPC and HTTP/JSON, runs each query's plan from the stages registered on the class path
 * ({@link QueryStages#load()}), and calls the ranker at the configured address. Wires parts only.
 *
 * <p>Lifecycle: {@link #start()}, then {@link #close()}, which stops the fronts first, then the
 * watchers and the channels. Thread-safe.
 */
public final class QueryService implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(QueryService.class);

  private final QueryServiceConfig config;
  private final Metrics metrics;
  private final List<BindableService> extra;
  private final AssignmentWatcher watcher;
  private final HeartbeatWatcher heartbeats;
  private final Tls tls;
  private final ShardRouter router;
  private final SystemScheduler scheduler = new SystemScheduler("query-timers");
  private ManagedChannel rankerChannel;
  /**
   * gRPC calls run here, not on grpc-java's default unbounded pool: the in-flight bound's threads,
   * plus a few so health checks, ingest streams and refusals never wait behind blocked searches.
   */
  private final ExecutorService grpcPool;
  private GrpcServer grpc;
  private HttpGateway http;
  private volatile boolean closed;
  private volatile boolean warmedUp;
  private QueryWarmup warmup;

  /** A query service with its own metrics registry and no extra services. */
  public QueryService(QueryServiceConfig config) {
    this(config, new Metrics(), List.of());
  }

  /**
   * @param metrics the process's registry, served at the HTTP port's /metrics
   * @param extra   further services on the same gRPC port (e.g. IngestService), so clients need one address
   */
  public QueryService(QueryServiceConfig config, Metrics metrics, List<? extends BindableService> extra) {
    this.config = config;
    this.metrics = metrics;
    this.extra = List.copyOf(extra);
    this.watcher = new AssignmentWatcher(config.bootstrap());
    this.heartbeats = new HeartbeatWatcher(config.bootstrap());
    this.tls = Tls.of(config.tls());
    this.router = new ShardRouter(this::channelTo);
    // a search waits for its node calls (one to a node in this JVM runs on the search's own
    // thread); what virtual threads save and cost there is in callerExecutor's comment.
    // SearchGrpcService's in-flight bound, not a pool's size, limits how many searches run
    this.grpcPool = Colocated.callerExecutor("query-grpc-");
  }

  /** The followers of the routing table and the heartbeats: if one stops on an error, routing is frozen. */
  public List<ServiceLoop> loops() {
    return List.of(watcher, heartbeats);
  }

  /**
   * A channel builder to an index node or the ranker: in-process when this JVM serves the address
   * and the settings allow it ({@link QueryServiceConfig#inProcessCalls}), else over the network.
   */
  private ManagedChannelBuilder<?> channelTo(String target) {
    return config.inProcessCalls() ? Colocated.channel(tls, target) : tls.channel(target);
  }

  public QueryService start() {
    rankerChannel = channelTo(config.rankerTarget()).maxInboundMessageSize(64 << 20).build();
    QueryPipeline pipeline = new QueryPipeline(config, QueryStages.load(), router,
        new GrpcShardClient(router, scheduler.clock()), RankerGrpc.newBlockingStub(rankerChannel),
        heartbeats::generation, metrics, scheduler);
    // the warm-up's own pipeline: the same router, shard client and ranker, but its searches are
    // neither counted in this service's metrics nor kept in its result cache
    QueryPipeline warmupPipeline = new QueryPipeline(config.withResultCacheBytes(0), QueryStages.load(), router,
        new GrpcShardClient(router, scheduler.clock()), RankerGrpc.newBlockingStub(rankerChannel),
        heartbeats::generation, new Metrics(), scheduler);
    warmup = new QueryWarmup(warmupPipeline::search, scheduler.clock());
    router.tiers(heartbeats::tier);
    watcher.onAssignment(router::update);
    watcher.start();
    heartbeats.start();
    List<BindableService> services = new ArrayList<>(extra);
    services.add(new SearchGrpcService(pipeline, scheduler.clock(), config.admission().maxGrpcSearchesInFlight(),
        config.logQueryText()));
    Authenticator auth = config.apiKeyFile() == null ? null
        : Authenticator.of(new ApiKeyFile(config.apiKeyFile(), scheduler.clock()));
    GrpcServer.Builder server = GrpcServer.forAddress(config.host(), config.grpcPort()).services(services)
        .maxInboundMessageBytes(config.limits().maxRequestBytes()).tls(tls).executor(grpcPool).metrics(metrics);
    if (auth != null) {
      server.interceptor(new ApiKeyInterceptor(auth));
    }
    grpc = server.start();
    grpc.setHealth("", ServingStatus.NOT_SERVING);
    grpc.setHealth(SearchServiceGrpc.SERVICE_NAME, ServingStatus.NOT_SERVING);
    reportWhenReady();
    http = new HttpGateway(config.host(), config.httpPort(), pipeline, config.limits().maxRequestBytes(),
        config.httpThreads(), metrics, auth, tls).start();
    return this;
  }

  public int grpcPort() {
    return grpc.port();
  }

  public int httpPort() {
    return http.port();
  }

  /**
   * The searcher generation the replica at {@code address} last reported for {@code shard}
   * ({@link HeartbeatWatcher#UNKNOWN} before its first heartbeat): what this service's result
   * cache checks its answers against (for tests).
   */
  public long reportedGeneration(String address, int shard) {
    return heartbeats.generation(HeartbeatWatcher.replica(address, shard));
  }

  /**
   * The replicas of each shard that report LIVE now, by node id, in the routing table's order:
   * what this service routes to first (for status and tests).
   */
  public Map<Integer, List<String>> liveReplicas() {
    Map<Integer, List<String>> out = new TreeMap<>();
    var table = router.table();
    if (table == null) {
      return out;
    }
    for (var p : table.getPlacementsList()) {
      List<String> live = new ArrayList<>();
      for (var r : p.getReplicasList()) {
        if (heartbeats.tier(r.getAddress(), p.getShard()) == ReplicaTier.SERVING) {
          live.add(r.getNodeId());
        }
      }
      out.put(p.getShard(), live);
    }
    return out;
  }

  /**
   * True once this service has a routing table and has read what the cluster topics held when it
   * started (the whole routing table, the last freshness window of heartbeats), and has then run
   * its warm-up ({@link QueryServiceConfig#warmup()}): before the first, it would call LIVE
   * replicas silent and mark its answers partial; before the second, its first queries would pay
   * for the JIT and the first connections. gRPC health says NOT_SERVING until then.
   */
  public boolean ready() {
    return routed() && warmedUp;
  }

  private boolean routed() {
    return router.shardCount() > 0 && watcher.caughtUp() && heartbeats.caughtUp();
  }

  /**
   * Runs the warm-up's searches now, through this service's router, shard client and ranker
   * (counted in no metric, kept in no cache), and returns what they did: for a caller that has
   * just loaded the data they search (the demo), or that wants the JIT warm again. Blocks.
   */
  public WarmupReport warmUp() throws InterruptedException {
    WarmupReport r = warmup.run(config.warmup());
    LOG.info("warm-up: {} searches ({} failed) in {} s", r.searches(), r.failed(),
        String.format(Locale.ROOT, "%.1f", r.seconds()));
    return r;
  }

  private void reportWhenReady() {
    if (closed) {
      return;
    }
    if (!routed()) {
      scheduler.schedule(this::reportWhenReady, TimeUnit.MILLISECONDS.toNanos(50));
      return;
    }
    // off the timer thread: the warm-up's own searches need its deadlines and hedges
    Thread.ofPlatform().daemon().name("query-warmup").start(() -> {
      try {
        if (config.warmup().searches() > 0) {
          warmUp();
        }
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        LOG.warn("warm-up failed; serving without it: {}", e.toString());
      }
      warmedUp = true;
      if (!closed) {
        grpc.setHealth("", ServingStatus.SERVING);
        grpc.setHealth(SearchServiceGrpc.SERVICE_NAME, ServingStatus.SERVING);
      }
    });
  }

  @Override
  public void close() {
    closed = true;
    if (http != null) {
      http.close();
    }
    if (grpc != null) {
      grpc.close();
    }
    grpcPool.shutdownNow();
    watcher.close();
    heartbeats.close();
    router.close();
    scheduler.close();
    if (rankerChannel != null) {
      rankerChannel.shutdownNow();
    }
    tls.close();
  }
}
