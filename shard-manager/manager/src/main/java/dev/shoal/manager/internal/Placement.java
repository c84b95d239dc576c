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
 * Pure placement: given the live nodes, what each one reports LIVE (in a fresh heartbeat) or
 * FAILED, the nodes gone silent within the grace period, and the current placement, the next
 * placement. One call is one step; the manager calls it again as heartbeats change, so a move
 * happens over several steps. Rules, in order:
 * <ol>
 *   <li>Keep every replica on a live node (moving data is expensive), except one its node reports
 *       FAILED; keep a replica on a node silent for less than the grace period too (a node back
 *       from a blip recovers from its own commit instead of rebuilding), but without counting it
 *       towards R; drop the rest.
 *   <li>Shrink a shard that has more than R replicas: first drop replicas on silent (grace) nodes
 *       once R replicas are LIVE elsewhere; then LIVE replicas, but only while the shard keeps R
 *       LIVE replicas, taking one from a zone the shard has twice before any other, then from the
 *       most loaded node; a replica still building is never dropped. LIVE means LIVE in a fresh
 *       heartbeat: a report older than the freshness window never justifies a drop.
 *   <li>Fill each shard up to {@code min(R, live nodes)} replicas on live nodes on the nodes with
 *       the fewest replicas (then the least reported load), preferring a zone the shard is not in
 *       yet and a node that has not reported the shard FAILED; never two replicas on one node.
 *   <li>Rebalance, one move per step and only when no move is in flight: when the most loaded
 *       node holds at least two replicas more than the least loaded, add a replica of one of its
 *       fully LIVE shards on the least loaded node. Rule 2 drops the old one once the new one is
 *       LIVE, so no shard ever has fewer LIVE replicas than before the move.
 * </ol>
 * Stateless and deterministic (ties broken by node id).
 */
public final class Placement {

  private Placement() {
  }

  /**
   * What the heartbeats say about the nodes.
   *
   * @param nodes        the live nodes (a heartbeat within the failure timeout)
   * @param zones        each node's zone (or rack); a node without one is in zone ""
   * @param liveShards   node → the shards it reports LIVE in a fresh heartbeat
   * @param load         node → its reported load (in-flight shard requests); breaks ties between
   *                     nodes holding as many replicas
   * @param failedShards node → the shards it reports FAILED
   * @param graceNodes   nodes silent past the failure timeout but within the grace period
   */
  public record Nodes(Set<String> nodes, Map<String, String> zones, Map<String, Set<Integer>> liveShards,
                      Map<String, Double> load, Map<String, Set<Integer>> failedShards, Set<String> graceNodes) {

    public Nodes(Set<String> nodes, Map<String, String> zones, Map<String, Set<Integer>> liveShards,
                 Map<String, Double> load) {
      this(nodes, zones, liveShards, load, Map.of(), Set.of());
    }

    /** Nodes with no zones, no LIVE shards reported and no load. */
    public static Nodes of(Set<String> nodes) {
      return new Nodes(nodes, Map.of(), Map.of(), Map.of());
    }

    public Nodes withLive(Map<String, Set<Integer>> live) {
      return new Nodes(nodes, zones, live, load, failedShards, graceNodes);
    }

    public Nodes withFailed(Map<String, Set<Integer>> failed) {
      return new Nodes(nodes, zones, liveShards, load, failed, graceNodes);
    }

    public Nodes withGrace(Set<String> grace) {
      return new Nodes(nodes, zones, liveShards, load, failedShards, grace);
    }

    boolean failed(String node, int shard) {
      return failedShards.getOrDefault(node, Set.of()).contains(shard);
    }

    boolean live(String node, int shard) {
      return liveShards.getOrDefault(node, Set.of()).contains(shard);
    }
  }

  public static Map<Integer, List<String>> place(int shards, int replicas, Nodes cluster,
                                                 Map<Integer, List<String>> current) {
    Set<String> liveNodes = cluster.nodes();
    Map<String, String> zones = cluster.zones();
    Map<String, Double> reported = cluster.load();
    Map<String, Integer> load = new TreeMap<>();
    liveNodes.forEach(n -> load.put(n, 0));
    Map<Integer, List<String>> next = new TreeMap<>();
    for (int s = 0; s < shards; s++) {
      List<String> kept = new ArrayList<>();
      for (String n : current.getOrDefault(s, List.of())) {
        if (kept.contains(n) || cluster.failed(n, s)) {
          continue;
        }
        if (liveNodes.contains(n)) {
          kept.add(n);
          load.merge(n, 1, Integer::sum);
        } else if (cluster.graceNodes().contains(n)) {
          kept.add(n);
        }
      }
      next.put(s, kept);
    }
    boolean moving = false;
    for (int s = 0; s < shards; s++) {
      final int shard = s;
      List<String> holders = new ArrayList<>(next.get(s));
      long liveCount = holders.stream().filter(n -> cluster.live(n, shard)).count();
      if (liveCount >= replicas) {
        holders.removeIf(n -> !liveNodes.contains(n)); // silent nodes' copies are not needed any more
      }
      while (holders.stream().filter(liveNodes::contains).count() > replicas) {
        liveCount = holders.stream().filter(n -> cluster.live(n, shard)).count();
        String drop = liveCount <= replicas ? null : holders.stream().filter(n -> cluster.live(n, shard))
            .max(Comparator.<String>comparingInt(n -> sharesZone(zones, holders, n) ? 1 : 0)
                .thenComparingInt(load::get).thenComparing(Comparator.reverseOrder())).orElse(null);
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
      final int shard = s;
      List<String> holders = new ArrayList<>(next.get(s));
      while (holders.stream().filter(liveNodes::contains).count() < target) {
        String pick = pickNode(load, reported, zones, holders, n -> cluster.failed(n, shard));
        if (pick == null) {
          break;
        }
        holders.add(pick);
        load.merge(pick, 1, Integer::sum);
      }
      next.put(s, holders);
    }
    if (!moving) {
      rebalanceStep(shards, replicas, cluster, load, next);
    }
    Map<Integer, List<String>> out = new TreeMap<>();
    next.forEach((s, nodes) -> out.put(s, List.copyOf(nodes)));
    return out;
  }

  /** Whether another holder of the shard is in the node's (non-empty) zone. */
  private static boolean sharesZone(Map<String, String> zones, List<String> holders, String node) {
    String z = zones.getOrDefault(node, "");
    return !z.isEmpty() && holders.stream().anyMatch(h -> !h.equals(node) && z.equals(zones.getOrDefault(h, "")));
  }

  private static void rebalanceStep(int shards, int replicas, Nodes cluster, Map<String, Integer> load,
                                    Map<Integer, List<String>> next) {
    Map<String, String> zones = cluster.zones();
    Map<String, Double> reported = cluster.load();
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
      boolean allLive = holders.size() >= replicas && holders.stream().allMatch(n -> cluster.live(n, shard));
      if (holders.contains(most) && !holders.contains(least) && allLive && !cluster.failed(least, shard)
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

  /** The best live node for a new replica, or null when every live node holds one already. */
  private static String pickNode(Map<String, Integer> load, Map<String, Double> reported, Map<String, String> zones,
                                 List<String> holders, java.util.function.Predicate<String> failedThere) {
    Set<String> usedZones = new LinkedHashSet<>();
    holders.forEach(n -> usedZones.add(zones.getOrDefault(n, "")));
    return load.entrySet().stream().filter(e -> !holders.contains(e.getKey()))
        .min(Comparator.<Map.Entry<String, Integer>>comparingInt(e -> failedThere.test(e.getKey()) ? 1 : 0)
            .thenComparingInt(e -> {
              String z = zones.getOrDefault(e.getKey(), "");
              return !z.isEmpty() && usedZones.contains(z) ? 1 : 0;
            })
            .thenComparingInt(Map.Entry::getValue)
            .thenComparingDouble(e -> reported.getOrDefault(e.getKey(), 0.0))
            .thenComparing(Map.Entry::getKey))
        .map(Map.Entry::getKey).orElse(null);
  }

  /** The shards each node holds, for logs and status. */
  public static Map<String, Integer> load(Map<Integer, List<String>> placement) {
    Map<String, Integer> out = new HashMap<>();
    placement.values().forEach(nodes -> nodes.forEach(n -> out.merge(n, 1, Integer::sum)));
    return out;
  }
}
