package dev.shoal.query.internal;

import dev.shoal.api.v1.FusionParams;
import dev.shoal.api.v1.RankProfile;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.query.plan.Bm25Retriever;
import dev.shoal.query.plan.CosineRescorer;
import dev.shoal.query.plan.DenseRetriever;
import dev.shoal.query.plan.Fusion;
import dev.shoal.query.plan.FusionWeights;
import dev.shoal.query.plan.QueryStages;
import dev.shoal.query.plan.Rescorer;
import dev.shoal.query.plan.Retriever;
import dev.shoal.query.plan.SearchPlan;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;

/**
 * A request's {@link SearchPlan}: the rank profile's stages, or those the request names, with
 * the deployment's fusion and weights under the request's overrides. The profiles:
 * {@code bm25} and {@code dense} are one list each; {@code hybrid} fuses both; {@code neural}
 * fuses both and re-scores the head with the stored vectors ({@code cosine}). Thread-safe.
 */
final class Plans {

  static final String NO_RESCORER = "none";
  static final int MAX_RETRIEVERS = 8;

  private final QueryStages stages;
  private final Fusion defaultFusion;
  private final FusionWeights defaultWeights;

  Plans(QueryStages stages, Fusion defaultFusion, FusionWeights defaultWeights) {
    this.stages = stages;
    this.defaultFusion = defaultFusion;
    this.defaultWeights = defaultWeights;
  }

  /** @throws IllegalArgumentException for a stage that is not registered, or parameters it refuses */
  SearchPlan resolve(SearchRequest r) {
    List<String> names = r.getRetrieversCount() > 0 ? r.getRetrieversList() : profileRetrievers(r.getProfile());
    if (names.size() > MAX_RETRIEVERS) {
      throw new IllegalArgumentException("at most " + MAX_RETRIEVERS + " retrievers, got " + names.size());
    }
    if (new HashSet<>(names).size() != names.size()) {
      throw new IllegalArgumentException("retrievers must be distinct, got " + names);
    }
    List<Retriever> retrievers = new ArrayList<>();
    for (String n : names) {
      retrievers.add(stages.retriever(n));
    }
    Rescorer rescorer = switch (r.getRescorer()) {
      case "" -> r.getProfile() == RankProfile.NEURAL && r.getRetrieversCount() == 0
          ? stages.rescorer(CosineRescorer.NAME) : null;
      case NO_RESCORER -> null;
      default -> stages.rescorer(r.getRescorer());
    };
    Fusion fusion = defaultFusion;
    FusionWeights weights = defaultWeights;
    if (r.hasFusion()) {
      FusionParams p = r.getFusion();
      String rule = !p.getRule().isEmpty() ? p.getRule() : p.getRrfK() > 0 ? "rrf" : defaultFusion.name();
      fusion = stages.fusionRule(rule).create(p, defaultFusion);
      weights = defaultWeights.with(p.getWeightsMap());
    }
    return new SearchPlan(retrievers, fusion, weights, rescorer);
  }

  private static List<String> profileRetrievers(RankProfile profile) {
    return switch (profile) {
      case BM25 -> List.of(Bm25Retriever.NAME);
      case DENSE -> List.of(DenseRetriever.NAME);
      default -> List.of(Bm25Retriever.NAME, DenseRetriever.NAME);
    };
  }
}
