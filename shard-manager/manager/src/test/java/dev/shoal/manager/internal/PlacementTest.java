package dev.shoal.manager.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class PlacementTest {

  private static Map<Integer, List<String>> place(int shards, int r, Set<String> nodes,
                                                  Map<Integer, List<String>> current,
                                                  Map<String, Set<Integer>> live) {
    return Placement.place(shards, r, Placement.Nodes.of(nodes).withLive(live), current);
  }

  /** Every replica of the placement reports LIVE. */
  private static Map<String, Set<Integer>> allLive(Map<Integer, List<String>> p) {
    Map<String, Set<Integer>> live = new HashMap<>();
    p.forEach((s, nodes) -> nodes.forEach(n -> live.computeIfAbsent(n, k -> new HashSet<>()).add(s)));
    return live;
  }

  @Test
  void placesEachShardOnDistinctNodesBalanced() {
    Map<Integer, List<String>> p = place(8, 2, Set.of("n1", "n2", "n3", "n4"), Map.of(), Map.of());
    assertEquals(8, p.size());
    for (List<String> nodes : p.values()) {
      assertEquals(2, nodes.size());
      assertEquals(2, new HashSet<>(nodes).size(), "never two replicas of a shard on one node");
    }
    assertEquals(Set.of(4), new HashSet<>(Placement.load(p).values()), "16 replicas over 4 nodes: 4 each");
  }

  @Test
  void oneNodeGetsEveryShardOnce() {
    Map<Integer, List<String>> p = place(4, 2, Set.of("node-1"), Map.of(), Map.of());
    p.values().forEach(nodes -> assertEquals(List.of("node-1"), nodes));
  }

  @Test
  void keepsLiveReplicasAndReplacesDeadOnes() {
    Map<Integer, List<String>> before = place(4, 2, Set.of("a", "b", "c"), Map.of(), Map.of());
    Map<Integer, List<String>> after = place(4, 2, Set.of("a", "c"), before, allLive(before));
    for (int s = 0; s < 4; s++) {
      assertFalse(after.get(s).contains("b"));
      assertEquals(2, after.get(s).size());
      for (String n : before.get(s)) {
        if (!n.equals("b")) {
          assertTrue(after.get(s).contains(n), "a live replica is never moved");
        }
      }
    }
  }

  @Test
  void spreadsReplicasAcrossZones() {
    Map<String, String> zones = Map.of("a1", "a", "a2", "a", "b1", "b", "b2", "b");
    Map<Integer, List<String>> p = Placement.place(8, 2, new Placement.Nodes(zones.keySet(), zones, Map.of(), Map.of()),
        Map.of());
    for (List<String> nodes : p.values()) {
      assertEquals(Set.of("a", "b"), Set.of(zones.get(nodes.get(0)), zones.get(nodes.get(1))),
          "one replica per zone: " + nodes);
    }
  }

  @Test
  void amongNodesHoldingAsManyReplicasTheLeastLoadedGetsTheNewOne() {
    Map<Integer, List<String>> p = Placement.place(1, 1, new Placement.Nodes(Set.of("a", "b", "c"), Map.of(),
        Map.of(), Map.of("a", 9.0, "b", 0.5, "c", 4.0)), Map.of());
    assertEquals(List.of("b"), p.get(0));
  }

  /**
   * A node joins: the placement moves shards to it one at a time, each by adding a replica,
   * waiting for it to report LIVE, then dropping an old one; every intermediate placement keeps
   * at least R LIVE replicas per shard, and the end is balanced.
   */
  @Test
  void rebalancesOntoAJoiningNodeWithoutLosingLiveReplicas() {
    Set<String> three = Set.of("n1", "n2", "n3");
    Map<Integer, List<String>> p = place(6, 2, three, Map.of(), Map.of());
    Map<String, Set<Integer>> live = allLive(p);
    Set<String> four = new TreeSet<>(Set.of("n1", "n2", "n3", "n4"));
    int steps = 0;
    int moves = 0;
    while (steps++ < 50) {
      Map<Integer, List<String>> next = place(6, 2, four, p, live);
      for (var e : next.entrySet()) {
        int s = e.getKey();
        long liveReplicas = e.getValue().stream().filter(n -> live.getOrDefault(n, Set.of()).contains(s)).count();
        assertTrue(liveReplicas >= 2, "shard " + s + " below 2 LIVE replicas in " + next);
        assertEquals(e.getValue().size(), new HashSet<>(e.getValue()).size());
        if (e.getValue().size() > p.get(s).size()) {
          moves++;
        }
      }
      if (next.equals(p)) {
        break;
      }
      p = next;
      live.clear();
      live.putAll(allLive(p)); // every new replica finishes building before the next step
    }
    Map<String, Integer> load = Placement.load(p);
    assertEquals(4, load.size(), "the new node holds replicas: " + p);
    assertTrue(load.values().stream().mapToInt(Integer::intValue).max().getAsInt()
        - load.values().stream().mapToInt(Integer::intValue).min().getAsInt() <= 1, "balanced: " + load);
    assertTrue(moves >= 2, "12 replicas over 4 nodes needs moves: " + moves);
  }

  @Test
  void aReplicaStillBuildingIsNeverDroppedAndBlocksFurtherMoves() {
    Map<Integer, List<String>> p = Map.of(0, List.of("n1", "n2"), 1, List.of("n1", "n2"), 2, List.of("n1", "n2"));
    Map<String, Set<Integer>> live = allLive(p);
    Map<Integer, List<String>> step1 = place(3, 2, Set.of("n1", "n2", "n3"), p, live);
    long grown = step1.values().stream().filter(n -> n.size() == 3).count();
    assertEquals(1, grown, "one move at a time: " + step1);
    // n3 has not reported LIVE: nothing is dropped, nothing else moves
    Map<Integer, List<String>> step2 = place(3, 2, Set.of("n1", "n2", "n3"), step1, live);
    assertEquals(step1, step2);
  }

  @Test
  void theTailOfAMoveIsDroppedFromAZoneTheShardHasTwice() {
    Map<String, String> zones = Map.of("a1", "a", "a2", "a", "b1", "b");
    Map<Integer, List<String>> moving = Map.of(0, List.of("a1", "b1", "a2"));
    Map<String, Set<Integer>> live = Map.of("a1", Set.of(0), "a2", Set.of(0), "b1", Set.of(0));
    Map<Integer, List<String>> next = Placement.place(1, 2, new Placement.Nodes(zones.keySet(), zones, live, Map.of()),
        moving);
    assertTrue(next.get(0).contains("b1"), "the only copy in zone b stays: " + next);
    assertEquals(2, next.get(0).size());
  }
}
