package dev.shoal.query.plan;

import dev.shoal.internal.v1.ScoreModel;
import java.util.List;

/**
 * {@code cross-encoder}: the second phase by a cross-encoder, which reads the query and each
 * passage together. Sends the query and the head's passages (the first {@code rerank_depth} of
 * the fused list, as the shards store them) to the ranker's {@code Score} with
 * {@code model = CROSS_ENCODER}, where concurrent queries' pairs are batched into one model run,
 * and orders the head by the model's scores alone: a cross-encoder is the most precise signal
 * the plan has, so the first-phase lists are not fused back in (the request's fusion rule and
 * the {@code cross-encoder} weight apply to the one signal). Each hit's explanation is a
 * {@code rescore} node over the model's score (a signal named {@value #NAME}) and the first phase
 * that selected it.
 *
 * <p>Within the request's deadline capped by the ranker budget; a ranker without a cross-encoder
 * (FAILED_PRECONDITION), a failure or a timeout leaves the first-phase order and flags the answer
 * degraded with the reason. Stateless and thread-safe.
 */
public final class CrossEncoderRescorer implements Rescorer {

  public static final String NAME = "cross-encoder";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public List<Candidate> rescore(List<Candidate> head, RescoreContext context) {
    double[] scores = RankerRescorer.score(head, context, ScoreModel.CROSS_ENCODER);
    return HeadFusion.fuse(head, NAME, scores, List.of(), context);
  }
}
