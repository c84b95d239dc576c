package dev.shoal.query.plan;

import dev.shoal.internal.v1.RankerGrpc;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a {@link Rescorer} may use while it re-orders one query's head. Not thread-safe: one per
 * query, used on the request's thread.
 */
public interface RescoreContext {

  QueryContext query();

  /** The request's fusion rule, for merging a model's scores with the first phase. */
  Fusion fusion();

  FusionWeights weights();

  /** A merged first-phase list by leg name, when the plan had that leg. */
  Optional<ListStats> list(String leg);

  /** The absolute deadline ({@link #nanoTime()} scale) by which the rescorer must have returned. */
  long deadlineNanos();

  /** The query service's clock. */
  long nanoTime();

  /**
   * The passages of the head as the encoder reads them ("title. text"), by id, from the replicas
   * that returned them.
   *
   * @throws IllegalStateException when a shard cannot give them by the deadline
   */
  Map<String, String> passages(List<Candidate> candidates);

  /** The ranker, for rescorers that run a model on it: a stub whose deadline is this query's, capped by the ranker budget. */
  RankerGrpc.RankerBlockingStub ranker();
}
