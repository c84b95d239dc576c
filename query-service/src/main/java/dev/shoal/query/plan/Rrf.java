package dev.shoal.query.plan;

import dev.shoal.api.v1.FusionParams;
import java.util.List;

/** Reciprocal rank fusion: the sum of weight / (k + rank) over the lists a candidate is in. Immutable. */
public record Rrf(int k) implements Fusion {

  public static final String NAME = "rrf";

  public Rrf {
    if (k < 1) {
      throw new IllegalArgumentException("RRF's k must be at least 1, got " + k);
    }
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Fused fuse(List<Signal> signals) {
    return Fused.sum(signals, s -> s.rank() > 0 ? s.weight() / (k + s.rank()) : 0);
  }

  @Override
  public String describe() {
    return "rrf(k=" + k + ")";
  }

  /** {@code rrf}: k from the request, else the deployment's k when its rule is RRF too, else 60. */
  public static final class Rule implements FusionRule {
    @Override
    public String name() {
      return NAME;
    }

    @Override
    public Fusion create(FusionParams params, Fusion defaults) {
      if (params.getRrfK() > 0) {
        return new Rrf(params.getRrfK());
      }
      return defaults instanceof Rrf r ? r : new Rrf(60);
    }
  }
}
