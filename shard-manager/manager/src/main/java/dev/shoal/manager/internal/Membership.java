package dev.shoal.manager.internal;

import dev.shoal.internal.v1.HostedShard;
import dev.shoal.internal.v1.NodeHeartbeat;
import dev.shoal.internal.v1.ShardState;
import dev.shoal.server.time.Clock;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Which index nodes are alive, from their heartbeats: a node is live while its last heartbeat
 * arrived at most the failure timeout ago on this manager's clock (arrival time, not the node's
 * own timestamp, so clock skew between machines does not matter). Not thread-safe: the manager's
 * loop thread only.
 */
public final class Membership {

  /** The zone label placement spreads replicas across. */
  public static final String ZONE_LABEL = "zone";

  private final Clock clock;
  private final long failureMillis;
  private final Map<String, NodeHeartbeat> lastBeat = new HashMap<>();
  private final Map<String, Long> lastSeen = new HashMap<>();

  public Membership(Clock clock, long failureMillis) {
    this.clock = clock;
    this.failureMillis = failureMillis;
  }

  public void heartbeat(NodeHeartbeat hb) {
    lastBeat.put(hb.getNodeId(), hb);
    lastSeen.put(hb.getNodeId(), clock.currentTimeMillis());
  }

  /** The live nodes as placement sees them: their zones, what each reports LIVE, their load. */
  public Placement.Nodes live() {
    long now = clock.currentTimeMillis();
    Set<String> live = new TreeSet<>();
    lastSeen.forEach((node, seen) -> {
      if (now - seen <= failureMillis) {
        live.add(node);
      }
    });
    Map<String, String> zones = new HashMap<>();
    Map<String, Set<Integer>> liveShards = new HashMap<>();
    Map<String, Double> load = new HashMap<>();
    for (String n : live) {
      NodeHeartbeat hb = lastBeat.get(n);
      zones.put(n, hb.getLabelsMap().getOrDefault(ZONE_LABEL, ""));
      load.put(n, hb.getLoad());
      Set<Integer> ls = new HashSet<>();
      for (HostedShard h : hb.getShardsList()) {
        if (h.getState() == ShardState.LIVE) {
          ls.add(h.getShard());
        }
      }
      liveShards.put(n, ls);
    }
    return new Placement.Nodes(live, zones, liveShards, load);
  }

  /** The ShardSearch address a node last reported. */
  public String address(String node) {
    NodeHeartbeat hb = lastBeat.get(node);
    return hb == null ? "" : hb.getAddress();
  }
}
