package dev.shoal.query.plan;

import dev.shoal.api.v1.QuerySyntax;
import dev.shoal.internal.v1.Leg;
import dev.shoal.internal.v1.LexicalLeg;
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

  /**
   * The neighbours of the query's embedding. For a Lucene-syntax query the shard also applies the
   * query's required and prohibited clauses to them, so {@code +vitamin -bone} never brings in a
   * document about bone through this list.
   */
  @Override
  public Leg leg(QueryContext query, int k) {
    VectorLeg.Builder v = VectorLeg.newBuilder().addAllVector(query.requireQueryVectorValues()).setModel(query.model());
    if (query.syntax() == QuerySyntax.LUCENE) {
      v.setConstraints(LexicalLeg.newBuilder().setText(query.text()).setSyntax(QuerySyntax.LUCENE));
    }
    return Leg.newBuilder().setName(NAME).setK(k).setVector(v).build();
  }
}
