package dev.shoal.query;

import java.util.List;

/**
 * Combines several ranked signals for one candidate into a score. Stateless implementations,
 * safe for concurrent use.
 */
public interface Fusion {

  /** One signal of one candidate: its score and its 1-based rank (0 = absent from that list). */
  record Signal(String name, double weight, double score, int rank, double min, double max) {
  }

  /** The fused score, and what each signal contributed to it. */
  record Fused(double score, double[] contributions) {
  }

  Fused fuse(List<Signal> signals);

  /** As shown to users in explanations, e.g. {@code rrf(k=60)}. */
  String describe();

  /** Reciprocal rank fusion: sum of weight / (k + rank) over the lists a candidate is in. */
  record Rrf(int k) implements Fusion {
    @Override
    public Fused fuse(List<Signal> signals) {
      double[] c = new double[signals.size()];
      double sum = 0;
      for (int i = 0; i < c.length; i++) {
        Signal s = signals.get(i);
        c[i] = s.rank() > 0 ? s.weight() / (k + s.rank()) : 0;
        sum += c[i];
      }
      return new Fused(sum, c);
    }

    @Override
    public String describe() {
      return "rrf(k=" + k + ")";
    }
  }

  /** Weighted sum of min-max normalised scores over the candidate set; absent counts as 0. */
  record Linear() implements Fusion {
    @Override
    public Fused fuse(List<Signal> signals) {
      double[] c = new double[signals.size()];
      double sum = 0;
      for (int i = 0; i < c.length; i++) {
        Signal s = signals.get(i);
        double norm = s.rank() <= 0 ? 0 : s.max() > s.min() ? (s.score() - s.min()) / (s.max() - s.min()) : 1;
        c[i] = s.weight() * norm;
        sum += c[i];
      }
      return new Fused(sum, c);
    }

    @Override
    public String describe() {
      return "linear(minmax)";
    }
  }
}
