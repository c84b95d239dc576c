package dev.shoal.query.internal;

import com.google.common.util.concurrent.ListenableFuture;
import dev.shoal.internal.v1.CorpusStatistics;
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
import dev.shoal.server.time.Clock;
import java.util.concurrent.TimeUnit;

/** {@link ShardClient} over the router's gRPC channels: each shard keeps to one of a node's connections. */
public final class GrpcShardClient implements ShardClient {

  private final ShardRouter router;
  private final Clock clock;

  public GrpcShardClient(ShardRouter router, Clock clock) {
    this.router = router;
    this.clock = clock;
  }

  private ShardSearchGrpc.ShardSearchFutureStub stub(String address, int shard, long deadlineNanos) {
    return router.stub(address, shard).withDeadlineAfter(Math.max(1, deadlineNanos - clock.nanoTime()),
        TimeUnit.NANOSECONDS);
  }

  @Override
  public ListenableFuture<ShardSearchResponse> search(String address, ShardSearchRequest request, long deadlineNanos) {
    return stub(address, request.getShard(), deadlineNanos).search(request);
  }

  @Override
  public ListenableFuture<NodeSearchResponse> searchShards(String address, NodeSearchRequest request,
                                                           long deadlineNanos) {
    return stub(address, request.getShards(0), deadlineNanos).searchShards(request);
  }

  @Override
  public ListenableFuture<CorpusStatistics> statistics(String address, StatisticsRequest request, long deadlineNanos) {
    return stub(address, request.getShard(), deadlineNanos).statistics(request);
  }

  @Override
  public ListenableFuture<HydrateResponse> hydrate(String address, HydrateRequest request, long deadlineNanos) {
    return stub(address, request.getShard(), deadlineNanos).hydrate(request);
  }

  @Override
  public ListenableFuture<FetchResponse> fetch(String address, FetchRequest request, long deadlineNanos) {
    return stub(address, request.getShard(), deadlineNanos).fetch(request);
  }
}
