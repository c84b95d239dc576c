package dev.shoal.query.internal;

import com.google.common.util.concurrent.ListenableFuture;
import dev.shoal.internal.v1.CorpusStatistics;
import dev.shoal.internal.v1.FetchRequest;
import dev.shoal.internal.v1.FetchResponse;
import dev.shoal.internal.v1.HydrateRequest;
import dev.shoal.internal.v1.HydrateResponse;
import dev.shoal.internal.v1.NodeSearchRequest;
import dev.shoal.internal.v1.NodeSearchResponse;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardSearchResponse;
import dev.shoal.internal.v1.StatisticsRequest;

/**
 * Calls to one replica of one shard. The seam between the query pipeline and the transport: gRPC
 * in production ({@link GrpcShardClient}), an in-process fake in unit tests. Futures fail with a
 * {@link io.grpc.StatusRuntimeException} (or any exception: treated as UNAVAILABLE). Deadlines
 * are absolute, on the query service's clock. Thread-safe; calls never block.
 */
public interface ShardClient {

  ListenableFuture<ShardSearchResponse> search(String address, ShardSearchRequest request, long deadlineNanos);

  /** The first phase on several shards of one node in one call ({@link NodeBatch}). */
  ListenableFuture<NodeSearchResponse> searchShards(String address, NodeSearchRequest request, long deadlineNanos);

  ListenableFuture<CorpusStatistics> statistics(String address, StatisticsRequest request, long deadlineNanos);

  ListenableFuture<HydrateResponse> hydrate(String address, HydrateRequest request, long deadlineNanos);

  ListenableFuture<FetchResponse> fetch(String address, FetchRequest request, long deadlineNanos);
}
