package dev.shoal.indexnode.internal;

import dev.shoal.indexnode.shard.ShardStore;
import dev.shoal.internal.v1.EnrichedDocument;
import dev.shoal.internal.v1.FetchRequest;
import dev.shoal.internal.v1.FetchResponse;
import dev.shoal.internal.v1.HydrateRequest;
import dev.shoal.internal.v1.HydrateResponse;
import dev.shoal.internal.v1.ShardSearchGrpc;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardSearchResponse;
import dev.shoal.server.Metrics;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.function.IntFunction;
import org.apache.lucene.queryparser.classic.ParseException;

/**
 * {@code shoal.v1.ShardSearch} over the shards a node hosts. A shard the node does not host
 * (any more) is FAILED_PRECONDITION, so a stale router retries elsewhere; invalid syntax is
 * INVALID_ARGUMENT. Thread-safe.
 */
public final class ShardSearchService extends ShardSearchGrpc.ShardSearchImplBase {

  private final String nodeId;
  private final IntFunction<ShardStore> shards;
  private final java.util.concurrent.atomic.AtomicInteger inFlight;

  private final Metrics.Histogram searchSeconds;
  private final Metrics.Histogram hydrateSeconds;

  public ShardSearchService(String nodeId, IntFunction<ShardStore> shards, java.util.concurrent.atomic.AtomicInteger inFlight,
                     Metrics metrics) {
    this.nodeId = nodeId;
    this.shards = shards;
    this.inFlight = inFlight;
    this.searchSeconds = metrics.histogram("shoal_shard_search_seconds", "First phase of a search on one shard, "
        + "as the node spends it (no transport).", Metrics.LATENCY_SECONDS, "node", nodeId);
    this.hydrateSeconds = metrics.histogram("shoal_shard_hydrate_seconds", "Second phase (titles, snippets, "
        + "vectors) on one shard, as the node spends it.", Metrics.LATENCY_SECONDS, "node", nodeId);
  }

  @Override
  public void search(ShardSearchRequest request, StreamObserver<ShardSearchResponse> response) {
    ShardStore shard = shards.apply(request.getShard());
    if (shard == null) {
      response.onError(notHosted(request.getShard()));
      return;
    }
    inFlight.incrementAndGet();
    long t0 = System.nanoTime();
    try {
      ShardSearchResponse out = shard.search(request);
      searchSeconds.observe((System.nanoTime() - t0) / 1e9);
      response.onNext(out);
      response.onCompleted();
    } catch (ParseException e) {
      response.onError(Status.INVALID_ARGUMENT.withDescription("invalid query syntax: " + e.getMessage())
          .asRuntimeException());
    } catch (IllegalArgumentException e) {
      response.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
    } catch (IOException | RuntimeException e) {
      response.onError(Status.INTERNAL.withDescription("shard " + request.getShard() + " on " + nodeId + ": " + e)
          .withCause(e).asRuntimeException());
    } finally {
      inFlight.decrementAndGet();
    }
  }

  @Override
  public void hydrate(HydrateRequest request, StreamObserver<HydrateResponse> response) {
    ShardStore shard = shards.apply(request.getShard());
    if (shard == null) {
      response.onError(notHosted(request.getShard()));
      return;
    }
    long t0 = System.nanoTime();
    try {
      HydrateResponse out = HydrateResponse.newBuilder().setShard(request.getShard())
          .addAllHits(shard.hydrate(request.getIdsList(), request.getHighlight(), request.getFieldsList(),
              request.getWithTitles(), request.getWithSnippets(), request.getWithText()))
          .build();
      hydrateSeconds.observe((System.nanoTime() - t0) / 1e9);
      response.onNext(out);
      response.onCompleted();
    } catch (IOException | RuntimeException e) {
      response.onError(Status.INTERNAL.withDescription("shard " + request.getShard() + " on " + nodeId + ": " + e)
          .withCause(e).asRuntimeException());
    }
  }

  @Override
  public void fetch(FetchRequest request, StreamObserver<FetchResponse> response) {
    ShardStore shard = shards.apply(request.getShard());
    if (shard == null) {
      response.onError(notHosted(request.getShard()));
      return;
    }
    try {
      EnrichedDocument e = shard.load(request.getId());
      FetchResponse.Builder out = FetchResponse.newBuilder().setFound(e != null);
      if (e != null) {
        out.setDocument(e.getDocument());
      }
      response.onNext(out.build());
      response.onCompleted();
    } catch (IOException e) {
      response.onError(Status.INTERNAL.withDescription(e.getMessage()).asRuntimeException());
    }
  }

  private RuntimeException notHosted(int shard) {
    return Status.FAILED_PRECONDITION.withDescription("shard " + shard + " is not hosted on node " + nodeId)
        .asRuntimeException();
  }
}
