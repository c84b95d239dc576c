package dev.shoal.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.api.v1.SearchServiceGrpc;
import dev.shoal.cluster.ClusterTimings;
import dev.shoal.cluster.ClusterTopics;
import dev.shoal.cluster.HeartbeatWatcher;
import dev.shoal.cluster.KafkaSettings;
import dev.shoal.cluster.ReplicaTier;
import dev.shoal.cluster.Topics;
import dev.shoal.internal.v1.HostedShard;
import dev.shoal.internal.v1.NodeHeartbeat;
import dev.shoal.internal.v1.Replica;
import dev.shoal.internal.v1.ShardAssignment;
import dev.shoal.internal.v1.ShardPlacement;
import dev.shoal.internal.v1.ShardState;
import dev.shoal.query.QueryService;
import dev.shoal.query.QueryServiceConfig;
import dev.shoal.server.time.Clock;
import dev.shoal.testkit.ClusterView;
import dev.shoal.testkit.EmbeddedKafka;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a process that has just started knows of the cluster, on a real broker: a watcher reads
 * the heartbeats of the last freshness window (not only those sent after it started), and a query
 * service is not SERVING before it has read the routing table and those heartbeats, so a restarted
 * or scaled-out query service does not call LIVE replicas silent and mark every answer partial.
 * No node sends a heartbeat after the watchers start: what they know comes from the topic's past.
 */
class ClusterStateOnStartIT {

  @TempDir
  static Path dir;
  static EmbeddedKafka kafka;

  @BeforeAll
  static void start() throws Exception {
    kafka = new EmbeddedKafka(dir.resolve("kafka")).start();
    ClusterTopics.ensure(kafka.bootstrap(), 1, (short) 1);
  }

  private static void send(String topic, long timestamp, String key, byte[] value) throws Exception {
    try (KafkaProducer<String, byte[]> p = new KafkaProducer<>(KafkaSettings.producer(kafka.bootstrap()),
        new StringSerializer(), new ByteArraySerializer())) {
      p.send(new ProducerRecord<>(topic, 0, timestamp, key, value)).get();
    }
  }

  @AfterAll
  static void stop() throws Exception {
    kafka.close();
  }

  private static NodeHeartbeat heartbeat(String node, String address, long generation) {
    return NodeHeartbeat.newBuilder().setNodeId(node).setAddress(address).addShards(HostedShard.newBuilder()
        .setShard(0).setState(ShardState.LIVE).setSearcherGeneration(generation)).build();
  }

  @Test
  void aWatcherStartedLateKnowsWhoReportedWithinTheFreshnessWindow() throws Exception {
    long now = System.currentTimeMillis();
    // a node that reported three freshness windows ago, and one that reported just now
    send(Topics.HEARTBEATS, now - 3 * ClusterTimings.defaults().freshMillis(), "old",
        heartbeat("old", "10.0.0.1:1", 3).toByteArray());
    send(Topics.HEARTBEATS, now, "n1", heartbeat("n1", "10.0.0.2:1", 42).toByteArray());
    try (HeartbeatWatcher w = new HeartbeatWatcher(kafka.bootstrap(), Clock.SYSTEM, ClusterTimings.defaults())) {
      w.start();
      assertTrue(ClusterView.await(w::caughtUp, 30_000), "caught up");
      assertEquals(ReplicaTier.SERVING, w.tier("10.0.0.2:1", 0), "the node that reported a moment ago");
      assertEquals(42, w.generation(HeartbeatWatcher.replica("10.0.0.2:1", 0)));
      assertEquals(ReplicaTier.SILENT, w.tier("10.0.0.1:1", 0),
          "a heartbeat older than the window is not taken as fresh because it was read now");
    }
  }

  /** A stream written without pause must not keep a follower from ever counting as caught up. */
  @Test
  void aWatcherCatchesUpWhileNodesKeepReporting() throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    Thread writer = new Thread(() -> {
      try (KafkaProducer<String, byte[]> p = new KafkaProducer<>(KafkaSettings.producer(kafka.bootstrap()),
          new StringSerializer(), new ByteArraySerializer())) {
        for (int i = 0; !stop.get(); i++) {
          p.send(new ProducerRecord<>(Topics.HEARTBEATS, 0, "busy-" + i % 50,
              heartbeat("busy-" + i % 50, "10.0.1." + i % 50 + ":1", i).toByteArray()));
          Thread.sleep(2);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    writer.start();
    try {
      Thread.sleep(1_000);
      try (HeartbeatWatcher w = new HeartbeatWatcher(kafka.bootstrap(), Clock.SYSTEM, ClusterTimings.defaults())) {
        w.start();
        assertTrue(ClusterView.await(w::caughtUp, 15_000), "caught up while ~400 heartbeats a second arrive");
      }
    } finally {
      stop.set(true);
      writer.join();
    }
  }

  @Test
  void aQueryServiceIsServingOnlyOnceItHasReadTheClusterState() throws Exception {
    send(Topics.HEARTBEATS, System.currentTimeMillis(), "n2", heartbeat("n2", "10.0.0.3:1", 7).toByteArray());
    QueryServiceConfig config = QueryServiceConfig.defaults(kafka.bootstrap(), "127.0.0.1:1");
    try (QueryService q = new QueryService(config)) {
      q.start();
      ManagedChannel ch = ManagedChannelBuilder.forAddress("127.0.0.1", q.grpcPort()).usePlaintext().build();
      try {
        var health = HealthGrpc.newBlockingStub(ch);
        HealthCheckRequest search = HealthCheckRequest.newBuilder().setService(SearchServiceGrpc.SERVICE_NAME).build();
        // no routing table exists yet: the service cannot be ready
        assertFalse(q.ready());
        assertEquals(ServingStatus.NOT_SERVING, health.check(search).getStatus(), "not ready, so not serving");
        assertEquals(ServingStatus.NOT_SERVING, health.check(HealthCheckRequest.getDefaultInstance()).getStatus());
        send(Topics.ASSIGNMENTS, System.currentTimeMillis(), "assignment", ShardAssignment.newBuilder().setEpoch(1)
            .setManagerId("m1").setShardCount(1).addPlacements(ShardPlacement.newBuilder().setShard(0)
                .addReplicas(Replica.newBuilder().setNodeId("n2").setAddress("10.0.0.3:1"))).build().toByteArray());
        assertTrue(ClusterView.await(q::ready, 30_000), "ready");
        assertTrue(ClusterView.await(() -> health.check(search).getStatus() == ServingStatus.SERVING, 5_000),
            "serving once ready");
        assertEquals(ServingStatus.SERVING, health.check(HealthCheckRequest.getDefaultInstance()).getStatus());
        assertEquals(List.of("n2"), q.liveReplicas().get(0),
            "the replica is LIVE from its last heartbeat, sent before this service started");
      } finally {
        ch.shutdownNow();
      }
    }
  }
}
