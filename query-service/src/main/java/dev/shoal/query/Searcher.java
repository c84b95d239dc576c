package dev.shoal.query;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import dev.shoal.server.Metrics;
import dev.shoal.internal.v1.Candidate;
import dev.shoal.internal.v1.EmbedKind;
import dev.shoal.internal.v1.EmbedRequest;
import dev.shoal.api.v1.Explanation;
import dev.shoal.internal.v1.FetchRequest;
import dev.shoal.internal.v1.FetchResponse;
import dev.shoal.api.v1.FusionInput;
import dev.shoal.api.v1.GetRequest;
import dev.shoal.api.v1.GetResponse;
import dev.shoal.api.v1.Hit;
import dev.shoal.internal.v1.HydrateRequest;
import dev.shoal.internal.v1.HydrateResponse;
import dev.shoal.api.v1.RankProfile;
import dev.shoal.internal.v1.RankerGrpc;
import dev.shoal.internal.v1.Replica;
import dev.shoal.internal.v1.ScoreRequest;
import dev.shoal.internal.v1.ScoreResponse;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.api.v1.SearchResponse;
import dev.shoal.internal.v1.ShardHit;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardSearchResponse;
import dev.shoal.api.v1.StageTiming;
import dev.shoal.internal.v1.Vector;
import dev.shoal.query.internal.Merger;
import dev.shoal.cluster.HeartbeatWatcher;
import dev.shoal.cluster.Shards;
import dev.shoal.query.internal.RequestValidator;
import dev.shoal.query.internal.ResultCache;
import dev.shoal.query.internal.ShardRouter;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.function.ToLongFunction;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The read path behind both the gRPC and the HTTP front: validate, embed the query, scatter to
 * one replica per shard, merge, fuse, re-score with the ranker, page.
 *
 * <p>Deadlines: the whole request runs within its deadline. A shard that has not answered by
 * then is left out and the answer is {@code partial}; a ranker that fails or is too slow is
 * skipped and the answer is {@code degraded} in first-phase order. Only when no shard answers
 * is the call an error. Thread-safe.
 */
public final class Searcher {

  /** Default deadline when the client sets none. */
  public static final long DEFAULT_TIMEOUT_MS = 5_000;

  private final ShardRouter router;
  private final RankerGrpc.RankerBlockingStub ranker;
  private final RequestValidator validator;
  private final Fusion.Settings fusion;
  private final long rankerBudgetMs;

  private final Metrics metrics;
  private final ResultCache cache;
  private final ToLongFunction<String> generations;

  public Searcher(ShardRouter router, RankerGrpc.RankerBlockingStub ranker, SearchLimits limits,
                  Fusion.Settings fusion, long rankerBudgetMs) {
    this(router, ranker, limits, fusion, rankerBudgetMs, new Metrics(), null, replica -> Long.MIN_VALUE);
  }

  /**
   * @param cache       complete answers by normalised request, or null for none
   * @param generations the latest searcher generation each replica ("address/shard") reported
   */
  public Searcher(ShardRouter router, RankerGrpc.RankerBlockingStub ranker, SearchLimits limits,
                  Fusion.Settings fusion, long rankerBudgetMs, Metrics metrics, ResultCache cache,
                  ToLongFunction<String> generations) {
    this.metrics = metrics;
    this.cache = cache;
    this.generations = generations;
    if (cache != null) {
      metrics.gauge("shoal_search_cache_hit_ratio", "Share of searches answered from the result cache.", () -> {
        long h = cache.hits();
        long m = cache.misses();
        return h + m == 0 ? 0 : (double) h / (h + m);
      });
      metrics.gauge("shoal_search_cache_entries", "Answers held by the result cache.", cache::size);
    }
    this.router = router;
    this.ranker = ranker;
    this.validator = new RequestValidator(limits);
    this.fusion = fusion;
    this.rankerBudgetMs = rankerBudgetMs;
  }

  /**
   * @param deadlineNanos absolute {@link System#nanoTime()} deadline from the transport, or
   *                      {@code Long.MAX_VALUE} when the client set none
   */
  public SearchResponse search(SearchRequest raw, long deadlineNanos) throws StatusException {
    long start = System.nanoTime();
    SearchRequest r = validator.validate(raw);
    SearchRequest cacheKey = cache == null ? null : ResultCache.key(r);
    if (cacheKey != null) {
      SearchResponse hit = cache.get(cacheKey, generations);
      if (hit != null) {
        long now = System.nanoTime();
        return hit.toBuilder().clearTimings().addTimings(timing("cache", start, now))
            .addTimings(timing("total", start, now)).build();
      }
    }
    long timeoutMs = r.getTimeoutMs() > 0 ? r.getTimeoutMs() : DEFAULT_TIMEOUT_MS;
    long deadline = Math.min(deadlineNanos, start + TimeUnit.MILLISECONDS.toNanos(timeoutMs));
    SearchResponse.Builder out = SearchResponse.newBuilder();
    long t0 = System.nanoTime();
    out.addTimings(timing("parse", start, t0));

    RankProfile profile = r.getProfile();
    Fusion.Settings f = settings(r);
    float[] queryVector = null;
    if (profile != RankProfile.BM25) {
      try {
        queryVector = embedQuery(r.getQuery(), deadline);
      } catch (StatusRuntimeException e) {
        if (profile == RankProfile.DENSE) {
          throw Status.UNAVAILABLE.withDescription("the dense profile needs the ranker for the query embedding, "
              + "and it failed: " + e.getStatus()).asException();
        }
        out.setDegraded(true).setDegradedReason("query embedding failed (" + e.getStatus().getCode()
            + "); BM25 only");
      }
      out.addTimings(timing("embed", t0, System.nanoTime()));
    }

    int window = r.getOffset() + r.getTopK();
    int legK = profile == RankProfile.BM25 || profile == RankProfile.DENSE ? window : Math.max(window, r.getRerankDepth());
    int shardCount = router.shardCount();
    if (shardCount == 0) {
      throw Status.UNAVAILABLE.withDescription("no routing table yet: the cluster is starting").asException();
    }
    long t1 = System.nanoTime();
    Map<String, Long> answeredGenerations = new HashMap<>();
    Map<Integer, String> answeredBy = new HashMap<>();
    List<ShardSearchResponse> answers = scatter(r, queryVector, legK, shardCount, deadline, answeredGenerations,
        answeredBy);
    long t2 = System.nanoTime();
    out.addTimings(timing("retrieve", t1, t2));
    out.setShardsTotal(shardCount).setShardsAnswered(answers.size()).setPartial(answers.size() < shardCount);
    if (answers.isEmpty()) {
      throw Status.DEADLINE_EXCEEDED.withDescription("no shard answered within " + timeoutMs + " ms").asException();
    }

    Merger merged = new Merger(answers);
    out.setTotalHits(merged.totalHits());
    List<Merger.Ranked> ranked;
    String rule;
    boolean lexical = profile == RankProfile.BM25 || (queryVector == null && profile != RankProfile.DENSE);
    if (lexical) {
      ranked = merged.byBm25();
      rule = "bm25";
    } else if (profile == RankProfile.DENSE) {
      ranked = merged.byDense();
      rule = "dense";
    } else {
      ranked = merged.fuseFirstPhase(f.rule(), f.bm25Weight(), f.denseWeight());
      rule = f.describe("bm25", "dense");
    }
    long t3 = System.nanoTime();
    out.addTimings(timing("fuse", t2, t3));

    if (profile == RankProfile.NEURAL && queryVector != null && !ranked.isEmpty()) {
      List<Merger.Ranked> head = ranked.subList(0, Math.min(r.getRerankDepth(), ranked.size()));
      try {
        Map<String, ShardHit> stored = hydrate(head, answeredBy, r.getSession(), HydrateRequest.newBuilder()
            .setWithVectors(true), deadline);
        head = head.stream().filter(c -> stored.containsKey(c.hit().getId())).toList(); // else deleted meanwhile
        double[] scores = rescore(r.getQuery(), queryVector, head, stored, deadline);
        ranked = merged.fuseWithModel(head, scores, f.rule(), f.bm25Weight(), f.modelWeight());
        rule = f.describe("bm25", "model");
      } catch (StatusRuntimeException e) {
        out.setDegraded(true).setDegradedReason("ranker re-scoring failed (" + e.getStatus().getCode()
            + "); first-phase order");
      }
      out.addTimings(timing("rerank", t3, System.nanoTime()));
    }

    long t4 = System.nanoTime();
    List<Merger.Ranked> page = ranked.subList(Math.min(r.getOffset(), ranked.size()), Math.min(ranked.size(), window));
    Map<String, ShardHit> stored = new HashMap<>();
    List<Merger.Ranked> missing = new ArrayList<>();
    for (Merger.Ranked c : page) {
      if (c.hit().getHydrated()) {
        stored.put(c.hit().getId(), c.hit());
      } else {
        missing.add(c);
      }
    }
    if (!missing.isEmpty()) {
      stored.putAll(hydrate(missing, answeredBy, r.getSession(), HydrateRequest.newBuilder()
          .setQuery(r.getQuery()).setSyntax(r.getSyntax()).addAllFields(r.getFieldsList()).setWithTitles(true)
          .setWithSnippets(true), deadline));
    }
    out.addTimings(timing("fetch", t4, System.nanoTime()));
    for (Merger.Ranked c : page) {
      ShardHit h = stored.getOrDefault(c.hit().getId(), c.hit());
      Hit.Builder hit = Hit.newBuilder().setId(h.getId()).setScore(c.score()).setTitle(h.getTitle())
          .setSnippet(h.getSnippet()).putAllFields(h.getFieldsMap()).setShard(c.shard());
      if (r.getExplain()) {
        hit.setExplanation(explain(c, rule));
      }
      out.addHits(hit);
    }
    out.addTimings(timing("total", start, System.nanoTime()));
    SearchResponse response = out.build();
    record(response, profile);
    if (cacheKey != null) {
      cache.put(cacheKey, response, answeredGenerations);
    }
    return response;
  }

  private void record(SearchResponse r, RankProfile profile) {
    String p = profile.name().toLowerCase(java.util.Locale.ROOT);
    for (StageTiming t : r.getTimingsList()) {
      metrics.histogram("shoal_search_stage_seconds", "Time spent per search stage.", Metrics.LATENCY_SECONDS,
          "profile", p, "stage", t.getStage()).observe(t.getMillis() / 1000);
    }
    if (r.getPartial()) {
      metrics.counter("shoal_search_partial_total", "Answers missing at least one shard.", "profile", p).inc();
    }
    if (r.getDegraded()) {
      metrics.counter("shoal_search_degraded_total", "Answers in first-phase order because the ranker failed.",
          "profile", p).inc();
    }
  }

  /** The deployment's fusion settings with the request's overrides (already validated). */
  private Fusion.Settings settings(SearchRequest r) {
    if (!r.hasFusion()) {
      return fusion;
    }
    var p = r.getFusion();
    Fusion rule = fusion.rule();
    if (p.getRule().equals("linear")) {
      rule = new Fusion.Linear();
    } else if (p.getRule().equals("rrf") || p.getRrfK() > 0) {
      int k = p.getRrfK() > 0 ? p.getRrfK() : rule instanceof Fusion.Rrf rrf ? rrf.k() : 60;
      rule = new Fusion.Rrf(k);
    }
    return new Fusion.Settings(rule, p.getBm25Weight() > 0 ? p.getBm25Weight() : fusion.bm25Weight(),
        p.getDenseWeight() > 0 ? p.getDenseWeight() : fusion.denseWeight(),
        p.getModelWeight() > 0 ? p.getModelWeight() : fusion.modelWeight());
  }

  private static Explanation explain(Merger.Ranked c, String rule) {
    Explanation.Builder e = Explanation.newBuilder().setBm25Score(c.hit().getBm25Score()).setBm25Rank(c.bm25Rank())
        .setDenseScore(c.hit().getDenseScore()).setDenseRank(c.denseRank()).setFusion(rule);
    if (c.modelScored()) {
      e.setModelScore(c.modelScore()).setModelScored(true);
    }
    for (Merger.Contribution k : c.contributions()) {
      e.addInputs(FusionInput.newBuilder().setSignal(k.signal()).setWeight(k.weight()).setValue(k.value())
          .setRank(k.rank()).setContribution(k.contribution()));
    }
    return e.build();
  }

  private float[] embedQuery(String query, long deadline) {
    var resp = ranker.withDeadlineAfter(rankerTimeout(deadline), TimeUnit.NANOSECONDS)
        .embed(EmbedRequest.newBuilder().addTexts(query).setKind(EmbedKind.QUERY).build());
    Vector v = resp.getEmbeddings(0);
    float[] out = new float[v.getValuesCount()];
    for (int i = 0; i < out.length; i++) {
      out[i] = v.getValues(i);
    }
    return out;
  }

  private double[] rescore(String query, float[] queryVector, List<Merger.Ranked> head, Map<String, ShardHit> stored,
                           long deadline) {
    Vector.Builder qv = Vector.newBuilder();
    for (float x : queryVector) {
      qv.addValues(x);
    }
    ScoreRequest.Builder req = ScoreRequest.newBuilder().setQuery(query).setQueryVector(qv);
    for (Merger.Ranked c : head) {
      req.addCandidates(Candidate.newBuilder().setId(c.hit().getId())
          .setVector(Vector.newBuilder().addAllValues(stored.get(c.hit().getId()).getVectorList())));
    }
    ScoreResponse resp = ranker.withDeadlineAfter(rankerTimeout(deadline), TimeUnit.NANOSECONDS).score(req.build());
    double[] scores = new double[head.size()];
    for (int i = 0; i < scores.length; i++) {
      scores[i] = resp.getScores(i).getScore();
    }
    return scores;
  }

  private long rankerTimeout(long deadline) {
    long left = deadline - System.nanoTime();
    if (left <= 0) {
      throw Status.DEADLINE_EXCEEDED.withDescription("no time left for the ranker").asRuntimeException();
    }
    return Math.min(left, TimeUnit.MILLISECONDS.toNanos(rankerBudgetMs));
  }

  /**
   * The second phase: the stored parts of a few hits, asked of the replica that returned them
   * (same searcher, most likely) and, if it fails, of the shard's other replicas. Hits whose
   * shard cannot answer by the deadline are simply missing from the result.
   */
  private Map<String, ShardHit> hydrate(List<Merger.Ranked> hits, Map<Integer, String> answeredBy, String session,
                                        HydrateRequest.Builder what, long deadline) {
    Map<Integer, List<String>> idsByShard = new java.util.TreeMap<>();
    for (Merger.Ranked c : hits) {
      idsByShard.computeIfAbsent(c.shard(), k -> new ArrayList<>()).add(c.hit().getId());
    }
    Map<Integer, ListenableFuture<HydrateResponse>> first = new HashMap<>();
    idsByShard.forEach((shard, ids) -> {
      HydrateRequest req = what.setShard(shard).clearIds().addAllIds(ids).build();
      first.put(shard, hydrateCall(answeredBy.get(shard), req, deadline));
    });
    Map<String, ShardHit> out = new HashMap<>();
    for (var e : first.entrySet()) {
      int shard = e.getKey();
      HydrateResponse resp = awaitQuietly(e.getValue(), deadline);
      if (resp == null) {
        HydrateRequest req = what.setShard(shard).clearIds().addAllIds(idsByShard.get(shard)).build();
        for (Replica other : router.replicas(shard, session)) {
          if (!other.getAddress().equals(answeredBy.get(shard))) {
            resp = awaitQuietly(hydrateCall(other.getAddress(), req, deadline), deadline);
            if (resp != null) {
              break;
            }
          }
        }
      }
      if (resp != null) {
        resp.getHitsList().forEach(h -> out.put(h.getId(), h));
      }
    }
    return out;
  }

  private ListenableFuture<HydrateResponse> hydrateCall(String address, HydrateRequest req, long deadline) {
    return router.stub(address, req.getShard()).withDeadlineAfter(Math.max(1, deadline - System.nanoTime()),
        TimeUnit.NANOSECONDS).hydrate(req);
  }

  private static <T> T awaitQuietly(ListenableFuture<T> f, long deadline) {
    try {
      return f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    } catch (ExecutionException | TimeoutException e) {
      f.cancel(true);
      return null;
    }
  }

  /** Pages up to this deep in single-list profiles are hydrated speculatively in the first phase. */
  static final int SPECULATIVE_PAGE_MAX = 20;

  /**
   * For bm25 and dense the page is the top of one merged list, so each shard can send titles
   * and snippets for its best few hits at once: its fair share of the page plus two. A shard
   * holding more of the page than that (rare: ~8% of 10-hit pages over 4 shards) gets a Hydrate
   * call for the rest; most searches make one round trip to the shards instead of two.
   */
  private static int hydrateInFirstPhase(SearchRequest r, int shards) {
    int window = r.getOffset() + r.getTopK();
    if ((r.getProfile() != RankProfile.BM25 && r.getProfile() != RankProfile.DENSE) || window > SPECULATIVE_PAGE_MAX) {
      return 0;
    }
    return Math.min(window, (window + shards - 1) / shards + 2);
  }

  private List<ShardSearchResponse> scatter(SearchRequest r, float[] vector, int k, int shards, long deadline,
                                            Map<String, Long> generationsSeen, Map<Integer, String> answeredBy)
      throws StatusException {
    ShardSearchRequest.Builder base = ShardSearchRequest.newBuilder()
        .setSyntax(r.getSyntax()).addAllFilters(r.getFiltersList());
    int speculate = hydrateInFirstPhase(r, shards);
    if (speculate > 0) {
      base.setHydrateTop(speculate).addAllFields(r.getFieldsList());
    }
    if (r.getProfile() != RankProfile.DENSE) {
      base.setQuery(r.getQuery()).setBm25K(k);
    }
    if (vector != null && r.getProfile() != RankProfile.BM25) {
      for (float x : vector) {
        base.addQueryVector(x);
      }
      base.setDenseK(k);
    }
    List<ShardCall> calls = new ArrayList<>();
    for (int s = 0; s < shards; s++) {
      calls.add(new ShardCall(s, router.replicas(s, r.getSession()), base.setShard(s).build()));
    }
    calls.forEach(c -> c.send(router, deadline));
    List<ShardSearchResponse> answers = new ArrayList<>();
    for (ShardCall c : calls) {
      ShardCall.Answer a = c.await(router, deadline);
      if (c.hedged) {
        metrics.counter("shoal_search_hedged_total", "Shard requests sent to a second replica because the first "
            + "had not answered by its recent p95.").inc();
      }
      if (a != null) {
        answers.add(a.response());
        answeredBy.put(a.response().getShard(), a.address());
        generationsSeen.put(HeartbeatWatcher.replica(a.address(), a.response().getShard()),
            a.response().getSearcherGeneration());
      }
    }
    return answers;
  }

  /**
   * One shard's request. Goes to the best replica; if that one fails, to the next; if it has
   * not answered by its recent p95 latency, a hedged copy goes to the next replica too, and the
   * first answer wins. Gives up (null) at the deadline.
   */
  private static final class ShardCall {
    record Answer(ShardSearchResponse response, String address) {
    }

    final int shard;
    final List<Replica> replicas;
    final ShardSearchRequest request;
    final CompletableFuture<Answer> result = new CompletableFuture<>();
    final AtomicInteger next = new AtomicInteger();
    final AtomicInteger inFlight = new AtomicInteger();
    final List<ListenableFuture<ShardSearchResponse>> attempts = new CopyOnWriteArrayList<>();
    volatile long firstSentAt;
    volatile String firstAddress;
    volatile boolean hedged;

    ShardCall(int shard, List<Replica> replicas, ShardSearchRequest request) {
      this.shard = shard;
      this.replicas = replicas;
      this.request = request;
    }

    void send(ShardRouter router, long deadline) {
      int i = next.getAndIncrement();
      if (i >= replicas.size()) {
        if (inFlight.get() == 0) {
          result.complete(null);
        }
        return;
      }
      String address = replicas.get(i).getAddress();
      long sentAt = System.nanoTime();
      if (i == 0) {
        firstSentAt = sentAt;
        firstAddress = address;
      }
      router.begin(address);
      inFlight.incrementAndGet();
      ListenableFuture<ShardSearchResponse> f = router.stub(address, shard)
          .withDeadlineAfter(Math.max(1, deadline - sentAt), TimeUnit.NANOSECONDS).search(request);
      attempts.add(f);
      Futures.addCallback(f, new FutureCallback<>() {
        @Override
        public void onSuccess(ShardSearchResponse resp) {
          router.end(address, (System.nanoTime() - sentAt) / 1e6);
          inFlight.decrementAndGet();
          result.complete(new Answer(resp, address));
        }

        @Override
        public void onFailure(Throwable t) {
          router.end(address, (System.nanoTime() - sentAt) / 1e6);
          inFlight.decrementAndGet();
          Status st = Status.fromThrowable(t);
          if (st.getCode() == Status.Code.INVALID_ARGUMENT) {
            result.completeExceptionally(st.asException());
          } else if (!result.isDone() && st.getCode() != Status.Code.CANCELLED && System.nanoTime() < deadline) {
            send(router, deadline); // the next replica, if any
          } else if (inFlight.get() == 0) {
            result.complete(null);
          }
        }
      }, MoreExecutors.directExecutor());
    }

    Answer await(ShardRouter router, long deadline) throws StatusException {
      try {
        long hedgeAt = firstSentAt + router.hedgeDelayNanos(firstAddress);
        if (replicas.size() > 1 && hedgeAt < deadline) {
          try {
            return result.get(Math.max(0, hedgeAt - System.nanoTime()), TimeUnit.NANOSECONDS);
          } catch (TimeoutException slow) {
            if (next.get() < replicas.size()) {
              hedged = true;
              send(router, deadline);
            }
          }
        }
        return result.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        return null;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw Status.CANCELLED.withDescription("interrupted").asException();
      } catch (ExecutionException e) {
        if (e.getCause() instanceof StatusException se) {
          throw se;
        }
        return null;
      } finally {
        attempts.forEach(f -> f.cancel(true));
      }
    }
  }

  /** {@code Get}: the shard is the Kafka partition of the id, as for every producer. */
  public GetResponse get(GetRequest request, long deadlineNanos) throws StatusException {
    if (request.getId().isEmpty()) {
      throw Status.INVALID_ARGUMENT.withDescription("id is empty").asException();
    }
    int shards = router.shardCount();
    if (shards == 0) {
      throw Status.UNAVAILABLE.withDescription("no routing table yet: the cluster is starting").asException();
    }
    int shard = Shards.of(request.getId(), shards);
    long deadline = Math.min(deadlineNanos, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DEFAULT_TIMEOUT_MS));
    StatusRuntimeException last = null;
    for (Replica replica : router.replicas(shard, null)) {
      try {
        FetchResponse f = router.stub(replica.getAddress(), shard).withDeadlineAfter(
            Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)
            .fetch(FetchRequest.newBuilder().setShard(shard).setId(request.getId()).build()).get();
        if (!f.getFound()) {
          throw Status.NOT_FOUND.withDescription("no document with id '" + request.getId() + "'").asException();
        }
        return GetResponse.newBuilder().setDocument(f.getDocument()).setShard(shard).build();
      } catch (ExecutionException e) {
        last = Status.fromThrowable(e.getCause()).asRuntimeException();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw Status.CANCELLED.asException();
      }
    }
    throw Status.UNAVAILABLE.withDescription("no replica of shard " + shard + " answered"
        + (last == null ? "" : ": " + last.getStatus())).asException();
  }

  private static StageTiming timing(String stage, long from, long to) {
    return StageTiming.newBuilder().setStage(stage).setMillis((to - from) / 1e6).build();
  }
}
