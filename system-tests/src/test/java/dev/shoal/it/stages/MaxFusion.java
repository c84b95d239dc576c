package dev.shoal.it.stages;

import dev.shoal.api.v1.FusionParams;
import dev.shoal.query.plan.Fusion;
import dev.shoal.query.plan.FusionRule;
import dev.shoal.query.plan.Signal;
import java.util.List;

/**
 * A fusion rule added from test code: CombMAX, the best weighted min-max normalised score among
 * a candidate's lists; only that list contributes.
 */
public final class MaxFusion implements FusionRule {

  @Override
  public String name() {
    return "max";
  }

  @Override
  public Fusion create(FusionParams params, Fusion defaults) {
    return new Fusion() {
      @Override
      public String name() {
        return "max";
      }

      @Override
      public Fused fuse(List<Signal> signals) {
        double[] c = new double[signals.size()];
        int best = -1;
        double bestValue = 0;
        for (int i = 0; i < c.length; i++) {
          Signal s = signals.get(i);
          double norm = s.rank() <= 0 ? 0 : s.max() > s.min() ? (s.score() - s.min()) / (s.max() - s.min()) : 1;
          if (best < 0 || s.weight() * norm > bestValue) {
            best = i;
            bestValue = s.weight() * norm;
          }
        }
        if (best >= 0) {
          c[best] = bestValue;
        }
        return new Fused(bestValue, c);
      }

      @Override
      public String describe() {
        return "max(minmax)";
      }
    };
  }
}
