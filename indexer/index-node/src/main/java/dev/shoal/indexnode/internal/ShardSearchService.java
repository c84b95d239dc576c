package dev.shoal.indexnode.internal;

import dev.shoal.indexnode.shard.ModelMismatchException;
import dev.shoal.indexnode.shard.ShardStore;
import dev.shoal.internal.CorpusStatisticsSum;
import dev.shoal.internal.v1.CorpusStatistics;
import dev.shoal.internal.v1.Leg;
import dev.shoal.internal.v1.LexicalLeg;
import dev.shoal.internal.v1.NodeSearchRequest;
import dev.shoal.internal.v1.NodeSearchResponse;
import dev.shoal.internal.v1.ShardFailure;
import dev.shoal.internal.v1.EnrichedDocument;
import dev.shoal.internal.v1.FetchRequest;
import dev.shoal.internal.v1.FetchResponse;
import dev.shoal.internal.v1.HydrateRequest;
import dev.shoal.internal.v1.HydrateResponse;
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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;
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
  private final String nodeId;
  private final IntFunction<ShardStore> shards;
  private final AtomicInteger inFlight;
  private final Metrics.Histogram searchSeconds;
  private final Metrics.Histogram hydrateSeconds;
  private final Metrics.Counter cancelled;
  private final ExecutorService heavy = Executors.newFixedThreadPool(
      Math.max(1, Runtime.getRuntime().availableProcessors() / 2), new LowPriorityThreads("shard-heavy"));
  /** Shards of one node call searched at once: one per core. */
  private static final int FAN_OUT = Math.max(2, Runtime.getRuntime().availableProcessors());
  private final ExecutorService fanOut = Executors.newFixedThreadPool(FAN_OUT - 1, r -> {
    Thread t = new Thread(r, "shard-fan-out");
    t.setDaemon(true);
    return t;
  });

  public ShardSearchService(String nodeId, IntFunction<ShardStore> shards, AtomicInteger inFlight, Metrics metrics) {
    this.nodeId = nodeId;
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
      response.onError(failure(shardNumber, e).asRuntimeException());
    } finally {
      shard.release();
      inFlight.decrementAndGet();
    }
  }

  /** The status a call on one shard fails with: the query's fault, or the shard's. */
  private Status failure(int shardNumber, Exception e) {
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

  private static boolean heavy(ShardSearchRequest request) {
    return request.getHydrateTop() > HEAVY_HITS || request.getLegsList().stream().anyMatch(l -> l.getK() > HEAVY_HITS);
  }

  @Override
  public void searchShards(NodeSearchRequest request, StreamObserver<NodeSearchResponse> response) {
    if (response instanceof ServerCallStreamObserver<NodeSearchResponse> call && call.isCancelled()) {
      cancelled.inc();
      return;
    }
    Span.current().setAttribute(NODE, nodeId);
    lane(heavy(request.getRequest()), () -> {
      try {
        response.onNext(searchShards(request));
        response.onCompleted();
      } catch (RuntimeException e) {
        response.onError(Status.INTERNAL.withDescription("node " + nodeId + ": " + e).withCause(e)
            .asRuntimeException());
      }
    });
  }

  /**
   * Each listed shard's first phase, the shards spread over the fan-out pool with this thread
   * taking its share (so the call finishes even when the pool is busy); with {@code sum_statistics},
   * first the sums of the shards' corpus statistics, which every shard then scores with. A shard
   * that is not hosted, or fails, is a {@link ShardFailure} with the status it would have had alone.
   */
  private NodeSearchResponse searchShards(NodeSearchRequest request) {
    List<Integer> numbers = request.getShardsList();
    List<ShardStore> held = new ArrayList<>(numbers.size());
    NodeSearchResponse.Builder out = NodeSearchResponse.newBuilder();
    try {
      for (int n : numbers) {
        ShardStore s = shards.apply(n);
        if (s != null && s.tryAcquire()) {
          held.add(s);
        } else {
          held.add(null);
          out.addFailures(failed(n, Status.UNAVAILABLE.withDescription(notHostedMessage(n))));
        }
      }
      inFlight.addAndGet(numbers.size());
      ShardSearchRequest template = request.getRequest();
      if (request.getSumStatistics()) {
        List<LexicalLeg> lexical = template.getLegsList().stream().filter(Leg::hasLexical).map(Leg::getLexical)
            .toList();
        if (!lexical.isEmpty()) {
          List<CorpusStatistics> parts = new ArrayList<>();
          for (int i = 0; i < numbers.size(); i++) {
            if (held.get(i) == null) {
              continue;
            }
            try {
              parts.add(held.get(i).statistics(StatisticsRequest.newBuilder().setShard(numbers.get(i))
                  .addAllLegs(lexical).build()));
            } catch (IOException | ParseException | RuntimeException e) {
              return everyShardFailed(numbers, held, out, e);
            }
          }
          template = template.toBuilder().setStatistics(CorpusStatisticsSum.of(parts)).build();
        }
      }
      Object[] results = new Object[numbers.size()];
      ShardSearchRequest shared = template;
      fanOut(numbers.size(), i -> {
        if (held.get(i) == null) {
          return;
        }
        long t0 = System.nanoTime();
        try {
          results[i] = held.get(i).search(shared.toBuilder().setShard(numbers.get(i)).build());
          searchSeconds.observe((System.nanoTime() - t0) / 1e9);
        } catch (IOException | ParseException | RuntimeException e) {
          results[i] = e;
        }
      });
      for (int i = 0; i < numbers.size(); i++) {
        if (results[i] instanceof ShardSearchResponse r) {
          out.addAnswers(r);
        } else if (results[i] instanceof Exception e) {
          out.addFailures(failed(numbers.get(i), failure(numbers.get(i), e)));
        }
      }
      return out.build();
    } finally {
      for (ShardStore s : held) {
        if (s != null) {
          s.release();
        }
      }
      inFlight.addAndGet(-numbers.size());
    }
  }

  /** Statistics failed on one shard (the query's syntax, mostly): no shard can score it, each says why. */
  private NodeSearchResponse everyShardFailed(List<Integer> numbers, List<ShardStore> held,
                                              NodeSearchResponse.Builder out, Exception e) {
    for (int i = 0; i < numbers.size(); i++) {
      if (held.get(i) != null) {
        out.addFailures(failed(numbers.get(i), failure(numbers.get(i), e)));
      }
    }
    return out.build();
  }

  private static ShardFailure failed(int shard, Status status) {
    return ShardFailure.newBuilder().setShard(shard).setCode(status.getCode().value())
        .setMessage(status.getDescription() == null ? status.getCode().name() : status.getDescription()).build();
  }

  /**
   * Runs {@code task(0..n-1)}, each once: helpers from the fan-out pool and this thread claim the
   * next index until none is left; returns when every claimed task has finished. This thread never
   * waits for a task nobody has started, so a saturated pool only makes the call sequential.
   */
  private void fanOut(int n, IntConsumer task) {
    if (n == 1) {
      task.accept(0);
      return;
    }
    AtomicInteger next = new AtomicInteger();
    AtomicInteger running = new AtomicInteger();
    Runnable claim = () -> {
      running.incrementAndGet();
      try {
        for (int i; (i = next.getAndIncrement()) < n; ) {
          task.accept(i);
        }
      } finally {
        synchronized (running) {
          running.decrementAndGet();
          running.notifyAll();
        }
      }
    };
    int helpers = Math.min(n, FAN_OUT) - 1;
    for (int h = 0; h < helpers; h++) {
      try {
        fanOut.execute(Tracing.inCallContexts(claim));
      } catch (RejectedExecutionException e) {
        break; // closing: this thread does the rest
      }
    }
    claim.run();
    // a helper that has not begun by now finds nothing to claim; wait for those that have
    synchronized (running) {
      boolean interrupted = false;
      while (running.get() > 0) {
        try {
          running.wait();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  @Override
  public void search(ShardSearchRequest request, StreamObserver<ShardSearchResponse> response) {
    lane(heavy(request), () -> serve(request.getShard(), response, searchSeconds, shard -> shard.search(request)));
  }

  /** Runs heavy work on the heavy lane, in the call's gRPC and trace contexts; the rest right here. */
  private void lane(boolean isHeavy, Runnable work) {
    if (!isHeavy) {
      work.run();
      return;
    }
    try {
      heavy.execute(Tracing.inCallContexts(work));
    } catch (RejectedExecutionException e) {
      work.run(); // closing: answer on this thread rather than drop the call
    }
  }

  @Override
  public void close() {
    heavy.shutdownNow();
    fanOut.shutdownNow();
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
    return Status.UNAVAILABLE.withDescription(notHostedMessage(shard)).asRuntimeException();
  }

  private String notHostedMessage(int shard) {
    return "shard " + shard + " is not hosted on node " + nodeId;
  }
}
