package dev.shoal.cluster.internal;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Pure placement: given the live nodes and the current placement, the next placement. Keeps
 * every replica that is still on a live node (moving data is expensive), drops replicas on
 * dead nodes, and fills each shard up to {@code min(replicas, live nodes)} on the live nodes
 * holding the fewest replicas, never two replicas of a shard on one node. Stateless.
 */
public final class Placement {

  private Placement() {
  }

  public static Map<Integer, List<String>> place(int shards, int replicas, Set<String> liveNodes,
                                                 Map<Integer, List<String>> current) {
    Map<String, Integer> load = new HashMap<>();
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
    int target = Math.min(replicas, liveNodes.size());
    for (int s = 0; s < shards; s++) {
      Set<String> holders = new LinkedHashSet<>(next.get(s));
      while (holders.size() < target) {
        String pick = load.entrySet().stream().filter(e -> !holders.contains(e.getKey()))
            .min(Comparator.<Map.Entry<String, Integer>>comparingInt(Map.Entry::getValue)
                .thenComparing(Map.Entry::getKey))
            .orElseThrow().getKey();
        holders.add(pick);
        load.merge(pick, 1, Integer::sum);
      }
      next.put(s, List.copyOf(holders));
    }
    return next;
  }
}
