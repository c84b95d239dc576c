package dev.shoal.manager.internal;

import dev.shoal.cluster.Epoch;
import dev.shoal.internal.v1.Replica;
import dev.shoal.internal.v1.ShardAssignment;
import dev.shoal.internal.v1.ShardPlacement;
import dev.shoal.server.time.Clock;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The leader's decision: from the membership and the current routing table, the next routing
 * table ({@link Placement}), stamped with the next epoch of the leader's term. Stateless apart
 * from its inputs; not thread-safe (the manager's loop thread).
 */
public final class Planner {

  private final String managerId;
  private final int shards;
  private final int replicas;
  private final Clock clock;

  public Planner(String managerId, int shards, int replicas, Clock clock) {
    this.managerId = managerId;
    this.shards = shards;
    this.replicas = replicas;
    this.clock = clock;
  }

  /**
   * The next routing table, or null when no node is live (nothing to place on).
   *
   * @param current the newest table seen (null before the first)
   * @param term    the leader's term (its election generation)
   */
  public ShardAssignment next(Membership members, ShardAssignment current, int term) {
    Placement.Nodes live = members.live();
    if (live.nodes().isEmpty()) {
      return null;
    }
    Map<Integer, List<String>> placed = new HashMap<>();
    if (current != null) {
      for (ShardPlacement p : current.getPlacementsList()) {
        placed.put(p.getShard(), p.getReplicasList().stream().map(Replica::getNodeId).toList());
      }
    }
    Map<Integer, List<String>> next = Placement.place(shards, replicas, live, placed);
    ShardAssignment.Builder a = ShardAssignment.newBuilder()
        .setEpoch(Epoch.next(current == null ? 0 : current.getEpoch(), term))
        .setManagerId(managerId).setShardCount(shards).setIssuedAtMs(clock.currentTimeMillis());
    next.forEach((shard, nodes) -> {
      ShardPlacement.Builder p = ShardPlacement.newBuilder().setShard(shard);
      nodes.forEach(n -> p.addReplicas(Replica.newBuilder().setNodeId(n).setAddress(members.address(n))));
      a.addPlacements(p);
    });
    return a.build();
  }
}
