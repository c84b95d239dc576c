package dev.shoal.query.plan;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * How a model rescorer turns its scores over the head into the head's new order: the model's
 * scores are ranked within the head, then fused (the request's rule and weights) with the
 * first-phase lists it keeps (their global ranks and ranges); the head is then sorted by
 * {@link Candidate#ORDER}. Each candidate's explanation becomes a {@code rescore} node over the
 * kept signals, the model's signal and the first phase that selected it. Stateless.
 */
public final class HeadFusion {

  private HeadFusion() {
  }

  /**
   * @param model      the model signal's name
   * @param scores     the model's score of each head candidate, in head order
   * @param companions first-phase lists fused with the model (those the plan has), e.g. {@code bm25}
   */
  public static List<Candidate> fuse(List<Candidate> head, String model, double[] scores, List<String> companions,
                                     RescoreContext ctx) {
    if (scores.length != head.size()) {
      throw new IllegalArgumentException(scores.length + " scores for a head of " + head.size());
    }
    Integer[] order = new Integer[head.size()];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> -scores[i]).thenComparing(i -> head.get(i).id()));
    int[] modelRank = new int[head.size()];
    for (int r = 0; r < order.length; r++) {
      modelRank[order[r]] = r + 1;
    }
    double min = Arrays.stream(scores).min().orElse(0);
    double max = Arrays.stream(scores).max().orElse(0);
    List<ListStats> kept = new ArrayList<>();
    for (String c : companions) {
      ctx.list(c).ifPresent(kept::add);
    }
    Fusion fusion = ctx.fusion();
    List<Candidate> out = new ArrayList<>(head.size());
    for (int i = 0; i < head.size(); i++) {
      Candidate c = head.get(i);
      List<Signal> signals = new ArrayList<>(kept.size() + 1);
      for (ListStats l : kept) {
        signals.add(new Signal(l.name(), ctx.weights().of(l.name()), c.signal(l.name()), c.rank(l.name()), l.min(),
            l.max()));
      }
      signals.add(new Signal(model, ctx.weights().of(model), scores[i], modelRank[i], min, max));
      Fusion.Fused f = fusion.fuse(signals);
      List<Explain> inputs = new ArrayList<>(signals.size() + 1);
      for (int j = 0; j < signals.size(); j++) {
        Signal s = signals.get(j);
        inputs.add(Explain.signal(s.name(), s.score(), s.rank(), s.weight(), f.contributions()[j]));
      }
      inputs.add(c.explanation().asInput(i + 1, 0, 0)); // the first phase only chose the head
      out.add(c.rescored(f.score(), Explain.stage("rescore", f.score(), 0, fusion.describe(), inputs)));
    }
    out.sort(Candidate.ORDER);
    return out;
  }
}
