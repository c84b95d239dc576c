package dev.shoal.indexnode.internal;

import dev.shoal.indexnode.shard.ModelMismatchException;
import dev.shoal.indexnode.shard.SearchThreads;
import dev.shoal.indexnode.shard.ShardStore;
import dev.shoal.internal.v1.CorpusStatistics;
import dev.shoal.internal.v1.EnrichedDocument;
import dev.shoal.internal.v1.FetchRequest;
import dev.shoal.internal.v1.FetchResponse;
import dev.shoal.internal.v1.HydrateRequest;
import dev.shoal.internal.v1.HydrateResponse;
import dev.shoal.internal.v1.NodeSearchRequest;
import dev.shoal.internal.v1.NodeSearchResponse;
import dev.shoal.internal.v1.ShardSearchGrpc;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardSearchResponse;
import dev.shoal.internal.v1.StatisticsRequest;
import dev.shoal.server.LowPriorityThreads;
import dev.shoal.server.Metrics;
import dev.shoal.server.trace.Tracing;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import java.io.IOException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import org.apache.lucene.queryparser.classic.ParseException;
import org.apache.lucene.search.IndexSearcher;

/**
 * {@code shoal.internal.v1.ShardSearch} over the shards a node hosts. Each call holds a read
 * reference on its shard for as long as it runs, so a shard closed meanwhile (moved away, or
 * reopened after a failure) waits for it instead of freeing what it reads. A shard the node does
 * not host (any more) is UNAVAILABLE, so a stale router retries elsewhere; invalid syntax, too
 * many query terms or a leg the shard cannot run is INVALID_ARGUMENT; a query embedded by another
 * model than the shard's passages is FAILED_PRECONDITION naming both. A call the client has cancelled by the time
 * it would start (the losing copy of a hedged request) does no work.
 *
 * <p>Heavy calls — a leg or a page of more than {@value #HEAVY_HITS} hits, as a deep page or a
 * large rerank depth asks for — run on their own lane of half the cores at a low scheduling
 * priority ({@link LowPriorityThreads}), so that the expensive searches the query service admits
 * cannot take the node's cores from the ordinary ones.
 * Thread-safe; {@link #close()} stops the heavy lane.
 */
public final class ShardSearchService extends ShardSearchGrpc.ShardSearchImplBase implements AutoCloseable {

  /** A call asking for more hits than this (per leg, or documents to load) is heavy. */
  public static final int HEAVY_HITS = 100;

  private static final AttributeKey<String> NODE = AttributeKey.stringKey("shoal.node");
  private static final AttributeKey<Long> SHARD = AttributeKey.longKey("shoal.shard");
  private static final AttributeKey<java.util.List<Long>> SHARDS = AttributeKey.longArrayKey("shoal.shards");
  private final String nodeId;
  private final IntFunction<ShardStore> shards;
  private final AtomicInteger inFlight;
  private final Metrics.Histogram searchSeconds;
  private final Metrics.Histogram hydrateSeconds;
  private final Metrics.Counter cancelled;
  private final SearchThreads threads;
  private final ExecutorService heavy = Executors.newFixedThreadPool(
      Math.max(1, Runtime.getRuntime().availableProcessors() / 2), new LowPriorityThreads("shard-heavy"));

  /** One thread per search ({@link SearchThreads#one}). */
  public ShardSearchService(String nodeId, IntFunction<ShardStore> shards, AtomicInteger inFlight, Metrics metrics) {
    this(nodeId, shards, inFlight, metrics, SearchThreads.one());
  }

  /** @param threads how many threads a search of several shards may use (the caller closes it after this) */
  public ShardSearchService(String nodeId, IntFunction<ShardStore> shards, AtomicInteger inFlight, Metrics metrics,
                            SearchThreads threads) {
    this.nodeId = nodeId;
    this.threads = threads;
    this.shards = shards;
    this.inFlight = inFlight;
    this.searchSeconds = metrics.histogram("shoal_shard_search_seconds", "First phase of a search on one shard, "
        + "as the node spends it (no transport).", Metrics.LATENCY_SECONDS, "node", nodeId);
    this.hydrateSeconds = metrics.histogram("shoal_shard_hydrate_seconds", "Second phase (titles, snippets, "
        + "passages) on one shard, as the node spends it.", Metrics.LATENCY_SECONDS, "node", nodeId);
    this.cancelled = metrics.counter("shoal_shard_cancelled_total", "Shard calls the client cancelled before "
        + "they started (losing hedges, expired deadlines); no work was done.", "node", nodeId);
  }

  /** The work of one call on an acquired shard. */
  private interface Work<T> {
    T run(ShardStore shard) throws IOException, ParseException;
  }

  private <T> void serve(int shardNumber, StreamObserver<T> response, Metrics.Histogram seconds, Work<T> work) {
    if (response instanceof ServerCallStreamObserver<T> call && call.isCancelled()) {
      cancelled.inc();
      return;
    }
    // the call's server span: which node and shard answered, for a trace across the cluster
    Span.current().setAttribute(NODE, nodeId).setAttribute(SHARD, (long) shardNumber);
    ShardStore shard = shards.apply(shardNumber);
    if (shard == null || !shard.tryAcquire()) {
      response.onError(notHosted(shardNumber));
      return;
    }
    inFlight.incrementAndGet();
    long t0 = System.nanoTime();
    try {
      T out = work.run(shard);
      if (seconds != null) {
        seconds.observe((System.nanoTime() - t0) / 1e9);
      }
      response.onNext(out);
      response.onCompleted();
    } catch (IOException | ParseException | RuntimeException e) {
      response.onError(status(e, shardNumber).asRuntimeException());
    } finally {
      shard.release();
      inFlight.decrementAndGet();
    }
  }

  /** What a failed call on one shard answers: the query's fault (INVALID_ARGUMENT, FAILED_PRECONDITION) or the node's. */
  private Status status(Exception e, int shardNumber) {
    return switch (e) {
      case ParseException p -> Status.INVALID_ARGUMENT.withDescription("invalid query syntax: " + p.getMessage());
      case ModelMismatchException m -> Status.FAILED_PRECONDITION.withDescription(m.getMessage());
      case IndexSearcher.TooManyClauses t -> Status.INVALID_ARGUMENT.withDescription("the query has more terms than "
          + "the limit of " + IndexSearcher.getMaxClauseCount() + " distinct terms (after analysis and expansion): "
          + "shorten it");
      case IllegalArgumentException i -> Status.INVALID_ARGUMENT.withDescription(i.getMessage());
      default -> Status.INTERNAL.withDescription("shard " + shardNumber + " on " + nodeId + ": " + e).withCause(e);
    };
  }

  @Override
  public void search(ShardSearchRequest request, StreamObserver<ShardSearchResponse> response) {
    lane(deep(request), () -> serve(request.getShard(), response, searchSeconds, shard -> shard.search(request)));
  }

  private static boolean deep(ShardSearchRequest request) {
    return request.getHydrateTop() > HEAVY_HITS || request.getLegsList().stream().anyMatch(l -> l.getK() > HEAVY_HITS);
  }

  @Override
  public void searchShards(NodeSearchRequest request, StreamObserver<NodeSearchResponse> response) {
    lane(deep(request.getRequest()), () -> {
      if (response instanceof ServerCallStreamObserver<NodeSearchResponse> call && call.isCancelled()) {
        cancelled.inc();
        return;
      }
      Span.current().setAttribute(NODE, nodeId).setAttribute(SHARDS,
          request.getShardsList().stream().map(Integer::longValue).toList());
      inFlight.incrementAndGet();
      try {
        response.onNext(new NodeSearch(request, nodeId, shards, searchSeconds, this::status, threads).run());
        response.onCompleted();
      } finally {
        inFlight.decrementAndGet();
      }
    });
  }

  /** Runs heavy work on the heavy lane, in the call's gRPC and trace contexts; the rest right here. */
  private void lane(boolean isHeavy, Runnable work) {
    if (!isHeavy) {
      work.run();
      return;
    }
    try {
      heavy.execute(Tracing.inCallContexts(work));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      work.run(); // closing: answer on this thread rather than drop the call
    }
  }

  @Override
  public void close() {
    heavy.shutdownNow();
  }

  @Override
  public void statistics(StatisticsRequest request, StreamObserver<CorpusStatistics> response) {
    serve(request.getShard(), response, null, shard -> shard.statistics(request));
  }

  @Override
  public void hydrate(HydrateRequest request, StreamObserver<HydrateResponse> response) {
    lane(request.getIdsCount() > HEAVY_HITS, () -> serve(request.getShard(), response, hydrateSeconds,
        shard -> HydrateResponse.newBuilder()
            .setShard(request.getShard())
            .addAllHits(shard.hydrate(request.getIdsList(), request.getHighlight(), request.getFieldsList(),
                request.getWithTitles(), request.getWithSnippets(), request.getWithText()))
            .build()));
  }

  @Override
  public void fetch(FetchRequest request, StreamObserver<FetchResponse> response) {
    serve(request.getShard(), response, null, shard -> {
      EnrichedDocument e = shard.load(request.getId());
      FetchResponse.Builder out = FetchResponse.newBuilder().setFound(e != null);
      if (e != null) {
        out.setDocument(e.getDocument());
      }
      return out.build();
    });
  }

  private RuntimeException notHosted(int shard) {
    return notHosted(nodeId, shard).asRuntimeException();
  }

  static Status notHosted(String nodeId, int shard) {
    return Status.UNAVAILABLE.withDescription("shard " + shard + " is not hosted on node " + nodeId);
  }
}
