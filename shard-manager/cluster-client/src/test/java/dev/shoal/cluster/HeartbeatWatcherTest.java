package dev.shoal.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.internal.v1.HostedShard;
import dev.shoal.internal.v1.NodeHeartbeat;
import dev.shoal.internal.v1.ShardState;
import dev.shoal.server.time.ManualClock;
import org.junit.jupiter.api.Test;

/** What routing and the result cache know of a replica, by the age of its last heartbeat. */
class HeartbeatWatcherTest {

  private final ManualClock clock = new ManualClock();
  private final HeartbeatWatcher w = new HeartbeatWatcher("unused:9092", clock, ClusterTimings.defaults());

  private void beat(ShardState state, long generation) {
    w.accept(NodeHeartbeat.newBuilder().setNodeId("n1").setAddress("n1:1")
        .addShards(HostedShard.newBuilder().setShard(0).setState(state).setSearcherGeneration(generation)).build());
  }

  @Test
  void aReplicaIsServingWhileItsLiveReportIsFreshAndSilentAfter() {
    beat(ShardState.LIVE, 42);
    assertEquals(ReplicaTier.SERVING, w.tier("n1:1", 0));
    assertEquals(42, w.generation(HeartbeatWatcher.replica("n1:1", 0)));
    clock.advanceMillis(3_000);
    assertEquals(ReplicaTier.SERVING, w.tier("n1:1", 0), "3 s is still fresh");
    clock.advanceMillis(1);
    assertEquals(ReplicaTier.SILENT, w.tier("n1:1", 0));
    assertEquals(HeartbeatWatcher.UNKNOWN, w.generation(HeartbeatWatcher.replica("n1:1", 0)));
  }

  @Test
  void aReplicaStillBuildingIsNotServingAndADroppedShardIsForgotten() {
    beat(ShardState.CATCHING_UP, 1);
    assertEquals(ReplicaTier.BUILDING, w.tier("n1:1", 0));
    w.accept(NodeHeartbeat.newBuilder().setNodeId("n1").setAddress("n1:1").build());
    assertEquals(ReplicaTier.SILENT, w.tier("n1:1", 0), "a shard the node no longer reports is not served there");
  }

  /** Nodes on port 0 get a new address at each restart: the old addresses must not stay forever. */
  @Test
  void addressesSilentForLongAreForgotten() {
    for (int restart = 0; restart < 50; restart++) {
      w.accept(NodeHeartbeat.newBuilder().setNodeId("n1").setAddress("n1:" + (1000 + restart))
          .addShards(HostedShard.newBuilder().setShard(0).setState(ShardState.LIVE)).build());
      clock.advanceMillis(10_000);
    }
    assertTrue(w.known() <= 7, "known replicas: " + w.known());
    assertEquals(ReplicaTier.SILENT, w.tier("n1:1000", 0));
  }
}
