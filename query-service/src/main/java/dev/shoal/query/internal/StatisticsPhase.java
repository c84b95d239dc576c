package dev.shoal.query.internal;

import com.google.common.util.concurrent.ListenableFuture;
import dev.shoal.internal.CorpusStatisticsSum;
import dev.shoal.internal.v1.CorpusStatistics;
import dev.shoal.internal.v1.Leg;
import dev.shoal.internal.v1.LexicalLeg;
import dev.shoal.internal.v1.Replica;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.StatisticsRequest;
import dev.shoal.server.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Before a first phase with lexical legs on more than one shard: each shard's counts for the legs'
 * terms, added up ("dfs"), so every shard scores BM25 with the statistics of the whole corpus and
 * a document's score does not depend on which shard it hashed to. One call per shard to its first
 * replica, the next replica if that one fails. It may take a quarter of the time left; if a shard
 * has not answered by then, the search goes on with no sums and every shard scores by its own
 * statistics (the ranking a per-shard engine gives), which the stage timings show as
 * {@code statistics_skipped}. When one node is the only replica of every shard (a single-node
 * cluster), there is no round trip: that node sums its shards' statistics itself within the
 * search ({@link NodeBatch}). Not when a shard has another replica, even if every shard's first
 * choice is one node: a hedge or a retry on the other replica would carry no sums, and that
 * shard's scores, so the ranking, would change with which replica answered.
 * Thread-safe; one call per query.
 */
final class StatisticsPhase {

  private final ShardClient client;
  private final Clock clock;

  StatisticsPhase(ShardClient client, Clock clock) {
    this.client = client;
    this.clock = clock;
  }

  /**
   * What the phase gave a search: the summed statistics, or none, and then whether they were
   * needed (a lexical leg on several shards) and could not be had in time, or are left to the one
   * node every shard's search goes to first.
   */
  record Outcome(CorpusStatistics sums, boolean skipped, boolean onNode) {
    static final Outcome NOT_NEEDED = new Outcome(null, false, false);
    static final Outcome SKIPPED = new Outcome(null, true, false);
    static final Outcome ON_NODE = new Outcome(null, false, true);
  }

  /**
   * The summed statistics for the request's lexical legs; not needed with none or one shard; on
   * the node when it is every shard's only replica; skipped when a shard failed.
   *
   * @param routes each shard's replicas in the order the search tries them
   */
  Outcome gather(ShardSearchRequest first, List<List<Replica>> routes, long deadlineNanos) {
    List<LexicalLeg> legs = first.getLegsList().stream().filter(Leg::hasLexical).map(Leg::getLexical).toList();
    int shards = routes.size();
    if (legs.isEmpty() || shards < 2) {
      return Outcome.NOT_NEEDED; // one shard's own statistics are the corpus's
    }
    if (routes.stream().allMatch(r -> r.size() == 1
        && r.getFirst().getAddress().equals(routes.getFirst().getFirst().getAddress()))) {
      // one node is every shard's only replica: nothing can hedge or retry elsewhere without the
      // sums, so the node may add them up inside the search
      return Outcome.ON_NODE;
    }
    long now = clock.nanoTime();
    long until = now + Math.max(0, (deadlineNanos - now) / 4);
    List<CompletableFuture<CorpusStatistics>> parts = new ArrayList<>(shards);
    for (int s = 0; s < shards; s++) {
      CompletableFuture<CorpusStatistics> part = new CompletableFuture<>();
      ask(routes.get(s), 0, StatisticsRequest.newBuilder().setShard(s).addAllLegs(legs).build(), until,
          part);
      parts.add(part);
    }
    List<CorpusStatistics> got = new ArrayList<>(shards);
    try {
      for (CompletableFuture<CorpusStatistics> p : parts) {
        got.add(p.get(Math.max(0, until - clock.nanoTime()), TimeUnit.NANOSECONDS));
      }
    } catch (ExecutionException | TimeoutException e) {
      parts.forEach(p -> p.cancel(false));
      return Outcome.SKIPPED;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Outcome.SKIPPED;
    }
    return new Outcome(CorpusStatisticsSum.of(got), false, false);
  }

  private void ask(List<Replica> replicas, int i, StatisticsRequest request, long until,
                   CompletableFuture<CorpusStatistics> out) {
    if (i >= replicas.size()) {
      out.completeExceptionally(new IllegalStateException("no replica of shard " + request.getShard() + " answered"));
      return;
    }
    ListenableFuture<CorpusStatistics> f = client.statistics(replicas.get(i).getAddress(), request, until);
    f.addListener(() -> {
      try {
        out.complete(f.get());
      } catch (ExecutionException e) {
        if (!out.isDone()) {
          ask(replicas, i + 1, request, until, out);
        }
      } catch (InterruptedException | RuntimeException e) {
        out.completeExceptionally(e);
      }
    }, Runnable::run);
  }
}
