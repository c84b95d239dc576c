package dev.shoal.query.plan;

import dev.shoal.api.v1.FusionParams;
import java.util.List;

/**
 * Weighted sum of min-max normalised scores over each merged list; a candidate absent from a list
 * gets 0 for it. Immutable.
 */
public record Linear() implements Fusion {

  public static final String NAME = "linear";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Fused fuse(List<Signal> signals) {
    // min-max normalised within each list; a signal that is not in its list adds nothing
    return Fused.sum(signals, s -> s.weight() * (s.rank() <= 0 ? 0 : s.max() > s.min()
        ? (s.score() - s.min()) / (s.max() - s.min()) : 1));
  }

  @Override
  public String describe() {
    return "linear(minmax)";
  }

  /** {@code linear}: takes no parameters. */
  public static final class Rule implements FusionRule {
    @Override
    public String name() {
      return NAME;
    }

    @Override
    public Fusion create(FusionParams params, Fusion defaults) {
      if (params.getRrfK() > 0) {
        throw new IllegalArgumentException("fusion.rrf_k applies to rule rrf, not linear");
      }
      return new Linear();
    }
  }
}
