package dev.shoal.query.plan;

import dev.shoal.internal.v1.ScoreModel;
import dev.shoal.internal.v1.ScoreRequest;
import dev.shoal.internal.v1.ScoreResponse;
import java.util.List;
import java.util.Map;

/**
 * {@code ranker}: sends the query and the head's passages to the ranker's {@code Score} (whatever
 * second-phase model it serves) and fuses its scores with BM25 by {@link HeadFusion}. Within the
 * deadline and the ranker's budget; a ranker that fails or is too slow leaves the first-phase
 * order (the answer is degraded).
 */
public final class RankerRescorer implements Rescorer {

  public static final String NAME = "ranker";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public List<Candidate> rescore(List<Candidate> head, RescoreContext context) {
    return HeadFusion.fuse(head, NAME, score(head, context, ScoreModel.BI_ENCODER), List.of(Bm25Retriever.NAME),
        context);
  }

  /** The ranker's scores of the head's passages for the query, by {@code model}, in head order. */
  static double[] score(List<Candidate> head, RescoreContext context, ScoreModel model) {
    Map<String, String> passages = context.passages(head);
    ScoreRequest.Builder req = ScoreRequest.newBuilder().setQuery(context.query().text()).setModel(model);
    for (Candidate c : head) {
      req.addCandidates(dev.shoal.internal.v1.Candidate.newBuilder().setId(c.id()).setText(passages.get(c.id())));
    }
    ScoreResponse resp = context.ranker().score(req.build());
    if (resp.getScoresCount() != head.size()) {
      throw new IllegalStateException("the ranker scored " + resp.getScoresCount() + " of " + head.size()
          + " candidates");
    }
    double[] scores = new double[head.size()];
    for (int i = 0; i < scores.length; i++) {
      scores[i] = resp.getScores(i).getScore();
    }
    return scores;
  }
}
