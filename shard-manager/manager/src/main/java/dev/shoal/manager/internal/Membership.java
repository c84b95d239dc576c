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
 * Which index nodes are alive, from their heartbeats, on this manager's clock (arrival time, not
 * the node's own timestamp, so clock skew between machines does not matter): a node is live while
 * its last heartbeat arrived at most the failure timeout ago; what it reports LIVE counts only
 * while that heartbeat is fresh (the freshness window), so a stale LIVE never justifies dropping
 * another replica; a node silent past the failure timeout but within the grace period keeps its
 * replicas beside their replacements. Not thread-safe: the manager's loop thread only.
 */
public final class Membership {

  /** The zone label placement spreads replicas across. */
  public static final String ZONE_LABEL = "zone";

  private final Clock clock;
  private final long freshMillis;
  private final long failureMillis;
  private final long graceMillis;
  private final Map<String, NodeHeartbeat> lastBeat = new HashMap<>();
  private final Map<String, Long> lastSeen = new HashMap<>();

  /**
   * @param freshMillis   a LIVE report counts for this long
   * @param failureMillis a node silent this long is no longer live
   * @param graceMillis   a node silent this long loses its replicas for good (at least the failure timeout)
   */
  public Membership(Clock clock, long freshMillis, long failureMillis, long graceMillis) {
    this.clock = clock;
    this.freshMillis = freshMillis;
    this.failureMillis = failureMillis;
    this.graceMillis = Math.max(graceMillis, failureMillis);
  }

  public void heartbeat(NodeHeartbeat hb) {
    lastBeat.put(hb.getNodeId(), hb);
    lastSeen.put(hb.getNodeId(), clock.currentTimeMillis());
  }

  /** The nodes as placement sees them: the live ones with their zones, fresh LIVE and FAILED reports and load, and those in grace. */
  public Placement.Nodes live() {
    long now = clock.currentTimeMillis();
    Set<String> live = new TreeSet<>();
    Set<String> grace = new TreeSet<>();
    lastSeen.forEach((node, seen) -> {
      if (now - seen <= failureMillis) {
        live.add(node);
      } else if (now - seen <= graceMillis) {
        grace.add(node);
      }
    });
    Map<String, Set<Integer>> failed = new HashMap<>();
    Map<String, String> zones = new HashMap<>();
    Map<String, Set<Integer>> liveShards = new HashMap<>();
    Map<String, Double> load = new HashMap<>();
    for (String n : live) {
      NodeHeartbeat hb = lastBeat.get(n);
      zones.put(n, hb.getLabelsMap().getOrDefault(ZONE_LABEL, ""));
      load.put(n, hb.getLoad());
      boolean fresh = now - lastSeen.get(n) <= freshMillis;
      Set<Integer> ls = new HashSet<>();
      Set<Integer> fs = new HashSet<>();
      for (HostedShard h : hb.getShardsList()) {
        if (h.getState() == ShardState.LIVE && fresh) {
          ls.add(h.getShard());
        } else if (h.getState() == ShardState.FAILED) {
          fs.add(h.getShard());
        }
      }
      liveShards.put(n, ls);
      failed.put(n, fs);
    }
    return new Placement.Nodes(live, zones, liveShards, load, failed, grace);
  }

  /** The ShardSearch address a node last reported. */
  public String address(String node) {
    NodeHeartbeat hb = lastBeat.get(node);
    return hb == null ? "" : hb.getAddress();
  }
}
