package dev.shoal.query.internal;

import dev.shoal.api.v1.Hit;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.api.v1.SearchResponse;
import dev.shoal.api.v1.ShardNotice;
import dev.shoal.api.v1.StageTiming;
import dev.shoal.internal.v1.HydrateRequest;
import dev.shoal.internal.v1.RankerGrpc;
import dev.shoal.internal.v1.Replica;
import dev.shoal.internal.v1.ShardHit;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.query.plan.Candidate;
import dev.shoal.query.plan.Fusion;
import dev.shoal.query.plan.FusionWeights;
import dev.shoal.query.plan.ListStats;
import dev.shoal.query.plan.QueryContext;
import dev.shoal.query.plan.RescoreContext;
import dev.shoal.query.plan.Retriever;
import dev.shoal.query.plan.SearchPlan;
import dev.shoal.server.time.Clock;
import dev.shoal.server.trace.Tracing;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.ToLongFunction;

/**
 * The read path behind the gRPC and HTTP fronts, as a short run of stages: validate; the
 * {@link SearchPlan}; the query's embedding if the plan needs one; the first phase on every shard
 * ({@link Scatter}); the merged lists ranked by one list or fused ({@link CandidateLists}); the
 * head re-scored; the page hydrated.
 *
 * <p>Deadlines: the whole request runs within its deadline. A shard that has not answered by then
 * is left out and the answer is {@code partial}; a model stage that fails (query embedding,
 * rescorer) is skipped and the answer is {@code degraded}, saying which. Only when no shard
 * answers is the call an error. Complete answers go to the result cache. Thread-safe.
 */
final class SearchPipeline {

  /** Default deadline when the client sets none. */
  public static final long DEFAULT_TIMEOUT_MS = 5_000;
  /** Pages up to this deep in single-list plans are hydrated speculatively in the first phase. */
  static final int SPECULATIVE_PAGE_MAX = 20;

  private final RequestValidator validator;
  private final Admission admission;
  private final Plans plans;
  private final ShardRouter router;
  private final StatisticsPhase statistics;
  private final Scatter scatter;
  private final Hydrator hydrator;
  private final QueryEmbedder embedder;
  private final ResultCache cache;
  private final ToLongFunction<String> generations;
  private final SearchMetrics metrics;
  private final Clock clock;

  SearchPipeline(RequestValidator validator, Plans plans, ShardRouter router, StatisticsPhase statistics,
                 Scatter scatter, Hydrator hydrator,
                 QueryEmbedder embedder, ResultCache cache, ToLongFunction<String> generations, SearchMetrics metrics,
                 Clock clock, Admission admission) {
    this.admission = admission;
    this.validator = validator;
    this.plans = plans;
    this.router = router;
    this.statistics = statistics;
    this.scatter = scatter;
    this.hydrator = hydrator;
    this.embedder = embedder;
    this.cache = cache;
    this.generations = generations;
    this.metrics = metrics;
    this.clock = clock;
  }

  /** Runs admitted expensive searches (as many as admission allows at once), at a low priority. */
  private static final java.util.concurrent.ExecutorService EXPENSIVE =
      java.util.concurrent.Executors.newCachedThreadPool(new dev.shoal.server.LowPriorityThreads("expensive-search"));

  /** Collects stage timings on the pipeline's clock, each also a span of the current trace. */
  private final class Timings {
    final SearchResponse.Builder out;
    long mark;

    Timings(SearchResponse.Builder out, long start) {
      this.out = out;
      this.mark = start;
    }

    void stage(String name) {
      long now = clock.nanoTime();
      out.addTimings(StageTiming.newBuilder().setStage(name).setMillis((now - mark) / 1e6));
      Tracing.finished(name, now - mark);
      mark = now;
    }
  }

  /**
   * @param deadlineNanos absolute deadline on this pipeline's clock from the transport, or
   *                      {@code Long.MAX_VALUE} when the client set none
   */
  SearchResponse search(SearchRequest raw, long deadlineNanos, String client) throws StatusException {
    long start = clock.nanoTime();
    SearchRequest r = validator.validate(raw);
    SearchPlan plan;
    try {
      plan = plans.resolve(r);
    } catch (IllegalArgumentException e) {
      throw Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asException();
    }
    // a bad request is told what to fix before it is counted; a cached answer is counted, but never
    // waits for an expensive slot
    admission.charge(client);
    SearchRequest cacheKey = cache == null ? null : ResultCache.key(r);
    if (cacheKey != null) {
      SearchResponse hit = cache.get(cacheKey, generations);
      if (hit != null) {
        SearchResponse.Builder b = hit.toBuilder().clearTimings();
        Timings t = new Timings(b, start);
        t.stage("cache");
        b.addTimings(StageTiming.newBuilder().setStage("total").setMillis((clock.nanoTime() - start) / 1e6));
        return b.build();
      }
    }
    try (Admission.Permit permit = admission.admit(r)) {
      if (!permit.expensive()) {
        return run(r, plan, cacheKey, start, deadlineNanos);
      }
      // on a low-priority thread, so it yields the cores to health checks and small searches
      java.util.concurrent.Future<SearchResponse> f = EXPENSIVE.submit(Tracing.inCallContexts(
          () -> run(r, plan, cacheKey, start, deadlineNanos)));
      try {
        return f.get();
      } catch (InterruptedException e) {
        f.cancel(true);
        Thread.currentThread().interrupt();
        throw Status.CANCELLED.withDescription("interrupted").asException();
      } catch (java.util.concurrent.ExecutionException e) {
        if (e.getCause() instanceof StatusException s) {
          throw s;
        }
        if (e.getCause() instanceof RuntimeException re) {
          throw re;
        }
        throw new IllegalStateException(e.getCause());
      }
    }
  }

  /** The admitted, uncached search. */
  private SearchResponse run(SearchRequest r, SearchPlan plan, SearchRequest cacheKey, long start,
                             long deadlineNanos) throws StatusException {
    long timeoutMs = r.getTimeoutMs() > 0 ? r.getTimeoutMs() : DEFAULT_TIMEOUT_MS;
    long deadline = Math.min(deadlineNanos, start + TimeUnit.MILLISECONDS.toNanos(timeoutMs));
    SearchResponse.Builder out = SearchResponse.newBuilder();
    Timings timings = new Timings(out, start);
    timings.stage("parse");

    QueryContext query = new QueryContext(r);
    SearchPlan asked = plan;
    if (plan.needsQueryVector()) {
      try {
        QueryEmbedder.Embedding e = embedder.embed(EmbeddingText.of(r), deadline);
        query = new QueryContext(r, e.vector(), e.model());
      } catch (StatusRuntimeException e) {
        plan = plan.withoutQueryVector();
        if (plan == null) {
          throw Status.UNAVAILABLE.withDescription("the " + asked.describe() + " plan needs the ranker for the query "
              + "embedding, and it failed: " + e.getStatus()).asException();
        }
        out.setDegraded(true).setDegradedReason("query embedding failed (" + e.getStatus().getCode() + "); "
            + plan.describe() + " only");
      }
      timings.stage("embed");
    }

    int window = r.getOffset() + r.getTopK();
    int shards = router.shardCount();
    if (shards == 0) {
      throw Status.UNAVAILABLE.withDescription("no routing table yet: the cluster is starting").asException();
    }
    ShardSearchRequest request = firstPhase(r, asked, plan, query, window, shards);
    List<List<Replica>> routes = scatter.routes(shards, r.getSession());
    StatisticsPhase.Outcome corpus = statistics.gather(request, routes, deadline);
    if (corpus.sums() != null) {
      request = request.toBuilder().setStatistics(corpus.sums()).build();
      timings.stage("statistics");
    } else if (corpus.skipped()) {
      timings.stage("statistics_skipped");
    }
    Scatter.Result first = scatter.run(request, routes, corpus.onNode(), window, deadline);
    timings.stage("retrieve");
    if (first.ownStatistics()) {
      timings.stage("statistics_skipped"); // some shard scored by its own: say so, as when the round trip fails
    }
    metrics.hedged(first.hedged());
    List<ShardNotice> notices = new ArrayList<>(first.notices());
    out.setShardsTotal(shards).setShardsAnswered(first.answers().size());
    if (first.answers().isEmpty()) {
      // out of time, or every shard failed before it: the status says which, the notices why
      String why = notices.stream().limit(3).map(n -> "shard " + n.getShard() + ": " + n.getDetail())
          .collect(java.util.stream.Collectors.joining("; "));
      if (clock.nanoTime() >= deadline) {
        throw Status.DEADLINE_EXCEEDED.withDescription("no shard answered within " + timeoutMs + " ms"
            + (why.isEmpty() ? "" : " (" + why + ")")).asException();
      }
      throw Status.UNAVAILABLE.withDescription("no shard could answer: " + why).asException();
    }

    CandidateLists lists = new CandidateLists(first.answers(), plan.legNames());
    out.setTotalHits(lists.totalHits());
    List<Candidate> ranked;
    if (plan.singleList()) {
      ranked = lists.single(plan.legNames().getFirst());
      timings.stage("fuse");
    } else {
      ranked = tiers(r, plan, query, lists, first, deadline, window, out);
      timings.stage(plan.rescorer() == null ? "fuse" : "rerank");
    }

    List<Candidate> page = ranked.subList(Math.min(r.getOffset(), ranked.size()), Math.min(ranked.size(), window));
    Map<String, ShardHit> stored = new HashMap<>();
    if (!r.getIdsOnly()) {
      List<Candidate> missing = new ArrayList<>();
      for (Candidate c : page) {
        ShardHit h = lists.hit(c.id());
        if (h.getHydrated()) {
          stored.put(c.id(), h);
        } else {
          missing.add(c);
        }
      }
      if (!missing.isEmpty()) {
        Hydrator.Hydrated got = hydrator.hydrate(missing, first.answeredBy(), r.getSession(),
            HydrateRequest.newBuilder().setHighlight(r.getQuery()).addAllFields(r.getFieldsList()).setWithTitles(true)
                .setWithSnippets(true), deadline);
        stored.putAll(got.hits());
        got.failed().forEach((shard, why) -> notices.add(Scatter.notice(shard, ShardNotice.Kind.PAGE_NOT_LOADED,
            "hits of this shard have no title, snippet or fields: " + why)));
      }
      timings.stage("fetch");
    }
    for (Candidate c : page) {
      Hit.Builder hit = Hit.newBuilder().setId(c.id()).setScore(c.score()).setShard(c.shard());
      if (!r.getIdsOnly()) {
        ShardHit h = stored.getOrDefault(c.id(), lists.hit(c.id()));
        hit.setTitle(h.getTitle()).setSnippet(h.getSnippet()).putAllFields(h.getFieldsMap());
      }
      if (r.getExplain()) {
        hit.setExplanation(c.explanation().toProto());
      }
      out.addHits(hit);
    }
    out.addAllShardNotices(notices).setPartial(!notices.isEmpty());
    out.addTimings(StageTiming.newBuilder().setStage("total").setMillis((clock.nanoTime() - start) / 1e6));
    SearchResponse response = out.build();
    metrics.record(response, profileLabel(r));
    if (cacheKey != null) {
      cache.put(cacheKey, response, first.generations());
    }
    return response;
  }

  /**
   * The ranking in tiers of {@code rerank_depth} (D): positions 1..D are the best D of the lists cut
   * at depth D, fused and re-scored; positions D+1..2D the best D of the rest of the lists cut at
   * 2D, fused and re-scored; and so on up to the window. Each tier depends only on the query and D,
   * never on how deep a request pages, so page 10 of 10 hits equals hits 91..100 of one 100-hit
   * request and page 11 continues it without repeats or gaps. Within a tier hits are in score
   * order; across tiers in tier order.
   */
  private List<Candidate> tiers(SearchRequest r, SearchPlan plan, QueryContext query, CandidateLists lists,
                                Scatter.Result first, long deadline, int window, SearchResponse.Builder out) {
    int depth = r.getRerankDepth();
    List<Candidate> ranked = new ArrayList<>(window);
    java.util.Set<String> placed = new java.util.HashSet<>();
    Context context = new Context(query, plan, lists, first.answeredBy(), deadline);
    boolean rescorerFailed = false;
    for (int cut = depth; ranked.size() < window; cut += depth) {
      List<Candidate> tier = new ArrayList<>(depth);
      List<Candidate> candidates = plan.retrievers().size() == 1 ? lists.single(plan.legNames().getFirst())
          : lists.fusedToDepth(plan.fusion(), plan.weights(), cut);
      for (Candidate c : candidates) {
        if (tier.size() == depth) {
          break;
        }
        if (!placed.contains(c.id())) {
          tier.add(c);
        }
      }
      if (tier.isEmpty()) {
        break;
      }
      tier.forEach(c -> placed.add(c.id()));
      if (plan.rescorer() != null && !rescorerFailed) {
        try {
          tier = plan.rescorer().rescore(tier, context);
        } catch (Exception e) {
          rescorerFailed = true;
          // the ranker's own words when it gave some (a ranker without a cross-encoder says how to start one)
          String why = e instanceof StatusRuntimeException sre ? sre.getStatus().getCode()
              + (sre.getStatus().getDescription() == null ? "" : ": " + sre.getStatus().getDescription())
              : e.getMessage();
          out.setDegraded(true).setDegradedReason("rescorer '" + plan.rescorer().name() + "' failed (" + why
              + "); first-phase order");
        }
      }
      ranked.addAll(tier);
      if (cut >= lists.longestList() && placed.size() >= candidates.size()) {
        break;
      }
    }
    return ranked;
  }

  /**
   * The request every shard gets: the legs of the plan's retrievers, the rescorer's shard-side
   * scorers, and for single-list plans with a small page the stored parts of each shard's best
   * few hits (its fair share of the page plus two; ~8% of 10-hit pages over 4 shards need a
   * Hydrate call for the rest), so most such searches make one round trip to the shards.
   */
  private static ShardSearchRequest firstPhase(SearchRequest r, SearchPlan asked, SearchPlan plan, QueryContext query,
                                               int window, int shards) {
    // multi-list and re-scored plans rank in tiers of rerank_depth: each leg to the tier boundary
    int depth = r.getRerankDepth();
    int k = asked.singleList() ? window : (window + depth - 1) / depth * depth;
    ShardSearchRequest.Builder b = ShardSearchRequest.newBuilder().addAllFilters(r.getFiltersList());
    for (Retriever ret : plan.retrievers()) {
      b.addLegs(ret.leg(query, k));
    }
    if (plan.rescorer() != null) {
      b.addAllScorers(plan.rescorer().shardScorers(query));
    }
    if (asked.singleList() && window <= SPECULATIVE_PAGE_MAX && !r.getIdsOnly()) {
      b.setHydrateTop(hydrateTop(window, 1, shards)).addAllFields(r.getFieldsList()).setHighlight(r.getQuery());
    }
    return b.build();
  }

  /**
   * How many of their best hits {@code shardsInCall} shards answering one call hydrate for a page
   * ending at {@code window}: their fair share of it plus two, at most the page. One shard of four
   * and a 10-hit page: 5; a node answering for all four: 10, the whole page.
   */
  static int hydrateTop(int window, int shardsInCall, int shards) {
    return Math.min(window, (window * shardsInCall + shards - 1) / shards + 2);
  }

  private static String profileLabel(SearchRequest r) {
    return r.getRetrieversCount() > 0 || !r.getRescorer().isEmpty() ? "custom"
        : r.getProfile().name().toLowerCase(Locale.ROOT);
  }

  /** What a rescorer of this query may use. */
  private final class Context implements RescoreContext {
    private final QueryContext query;
    private final SearchPlan plan;
    private final CandidateLists lists;
    private final Map<Integer, String> answeredBy;
    private final long deadline;

    Context(QueryContext query, SearchPlan plan, CandidateLists lists, Map<Integer, String> answeredBy, long deadline) {
      this.query = query;
      this.plan = plan;
      this.lists = lists;
      this.answeredBy = answeredBy;
      this.deadline = deadline;
    }

    @Override
    public QueryContext query() {
      return query;
    }

    @Override
    public Fusion fusion() {
      return plan.fusion();
    }

    @Override
    public FusionWeights weights() {
      return plan.weights();
    }

    @Override
    public Optional<ListStats> list(String leg) {
      return plan.legNames().contains(leg) ? Optional.of(lists.stats(leg)) : Optional.empty();
    }

    @Override
    public long deadlineNanos() {
      return deadline;
    }

    @Override
    public long nanoTime() {
      return clock.nanoTime();
    }

    @Override
    public Map<String, String> passages(List<Candidate> candidates) {
      Map<String, ShardHit> got = hydrator.hydrate(candidates, answeredBy, query.request().getSession(),
          HydrateRequest.newBuilder().setWithText(true), deadline).hits();
      Map<String, String> out = new HashMap<>();
      for (Candidate c : candidates) {
        ShardHit h = got.get(c.id());
        if (h == null) {
          throw new IllegalStateException("shard " + c.shard() + " did not give the passage of '" + c.id() + "'");
        }
        out.put(c.id(), h.getText());
      }
      return out;
    }

    @Override
    public RankerGrpc.RankerBlockingStub ranker() {
      return embedder.stub(deadline);
    }
  }
}
