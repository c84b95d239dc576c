package dev.shoal.query.internal;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import dev.shoal.internal.v1.Replica;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardSearchResponse;
import dev.shoal.server.time.Scheduler;
import dev.shoal.server.trace.Tracing;
import io.grpc.Status;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * One shard's first-phase request: to the best replica; if that one fails, to the next; if it has
 * not answered by its recent p95 latency, a hedged copy to the next one too, and the first answer
 * wins (the others are cancelled). Completes with the answer, with null when no replica answered
 * by the deadline, or exceptionally with INVALID_ARGUMENT or FAILED_PRECONDITION (the query is wrong
 * for the index, not the replica: bad syntax, too many terms, another embedding model).
 *
 * <p>All timing (the hedge, the deadline) runs on the {@link Scheduler}'s clock, so hedging is
 * unit-tested under a manual clock; a call started with {@link #startWatched} leaves the deadline
 * to its caller ({@link #expire}). Thread-safe: replies, timers and the caller meet under this
 * object's lock.
 */
final class HedgedCall {

  /** The winning reply and the replica that sent it. */
  record Answer(ShardSearchResponse response, String address) {
  }

  private static final AttributeKey<Long> SHARD = AttributeKey.longKey("shoal.shard");
  private static final AttributeKey<String> REPLICA = AttributeKey.stringKey("shoal.replica");
  private static final AttributeKey<Boolean> HEDGE = AttributeKey.booleanKey("shoal.hedge");

  private final List<Replica> replicas;
  private final ShardSearchRequest request;
  private final ShardClient client;
  private final ShardRouter router;
  private final Scheduler scheduler;
  private final CompletableFuture<Answer> result = new CompletableFuture<>();
  private final List<ListenableFuture<ShardSearchResponse>> attempts = new ArrayList<>();
  private final List<Scheduler.Timer> timers = new ArrayList<>();
  private long deadlineNanos;
  private int next;
  private int inFlight;
  private boolean hedged;
  /** The trace context of the search, for attempts sent from the scheduler's thread (hedges). */
  private final Context trace = Context.current();

  HedgedCall(List<Replica> replicas, ShardSearchRequest request, ShardClient client, ShardRouter router,
             Scheduler scheduler) {
    this.replicas = List.copyOf(replicas);
    this.request = request;
    this.client = client;
    this.router = router;
    this.scheduler = scheduler;
  }

  /** Sends the first attempt and arms the hedge and the deadline. */
  CompletableFuture<Answer> start(long deadlineNanos) {
    return start(deadlineNanos, true);
  }

  /**
   * Sends the first attempt and arms the hedge, but no deadline timer: the caller, which waits
   * for the answer anyway, calls {@link #expire} once the deadline has passed. A scatter over
   * many shards then arms no timer per shard (one schedule and one cancel each, on a queue every
   * search shares) for a deadline its own thread already waits out.
   */
  CompletableFuture<Answer> startWatched(long deadlineNanos) {
    return start(deadlineNanos, false);
  }

  private synchronized CompletableFuture<Answer> start(long deadlineNanos, boolean deadlineTimer) {
    this.deadlineNanos = deadlineNanos;
    long now = scheduler.clock().nanoTime();
    if (replicas.isEmpty() || now >= deadlineNanos) {
      result.complete(null);
      return result;
    }
    if (deadlineTimer) {
      timers.add(scheduler.schedule(this::expire, deadlineNanos - now));
    }
    String first = replicas.getFirst().getAddress();
    sendNext();
    if (replicas.size() > 1) { // a lone replica has nothing to hedge to: no need for its p95
      long hedgeDelay = router.hedgeDelayNanos(first);
      if (now + hedgeDelay < deadlineNanos) {
        timers.add(scheduler.schedule(this::hedge, hedgeDelay));
      }
    }
    return result;
  }

  /**
   * The deadline has passed: completes the call with no answer unless it has completed already
   * (then nothing changes), and cancels the attempts still in flight.
   */
  void expire() {
    finish(null);
  }

  List<Replica> replicas() {
    return replicas;
  }

  /** Replicas a request went to so far. */
  synchronized int tried() {
    return next;
  }

  /** Whether a hedged copy went out. */
  synchronized boolean hedged() {
    return hedged;
  }

  private synchronized void hedge() {
    if (!result.isDone() && next < replicas.size()) {
      hedged = true;
      sendNext();
    }
  }

  private synchronized void sendNext() {
    if (result.isDone()) {
      return;
    }
    if (next >= replicas.size()) {
      if (inFlight == 0) {
        finish(null);
      }
      return;
    }
    String address = replicas.get(next++).getAddress();
    inFlight++;
    long sentAt = scheduler.clock().nanoTime();
    router.begin(address);
    ListenableFuture<ShardSearchResponse> f;
    try (Scope ignored = Tracing.withCallAttributes(trace, Attributes.of(SHARD, (long) request.getShard(),
        REPLICA, address, HEDGE, next > 1)).makeCurrent()) {
      f = client.search(address, request, deadlineNanos);
    }
    attempts.add(f);
    Futures.addCallback(f, new FutureCallback<>() {
      @Override
      public void onSuccess(ShardSearchResponse response) {
        answered(address, sentAt, response);
      }

      @Override
      public void onFailure(Throwable t) {
        failed(address, Status.fromThrowable(t));
      }
    }, MoreExecutors.directExecutor());
  }

  /** Only a real answer's latency counts: a fast failure must not make a replica look fast. */
  private synchronized void answered(String address, long sentAt, ShardSearchResponse response) {
    inFlight--;
    router.end(address, (scheduler.clock().nanoTime() - sentAt) / 1e6);
    finish(new Answer(response, address));
  }

  private synchronized void failed(String address, Status status) {
    inFlight--;
    if (status.getCode() == Status.Code.CANCELLED) {
      router.abandoned(address); // the losing copy: its latency is unknown, not short
    } else {
      router.failed(address);
    }
    if (status.getCode() == Status.Code.INVALID_ARGUMENT || status.getCode() == Status.Code.FAILED_PRECONDITION) {
      fail(status); // the query does not fit this index (syntax, limits, model): no replica would take it
    } else if (!result.isDone() && status.getCode() != Status.Code.CANCELLED
        && scheduler.clock().nanoTime() < deadlineNanos) {
      sendNext(); // the next replica, if any
    } else if (inFlight == 0) {
      finish(null);
    }
  }

  private synchronized void finish(Answer answer) {
    if (result.complete(answer)) {
      cleanUp();
    }
  }

  private synchronized void fail(Status status) {
    if (result.completeExceptionally(status.asException())) {
      cleanUp();
    }
  }

  private void cleanUp() {
    timers.forEach(Scheduler.Timer::cancel);
    for (ListenableFuture<ShardSearchResponse> a : attempts) {
      if (!a.isDone()) {
        a.cancel(true);
      }
    }
  }
}
