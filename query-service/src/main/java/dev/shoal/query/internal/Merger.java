package dev.shoal.query.internal;

import dev.shoal.internal.v1.ShardHit;
import dev.shoal.internal.v1.ShardSearchResponse;
import dev.shoal.query.Fusion;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Merges the shards' answers of one request into global BM25 and dense rankings and fuses
 * them. Ties in score are broken by document id, so the order is the same whichever replica
 * answered. Not thread-safe: one per request.
 */
public final class Merger {

  /** A candidate with its final score and where the score came from. */
  public record Ranked(ShardHit hit, int shard, double score, int bm25Rank, int denseRank, double modelScore,
                       boolean modelScored, List<Contribution> contributions) {
  }

  public record Contribution(String signal, double weight, double value, int rank, double contribution) {
  }

  private static final Comparator<Ranked> ORDER =
      Comparator.comparingDouble(Ranked::score).reversed().thenComparing(r -> r.hit().getId());

  private final List<ShardHit> hits = new ArrayList<>();
  private final Map<String, Integer> shardOf = new HashMap<>();
  private final Map<String, Integer> bm25Rank = new HashMap<>();
  private final Map<String, Integer> denseRank = new HashMap<>();
  private final long totalHits;
  private double bm25Min = Double.MAX_VALUE;
  private double bm25Max = -Double.MAX_VALUE;
  private double denseMin = Double.MAX_VALUE;
  private double denseMax = -Double.MAX_VALUE;

  public Merger(List<ShardSearchResponse> answers) {
    long total = 0;
    for (ShardSearchResponse a : answers) {
      total += a.getTotalHits();
      for (ShardHit h : a.getHitsList()) {
        if (shardOf.putIfAbsent(h.getId(), a.getShard()) == null) {
          hits.add(h);
        }
      }
    }
    this.totalHits = total;
    rank(h -> h.getBm25Rank() > 0, ShardHit::getBm25Score, bm25Rank);
    rank(h -> h.getDenseRank() > 0, ShardHit::getDenseScore, denseRank);
    for (ShardHit h : hits) {
      if (h.getBm25Rank() > 0) {
        bm25Min = Math.min(bm25Min, h.getBm25Score());
        bm25Max = Math.max(bm25Max, h.getBm25Score());
      }
      if (h.getDenseRank() > 0) {
        denseMin = Math.min(denseMin, h.getDenseScore());
        denseMax = Math.max(denseMax, h.getDenseScore());
      }
    }
  }

  private void rank(java.util.function.Predicate<ShardHit> in, java.util.function.ToDoubleFunction<ShardHit> score,
                    Map<String, Integer> out) {
    List<ShardHit> list = hits.stream().filter(in)
        .sorted(Comparator.comparingDouble(score).reversed().thenComparing(ShardHit::getId)).toList();
    for (int i = 0; i < list.size(); i++) {
      out.put(list.get(i).getId(), i + 1);
    }
  }

  public long totalHits() {
    return totalHits;
  }

  private Ranked plain(ShardHit h, double score, List<Contribution> c) {
    return new Ranked(h, shardOf.get(h.getId()), score, bm25Rank.getOrDefault(h.getId(), 0),
        denseRank.getOrDefault(h.getId(), 0), 0, false, c);
  }

  public List<Ranked> byBm25() {
    return hits.stream().filter(h -> h.getBm25Rank() > 0)
        .map(h -> plain(h, h.getBm25Score(), List.of(new Contribution("bm25", 1, h.getBm25Score(),
            bm25Rank.get(h.getId()), h.getBm25Score()))))
        .sorted(ORDER).toList();
  }

  public List<Ranked> byDense() {
    return hits.stream().filter(h -> h.getDenseRank() > 0)
        .map(h -> plain(h, h.getDenseScore(), List.of(new Contribution("dense", 1, h.getDenseScore(),
            denseRank.get(h.getId()), h.getDenseScore()))))
        .sorted(ORDER).toList();
  }

  public List<Ranked> fuseFirstPhase(Fusion fusion, double bm25Weight, double denseWeight) {
    List<Ranked> out = new ArrayList<>(hits.size());
    for (ShardHit h : hits) {
      List<Fusion.Signal> signals = List.of(
          new Fusion.Signal("bm25", bm25Weight, h.getBm25Score(), bm25Rank.getOrDefault(h.getId(), 0), bm25Min,
              bm25Max),
          new Fusion.Signal("dense", denseWeight, h.getDenseScore(), denseRank.getOrDefault(h.getId(), 0), denseMin,
              denseMax));
      Fusion.Fused f = fusion.fuse(signals);
      out.add(plain(h, f.score(), contributions(signals, f)));
    }
    out.sort(ORDER);
    return out;
  }

  /** Re-orders the head by fusing BM25 with the model's scores; the head is re-scored as a whole. */
  public List<Ranked> fuseWithModel(List<Ranked> head, double[] modelScores, Fusion fusion, double bm25Weight,
                                    double modelWeight) {
    Integer[] order = new Integer[head.size()];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    java.util.Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> -modelScores[i])
        .thenComparing(i -> head.get(i).hit().getId()));
    int[] modelRank = new int[head.size()];
    for (int r = 0; r < order.length; r++) {
      modelRank[order[r]] = r + 1;
    }
    double mMin = java.util.Arrays.stream(modelScores).min().orElse(0);
    double mMax = java.util.Arrays.stream(modelScores).max().orElse(0);
    List<Ranked> out = new ArrayList<>(head.size());
    for (int i = 0; i < head.size(); i++) {
      Ranked c = head.get(i);
      List<Fusion.Signal> signals = List.of(
          new Fusion.Signal("bm25", bm25Weight, c.hit().getBm25Score(), c.bm25Rank(), bm25Min, bm25Max),
          new Fusion.Signal("model", modelWeight, modelScores[i], modelRank[i], mMin, mMax));
      Fusion.Fused f = fusion.fuse(signals);
      out.add(new Ranked(c.hit(), c.shard(), f.score(), c.bm25Rank(), c.denseRank(), modelScores[i], true,
          contributions(signals, f)));
    }
    out.sort(ORDER);
    return out;
  }

  private static List<Contribution> contributions(List<Fusion.Signal> signals, Fusion.Fused f) {
    List<Contribution> c = new ArrayList<>(signals.size());
    for (int i = 0; i < signals.size(); i++) {
      Fusion.Signal s = signals.get(i);
      c.add(new Contribution(s.name(), s.weight(), s.score(), s.rank(), f.contributions()[i]));
    }
    return c;
  }
}
