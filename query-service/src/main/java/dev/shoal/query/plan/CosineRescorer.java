package dev.shoal.query.plan;

import dev.shoal.internal.v1.VectorScorer;
import java.util.List;

/**
 * {@code cosine}: the exact cosine of each head candidate's stored passage embedding with the
 * query's, computed by the shards in the first phase (so no vector leaves a shard and no extra
 * round trip is made), fused with BM25 by {@link HeadFusion}. The NEURAL profile's second phase.
 */
public final class CosineRescorer implements Rescorer {

  public static final String NAME = "cosine";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public boolean needsQueryVector() {
    return true;
  }

  @Override
  public List<VectorScorer> shardScorers(QueryContext query) {
    return List.of(VectorScorer.newBuilder().setName(NAME).addAllVector(query.requireQueryVectorValues())
        .setModel(query.model()).build());
  }

  @Override
  public List<Candidate> rescore(List<Candidate> head, RescoreContext context) {
    double[] scores = new double[head.size()];
    for (int i = 0; i < scores.length; i++) {
      Candidate c = head.get(i);
      if (!c.has(NAME)) {
        throw new IllegalStateException("shard " + c.shard() + " sent no stored-vector score for '" + c.id() + "'");
      }
      scores[i] = c.signal(NAME);
    }
    return HeadFusion.fuse(head, NAME, scores, List.of(Bm25Retriever.NAME), context);
  }
}
