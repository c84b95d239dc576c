package dev.shoal.query.internal;

import dev.shoal.internal.v1.ShardHit;
import dev.shoal.internal.v1.ShardSearchResponse;
import dev.shoal.query.plan.Candidate;
import dev.shoal.query.plan.Explain;
import dev.shoal.query.plan.Fusion;
import dev.shoal.query.plan.FusionWeights;
import dev.shoal.query.plan.ListStats;
import dev.shoal.query.plan.Signal;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The shards' answers to one first phase, merged: per leg, one global list ordered by score (ties
 * by id, so the order is the same whichever replica answered), each document once; and the
 * candidates ranked by one list or fused over all. Not thread-safe: one per query.
 */
final class CandidateLists {

  private final List<String> legs;
  private final Map<String, ShardHit> hits = new LinkedHashMap<>();
  private final Map<String, Integer> shardOf = new HashMap<>();
  private final Map<String, Map<String, Integer>> ranks = new HashMap<>();
  private final Map<String, ListStats> stats = new HashMap<>();
  private final Map<String, List<ShardHit>> ordered = new HashMap<>();
  private final long totalHits;

  CandidateLists(List<ShardSearchResponse> answers, List<String> legs) {
    this.legs = List.copyOf(legs);
    long total = 0;
    for (ShardSearchResponse a : answers) {
      total += a.getTotalHits();
      for (ShardHit h : a.getHitsList()) {
        if (shardOf.putIfAbsent(h.getId(), a.getShard()) == null) {
          hits.put(h.getId(), h);
        }
      }
    }
    this.totalHits = total;
    for (String leg : legs) {
      List<ShardHit> list = hits.values().stream().filter(h -> h.containsSignals(leg))
          .sorted(Comparator.<ShardHit>comparingDouble(h -> h.getSignalsOrThrow(leg)).reversed()
              .thenComparing(ShardHit::getId))
          .toList();
      double min = Double.MAX_VALUE;
      double max = -Double.MAX_VALUE;
      for (int i = 0; i < list.size(); i++) {
        ShardHit h = list.get(i);
        ranks.computeIfAbsent(h.getId(), k -> new HashMap<>()).put(leg, i + 1);
        double s = h.getSignalsOrThrow(leg);
        min = Math.min(min, s);
        max = Math.max(max, s);
      }
      stats.put(leg, new ListStats(leg, list.size(), min, max));
      ordered.put(leg, list);
    }
  }

  /** The longest leg's length: no tier deeper than this adds candidates. */
  int longestList() {
    return ordered.values().stream().mapToInt(List::size).max().orElse(0);
  }

  /**
   * As {@link #fused}, over only the first {@code depth} of each leg's list: what the fusion
   * would be had every shard been asked for {@code depth} per leg (the merged global lists are
   * exact prefixes of each other), so it does not depend on how deep this query asked.
   */
  List<Candidate> fusedToDepth(Fusion fusion, FusionWeights weights, int depth) {
    Map<String, ListStats> cut = new HashMap<>();
    Map<String, ShardHit> in = new LinkedHashMap<>();
    for (String leg : legs) {
      List<ShardHit> list = ordered.get(leg);
      List<ShardHit> head = list.subList(0, Math.min(depth, list.size()));
      head.forEach(h -> in.putIfAbsent(h.getId(), h));
      cut.put(leg, head.isEmpty() ? ListStats.empty(leg) : new ListStats(leg, head.size(),
          head.getLast().getSignalsOrThrow(leg), head.getFirst().getSignalsOrThrow(leg)));
    }
    return fuse(in.values(), fusion, weights, cut, depth);
  }

  /** Matches over the shards that answered (their first leg's). */
  long totalHits() {
    return totalHits;
  }

  ListStats stats(String leg) {
    return stats.getOrDefault(leg, ListStats.empty(leg));
  }

  /** The hit as its shard sent it (with the stored parts, when the shard hydrated it in the first phase). */
  ShardHit hit(String id) {
    return hits.get(id);
  }

  /** The documents of one leg's list, in its order; each explained by that signal alone. */
  List<Candidate> single(String leg) {
    List<Candidate> out = new ArrayList<>();
    for (ShardHit h : hits.values()) {
      if (h.containsSignals(leg)) {
        double s = h.getSignalsOrThrow(leg);
        int rank = ranks.get(h.getId()).get(leg);
        out.add(candidate(h, s, Explain.signal(leg, s, rank, 1, s)));
      }
    }
    out.sort(Candidate.ORDER);
    return out;
  }

  /** Every document, by the fusion of all legs' lists. */
  List<Candidate> fused(Fusion fusion, FusionWeights weights) {
    return fuse(hits.values(), fusion, weights, stats, Integer.MAX_VALUE);
  }

  private List<Candidate> fuse(java.util.Collection<ShardHit> candidates, Fusion fusion, FusionWeights weights,
                               Map<String, ListStats> listStats, int depth) {
    List<Candidate> out = new ArrayList<>(candidates.size());
    for (ShardHit h : candidates) {
      Map<String, Integer> r = ranks.getOrDefault(h.getId(), Map.of());
      List<Signal> signals = new ArrayList<>(legs.size());
      for (String leg : legs) {
        ListStats l = listStats.getOrDefault(leg, ListStats.empty(leg));
        int rank = r.getOrDefault(leg, 0);
        boolean in = rank > 0 && rank <= depth; // below the depth a list does not reach this document
        signals.add(new Signal(leg, weights.of(leg), in ? h.getSignalsOrDefault(leg, 0) : 0, in ? rank : 0, l.min(),
            l.max()));
      }
      Fusion.Fused f = fusion.fuse(signals);
      List<Explain> inputs = new ArrayList<>(signals.size());
      for (int i = 0; i < signals.size(); i++) {
        Signal s = signals.get(i);
        inputs.add(Explain.signal(s.name(), s.score(), s.rank(), s.weight(), f.contributions()[i]));
      }
      out.add(candidate(h, f.score(), Explain.stage("fusion", f.score(), 0, fusion.describe(), inputs), depth));
    }
    out.sort(Candidate.ORDER);
    return out;
  }

  private Candidate candidate(ShardHit h, double score, Explain why) {
    return candidate(h, score, why, Integer.MAX_VALUE);
  }

  /**
   * A candidate as the lists cut at {@code depth} see it: a leg's signal and rank only where the
   * document is within that leg's first {@code depth}, so a rescorer of a tier gets the same
   * inputs however deep the request asked; the scorers' signals (computed for every hit) stay.
   */
  private Candidate candidate(ShardHit h, double score, Explain why, int depth) {
    Map<String, Integer> r = ranks.getOrDefault(h.getId(), Map.of());
    if (depth == Integer.MAX_VALUE) {
      return new Candidate(h.getId(), shardOf.get(h.getId()), score, h.getSignalsMap(), r, why);
    }
    Map<String, Double> signals = new HashMap<>(h.getSignalsMap());
    Map<String, Integer> within = new HashMap<>();
    for (String leg : legs) {
      int rank = r.getOrDefault(leg, 0);
      if (rank > 0 && rank <= depth) {
        within.put(leg, rank);
      } else {
        signals.remove(leg);
      }
    }
    return new Candidate(h.getId(), shardOf.get(h.getId()), score, signals, within, why);
  }
}
