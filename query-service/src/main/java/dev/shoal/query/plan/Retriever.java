package dev.shoal.query.plan;

import dev.shoal.internal.v1.Leg;

/**
 * A first-phase stage: one named candidate list per shard. The query service asks every shard for
 * the retriever's {@link Leg}, a list built from a primitive the shard knows (BM25 over an analysed
 * field, nearest neighbours of a vector); the list's name is the signal's name in fusion and in
 * every explanation.
 *
 * <p>Extending: implement this interface and list the class in
 * {@code META-INF/services/dev.shoal.query.plan.Retriever}; requests name it in
 * {@code SearchRequest.retrievers}. Contract: stateless and thread-safe (one instance serves every
 * query at once); {@link #leg} is called on the request's thread, must not block, and throws
 * {@link IllegalArgumentException} (sent back as INVALID_ARGUMENT) for a query it cannot serve.
 */
public interface Retriever {

  /** Unique among retrievers; also the signal's name. */
  String name();

  /** Whether the leg needs the query's embedding; when the ranker cannot give it, the plan runs without this retriever. */
  default boolean needsQueryVector() {
    return false;
  }

  /** The leg every shard runs, asking for at most {@code k} candidates per shard. */
  Leg leg(QueryContext query, int k);
}
