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

  /** A hit in one leg's list, with its score in that leg read once. */
  private record Scored(ShardHit hit, double score) {
  }

  /** A leg's order: score, best first, then id (as {@link Candidate#ORDER}). */
  private static final Comparator<Scored> LEG_ORDER = (a, b) -> {
    int c = Double.compare(b.score(), a.score());
    return c != 0 ? c : a.hit().getId().compareTo(b.hit().getId());
  };

  private final List<String> legs;
  private final Map<String, ShardHit> hits = new LinkedHashMap<>();
  private final Map<String, Integer> shardOf = new HashMap<>();
  /** id → its 1-based rank in each leg's list, by the leg's index in {@link #legs}; 0: not in that list. */
  private final Map<String, int[]> ranks = new HashMap<>();
  private final Map<String, ListStats> stats = new HashMap<>();
  private final Map<String, List<Scored>> ordered = new HashMap<>();
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
    // a query's lists are up to top k long each: one map lookup per hit and leg, primitive scores
    // in the sort, and ranks in an array per hit, as this runs on every search
    for (int l = 0; l < this.legs.size(); l++) {
      String leg = this.legs.get(l);
      List<Scored> list = new ArrayList<>();
      for (ShardHit h : hits.values()) {
        Double s = h.getSignalsMap().get(leg);
        if (s != null) {
          list.add(new Scored(h, s));
        }
      }
      list.sort(LEG_ORDER);
      double min = Double.MAX_VALUE;
      double max = -Double.MAX_VALUE;
      for (int i = 0; i < list.size(); i++) {
        Scored x = list.get(i);
        ranks.computeIfAbsent(x.hit().getId(), k -> new int[this.legs.size()])[l] = i + 1;
        min = Math.min(min, x.score());
        max = Math.max(max, x.score());
      }
      stats.put(leg, new ListStats(leg, list.size(), min, max));
      ordered.put(leg, List.copyOf(list));
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
      List<Scored> list = ordered.get(leg);
      List<Scored> head = list.subList(0, Math.min(depth, list.size()));
      head.forEach(x -> in.putIfAbsent(x.hit().getId(), x.hit()));
      cut.put(leg, head.isEmpty() ? ListStats.empty(leg) : new ListStats(leg, head.size(), head.getLast().score(),
          head.getFirst().score()));
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
    List<Scored> list = ordered.getOrDefault(leg, List.of());
    List<Candidate> out = new ArrayList<>(list.size());
    for (int i = 0; i < list.size(); i++) {
      Scored x = list.get(i);
      out.add(candidate(x.hit(), x.score(), Explain.signal(leg, x.score(), i + 1, 1, x.score())));
    }
    return out; // the leg's order is Candidate.ORDER on these scores
  }

  /** Every document, by the fusion of all legs' lists. */
  List<Candidate> fused(Fusion fusion, FusionWeights weights) {
    return fuse(hits.values(), fusion, weights, stats, Integer.MAX_VALUE);
  }

  private List<Candidate> fuse(java.util.Collection<ShardHit> candidates, Fusion fusion, FusionWeights weights,
                               Map<String, ListStats> listStats, int depth) {
    List<ListStats> legStats = new ArrayList<>(legs.size());
    for (String leg : legs) {
      legStats.add(listStats.getOrDefault(leg, ListStats.empty(leg)));
    }
    List<Candidate> out = new ArrayList<>(candidates.size());
    for (ShardHit h : candidates) {
      int[] r = ranks.get(h.getId());
      Map<String, Double> scores = h.getSignalsMap();
      List<Signal> signals = new ArrayList<>(legs.size());
      for (int l = 0; l < legs.size(); l++) {
        String leg = legs.get(l);
        ListStats st = legStats.get(l);
        int rank = r == null ? 0 : r[l];
        boolean in = rank > 0 && rank <= depth; // below the depth a list does not reach this document
        signals.add(new Signal(leg, weights.of(leg), in ? scores.getOrDefault(leg, 0.0) : 0, in ? rank : 0, st.min(),
            st.max()));
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
    int[] r = ranks.get(h.getId());
    Map<String, Integer> within = new HashMap<>();
    Map<String, Double> signals = depth == Integer.MAX_VALUE ? h.getSignalsMap() : new HashMap<>(h.getSignalsMap());
    for (int l = 0; l < legs.size(); l++) {
      int rank = r == null ? 0 : r[l];
      if (rank > 0 && rank <= depth) {
        within.putIfAbsent(legs.get(l), rank);
      } else if (depth != Integer.MAX_VALUE) {
        signals.remove(legs.get(l));
      }
    }
    return new Candidate(h.getId(), shardOf.get(h.getId()), score, signals, within, why);
  }
}
