package dev.shoal.query.plan;

import java.util.List;
import java.util.function.ToDoubleFunction;

/**
 * Combines a candidate's signals into one score: how two or more ranked lists become one, and how
 * a rescorer merges its model's scores with the first phase. Implementations are immutable
 * values (a rule with its parameters, e.g. RRF with k = 10), safe for concurrent use; they are
 * created by a {@link FusionRule} from the request's {@code FusionParams}.
 */
public interface Fusion {

  /** The fused score and what each signal (in the order given) contributed to it. */
  record Fused(double score, double[] contributions) {

    /** The sum of what each signal contributes, for rules that add up per-signal terms. */
    public static Fused sum(List<Signal> signals, ToDoubleFunction<Signal> contribution) {
      double[] c = new double[signals.size()];
      double total = 0;
      for (int i = 0; i < c.length; i++) {
        c[i] = contribution.applyAsDouble(signals.get(i));
        total += c[i];
      }
      return new Fused(total, c);
    }
  }

  /** The rule's registered name, e.g. {@code rrf}. */
  String name();

  Fused fuse(List<Signal> signals);

  /** As shown in explanations, e.g. {@code rrf(k=10)}. */
  String describe();
}
