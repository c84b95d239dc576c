package dev.shoal.query.plan;

import dev.shoal.internal.v1.Leg;
import dev.shoal.internal.v1.VectorLeg;

/** {@code dense}: the nearest passage embeddings (HNSW) to the query's embedding; the score is the cosine. */
public final class DenseRetriever implements Retriever {

  public static final String NAME = "dense";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public boolean needsQueryVector() {
    return true;
  }

  @Override
  public Leg leg(QueryContext query, int k) {
    return Leg.newBuilder().setName(NAME).setK(k)
        .setVector(VectorLeg.newBuilder().addAllVector(query.requireQueryVectorValues())).build();
  }
}
