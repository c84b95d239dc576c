package dev.shoal.query.plan;

import java.util.Comparator;
import java.util.Map;

/**
 * A document of the merged first phase, or of a re-scored head: its id, the shard that holds it,
 * its current score, its signals (the score under each leg that found it and each scorer's value,
 * as the shard sent them), its rank in each merged list, and how its score came about. Immutable.
 *
 * @param signals     signal name → value; a leg's name is absent when the leg did not find the document
 * @param ranks       leg name → 1-based rank in the merged list; absent when not in it
 */
public record Candidate(String id, int shard, double score, Map<String, Double> signals, Map<String, Integer> ranks,
                        Explain explanation) {

  /**
   * Best first: by score, ties by id, so the order does not depend on which replica answered or in
   * which order the shards did.
   */
  public static final Comparator<Candidate> ORDER =
      Comparator.comparingDouble(Candidate::score).reversed().thenComparing(Candidate::id);

  public Candidate {
    signals = Map.copyOf(signals);
    ranks = Map.copyOf(ranks);
  }

  /** The signal's value, or 0 when the document has none of that name. */
  public double signal(String name) {
    return signals.getOrDefault(name, 0.0);
  }

  public boolean has(String signal) {
    return signals.containsKey(signal);
  }

  /** 1-based rank in the merged list of that leg; 0 when not in it. */
  public int rank(String leg) {
    return ranks.getOrDefault(leg, 0);
  }

  /** The same document with a new score and the explanation of it. */
  public Candidate rescored(double newScore, Explain why) {
    return new Candidate(id, shard, newScore, signals, ranks, why);
  }
}
