package dev.shoal.manager.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.cluster.Epoch;
import dev.shoal.internal.v1.HostedShard;
import dev.shoal.internal.v1.NodeHeartbeat;
import dev.shoal.internal.v1.Replica;
import dev.shoal.internal.v1.ShardAssignment;
import dev.shoal.internal.v1.ShardPlacement;
import dev.shoal.internal.v1.ShardState;
import dev.shoal.server.time.ManualClock;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** The leader's decisions over time, under a manual clock: failure detection and epochs. */
class PlannerTest {

  private static final long FAILURE_MS = 5_000;
  private final ManualClock clock = new ManualClock();
  private final Membership members = new Membership(clock, 3_000, FAILURE_MS, FAILURE_MS);
  private final Planner planner = new Planner("m1", 4, 2, clock);

  private void beat(String node, ShardAssignment routing) {
    NodeHeartbeat.Builder hb = NodeHeartbeat.newBuilder().setNodeId(node).setAddress(node + ":1");
    if (routing != null) {
      for (ShardPlacement p : routing.getPlacementsList()) {
        if (p.getReplicasList().stream().anyMatch(r -> r.getNodeId().equals(node))) {
          hb.addShards(HostedShard.newBuilder().setShard(p.getShard()).setState(ShardState.LIVE));
        }
      }
    }
    members.heartbeat(hb.build());
  }

  private static Map<Integer, Set<String>> placement(ShardAssignment a) {
    Map<Integer, Set<String>> out = new TreeMap<>();
    for (ShardPlacement p : a.getPlacementsList()) {
      out.put(p.getShard(), new TreeSet<>(p.getReplicasList().stream().map(Replica::getNodeId).toList()));
    }
    return out;
  }

  private static Set<String> nodes(ShardAssignment a) {
    Set<String> out = new TreeSet<>();
    placement(a).values().forEach(out::addAll);
    return out;
  }

  @Test
  void aNodeSilentPastTheFailureTimeoutLosesItsShardsAndNotBefore() {
    for (String n : List.of("a", "b", "c")) {
      beat(n, null);
    }
    ShardAssignment first = planner.next(members, null, 1);
    assertEquals(Set.of("a", "b", "c"), nodes(first));
    // b and c keep heartbeating every second; a falls silent
    for (int s = 1; s <= 5; s++) {
      clock.advanceMillis(1_000);
      beat("b", first);
      beat("c", first);
    }
    ShardAssignment atTimeout = planner.next(members, first, 1);
    assertEquals(placement(first), placement(atTimeout), "silent exactly the failure timeout: still a member");
    clock.advanceMillis(1);
    beat("b", first);
    beat("c", first);
    ShardAssignment after = planner.next(members, atTimeout, 1);
    assertEquals(Set.of("b", "c"), nodes(after), "silent past the timeout: its replicas move to the others");
    for (Set<String> replicas : placement(after).values()) {
      assertEquals(2, replicas.size(), "every shard back to R replicas");
    }
  }

  @Test
  void aNodeThatHeartbeatsAgainInTimeKeepsItsShards() {
    beat("a", null);
    beat("b", null);
    ShardAssignment first = planner.next(members, null, 1);
    clock.advanceMillis(4_900);
    beat("a", first);
    beat("b", first);
    clock.advanceMillis(4_900);
    beat("b", first);
    assertEquals(placement(first), placement(planner.next(members, first, 1)), "a's last beat is 4.9 s old");
  }

  @Test
  void epochsGrowWithinATermAndEveryEpochOfANewTermIsAboveTheOldTerms() {
    beat("a", null);
    ShardAssignment t1 = planner.next(members, null, 1);
    assertEquals(Epoch.firstOfTerm(1), t1.getEpoch());
    ShardAssignment t1b = planner.next(members, t1, 1);
    assertEquals(t1.getEpoch() + 1, t1b.getEpoch());
    ShardAssignment t2 = planner.next(members, t1b, 2);
    assertEquals(Epoch.firstOfTerm(2), t2.getEpoch());
    assertTrue(t2.getEpoch() > t1b.getEpoch());
    assertEquals(2, Epoch.term(t2.getEpoch()));
  }

  @Test
  void noLiveNodeMeansNothingToPublish() {
    beat("a", null);
    clock.advanceMillis(FAILURE_MS + 1);
    assertNull(planner.next(members, null, 1));
  }

  private static ShardAssignment table(Map<Integer, List<String>> placement) {
    ShardAssignment.Builder a = ShardAssignment.newBuilder().setEpoch(Epoch.firstOfTerm(1)).setShardCount(
        placement.size());
    placement.forEach((shard, nodes) -> {
      ShardPlacement.Builder p = ShardPlacement.newBuilder().setShard(shard);
      nodes.forEach(n -> p.addReplicas(Replica.newBuilder().setNodeId(n).setAddress(n + ":1")));
      a.addPlacements(p);
    });
    return a.build();
  }

  private void report(String node, Map<Integer, ShardState> states) {
    NodeHeartbeat.Builder hb = NodeHeartbeat.newBuilder().setNodeId(node).setAddress(node + ":1");
    states.forEach((shard, state) -> hb.addShards(HostedShard.newBuilder().setShard(shard).setState(state)));
    members.heartbeat(hb.build());
  }

  /**
   * Shard 0 on X and Y plus a new LIVE copy on Z (the tail of a move). X stops heartbeating: still
   * within the failure timeout, but its LIVE report is older than the freshness window, so it must
   * not count; dropping Y would leave one fresh LIVE copy.
   */
  @Test
  void aLiveReportOlderThanTheFreshnessWindowNeverJustifiesADrop() {
    // y = "a", z = "b", x = "c": among equally loaded LIVE copies the drop rule takes the smallest
    // id, so counting c's stale LIVE would drop a (Y)
    Planner one = new Planner("m1", 1, 2, clock);
    ShardAssignment moving = table(Map.of(0, List.of("c", "a", "b")));
    for (String n : List.of("a", "b", "c")) {
      report(n, Map.of(0, ShardState.LIVE));
    }
    clock.advanceMillis(3_500);
    report("a", Map.of(0, ShardState.LIVE));
    report("b", Map.of(0, ShardState.LIVE));
    Set<String> next = placement(one.next(members, moving, 1)).get(0);
    assertTrue(next.containsAll(Set.of("a", "b")), "both fresh LIVE copies stay: " + next);
  }

  @Test
  void withEveryReportFreshTheTailOfAMoveIsDropped() {
    Planner one = new Planner("m1", 1, 2, clock);
    for (String n : List.of("x", "y", "z")) {
      report(n, Map.of(0, ShardState.LIVE));
    }
    assertEquals(2, placement(one.next(members, table(Map.of(0, List.of("x", "y", "z"))), 1)).get(0).size());
  }

  @Test
  void aNodeBackFromABlipWithinTheGracePeriodKeepsItsReplicas() {
    Membership graceful = new Membership(clock, 3_000, FAILURE_MS, 60_000);
    Planner one = new Planner("m1", 1, 2, clock);
    ShardAssignment start = table(Map.of(0, List.of("x", "y")));
    for (String n : List.of("x", "y", "z")) {
      graceful.heartbeat(NodeHeartbeat.newBuilder().setNodeId(n).setAddress(n + ":1").addShards(HostedShard
          .newBuilder().setShard(0).setState(n.equals("z") ? ShardState.SHARD_STATE_UNSPECIFIED : ShardState.LIVE))
          .build());
    }
    clock.advanceMillis(FAILURE_MS + 1_000); // x silent past the failure timeout
    for (String n : List.of("y", "z")) {
      graceful.heartbeat(NodeHeartbeat.newBuilder().setNodeId(n).setAddress(n + ":1").addShards(HostedShard
          .newBuilder().setShard(0).setState(n.equals("y") ? ShardState.LIVE : ShardState.CATCHING_UP)).build());
    }
    ShardAssignment during = one.next(graceful, start, 1);
    assertEquals(Set.of("x", "y", "z"), placement(during).get(0), "a replacement builds on z; x keeps its copy");
    clock.advanceMillis(2_000);
    graceful.heartbeat(NodeHeartbeat.newBuilder().setNodeId("x").setAddress("x:1").addShards(HostedShard.newBuilder()
        .setShard(0).setState(ShardState.LIVE)).build());
    graceful.heartbeat(NodeHeartbeat.newBuilder().setNodeId("y").setAddress("y:1").addShards(HostedShard.newBuilder()
        .setShard(0).setState(ShardState.LIVE)).build());
    ShardAssignment back = one.next(graceful, during, 1);
    assertTrue(placement(back).get(0).containsAll(Set.of("x", "y")), "x is back with its own copy: " + placement(back));
    clock.advanceMillis(60_001);
    graceful.heartbeat(NodeHeartbeat.newBuilder().setNodeId("y").setAddress("y:1").addShards(HostedShard.newBuilder()
        .setShard(0).setState(ShardState.LIVE)).build());
    graceful.heartbeat(NodeHeartbeat.newBuilder().setNodeId("z").setAddress("z:1").addShards(HostedShard.newBuilder()
        .setShard(0).setState(ShardState.LIVE)).build());
    assertEquals(Set.of("y", "z"), placement(one.next(graceful, back, 1)).get(0), "past the grace period x is gone");
  }

  @Test
  void aReplicaReportedFailedIsReplacedOnAnotherNode() {
    Planner one = new Planner("m1", 1, 2, clock);
    report("x", Map.of(0, ShardState.FAILED));
    report("y", Map.of(0, ShardState.LIVE));
    report("z", Map.of());
    assertEquals(Set.of("y", "z"), placement(one.next(members, table(Map.of(0, List.of("x", "y"))), 1)).get(0));
  }
}
