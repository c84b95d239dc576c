package dev.shoal.query.plan;

import dev.shoal.internal.v1.VectorScorer;
import java.util.List;

/**
 * The second phase: re-orders the head of the fused first-phase list (its first
 * {@code rerank_depth} candidates). A rescorer may have the shards compute a signal for every
 * candidate while they search ({@link #shardScorers}: exact scores by stored vectors, as Lucene's
 * rescorers do on the index), or call a model with the head's texts (the ranker's {@code Score}).
 *
 * <p>Extending: implement this interface and list the class in
 * {@code META-INF/services/dev.shoal.query.plan.Rescorer}; requests name it in
 * {@code SearchRequest.rescorer}. Contract: stateless and thread-safe; {@link #rescore} runs on
 * the request's thread and must finish by {@link RescoreContext#deadlineNanos()}. An exception
 * from it does not fail the search: the answer keeps the first-phase order and is flagged
 * {@code degraded} with the exception's message.
 */
public interface Rescorer {

  /** Unique among rescorers; also the name of the signal it adds. */
  String name();

  /** Whether it needs the query's embedding; without one the plan runs without this rescorer (degraded). */
  default boolean needsQueryVector() {
    return false;
  }

  /** Signals the shards compute for every candidate in the first phase, for this rescorer. */
  default List<VectorScorer> shardScorers(QueryContext query) {
    return List.of();
  }

  /**
   * The head in its new order, best first, each candidate with its new score and explanation.
   * Every candidate of the head is returned exactly once.
   */
  List<Candidate> rescore(List<Candidate> head, RescoreContext context) throws Exception;
}
