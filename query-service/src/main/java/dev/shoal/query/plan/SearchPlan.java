package dev.shoal.query.plan;

import java.util.ArrayList;
import java.util.List;

/**
 * The stages one query runs: its retrievers (one named list each), the fusion of two or more
 * lists (rule and weights), and an optional rescorer of the fused head. Built from the rank
 * profile, or from the stages a request names. Immutable.
 */
public record SearchPlan(List<Retriever> retrievers, Fusion fusion, FusionWeights weights, Rescorer rescorer) {

  public SearchPlan {
    retrievers = List.copyOf(retrievers);
    if (retrievers.isEmpty()) {
      throw new IllegalArgumentException("a plan needs at least one retriever");
    }
  }

  public boolean needsQueryVector() {
    return retrievers.stream().anyMatch(Retriever::needsQueryVector) || (rescorer != null && rescorer.needsQueryVector());
  }

  /** One list and nothing re-scored: the page is the top of that list. */
  public boolean singleList() {
    return retrievers.size() == 1 && rescorer == null;
  }

  public List<String> legNames() {
    return retrievers.stream().map(Retriever::name).toList();
  }

  /** This plan without the stages that need the query's embedding (when the ranker could not give it). */
  public SearchPlan withoutQueryVector() {
    List<Retriever> kept = new ArrayList<>();
    for (Retriever r : retrievers) {
      if (!r.needsQueryVector()) {
        kept.add(r);
      }
    }
    if (kept.isEmpty()) {
      return null;
    }
    return new SearchPlan(kept, fusion, weights, rescorer == null || rescorer.needsQueryVector() ? null : rescorer);
  }

  /** For logs and degraded reasons, e.g. {@code bm25+dense -> cosine}. */
  public String describe() {
    return String.join("+", legNames()) + (rescorer == null ? "" : " -> " + rescorer.name());
  }
}
