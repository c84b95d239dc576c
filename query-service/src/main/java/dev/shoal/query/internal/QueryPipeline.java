package dev.shoal.query.internal;

import dev.shoal.api.v1.GetRequest;
import dev.shoal.api.v1.GetResponse;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.api.v1.SearchResponse;
import dev.shoal.internal.v1.RankerGrpc;
import dev.shoal.query.QueryServiceConfig;
import dev.shoal.query.plan.QueryStages;
import dev.shoal.server.Metrics;
import dev.shoal.server.time.Scheduler;
import dev.shoal.server.trace.Tracing;
import io.grpc.StatusException;
import java.util.function.ToLongFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the gRPC and HTTP fronts call: {@code Search} ({@link SearchPipeline}) and {@code Get}
 * ({@link DocumentLookup}) over one router, shard client and ranker, wired once. Time comes from
 * the scheduler's clock. Thread-safe.
 */
public final class QueryPipeline {
  private static final Logger LOG = LoggerFactory.getLogger(QueryPipeline.class);

  private final SearchPipeline search;
  private final DocumentLookup lookup;
  private final Admission admission;
  private final double slowQueryMillis;
  private final boolean logQueryText;

  /**
   * @param generations the searcher generation each replica ("address/shard") last reported, for the result cache
   */
  public QueryPipeline(QueryServiceConfig config, QueryStages stages, ShardRouter router, ShardClient client,
                       RankerGrpc.RankerBlockingStub ranker, ToLongFunction<String> generations, Metrics metrics,
                       Scheduler scheduler) {
    Plans plans = new Plans(stages, config.fusion(), config.weights());
    this.admission = new Admission(config.admission(), scheduler.clock());
    ResultCache cache = config.resultCacheBytes() > 0 ? new ResultCache(config.resultCacheBytes()) : null;
    if (cache != null) {
      metrics.gauge("shoal_search_cache_hit_ratio", "Share of searches answered from the result cache.", () -> {
        long h = cache.hits();
        long m = cache.misses();
        return h + m == 0 ? 0 : (double) h / (h + m);
      });
      metrics.gauge("shoal_search_cache_entries", "Answers held by the result cache.", cache::size);
      metrics.gauge("shoal_search_cache_bytes", "Estimated heap held by the result cache's answers.", cache::bytes);
    }
    this.search = new SearchPipeline(new RequestValidator(config.limits()), plans, router,
        new StatisticsPhase(client, scheduler.clock()), new Scatter(router, client, scheduler),
        new Hydrator(router, client, scheduler.clock()),
        new QueryEmbedder(ranker, scheduler.clock(), config.rankerBudgetMillis()), cache, generations,
        new SearchMetrics(metrics), scheduler.clock(), admission);
    this.lookup = new DocumentLookup(router, client, scheduler.clock());
    this.slowQueryMillis = config.slowQueryMillis() > 0 ? config.slowQueryMillis() : Double.POSITIVE_INFINITY;
    this.logQueryText = config.logQueryText();
  }

  /**
   * @param deadlineNanos absolute on the scheduler's clock, or {@code Long.MAX_VALUE} for none
   * @param client        the caller's API key name, charged against its rate; "" where keys are not required
   */
  public SearchResponse search(SearchRequest request, long deadlineNanos, String client) throws StatusException {
    SearchResponse response = search.search(request, deadlineNanos, client);
    String trace = Tracing.traceId();
    // the pipeline timed the search already
    double totalMillis = response.getTimingsList().stream().filter(t -> t.getStage().equals("total"))
        .mapToDouble(t -> t.getMillis()).findFirst().orElse(0);
    if (totalMillis >= slowQueryMillis) {
      LOG.warn("slow search: {} took {} (trace {})", RequestLog.describe(request, logQueryText),
          response.getTimingsList().stream().map(t -> t.getStage() + " " + String.format(java.util.Locale.ROOT,
              "%.1f ms", t.getMillis())).collect(java.util.stream.Collectors.joining(", ")),
          trace.isEmpty() ? "not traced" : trace);
    }
    return trace.isEmpty() ? response : response.toBuilder().setTraceId(trace).build();
  }

  /** A search from a client that is not charged (no keys required). */
  public SearchResponse search(SearchRequest request, long deadlineNanos) throws StatusException {
    return search(request, deadlineNanos, "");
  }

  public GetResponse get(GetRequest request, long deadlineNanos, String client) throws StatusException {
    admission.charge(client);
    return lookup.get(request, deadlineNanos);
  }

  public GetResponse get(GetRequest request, long deadlineNanos) throws StatusException {
    return get(request, deadlineNanos, "");
  }

  /** The admission control of both fronts (for tests). */
  public Admission admission() {
    return admission;
  }
}
