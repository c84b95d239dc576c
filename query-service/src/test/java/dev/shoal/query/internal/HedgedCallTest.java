package dev.shoal.query.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import dev.shoal.internal.v1.ShardAssignment;
import dev.shoal.internal.v1.ShardPlacement;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardSearchResponse;
import dev.shoal.internal.v1.StatisticsRequest;
import dev.shoal.server.time.ManualClock;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Hedging and failover of one shard's request, under a manual clock: nothing here waits for real time. */
class HedgedCallTest {

  /** A shard client whose calls answer only when the test says so. */
  static class HeldCalls implements ShardClient {
    record Call(String address, SettableFuture<ShardSearchResponse> reply) {
    }

    record NodeCall(String address, NodeSearchRequest request, SettableFuture<NodeSearchResponse> reply) {
    }

    final List<Call> calls = new ArrayList<>();
    final List<NodeCall> nodeCalls = new ArrayList<>();

    @Override
    public synchronized ListenableFuture<ShardSearchResponse> search(String address, ShardSearchRequest r, long d) {
      SettableFuture<ShardSearchResponse> f = SettableFuture.create();
      calls.add(new Call(address, f));
      return f;
    }

    @Override
    public synchronized ListenableFuture<NodeSearchResponse> searchShards(String address, NodeSearchRequest r,
                                                                          long d) {
      SettableFuture<NodeSearchResponse> f = SettableFuture.create();
      nodeCalls.add(new NodeCall(address, r, f));
      return f;
    }

    @Override
    public ListenableFuture<HydrateResponse> hydrate(String address, HydrateRequest r, long d) {
      throw new UnsupportedOperationException();
    }

    @Override
    public ListenableFuture<CorpusStatistics> statistics(String address, StatisticsRequest r, long d) {
      throw new UnsupportedOperationException();
    }

    @Override
    public ListenableFuture<FetchResponse> fetch(String address, FetchRequest r, long d) {
      throw new UnsupportedOperationException();
    }

    synchronized List<String> addresses() {
      return calls.stream().map(Call::address).toList();
    }

    synchronized Call call(int i) {
      return calls.get(i);
    }
  }

  private final ManualClock clock = new ManualClock();
  private final ShardRouter router = new ShardRouter();
  private final HeldCalls shards = new HeldCalls();
  private final List<Replica> replicas = List.of(Replica.newBuilder().setAddress("a:1").build(),
      Replica.newBuilder().setAddress("b:1").build());

  private static ShardSearchResponse answer(int shard) {
    return ShardSearchResponse.newBuilder().setShard(shard).setTotalHits(7).build();
  }

  /** Gives replica a:1 a p95 of 10 ms: 20 answers of 1..10 ms on the manual clock. */
  private void warmUp() {
    for (int i = 0; i < 20; i++) {
      router.begin("a:1");
      router.end("a:1", 1 + i % 10);
    }
    assertEquals(TimeUnit.MILLISECONDS.toNanos(10), router.hedgeDelayNanos("a:1"));
  }

  private CompletableFuture<HedgedCall.Answer> start(HedgedCall call, long deadlineMillis) {
    return call.start(clock.nanoTime() + TimeUnit.MILLISECONDS.toNanos(deadlineMillis));
  }

  @Test
  void aReplicaThatAnswersWithinItsP95GetsNoHedge() {
    warmUp();
    HedgedCall call = new HedgedCall(replicas, ShardSearchRequest.getDefaultInstance(), shards, router, clock);
    CompletableFuture<HedgedCall.Answer> f = start(call, 1_000);
    clock.advanceMillis(9);
    shards.call(0).reply().set(answer(0));
    clock.advanceMillis(50);
    assertEquals("a:1", f.join().address());
    assertEquals(List.of("a:1"), shards.addresses());
    assertFalse(call.hedged());
    assertEquals(0, clock.pending(), "the hedge and deadline timers are cancelled once answered");
  }

  @Test
  void aReplicaThatHasNotAnsweredByItsP95GetsAHedgeAndTheFirstAnswerWins() {
    warmUp();
    HedgedCall call = new HedgedCall(replicas, ShardSearchRequest.getDefaultInstance(), shards, router, clock);
    CompletableFuture<HedgedCall.Answer> f = start(call, 1_000);
    clock.advanceMillis(9);
    assertEquals(List.of("a:1"), shards.addresses(), "not yet: 9 ms is within a:1's p95 of 10 ms");
    clock.advanceMillis(1);
    assertEquals(List.of("a:1", "b:1"), shards.addresses(), "at a:1's p95 a hedged copy goes to b:1");
    assertTrue(call.hedged());
    assertFalse(f.isDone());
    shards.call(1).reply().set(answer(3));
    assertEquals("b:1", f.join().address());
    assertTrue(shards.call(0).reply().isCancelled(), "the losing attempt is cancelled");
  }

  @Test
  void aFailedReplicaIsReplacedByTheNextAtOnce() {
    HedgedCall call = new HedgedCall(replicas, ShardSearchRequest.getDefaultInstance(), shards, router, clock);
    CompletableFuture<HedgedCall.Answer> f = start(call, 1_000);
    shards.call(0).reply().setException(Status.UNAVAILABLE.asRuntimeException());
    assertEquals(List.of("a:1", "b:1"), shards.addresses());
    shards.call(1).reply().set(answer(0));
    assertEquals("b:1", f.join().address());
    assertFalse(call.hedged(), "a retry after a failure is not a hedge");
  }

  @Test
  void noAnswerByTheDeadlineIsNull() {
    HedgedCall call = new HedgedCall(replicas, ShardSearchRequest.getDefaultInstance(), shards, router, clock);
    CompletableFuture<HedgedCall.Answer> f = start(call, 200);
    clock.advanceMillis(199);
    assertFalse(f.isDone());
    clock.advanceMillis(1);
    assertNull(f.join());
    assertEquals(2, shards.addresses().size(), "hedged after the default delay (50 ms), then gave up");
    assertTrue(shards.call(0).reply().isCancelled() && shards.call(1).reply().isCancelled());
  }

  @Test
  void anInvalidQueryFailsTheCallAtOnceWithoutTryingAnotherReplica() {
    HedgedCall call = new HedgedCall(replicas, ShardSearchRequest.getDefaultInstance(), shards, router, clock);
    CompletableFuture<HedgedCall.Answer> f = start(call, 1_000);
    shards.call(0).reply().setException(Status.INVALID_ARGUMENT.withDescription("bad syntax").asRuntimeException());
    assertTrue(f.isCompletedExceptionally());
    assertEquals(List.of("a:1"), shards.addresses());
  }

  /**
   * The review's race: attempt 0 fails while the call is still sending (here: its future has failed
   * before the callback is attached, so the callback runs inside the send). The call must go on to
   * the next replica and complete with its answer, not with null.
   */
  @Test
  void anAttemptThatFailsWhileBeingSentHandsOverToTheNextReplica() {
    ShardClient failsAtOnceOnA = new HeldCalls() {
      @Override
      public synchronized ListenableFuture<ShardSearchResponse> search(String address, ShardSearchRequest r, long d) {
        ListenableFuture<ShardSearchResponse> f = super.search(address, r, d);
        if (address.equals("a:1")) {
          ((SettableFuture<ShardSearchResponse>) f).setException(Status.UNAVAILABLE.asRuntimeException());
        }
        return f;
      }
    };
    HeldCalls held = (HeldCalls) failsAtOnceOnA;
    HedgedCall call = new HedgedCall(replicas, ShardSearchRequest.getDefaultInstance(), failsAtOnceOnA, router, clock);
    CompletableFuture<HedgedCall.Answer> f = start(call, 1_000);
    assertFalse(f.isDone(), "not completed with null while b:1 is still to be asked");
    assertEquals(List.of("a:1", "b:1"), held.addresses());
    held.call(1).reply().set(answer(0));
    assertEquals("b:1", f.join().address());
  }

  /** A replica that fails in a millisecond is not "the fastest": it goes behind one that answers. */
  @Test
  void failuresDoNotCountAsFastAnswers() {
    router.update(ShardAssignment.newBuilder().setShardCount(1)
        .addPlacements(ShardPlacement.newBuilder().setShard(0).addAllReplicas(replicas)).build());
    for (int i = 0; i < 5; i++) {
      HedgedCall call = new HedgedCall(router.replicas(0, ""), ShardSearchRequest.getDefaultInstance(), shards,
          router, clock);
      CompletableFuture<HedgedCall.Answer> f = start(call, 1_000);
      HeldCalls.Call first = shards.call(shards.calls.size() - 1);
      clock.advanceMillis(first.address().equals("a:1") ? 1 : 20);
      if (first.address().equals("a:1")) {
        first.reply().setException(Status.INTERNAL.asRuntimeException());
        clock.advanceMillis(20);
        shards.call(shards.calls.size() - 1).reply().set(answer(0));
      } else {
        first.reply().set(answer(0));
      }
      assertEquals("b:1", f.join().address());
    }
    assertEquals("b:1", router.replicas(0, "").getFirst().getAddress(), "a:1 failed fast; b:1 answers in 20 ms");
    assertEquals(0, router.stats("a:1").outstanding.get());
    assertTrue(Double.isNaN(router.stats("a:1").p95Millis()), "failures leave no latency samples");
  }

  /** The loser of a hedge race is cancelled: that says nothing about its latency. */
  @Test
  void aCancelledLoserLeavesNoLatencySample() {
    warmUp();
    HedgedCall call = new HedgedCall(replicas, ShardSearchRequest.getDefaultInstance(), shards, router, clock);
    CompletableFuture<HedgedCall.Answer> f = start(call, 1_000);
    clock.advanceMillis(10);
    shards.call(1).reply().set(answer(0));
    assertEquals("b:1", f.join().address());
    assertEquals(0, router.stats("a:1").outstanding.get());
    assertEquals(TimeUnit.MILLISECONDS.toNanos(10), router.hedgeDelayNanos("a:1"), "a:1's samples unchanged");
  }

  /** A watched call arms no deadline timer of its own; its caller's expire() ends it as the timer would. */
  @Test
  void aWatchedCallEndsWhenItsCallerExpiresItAndNotBefore() {
    HedgedCall call = new HedgedCall(replicas.subList(0, 1), ShardSearchRequest.getDefaultInstance(), shards, router,
        clock);
    CompletableFuture<HedgedCall.Answer> f = call.startWatched(clock.nanoTime() + TimeUnit.MILLISECONDS.toNanos(200));
    assertEquals(0, clock.pending(), "one replica: no hedge; watched: no deadline timer");
    clock.advanceMillis(1_000);
    assertFalse(f.isDone(), "past the deadline, but only the caller ends a watched call");
    call.expire();
    assertNull(f.join());
    assertTrue(shards.call(0).reply().isCancelled(), "the attempt in flight is cancelled");
  }

  @Test
  void expiringACallThatAnsweredKeepsTheAnswer() {
    HedgedCall call = new HedgedCall(replicas, ShardSearchRequest.getDefaultInstance(), shards, router, clock);
    CompletableFuture<HedgedCall.Answer> f = call.startWatched(clock.nanoTime() + TimeUnit.MILLISECONDS.toNanos(200));
    assertEquals(1, clock.pending(), "two replicas: the hedge timer only");
    shards.call(0).reply().set(answer(0));
    call.expire();
    assertEquals("a:1", f.join().address());
    assertEquals(0, clock.pending());
  }

  /** The p95 is kept between samples (the shards of a node ask for it in turn), never past a new one. */
  @Test
  void aNewLatencySampleMovesTheHedgeDelay() {
    warmUp();
    assertEquals(TimeUnit.MILLISECONDS.toNanos(10), router.hedgeDelayNanos("a:1"));
    for (int i = 0; i < 64; i++) {
      router.begin("a:1");
      router.end("a:1", 30);
    }
    assertEquals(TimeUnit.MILLISECONDS.toNanos(30), router.hedgeDelayNanos("a:1"));
  }
}
