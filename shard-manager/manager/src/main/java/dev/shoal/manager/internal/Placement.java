package dev.shoal.manager.internal;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Pure placement: given the live nodes, what each one reports LIVE, and the current placement,
 * the next placement. One call is one step; the manager calls it again as heartbeats change,
 * so a move happens over several steps. Rules, in order:
 * <ol>
 *   <li>Keep every replica on a live node (moving data is expensive); drop those on dead nodes.
 *   <li>Shrink a shard that has more than {@code replicas} (the tail of a move) by dropping a
 *       LIVE replica on the most loaded node, but only while the shard keeps {@code replicas}
 *       LIVE replicas; a replica still building is never dropped.
 *   <li>Fill each shard up to {@code min(replicas, live nodes)} on the nodes with the fewest
 *       replicas (then the least reported load), preferring a zone the shard is not in yet;
 *       never two replicas on one node.
 *   <li>Rebalance, one move per step and only when no move is in flight: when the most loaded
 *       node holds at least two replicas more than the least loaded, add a replica of one of
 *       its fully LIVE shards on the least loaded node. Rule 2 drops the old one once the new
 *       one is LIVE, so no shard ever has fewer LIVE replicas than before the move.
 * </ol>
 * Stateless and deterministic (ties broken by node id).
 */
public final class Placement {

  private Placement() {
  }

  /**
   * What the heartbeats say about the live nodes.
   *
   * @param nodes      the live nodes
   * @param zones      each node's zone (or rack); a node without one is in zone ""
   * @param liveShards node → the shards it reports LIVE
   * @param load       node → its reported load (in-flight shard requests); breaks ties between
   *                   nodes holding as many replicas
   */
  public record Nodes(Set<String> nodes, Map<String, String> zones, Map<String, Set<Integer>> liveShards,
                      Map<String, Double> load) {
    /** Nodes with no zones, no LIVE shards reported and no load. */
    public static Nodes of(Set<String> nodes) {
      return new Nodes(nodes, Map.of(), Map.of(), Map.of());
    }

    public Nodes withLive(Map<String, Set<Integer>> liveShards) {
      return new Nodes(nodes, zones, liveShards, load);
    }
  }

  public static Map<Integer, List<String>> place(int shards, int replicas, Nodes cluster,
                                                 Map<Integer, List<String>> current) {
    Set<String> liveNodes = cluster.nodes();
    Map<String, String> zones = cluster.zones();
    Map<String, Set<Integer>> liveShard = cluster.liveShards();
    Map<String, Double> reported = cluster.load();
    Map<String, Integer> load = new TreeMap<>();
    liveNodes.forEach(n -> load.put(n, 0));
    Map<Integer, List<String>> next = new TreeMap<>();
    for (int s = 0; s < shards; s++) {
      List<String> kept = new ArrayList<>();
      for (String n : current.getOrDefault(s, List.of())) {
        if (liveNodes.contains(n) && !kept.contains(n)) {
          kept.add(n);
          load.merge(n, 1, Integer::sum);
        }
      }
      next.put(s, kept);
    }
    boolean moving = false;
    for (int s = 0; s < shards; s++) {
      List<String> holders = new ArrayList<>(next.get(s));
      while (holders.size() > replicas) {
        final int shard = s;
        long liveCount = holders.stream().filter(n -> isLive(liveShard, n, shard)).count();
        String drop = liveCount <= replicas ? null : holders.stream().filter(n -> isLive(liveShard, n, shard))
            .max(Comparator.<String>comparingInt(load::get).thenComparing(Comparator.reverseOrder())).orElse(null);
        if (drop == null) {
          moving = true; // the new replica is still building
          break;
        }
        holders.remove(drop);
        load.merge(drop, -1, Integer::sum);
      }
      next.put(s, holders);
    }
    int target = Math.min(replicas, liveNodes.size());
    for (int s = 0; s < shards; s++) {
      List<String> holders = new ArrayList<>(next.get(s));
      while (holders.size() < target) {
        String pick = pickNode(load, reported, zones, holders);
        holders.add(pick);
        load.merge(pick, 1, Integer::sum);
      }
      next.put(s, holders);
    }
    if (!moving) {
      rebalanceStep(shards, replicas, zones, liveShard, load, reported, next);
    }
    Map<Integer, List<String>> out = new TreeMap<>();
    next.forEach((s, nodes) -> out.put(s, List.copyOf(nodes)));
    return out;
  }

  private static void rebalanceStep(int shards, int replicas, Map<String, String> zones,
                                    Map<String, Set<Integer>> liveShard, Map<String, Integer> load,
                                    Map<String, Double> reported, Map<Integer, List<String>> next) {
    String most = load.entrySet().stream().max(Map.Entry.<String, Integer>comparingByValue()
        .thenComparing(Map.Entry.comparingByKey(Comparator.reverseOrder()))).map(Map.Entry::getKey).orElse(null);
    String least = load.entrySet().stream().min(Map.Entry.<String, Integer>comparingByValue()
        .thenComparingDouble(e -> reported.getOrDefault(e.getKey(), 0.0))
        .thenComparing(Map.Entry.comparingByKey())).map(Map.Entry::getKey).orElse(null);
    if (most == null || load.get(most) - load.get(least) < 2) {
      return;
    }
    for (int s = 0; s < shards; s++) {
      List<String> holders = next.get(s);
      final int shard = s;
      boolean allLive = holders.size() >= replicas && holders.stream().allMatch(n -> isLive(liveShard, n, shard));
      if (holders.contains(most) && !holders.contains(least) && allLive
          && !zoneWorsens(zones, holders, most, least)) {
        List<String> grown = new ArrayList<>(holders);
        grown.add(least);
        next.put(s, grown);
        return;
      }
    }
  }

  /** Moving a replica from {@code from} to {@code to} must not put two of the shard's replicas in one zone. */
  private static boolean zoneWorsens(Map<String, String> zones, List<String> holders, String from, String to) {
    Set<String> others = new HashSet<>();
    for (String n : holders) {
      if (!n.equals(from)) {
        others.add(zones.getOrDefault(n, ""));
      }
    }
    String z = zones.getOrDefault(to, "");
    return !z.isEmpty() && others.contains(z) && !zones.getOrDefault(from, "").equals(z);
  }

  private static String pickNode(Map<String, Integer> load, Map<String, Double> reported, Map<String, String> zones,
                                 List<String> holders) {
    Set<String> usedZones = new LinkedHashSet<>();
    holders.forEach(n -> usedZones.add(zones.getOrDefault(n, "")));
    return load.entrySet().stream().filter(e -> !holders.contains(e.getKey()))
        .min(Comparator.<Map.Entry<String, Integer>>comparingInt(e -> {
              String z = zones.getOrDefault(e.getKey(), "");
              return !z.isEmpty() && usedZones.contains(z) ? 1 : 0;
            })
            .thenComparingInt(Map.Entry::getValue)
            .thenComparingDouble(e -> reported.getOrDefault(e.getKey(), 0.0))
            .thenComparing(Map.Entry::getKey))
        .orElseThrow().getKey();
  }

  private static boolean isLive(Map<String, Set<Integer>> liveShard, String node, int shard) {
    return liveShard.getOrDefault(node, Set.of()).contains(shard);
  }

  /** The shards each node holds, for logs and status. */
  public static Map<String, Integer> load(Map<Integer, List<String>> placement) {
    Map<String, Integer> out = new HashMap<>();
    placement.values().forEach(nodes -> nodes.forEach(n -> out.merge(n, 1, Integer::sum)));
    return out;
  }
}
