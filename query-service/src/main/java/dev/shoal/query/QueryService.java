package dev.shoal.query;

import dev.shoal.server.GrpcService;
import dev.shoal.internal.v1.RankerGrpc;
import dev.shoal.cluster.AssignmentWatcher;
import dev.shoal.cluster.HeartbeatWatcher;
import dev.shoal.query.http.HttpGateway;
import dev.shoal.query.internal.ResultCache;
import dev.shoal.query.internal.ShardRouter;
import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.util.List;

/**
 * The query service: follows the routing table, serves {@code SearchService} over gRPC and
 * HTTP/JSON, calls the ranker at {@code rankerTarget}. {@link #start()} then {@link #close()}.
 */
public final class QueryService implements AutoCloseable {

  /** Answers kept by the result cache. */
  public static final int RESULT_CACHE_SIZE = 10_000;

  private final AssignmentWatcher watcher;
  private final HeartbeatWatcher heartbeats;
  private final ShardRouter router = new ShardRouter();
  private final ManagedChannel rankerChannel;
  private final GrpcService grpc;
  private final HttpGateway http;

  public QueryService(String bootstrap, String rankerTarget, String host, int grpcPort, int httpPort) {
    this(bootstrap, rankerTarget, host, grpcPort, httpPort, new dev.shoal.server.Metrics());
  }

  /** @param metrics the process's registry, served at the HTTP port's /metrics */
  public QueryService(String bootstrap, String rankerTarget, String host, int grpcPort, int httpPort,
                      dev.shoal.server.Metrics metrics) {
    this(bootstrap, rankerTarget, host, grpcPort, httpPort, metrics, List.of());
  }

  /** @param extra further services on the same gRPC port (e.g. IngestService), so clients need one address */
  public QueryService(String bootstrap, String rankerTarget, String host, int grpcPort, int httpPort,
                      dev.shoal.server.Metrics metrics, List<BindableService> extra) {
    this(bootstrap, rankerTarget, host, grpcPort, httpPort, metrics, extra, RESULT_CACHE_SIZE);
  }

  /** @param resultCacheSize answers kept by the result cache; 0: no cache (benchmarks of the uncached path) */
  public QueryService(String bootstrap, String rankerTarget, String host, int grpcPort, int httpPort,
                      dev.shoal.server.Metrics metrics, List<BindableService> extra, int resultCacheSize) {
    this.watcher = new AssignmentWatcher(bootstrap);
    this.heartbeats = new HeartbeatWatcher(bootstrap);
    this.rankerChannel = ManagedChannelBuilder.forTarget(rankerTarget).usePlaintext()
        .maxInboundMessageSize(64 << 20).build();
    SearchLimits limits = SearchLimits.defaults();
    Searcher searcher = new Searcher(router, RankerGrpc.newBlockingStub(rankerChannel), limits, Fusion.Settings.defaults(),
        1_000, metrics, resultCacheSize > 0 ? new ResultCache(resultCacheSize) : null, heartbeats::generation);
    SearchGrpcService service = new SearchGrpcService(searcher);
    this.grpc = new GrpcService(host, grpcPort) {
      @Override
      protected List<BindableService> services() {
        List<BindableService> all = new java.util.ArrayList<>(extra);
        all.add(service);
        return all;
      }

      @Override
      protected int maxInboundMessageBytes() {
        return limits.maxRequestBytes();
      }
    };
    this.http = new HttpGateway(host, httpPort, searcher, limits.maxRequestBytes(), 8, metrics);
  }

  public QueryService start() {
    router.tiers(heartbeats::tier);
    watcher.onAssignment(router::update);
    watcher.start();
    heartbeats.start();
    grpc.start();
    http.start();
    return this;
  }

  public int grpcPort() {
    return grpc.port();
  }

  public int httpPort() {
    return http.port();
  }

  /**
   * The replicas of each shard that report LIVE now, by node id, in the routing table's order:
   * what this service routes to first (for status and tests).
   */
  public java.util.Map<Integer, List<String>> liveReplicas() {
    java.util.Map<Integer, List<String>> out = new java.util.TreeMap<>();
    var table = router.table();
    if (table == null) {
      return out;
    }
    for (var p : table.getPlacementsList()) {
      List<String> live = new java.util.ArrayList<>();
      for (var r : p.getReplicasList()) {
        if (heartbeats.tier(r.getAddress(), p.getShard()) == HeartbeatWatcher.SERVING) {
          live.add(r.getNodeId());
        }
      }
      out.put(p.getShard(), live);
    }
    return out;
  }

  /** True once a routing table has been received. */
  public boolean routed() {
    return router.shardCount() > 0;
  }

  @Override
  public void close() {
    http.close();
    grpc.close();
    watcher.close();
    heartbeats.close();
    router.close();
    rankerChannel.shutdownNow();
  }
}
