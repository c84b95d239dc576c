package dev.shoal.cluster.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PlacementTest {

  private static Map<String, Integer> load(Map<Integer, List<String>> p) {
    Map<String, Integer> load = new HashMap<>();
    p.values().forEach(ns -> ns.forEach(n -> load.merge(n, 1, Integer::sum)));
    return load;
  }

  @Test
  void placesEachShardOnDistinctNodesBalanced() {
    Map<Integer, List<String>> p = Placement.place(8, 2, Set.of("n1", "n2", "n3", "n4"), Map.of());
    assertEquals(8, p.size());
    for (List<String> nodes : p.values()) {
      assertEquals(2, nodes.size());
      assertEquals(2, new HashSet<>(nodes).size(), "never two replicas of a shard on one node");
    }
    assertEquals(Set.of(4), new HashSet<>(load(p).values()), "16 replicas over 4 nodes: 4 each");
  }

  @Test
  void oneNodeGetsEveryShardOnce() {
    Map<Integer, List<String>> p = Placement.place(4, 2, Set.of("node-1"), Map.of());
    p.values().forEach(nodes -> assertEquals(List.of("node-1"), nodes));
  }

  @Test
  void keepsLiveReplicasAndReplacesDeadOnes() {
    Map<Integer, List<String>> before = Placement.place(4, 2, Set.of("a", "b", "c"), Map.of());
    Map<Integer, List<String>> after = Placement.place(4, 2, Set.of("a", "c"), before);
    for (int s = 0; s < 4; s++) {
      assertTrue(!after.get(s).contains("b"));
      assertEquals(2, after.get(s).size());
      for (String n : before.get(s)) {
        if (!n.equals("b")) {
          assertTrue(after.get(s).contains(n), "a live replica is never moved");
        }
      }
    }
  }
}
