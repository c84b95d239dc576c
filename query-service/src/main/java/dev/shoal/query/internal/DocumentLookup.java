package dev.shoal.query.internal;

import dev.shoal.api.v1.GetRequest;
import dev.shoal.api.v1.GetResponse;
import dev.shoal.cluster.Shards;
import dev.shoal.internal.v1.FetchRequest;
import dev.shoal.internal.v1.FetchResponse;
import dev.shoal.internal.v1.Replica;
import dev.shoal.server.time.Clock;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@code Get}: the stored document by id, from the shard Kafka's partitioner gives the id, trying
 * its replicas in order. NOT_FOUND when the shard does not hold it; UNAVAILABLE when no replica
 * answers. Thread-safe.
 */
final class DocumentLookup {

  private final ShardRouter router;
  private final ShardClient client;
  private final Clock clock;

  DocumentLookup(ShardRouter router, ShardClient client, Clock clock) {
    this.router = router;
    this.client = client;
    this.clock = clock;
  }

  /** @param deadlineNanos absolute, on this lookup's clock; {@code Long.MAX_VALUE} for none */
  GetResponse get(GetRequest request, long deadlineNanos) throws StatusException {
    if (request.getId().isEmpty()) {
      throw Status.INVALID_ARGUMENT.withDescription("id is empty").asException();
    }
    int shards = router.shardCount();
    if (shards == 0) {
      throw Status.UNAVAILABLE.withDescription("no routing table yet: the cluster is starting").asException();
    }
    int shard = Shards.of(request.getId(), shards);
    long deadline = Math.min(deadlineNanos, clock.nanoTime()
        + TimeUnit.MILLISECONDS.toNanos(SearchPipeline.DEFAULT_TIMEOUT_MS));
    StatusRuntimeException last = null;
    for (Replica replica : router.replicas(shard, null)) {
      try {
        FetchResponse f = client.fetch(replica.getAddress(), FetchRequest.newBuilder().setShard(shard)
            .setId(request.getId()).build(), deadline).get(Math.max(0, deadline - clock.nanoTime()), TimeUnit.NANOSECONDS);
        if (!f.getFound()) {
          throw Status.NOT_FOUND.withDescription("no document with id '" + request.getId() + "'").asException();
        }
        return GetResponse.newBuilder().setDocument(f.getDocument()).setShard(shard).build();
      } catch (ExecutionException e) {
        last = Status.fromThrowable(e.getCause()).asRuntimeException();
      } catch (TimeoutException e) {
        last = Status.DEADLINE_EXCEEDED.asRuntimeException();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw Status.CANCELLED.asException();
      }
    }
    throw Status.UNAVAILABLE.withDescription("no replica of shard " + shard + " answered"
        + (last == null ? "" : ": " + last.getStatus())).asException();
  }
}
