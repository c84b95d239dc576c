package dev.shoal.query.internal;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import com.google.common.util.concurrent.SettableFuture;
import dev.shoal.internal.v1.CorpusStatistics;
import dev.shoal.internal.v1.FetchRequest;
import dev.shoal.internal.v1.FetchResponse;
import dev.shoal.internal.v1.HydrateRequest;
import dev.shoal.internal.v1.HydrateResponse;
import dev.shoal.internal.v1.NodeSearchRequest;
import dev.shoal.internal.v1.NodeSearchResponse;
import dev.shoal.internal.v1.ShardFailure;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardSearchResponse;
import dev.shoal.internal.v1.StatisticsRequest;
import dev.shoal.server.Colocated;
import dev.shoal.server.trace.Tracing;
import io.grpc.Status;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * The first attempts of one scatter, sent as one {@code SearchShards} call per index node instead
 * of one {@code Search} per shard. Until {@link #flush} the shard searches it is given are held,
 * grouped by replica address; {@link #flush} sends each group as one call (a group of one shard
 * as a plain {@code Search}, unless its statistics are to be summed), and every later search (a
 * hedge, a retry on the next replica) goes straight to the client. Each shard's future completes
 * on its own, with its answer or with the status of its own failure, so {@link HedgedCall} keeps
 * hedging and failing over per shard; a node's call is cancelled only once every shard of it is.
 * A node that does not know {@code SearchShards} (an older version, during a rolling upgrade) is
 * asked shard by shard.
 *
 * <p>With {@code sumOnNode}, a group that holds every shard of the index asks the node to sum
 * their corpus statistics (no {@code Statistics} round trip); {@link #summed} says which answers
 * were scored with the sums. Thread-safe (a hedge timer may search while the scatter flushes); one
 * per query.
 */
final class NodeBatch implements ShardClient {

  private static final AttributeKey<List<Long>> SHARDS = AttributeKey.longArrayKey("shoal.shards");
  private static final AttributeKey<String> REPLICA = AttributeKey.stringKey("shoal.replica");

  private record Held(ShardSearchRequest request, SettableFuture<ShardSearchResponse> reply) {
  }

  private final ShardClient client;
  private final int shards;
  private final boolean sumOnNode;
  private final int window;
  private final Predicate<String> colocated;
  private final Map<String, List<Held>> groups = new LinkedHashMap<>();
  private final Set<ShardSearchResponse> summed = Collections.synchronizedSet(
      Collections.newSetFromMap(new IdentityHashMap<>()));
  private boolean flushed;

  /**
   * @param shards    the index's shard count
   * @param sumOnNode ask a node that gets every shard to sum their statistics itself
   * @param window    where the page ends (offset + top k): a node asked to hydrate hits hydrates
   *                  the share of the page its shards hold ({@link SearchPipeline#hydrateTop})
   */
  NodeBatch(ShardClient client, int shards, boolean sumOnNode, int window) {
    this(client, shards, sumOnNode, window, Colocated::serves);
  }

  /** @param colocated whether an address is served in this JVM (sent last) */
  NodeBatch(ShardClient client, int shards, boolean sumOnNode, int window, Predicate<String> colocated) {
    this.colocated = colocated;
    this.client = client;
    this.shards = shards;
    this.sumOnNode = sumOnNode;
    this.window = window;
  }

  @Override
  public ListenableFuture<ShardSearchResponse> search(String address, ShardSearchRequest request, long deadlineNanos) {
    synchronized (this) {
      if (!flushed) {
        SettableFuture<ShardSearchResponse> reply = SettableFuture.create();
        groups.computeIfAbsent(address, a -> new ArrayList<>()).add(new Held(request, reply));
        return reply;
      }
    }
    return client.search(address, request, deadlineNanos);
  }

  /**
   * Sends what was held: one call per node, a node of this JVM last, for its call may run on this
   * thread ({@link Colocated}) and the other nodes should be searching meanwhile.
   */
  void flush(long deadlineNanos) {
    Map<String, List<Held>> send;
    synchronized (this) {
      flushed = true;
      send = new LinkedHashMap<>(groups);
      groups.clear();
    }
    List<String> order = new ArrayList<>(send.keySet());
    order.sort(Comparator.comparing(colocated::test)); // stable: the rest keep their order
    order.forEach(address -> send(address, send.get(address), deadlineNanos));
  }

  /** Whether this answer came from a node that scored it with every shard's statistics summed. */
  boolean summed(ShardSearchResponse answer) {
    return summed.contains(answer);
  }

  private void send(String address, List<Held> held, long deadlineNanos) {
    boolean everyShard = held.stream().map(h -> h.request().getShard()).distinct().count() == shards;
    boolean sum = sumOnNode && everyShard;
    if (held.size() == 1 && !sum) {
      one(address, held.getFirst(), deadlineNanos);
      return;
    }
    NodeSearchRequest.Builder request = NodeSearchRequest.newBuilder()
        .setRequest(held.getFirst().request().toBuilder().clearShard()).setSumStatistics(sum);
    held.forEach(h -> request.addShards(h.request().getShard()));
    if (held.getFirst().request().getHydrateTop() > 0) {
      // the node picks its best over all its shards: their share of the page, not one shard's
      request.setHydrateTop(SearchPipeline.hydrateTop(window, held.size(), shards));
    }
    ListenableFuture<NodeSearchResponse> call;
    // the call's client span names the node and the shards it carries, as a Search names its one
    try (Scope ignored = Tracing.withCallAttributes(Context.current(), Attributes.of(SHARDS,
        request.getShardsList().stream().map(Integer::longValue).toList(), REPLICA, address)).makeCurrent()) {
      call = client.searchShards(address, request.build(), deadlineNanos);
    }
    Runnable cancelWhenAllAre = () -> {
      if (held.stream().allMatch(h -> h.reply().isCancelled())) {
        call.cancel(true);
      }
    };
    held.forEach(h -> h.reply().addListener(cancelWhenAllAre, MoreExecutors.directExecutor()));
    Futures.addCallback(call, new FutureCallback<>() {
      @Override
      public void onSuccess(NodeSearchResponse response) {
        Map<Integer, ShardSearchResponse> answers = new LinkedHashMap<>();
        response.getAnswersList().forEach(a -> answers.put(a.getShard(), a));
        Map<Integer, ShardFailure> failures = new LinkedHashMap<>();
        response.getFailuresList().forEach(f -> failures.put(f.getShard(), f));
        for (Held h : held) {
          int shard = h.request().getShard();
          ShardSearchResponse a = answers.get(shard);
          ShardFailure f = failures.get(shard);
          if (a != null) {
            if (response.getStatisticsSummed()) {
              summed.add(a);
            }
            h.reply().set(a);
          } else if (f != null) {
            h.reply().setException(Status.fromCodeValue(f.getCode()).withDescription(f.getDescription())
                .asRuntimeException());
          } else {
            h.reply().setException(Status.INTERNAL.withDescription("node " + address + " left shard " + shard
                + " out of its answer").asRuntimeException());
          }
        }
      }

      @Override
      public void onFailure(Throwable t) {
        if (Status.fromThrowable(t).getCode() == Status.Code.UNIMPLEMENTED) {
          held.forEach(h -> one(address, h, deadlineNanos)); // a node from before SearchShards
          return;
        }
        held.forEach(h -> h.reply().setException(t));
      }
    }, MoreExecutors.directExecutor());
  }

  private void one(String address, Held held, long deadlineNanos) {
    held.reply().setFuture(client.search(address, held.request(), deadlineNanos)); // a cancel reaches the call
  }

  @Override
  public ListenableFuture<NodeSearchResponse> searchShards(String address, NodeSearchRequest request,
                                                           long deadlineNanos) {
    return client.searchShards(address, request, deadlineNanos);
  }

  @Override
  public ListenableFuture<CorpusStatistics> statistics(String address, StatisticsRequest request, long deadlineNanos) {
    return client.statistics(address, request, deadlineNanos);
  }

  @Override
  public ListenableFuture<HydrateResponse> hydrate(String address, HydrateRequest request, long deadlineNanos) {
    return client.hydrate(address, request, deadlineNanos);
  }

  @Override
  public ListenableFuture<FetchResponse> fetch(String address, FetchRequest request, long deadlineNanos) {
    return client.fetch(address, request, deadlineNanos);
  }
}
