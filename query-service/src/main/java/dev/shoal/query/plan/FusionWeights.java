package dev.shoal.query.plan;

import java.util.HashMap;
import java.util.Map;

/**
 * The weight of each signal by name in fusion: the deployment's defaults with a request's
 * overrides. A signal with no weight anywhere weighs 1. Immutable.
 */
public record FusionWeights(Map<String, Double> weights) {

  public FusionWeights {
    weights = Map.copyOf(weights);
  }

  public double of(String signal) {
    return weights.getOrDefault(signal, 1.0);
  }

  /** These weights with the request's: a weight of 0 keeps this one (the API's "0 = default"). */
  public FusionWeights with(Map<String, Double> overrides) {
    if (overrides.isEmpty()) {
      return this;
    }
    Map<String, Double> m = new HashMap<>(weights);
    overrides.forEach((k, v) -> {
      if (v > 0) {
        m.put(k, v);
      }
    });
    return new FusionWeights(m);
  }

  public String describe(Iterable<String> signals) {
    StringBuilder sb = new StringBuilder();
    for (String s : signals) {
      double w = of(s);
      sb.append(sb.isEmpty() ? "" : ",").append(s).append('=')
          .append(w == Math.rint(w) ? Long.toString((long) w) : Double.toString(w));
    }
    return sb.toString();
  }
}
