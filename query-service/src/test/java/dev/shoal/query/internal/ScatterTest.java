package dev.shoal.query.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.SettableFuture;
import dev.shoal.internal.v1.CorpusStatistics;
import dev.shoal.internal.v1.FetchRequest;
import dev.shoal.internal.v1.FetchResponse;
import dev.shoal.internal.v1.HydrateRequest;
import dev.shoal.internal.v1.HydrateResponse;
import dev.shoal.internal.v1.NodeSearchRequest;
import dev.shoal.internal.v1.NodeSearchResponse;
import dev.shoal.internal.v1.Replica;
import dev.shoal.internal.v1.ShardFailure;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardSearchResponse;
import dev.shoal.internal.v1.StatisticsRequest;
import dev.shoal.server.time.ManualClock;
import io.grpc.Status;
import io.grpc.StatusException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** The first phase as node calls: one per node, each shard hedged and retried on its own from there. */
class ScatterTest {

  /** Answers at once: node calls by a script, single-shard calls with an answer from that replica. */
  static class ScriptedNodes implements ShardClient {
    final List<String> nodeCalls = new ArrayList<>();
    final List<NodeSearchRequest> nodeRequests = new ArrayList<>();
    final List<String> shardCalls = new ArrayList<>();
    final List<SettableFuture<NodeSearchResponse>> held = new ArrayList<>();
    Function<NodeSearchRequest, NodeSearchResponse> script = r -> answerAll(r);

    @Override
    public synchronized ListenableFuture<NodeSearchResponse> searchShards(String address, NodeSearchRequest r,
                                                                         long d) {
      nodeCalls.add(address);
      nodeRequests.add(r);
      NodeSearchResponse out = script.apply(r);
      if (out == null) {
        SettableFuture<NodeSearchResponse> f = SettableFuture.create();
        held.add(f);
        return f;
      }
      return Futures.immediateFuture(out);
    }

    @Override
    public synchronized ListenableFuture<ShardSearchResponse> search(String address, ShardSearchRequest r, long d) {
      shardCalls.add(address + "/" + r.getShard());
      return Futures.immediateFuture(answer(r.getShard()));
    }

    @Override
    public ListenableFuture<CorpusStatistics> statistics(String address, StatisticsRequest r, long d) {
      throw new UnsupportedOperationException();
    }

    @Override
    public ListenableFuture<HydrateResponse> hydrate(String address, HydrateRequest r, long d) {
      throw new UnsupportedOperationException();
    }

    @Override
    public ListenableFuture<FetchResponse> fetch(String address, FetchRequest r, long d) {
      throw new UnsupportedOperationException();
    }
  }

  private static ShardSearchResponse answer(int shard) {
    return ShardSearchResponse.newBuilder().setShard(shard).setTotalHits(10 + shard).build();
  }

  private static NodeSearchResponse answerAll(NodeSearchRequest r) {
    NodeSearchResponse.Builder b = NodeSearchResponse.newBuilder();
    r.getShardsList().forEach(s -> b.addAnswers(answer(s)));
    return b.build();
  }

  private static List<Replica> replicas(String... addresses) {
    List<Replica> out = new ArrayList<>();
    for (String a : addresses) {
      out.add(Replica.newBuilder().setAddress(a).build());
    }
    return out;
  }

  private final ManualClock clock = new ManualClock();
  private final ScriptedNodes nodes = new ScriptedNodes();
  private final Scatter scatter = new Scatter(new ShardRouter(), nodes, clock);

  private Scatter.Result run(List<List<Replica>> routes, boolean sums) throws StatusException {
    return scatter.run(ShardSearchRequest.getDefaultInstance(), routes, sums,
        clock.nanoTime() + TimeUnit.SECONDS.toNanos(1));
  }

  @Test
  void eachNodeGetsOneCallForTheShardsItIsFirstFor() throws Exception {
    List<List<Replica>> routes = List.of(replicas("a:1", "b:1"), replicas("b:1", "a:1"), replicas("a:1"),
        replicas("a:1", "b:1"));
    Scatter.Result r = run(routes, false);
    assertEquals(List.of("a:1", "b:1"), nodes.nodeCalls);
    assertEquals(List.of(0, 2, 3), nodes.nodeRequests.get(0).getShardsList());
    assertEquals(List.of(1), nodes.nodeRequests.get(1).getShardsList());
    assertEquals(List.of(), nodes.shardCalls, "no call of its own for a shard its node answered");
    assertEquals(4, r.answers().size());
    assertEquals("b:1", r.answeredBy().get(1));
    assertEquals("a:1", r.answeredBy().get(3));
    assertEquals(List.of(10L, 11L, 12L, 13L), r.answers().stream().map(ShardSearchResponse::getTotalHits).sorted()
        .toList());
  }

  @Test
  void aShardThatFailsInsideTheNodeCallIsRetriedAloneOnItsNextReplica() throws Exception {
    nodes.script = r -> NodeSearchResponse.newBuilder().addAnswers(answer(0))
        .addFailures(ShardFailure.newBuilder().setShard(1).setCode(Status.Code.UNAVAILABLE.value())
            .setMessage("shard 1 is not hosted on node a")).build();
    Scatter.Result r = run(List.of(replicas("a:1", "b:1"), replicas("a:1", "b:1")), false);
    assertEquals(List.of("a:1"), nodes.nodeCalls);
    assertEquals(List.of("b:1/1"), nodes.shardCalls);
    assertEquals(2, r.answers().size());
    assertEquals("b:1", r.answeredBy().get(1));
  }

  @Test
  void aShardTheNodeLeftOutIsRetriedToo() throws Exception {
    nodes.script = r -> NodeSearchResponse.newBuilder().addAnswers(answer(1)).build();
    Scatter.Result r = run(List.of(replicas("a:1", "b:1"), replicas("a:1", "b:1")), false);
    assertEquals(List.of("b:1/0"), nodes.shardCalls);
    assertEquals(2, r.answers().size());
  }

  @Test
  void aFailedNodeCallSendsEachOfItsShardsToItsNextReplica() throws Exception {
    ScriptedNodes failing = new ScriptedNodes() {
      @Override
      public synchronized ListenableFuture<NodeSearchResponse> searchShards(String address, NodeSearchRequest r,
                                                                           long d) {
        nodeCalls.add(address);
        return Futures.immediateFailedFuture(Status.UNAVAILABLE.withDescription("connection refused")
            .asRuntimeException());
      }
    };
    Scatter.Result r = new Scatter(new ShardRouter(), failing, clock).run(ShardSearchRequest.getDefaultInstance(),
        List.of(replicas("a:1", "b:1"), replicas("a:1", "c:1"), replicas("a:1")), false,
        clock.nanoTime() + TimeUnit.SECONDS.toNanos(1));
    assertEquals(List.of("a:1"), failing.nodeCalls);
    assertEquals(List.of("b:1/0", "c:1/1"), failing.shardCalls);
    assertEquals(2, r.answers().size());
    assertEquals(1, r.notices().stream().filter(n -> n.getShard() == 2).count(),
        "the shard with no other replica is reported, not silently missing: " + r.notices());
  }

  @Test
  void aQueryTheShardsRefuseIsInvalidArgumentNotAPartialResult() {
    nodes.script = r -> NodeSearchResponse.newBuilder().addFailures(ShardFailure.newBuilder().setShard(0)
        .setCode(Status.Code.INVALID_ARGUMENT.value()).setMessage("invalid query syntax: unbalanced (")).build();
    StatusException e = assertThrows(StatusException.class, () -> run(List.of(replicas("a:1", "b:1")), false));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains("unbalanced"), e.getStatus().getDescription());
    assertEquals(List.of(), nodes.shardCalls, "no replica would take it: not retried");
  }

  @Test
  void theNodeSumsStatisticsOnlyWhenAskedAndEveryShardIsOnIt() throws Exception {
    List<List<Replica>> together = List.of(replicas("a:1", "b:1"), replicas("a:1", "b:1"));
    assertTrue(Scatter.oneNode(together));
    assertTrue(!Scatter.oneNode(List.of(replicas("a:1"), replicas("b:1"))));
    assertTrue(!Scatter.oneNode(List.of(replicas("a:1"), replicas())), "a shard with no replica: no sums on a node");
    run(together, true);
    assertTrue(nodes.nodeRequests.getFirst().getSumStatistics());
  }

  @Test
  void theNodeCallIsCancelledOnceEveryShardIsDoneElsewhere() throws Exception {
    nodes.script = r -> null; // node a never answers
    Thread t = Thread.ofPlatform().start(() -> {
      try {
        run(List.of(replicas("a:1", "b:1")), false);
      } catch (StatusException e) {
        throw new AssertionError(e);
      }
    });
    while (nodes.held.isEmpty()) {
      Thread.sleep(1);
    }
    SettableFuture<NodeSearchResponse> call = nodes.held.getFirst();
    // past the deadline: the shard gives up on a:1, and the node call with it
    while (t.isAlive()) {
      clock.advanceMillis(100);
      Thread.sleep(1);
    }
    assertTrue(call.isCancelled(), "the call to a node whose every shard gave up on it is cancelled");
  }
}
