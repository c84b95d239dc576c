package dev.shoal.query.internal;

import dev.shoal.api.v1.ShardNotice;
import dev.shoal.cluster.HeartbeatWatcher;
import dev.shoal.cluster.ReplicaTier;
import dev.shoal.internal.v1.Replica;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardSearchResponse;
import dev.shoal.server.time.Scheduler;
import io.grpc.Status;
import io.grpc.StatusException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The first phase of one query: the same request to one replica of every shard at once
 * ({@link HedgedCall} each; the first attempts as one call per index node, {@link NodeBatch}),
 * then the answers that came by the deadline. Thread-safe; one call per query.
 */
final class Scatter {

  /**
   * What the shards answered.
   *
   * @param answeredBy  shard → the replica's address that answered (second-phase calls go there first)
   * @param generations replica ("address/shard") → the searcher generation it answered from
   * @param hedged      shard requests that went to a second replica
   * @param notices     shards that did not answer, or answered from a replica that is not LIVE
   * @param ownStatistics the node was to sum the corpus statistics, and some answer was scored by
   *                      its shard's own instead (a hedge, a retry, a shard the node could not read)
   */
  record Result(List<ShardSearchResponse> answers, Map<Integer, String> answeredBy, Map<String, Long> generations,
                int hedged, List<ShardNotice> notices, boolean ownStatistics) {
  }

  private final ShardRouter router;
  private final ShardClient client;
  private final Scheduler scheduler;

  Scatter(ShardRouter router, ShardClient client, Scheduler scheduler) {
    this.router = router;
    this.client = client;
    this.scheduler = scheduler;
  }

  /** Each shard's replicas in the order this query tries them (shard i at index i). */
  List<List<Replica>> routes(int shards, String session) {
    List<List<Replica>> routes = new ArrayList<>(shards);
    for (int s = 0; s < shards; s++) {
      routes.add(router.replicas(s, session));
    }
    return routes;
  }

  /**
   * @param request   the request for shard 0; each shard gets a copy with its own number
   * @param routes    from {@link #routes}
   * @param sumOnNode the request has no statistics, and the node that gets every shard sums them
   * @param window    where the page ends (offset + top k): a node answering for several shards
   *                  hydrates its share of it
   * @throws StatusException INVALID_ARGUMENT when a shard refused the query itself
   */
  Result run(ShardSearchRequest request, List<List<Replica>> routes, boolean sumOnNode, int window,
             long deadlineNanos) throws StatusException {
    int shards = routes.size();
    List<HedgedCall> calls = new ArrayList<>(shards);
    List<CompletableFuture<HedgedCall.Answer>> pending = new ArrayList<>(shards);
    List<ShardNotice> notices = new ArrayList<>();
    NodeBatch batch = new NodeBatch(client, shards, sumOnNode, window);
    for (int s = 0; s < shards; s++) {
      List<Replica> replicas = routes.get(s);
      if (replicas.isEmpty()) {
        notices.add(notice(s, ShardNotice.Kind.NO_ANSWER, "no replica is assigned"));
      }
      HedgedCall c = new HedgedCall(replicas, request.toBuilder().setShard(s).build(), batch, router, scheduler);
      calls.add(c);
      pending.add(c.startWatched(deadlineNanos)); // this thread waits out the deadline below
    }
    batch.flush(deadlineNanos);
    List<ShardSearchResponse> answers = new ArrayList<>(shards);
    Map<Integer, String> answeredBy = new HashMap<>();
    Map<String, Long> generations = new HashMap<>();
    int hedged = 0;
    boolean ownStatistics = false;
    StatusException refused = null;
    for (int s = 0; s < shards; s++) {
      HedgedCall.Answer a;
      try {
        a = await(calls.get(s), pending.get(s), deadlineNanos);
      } catch (InterruptedException e) {
        calls.forEach(HedgedCall::expire); // nobody will wait for them: cancel what is in flight
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
        ownStatistics |= sumOnNode && !batch.summed(a.response());
        answeredBy.put(a.response().getShard(), a.address());
        generations.put(HeartbeatWatcher.replica(a.address(), a.response().getShard()),
            a.response().getSearcherGeneration());
      }
    }
    if (refused != null) {
      throw refused;
    }
    return new Result(answers, answeredBy, generations, hedged, notices, ownStatistics);
  }

  /** The call's answer, or null when it has none by the deadline (it is then expired: its attempts cancelled). */
  private HedgedCall.Answer await(HedgedCall call, CompletableFuture<HedgedCall.Answer> answer, long deadlineNanos)
      throws InterruptedException, ExecutionException {
    long left = deadlineNanos == Long.MAX_VALUE ? Long.MAX_VALUE
        : Math.max(0, deadlineNanos - scheduler.clock().nanoTime());
    try {
      return answer.get(left, TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      call.expire();
      return answer.get(); // done now: with null, or with what came in just before
    }
  }

  static ShardNotice notice(int shard, ShardNotice.Kind kind, String detail) {
    return ShardNotice.newBuilder().setShard(shard).setKind(kind).setDetail(detail).build();
  }
}
