package dev.shoal.query.internal;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import com.google.common.util.concurrent.SettableFuture;
import dev.shoal.api.v1.ShardNotice;
import dev.shoal.cluster.HeartbeatWatcher;
import dev.shoal.cluster.ReplicaTier;
import dev.shoal.internal.v1.NodeSearchRequest;
import dev.shoal.internal.v1.NodeSearchResponse;
import dev.shoal.internal.v1.Replica;
import dev.shoal.internal.v1.ShardFailure;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardSearchResponse;
import dev.shoal.server.time.Scheduler;
import dev.shoal.server.trace.Tracing;
import io.grpc.Status;
import io.grpc.StatusException;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The first phase of one query: the same request to one replica of every shard at once, one call
 * per index node for the shards it is the first choice for, each shard a {@link HedgedCall} of its
 * own from there on; then the answers that came by the deadline. Thread-safe; one call per query.
 */
final class Scatter {

  private static final AttributeKey<String> REPLICA = AttributeKey.stringKey("shoal.replica");
  private static final AttributeKey<Long> SHARDS = AttributeKey.longKey("shoal.shards");

  /** How long past the deadline the caller waits for a call's own deadline timer before giving up on it. */
  private static final long GRACE_NANOS = TimeUnit.SECONDS.toNanos(1);

  /**
   * What the shards answered.
   *
   * @param answeredBy  shard → the replica's address that answered (second-phase calls go there first)
   * @param generations replica ("address/shard") → the searcher generation it answered from
   * @param hedged      shard requests that went to a second replica
   * @param notices     shards that did not answer, or answered from a replica that is not LIVE
   */
  record Result(List<ShardSearchResponse> answers, Map<Integer, String> answeredBy, Map<String, Long> generations,
                int hedged, List<ShardNotice> notices) {
  }

  private final ShardRouter router;
  private final ShardClient client;
  private final Scheduler scheduler;

  Scatter(ShardRouter router, ShardClient client, Scheduler scheduler) {
    this.router = router;
    this.client = client;
    this.scheduler = scheduler;
  }

  /** Each shard's replicas, best first, for one query: both phases of it follow the same routes. */
  List<List<Replica>> routes(int shards, String session) {
    List<List<Replica>> out = new ArrayList<>(shards);
    for (int s = 0; s < shards; s++) {
      out.add(router.replicas(s, session));
    }
    return out;
  }

  /** Whether one node is every shard's first choice: it can add up the corpus statistics itself. */
  static boolean oneNode(List<List<Replica>> routes) {
    String node = null;
    for (List<Replica> r : routes) {
      if (r.isEmpty() || (node != null && !node.equals(r.getFirst().getAddress()))) {
        return false;
      }
      node = r.getFirst().getAddress();
    }
    return node != null;
  }

  /**
   * Sends each node one call for the shards it is the first choice for ({@code SearchShards}), and
   * runs each shard as a {@link HedgedCall} whose first attempt is its part of that call: hedges
   * and retries go to the shard's next replicas on their own.
   *
   * @param request       the request for shard 0; each shard gets a copy with its own number
   * @param sumStatistics the node sums the corpus statistics of the shards (all of them, on it: {@link #oneNode})
   * @throws StatusException INVALID_ARGUMENT when a shard refused the query itself
   */
  Result run(ShardSearchRequest request, List<List<Replica>> routes, boolean sumStatistics, long deadlineNanos)
      throws StatusException {
    int shards = routes.size();
    Map<String, List<Integer>> byNode = new LinkedHashMap<>();
    for (int s = 0; s < shards; s++) {
      if (!routes.get(s).isEmpty()) {
        byNode.computeIfAbsent(routes.get(s).getFirst().getAddress(), k -> new ArrayList<>()).add(s);
      }
    }
    Map<Integer, ListenableFuture<ShardSearchResponse>> firstAttempts = new HashMap<>();
    for (Map.Entry<String, List<Integer>> node : byNode.entrySet()) {
      firstAttempts.putAll(nodeCall(node.getKey(), node.getValue(), request, sumStatistics, deadlineNanos));
    }
    List<HedgedCall> calls = new ArrayList<>(shards);
    List<CompletableFuture<HedgedCall.Answer>> pending = new ArrayList<>(shards);
    List<ShardNotice> notices = new ArrayList<>();
    for (int s = 0; s < shards; s++) {
      List<Replica> replicas = routes.get(s);
      if (replicas.isEmpty()) {
        notices.add(notice(s, ShardNotice.Kind.NO_ANSWER, "no replica is assigned"));
      }
      HedgedCall c = new HedgedCall(replicas, request.toBuilder().setShard(s).build(), client, router, scheduler,
          firstAttempts.get(s));
      calls.add(c);
      pending.add(c.start(deadlineNanos));
    }
    List<ShardSearchResponse> answers = new ArrayList<>(shards);
    Map<Integer, String> answeredBy = new HashMap<>();
    Map<String, Long> generations = new HashMap<>();
    int hedged = 0;
    StatusException refused = null;
    for (int s = 0; s < shards; s++) {
      HedgedCall.Answer a;
      try {
        a = pending.get(s).get(Math.max(0, deadlineNanos - scheduler.clock().nanoTime()) + GRACE_NANOS,
            TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        a = null;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw Status.CANCELLED.withDescription("interrupted").asException();
      } catch (ExecutionException e) {
        if (e.getCause() instanceof StatusException se && refused == null) {
          refused = se;
        }
        a = null;
      }
      hedged += calls.get(s).hedged() ? 1 : 0;
      if (a == null && !calls.get(s).replicas().isEmpty()) {
        notices.add(notice(s, ShardNotice.Kind.NO_ANSWER, "no replica answered in time (" + calls.get(s).tried()
            + " tried)"));
      }
      if (a != null) {
        ReplicaTier tier = router.tier(a.address(), s);
        if (tier != ReplicaTier.SERVING) {
          notices.add(notice(s, ShardNotice.Kind.NOT_LIVE, "replica " + a.address() + " is " + tier + ": "
              + (tier == ReplicaTier.SILENT ? "no fresh heartbeat" : "not LIVE (building, catching up or failed)")));
        }
        answers.add(a.response());
        answeredBy.put(a.response().getShard(), a.address());
        generations.put(HeartbeatWatcher.replica(a.address(), a.response().getShard()),
            a.response().getSearcherGeneration());
      }
    }
    if (refused != null) {
      throw refused;
    }
    return new Result(answers, answeredBy, generations, hedged, notices);
  }

  /**
   * One {@code SearchShards} call to a node, split into one future per shard: an answer, the
   * shard's own failure status, or the call's. Once every shard's future is done or cancelled
   * (each shard's winner found elsewhere), the call is cancelled too.
   */
  private Map<Integer, ListenableFuture<ShardSearchResponse>> nodeCall(String address, List<Integer> shards,
                                                                        ShardSearchRequest request,
                                                                        boolean sumStatistics, long deadlineNanos) {
    Map<Integer, SettableFuture<ShardSearchResponse>> parts = new LinkedHashMap<>();
    shards.forEach(s -> parts.put(s, SettableFuture.create()));
    ListenableFuture<NodeSearchResponse> call;
    try (Scope ignored = Tracing.withCallAttributes(Context.current(), Attributes.of(REPLICA, address, SHARDS,
        (long) shards.size())).makeCurrent()) {
      call = client.searchShards(address, NodeSearchRequest.newBuilder().setRequest(request).addAllShards(shards)
          .setSumStatistics(sumStatistics).build(), deadlineNanos);
    }
    Futures.addCallback(call, new FutureCallback<>() {
      @Override
      public void onSuccess(NodeSearchResponse r) {
        r.getAnswersList().forEach(a -> complete(parts.get(a.getShard()), a));
        for (ShardFailure f : r.getFailuresList()) {
          SettableFuture<ShardSearchResponse> part = parts.get(f.getShard());
          if (part != null) {
            part.setException(Status.fromCodeValue(f.getCode()).withDescription(f.getMessage()).asRuntimeException());
          }
        }
        parts.forEach((s, part) -> part.setException(Status.INTERNAL.withDescription("node " + address
            + " did not answer for shard " + s).asRuntimeException()));
      }

      @Override
      public void onFailure(Throwable t) {
        parts.values().forEach(part -> part.setException(t));
      }
    }, MoreExecutors.directExecutor());
    AtomicInteger open = new AtomicInteger(parts.size());
    for (SettableFuture<ShardSearchResponse> part : parts.values()) {
      part.addListener(() -> {
        if (open.decrementAndGet() == 0 && !call.isDone()) {
          call.cancel(true);
        }
      }, MoreExecutors.directExecutor());
    }
    return new HashMap<>(parts);
  }

  private static void complete(SettableFuture<ShardSearchResponse> part, ShardSearchResponse answer) {
    if (part != null) {
      part.set(answer);
    }
  }

  static ShardNotice notice(int shard, ShardNotice.Kind kind, String detail) {
    return ShardNotice.newBuilder().setShard(shard).setKind(kind).setDetail(detail).build();
  }
}
