package dev.shoal.query.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.util.concurrent.ListenableFuture;
import dev.shoal.internal.v1.NodeSearchResponse;
import dev.shoal.internal.v1.Replica;
import dev.shoal.internal.v1.ShardFailure;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardSearchResponse;
import dev.shoal.server.time.ManualClock;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** One call per node for a scatter's first attempts, and each shard still answering or failing on its own. */
class NodeBatchTest {

  private final HedgedCallTest.HeldCalls client = new HedgedCallTest.HeldCalls();
  private final ShardSearchRequest query = ShardSearchRequest.newBuilder().setHydrateTop(10).build();

  private static ShardSearchResponse answer(int shard) {
    return ShardSearchResponse.newBuilder().setShard(shard).setTotalHits(10 + shard).build();
  }

  private static Status statusOf(ListenableFuture<?> f) {
    try {
      f.get();
      return Status.OK;
    } catch (ExecutionException e) {
      return Status.fromThrowable(e.getCause());
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void theShardsOfOneNodeGoAsOneCallAndEachCompletesOnItsOwn() throws Exception {
    NodeBatch batch = new NodeBatch(client, 4, true, 10);
    List<ListenableFuture<ShardSearchResponse>> replies = new ArrayList<>();
    for (int s = 0; s < 4; s++) {
      replies.add(batch.search("a:1", query.toBuilder().setShard(s).build(), Long.MAX_VALUE));
    }
    assertTrue(client.calls.isEmpty() && client.nodeCalls.isEmpty(), "held until the flush");
    batch.flush(Long.MAX_VALUE);
    assertEquals(0, client.calls.size());
    assertEquals(1, client.nodeCalls.size());
    HedgedCallTest.HeldCalls.NodeCall call = client.nodeCalls.getFirst();
    assertEquals(List.of(0, 1, 2, 3), call.request().getShardsList());
    assertTrue(call.request().getSumStatistics(), "the call carries every shard: the node can sum");
    assertEquals(10, call.request().getHydrateTop(), "a node holding every shard hydrates the whole page");
    call.reply().set(NodeSearchResponse.newBuilder().addAnswers(answer(3)).addAnswers(answer(0)).addAnswers(answer(1))
        .addFailures(ShardFailure.newBuilder().setShard(2).setCode(Status.Code.UNAVAILABLE.value())
            .setDescription("shard 2 is not hosted on node n1"))
        .setStatisticsSummed(false).build());
    for (int s : new int[] {0, 1, 3}) {
      assertEquals(10 + s, replies.get(s).get().getTotalHits());
      assertFalse(batch.summed(replies.get(s).get()));
    }
    Status failed = statusOf(replies.get(2));
    assertEquals(Status.Code.UNAVAILABLE, failed.getCode());
    assertEquals("shard 2 is not hosted on node n1", failed.getDescription());
  }

  @Test
  void answersScoredWithTheNodesSumsAreKnownAsSuch() throws Exception {
    NodeBatch batch = new NodeBatch(client, 2, true, 10);
    ListenableFuture<ShardSearchResponse> r0 = batch.search("a:1", query.toBuilder().setShard(0).build(), 1);
    ListenableFuture<ShardSearchResponse> r1 = batch.search("a:1", query.toBuilder().setShard(1).build(), 1);
    batch.flush(1);
    client.nodeCalls.getFirst().reply().set(NodeSearchResponse.newBuilder().addAnswers(answer(0)).addAnswers(answer(1))
        .setStatisticsSummed(true).build());
    assertTrue(batch.summed(r0.get()) && batch.summed(r1.get()));
    assertFalse(batch.summed(answer(0)), "by identity: only what the node's call delivered");
  }

  @Test
  void eachNodeGetsItsOwnCallAndOnlyANodeWithEveryShardSums() {
    NodeBatch batch = new NodeBatch(client, 3, true, 10);
    batch.search("a:1", query.toBuilder().setShard(0).build(), 1);
    batch.search("b:1", query.toBuilder().setShard(1).build(), 1);
    batch.search("a:1", query.toBuilder().setShard(2).build(), 1);
    batch.flush(1);
    assertEquals(1, client.nodeCalls.size());
    assertEquals("a:1", client.nodeCalls.getFirst().address());
    assertEquals(List.of(0, 2), client.nodeCalls.getFirst().request().getShardsList());
    assertFalse(client.nodeCalls.getFirst().request().getSumStatistics(), "two of three shards' sums are not the corpus's");
    assertEquals(9, client.nodeCalls.getFirst().request().getHydrateTop(), "two thirds of a 10-hit page, plus two");
    assertEquals(List.of("b:1"), client.addresses(), "a node with one shard gets a plain Search");
    batch.search("c:1", query.toBuilder().setShard(1).build(), 1);
    assertEquals(List.of("b:1", "c:1"), client.addresses(), "after the flush (a hedge, a retry) straight to the node");
  }

  @Test
  void theNodeOfThisJvmIsAskedLastSoTheOthersSearchWhileItsCallRunsHere() {
    NodeBatch batch = new NodeBatch(client, 6, true, 10, "b:1"::equals);
    for (int s = 0; s < 6; s++) {
      batch.search(List.of("b:1", "a:1", "c:1").get(s % 3), query.toBuilder().setShard(s).build(), 1);
    }
    batch.flush(1);
    assertEquals(List.of("a:1", "c:1", "b:1"), client.nodeCalls.stream().map(HedgedCallTest.HeldCalls.NodeCall::address)
        .toList(), "the colocated node last, the others in the order their shards came");
  }

  @Test
  void aRequestThatHydratesNothingAsksTheNodeForNothing() {
    NodeBatch batch = new NodeBatch(client, 2, true, 10);
    ShardSearchRequest idsOnly = ShardSearchRequest.getDefaultInstance();
    batch.search("a:1", idsOnly.toBuilder().setShard(0).build(), 1);
    batch.search("a:1", idsOnly.toBuilder().setShard(1).build(), 1);
    batch.flush(1);
    assertEquals(0, client.nodeCalls.getFirst().request().getHydrateTop());
  }

  @Test
  void theHydratedShareGrowsWithTheShardsOfTheCall() {
    assertEquals(5, SearchPipeline.hydrateTop(10, 1, 4));
    assertEquals(7, SearchPipeline.hydrateTop(10, 2, 4));
    assertEquals(10, SearchPipeline.hydrateTop(10, 4, 4));
    assertEquals(3, SearchPipeline.hydrateTop(3, 1, 16), "never more than the page");
    assertEquals(3, SearchPipeline.hydrateTop(10, 1, 16));
  }

  @Test
  void aNodesCallIsCancelledOnlyWhenEveryShardOfItIs() {
    NodeBatch batch = new NodeBatch(client, 2, false, 10);
    ListenableFuture<ShardSearchResponse> r0 = batch.search("a:1", query.toBuilder().setShard(0).build(), 1);
    ListenableFuture<ShardSearchResponse> r1 = batch.search("a:1", query.toBuilder().setShard(1).build(), 1);
    batch.flush(1);
    r0.cancel(true);
    assertFalse(client.nodeCalls.getFirst().reply().isCancelled(), "shard 1 still waits for it");
    r1.cancel(true);
    assertTrue(client.nodeCalls.getFirst().reply().isCancelled());
  }

  @Test
  void aNodeThatDoesNotKnowSearchShardsIsAskedShardByShard() throws Exception {
    NodeBatch batch = new NodeBatch(client, 2, true, 10);
    ListenableFuture<ShardSearchResponse> r0 = batch.search("a:1", query.toBuilder().setShard(0).build(), 1);
    ListenableFuture<ShardSearchResponse> r1 = batch.search("a:1", query.toBuilder().setShard(1).build(), 1);
    batch.flush(1);
    client.nodeCalls.getFirst().reply().setException(Status.UNIMPLEMENTED.asRuntimeException());
    assertEquals(List.of("a:1", "a:1"), client.addresses());
    client.call(1).reply().set(answer(1));
    client.call(0).reply().set(answer(0));
    assertEquals(10, r0.get().getTotalHits());
    assertEquals(11, r1.get().getTotalHits());
    assertFalse(batch.summed(r0.get()), "scored by the shard's own statistics");
  }

  /** With {@link HedgedCall}: the node's call fails, each shard fails over to its next replica on its own. */
  @Test
  void whenTheNodesCallFailsEachShardFailsOverOnItsOwn() {
    ManualClock clock = new ManualClock();
    ShardRouter router = new ShardRouter();
    List<Replica> replicas = List.of(Replica.newBuilder().setAddress("a:1").build(),
        Replica.newBuilder().setAddress("b:1").build());
    NodeBatch batch = new NodeBatch(client, 2, true, 10);
    long deadline = clock.nanoTime() + TimeUnit.SECONDS.toNanos(1);
    List<CompletableFuture<HedgedCall.Answer>> answers = new ArrayList<>();
    for (int s = 0; s < 2; s++) {
      answers.add(new HedgedCall(replicas, query.toBuilder().setShard(s).build(), batch, router, clock).start(deadline));
    }
    batch.flush(deadline);
    client.nodeCalls.getFirst().reply().setException(Status.UNAVAILABLE.asRuntimeException());
    assertEquals(List.of("b:1", "b:1"), client.addresses());
    client.call(0).reply().set(answer(0));
    client.call(1).reply().set(answer(1));
    for (int s = 0; s < 2; s++) {
      HedgedCall.Answer a = answers.get(s).join();
      assertEquals("b:1", a.address());
      assertEquals(s, a.response().getShard());
      assertFalse(batch.summed(a.response()), "a retry carries no sums: the pipeline says statistics_skipped");
    }
  }
}
