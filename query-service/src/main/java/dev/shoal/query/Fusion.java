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

  /**
   * The fusion settings of a deployment: the rule and the weight of each signal. Immutable.
   *
   * @param rule        the rule that combines the lists
   * @param bm25Weight  weight of the BM25 list (HYBRID and NEURAL)
   * @param denseWeight weight of the kNN list (HYBRID)
   * @param modelWeight weight of the ranker's scores (NEURAL)
   */
  record Settings(Fusion rule, double bm25Weight, double denseWeight, double modelWeight) {
    /**
     * The defaults: RRF with k = 10; BM25 and kNN weighted equally in HYBRID; in NEURAL the
     * model's ranking weighs three times BM25's. Chosen by {@code shoal eval sweep} over k in
     * {10, 60} and model weight in {1..6} so that one setting serves both SciFact (where BM25 is
     * strong) and TREC DL 2019 (where BM25 is weak and must not drag the model down); see README.
     */
    public static Settings defaults() {
      return new Settings(new Rrf(10), 1.0, 1.0, 3.0);
    }

    public String describe(String first, String second) {
      double w2 = second.equals("dense") ? denseWeight : modelWeight;
      return rule.describe() + "(" + first + "=" + fmt(bm25Weight) + "," + second + "=" + fmt(w2) + ")";
    }

    private static String fmt(double w) {
      return w == Math.rint(w) ? Long.toString((long) w) : Double.toString(w);
    }
  }

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
