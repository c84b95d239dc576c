package dev.shoal.query.plan;

import dev.shoal.api.v1.Explanation;
import java.util.List;

/**
 * One node of a hit's explanation tree (what {@code shoal.v1.Explanation} carries): a signal, or a
 * stage that combined its inputs by a rule. Immutable.
 *
 * @param name         the signal ("bm25", "dense", "cosine", ...) or stage ("fusion", "rescore")
 * @param value        the signal's score, or the combined score
 * @param rank         1-based rank in the list the value was ranked in; 0 = not in that list
 * @param weight       weight in the parent's rule
 * @param contribution what the node added to its parent's value
 * @param rule         how an inner node combined its inputs, e.g. {@code rrf(k=10)}; empty for a signal
 * @param inputs       the inputs of an inner node
 */
public record Explain(String name, double value, int rank, double weight, double contribution, String rule,
                      List<Explain> inputs) {

  public Explain {
    inputs = List.copyOf(inputs);
  }

  /** A signal. */
  public static Explain signal(String name, double value, int rank, double weight, double contribution) {
    return new Explain(name, value, rank, weight, contribution, "", List.of());
  }

  /** A stage that combined {@code inputs} by {@code rule} into {@code value}. */
  public static Explain stage(String name, double value, int rank, String rule, List<Explain> inputs) {
    return new Explain(name, value, rank, 0, 0, rule, inputs);
  }

  /** The same node with its rank and weight in a parent. */
  public Explain asInput(int rankInParent, double weightInParent, double contributionToParent) {
    return new Explain(name, value, rankInParent, weightInParent, contributionToParent, rule, inputs);
  }

  public Explanation toProto() {
    Explanation.Builder b = Explanation.newBuilder().setName(name).setValue(value).setRank(rank).setWeight(weight)
        .setContribution(contribution).setRule(rule);
    for (Explain in : inputs) {
      b.addInputs(in.toProto());
    }
    return b.build();
  }
}
