package dev.shoal.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.api.v1.Document;
import dev.shoal.api.v1.FieldValue;
import dev.shoal.api.v1.Operation;
import dev.shoal.cluster.ClusterTopics;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.onnx.OnnxEncoder;
import dev.shoal.enricher.Enricher;
import dev.shoal.enricher.EnricherConfig;
import dev.shoal.ingest.DocumentProducer;
import dev.shoal.internal.v1.FetchRequest;
import dev.shoal.internal.v1.FetchResponse;
import dev.shoal.internal.v1.HostedShard;
import dev.shoal.internal.v1.NodeHeartbeat;
import dev.shoal.internal.v1.ShardSearchGrpc;
import dev.shoal.internal.v1.ShardState;
import dev.shoal.manager.ShardManager;
import dev.shoal.manager.ShardManagerConfig;
import dev.shoal.testkit.ClusterView;
import dev.shoal.testkit.EmbeddedKafka;
import dev.shoal.testkit.ServiceProcess;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The index node is a separate JVM, SIGKILLed three times while 5,000 documents stream in with
 * updates and deletes mixed in; after each kill it restarts on the same data directory. At the
 * end every shard must hold exactly the expected documents: count, ids and the latest version.
 */
class CrashRecoveryIT {

  private static final int SHARDS = 4;
  private static final int DOCS = 5_000;

  @TempDir
  Path dir;

  private Process startNode(String bootstrap, String[] address) throws Exception {
    ServiceProcess.Started n = ServiceProcess.node(bootstrap, "n1", dir.resolve("n1"), dir, "--commit-docs", "400",
        "--commit-ms", "1500");
    address[0] = n.address();
    return n.process();
  }

  private static int shardOf(String id) {
    return Utils.toPositive(Utils.murmur2(id.getBytes(StandardCharsets.UTF_8))) % SHARDS;
  }

  @Test
  void everyShardHoldsExactlyTheExpectedDocumentsAfterThreeKills() throws Exception {
    Map<String, Integer> expected = new LinkedHashMap<>();
    String[] address = new String[1];
    List<Long> killedAt = new ArrayList<>();
    try (EmbeddedKafka kafka = new EmbeddedKafka(dir.resolve("kafka")).start()) {
      String bootstrap = kafka.bootstrap();
      ClusterTopics.ensure(bootstrap, SHARDS, (short) 1);
      try (OnnxEncoder encoder = new OnnxEncoder(ModelSpec.ALL_MINILM_L6_V2.withMaxTokens(32), 2, 32);
           Enricher enricher = new Enricher(EnricherConfig.defaults(bootstrap, "crash-test-enricher").withMaxBatch(128), encoder);
           ShardManager manager = new ShardManager(ShardManagerConfig.defaults(bootstrap, "m1", SHARDS).withReplicas(1)
               .withFailureTimeoutMillis(60_000));
           DocumentProducer producer = new DocumentProducer(bootstrap)) {
        enricher.start();
        manager.start();
        Process node = startNode(bootstrap, address);
        Random rnd = new Random(42);
        List<String> live = new ArrayList<>();
        long sent = 0;
        int created = 0;
        long[] killPoints = {1_300, 3_100, 4_900};
        int nextKill = 0;
        while (created < DOCS) {
          String id;
          int op = rnd.nextInt(10);
          if (op < 7 || live.size() < 50) {
            id = "doc-" + created++;
            expected.put(id, 1);
            live.add(id);
            producer.send(doc(id, 1), Operation.UPSERT);
          } else if (op < 9) {
            id = live.get(rnd.nextInt(live.size()));
            int v = expected.merge(id, 1, Integer::sum);
            producer.send(doc(id, v), Operation.UPSERT);
          } else {
            id = live.remove(rnd.nextInt(live.size()));
            expected.remove(id);
            producer.send(Document.newBuilder().setId(id).build(), Operation.DELETE);
          }
          sent++;
          if (sent % 200 == 0) {
            producer.flush();
            // keep the stream running while the node works, so the kills land mid-stream
            while (enricher.enrichedCount() < sent - 400) {
              Thread.sleep(20);
            }
          }
          if (nextKill < killPoints.length && sent == killPoints[nextKill]) {
            Thread.sleep(200 + rnd.nextInt(1_500));
            node.destroyForcibly(); // SIGKILL
            assertTrue(node.waitFor(30, TimeUnit.SECONDS));
            killedAt.add(enricher.enrichedCount());
            node = startNode(bootstrap, address);
            nextKill++;
          }
        }
        producer.flush();
        assertEquals(3, killedAt.size(), "three kill points");
        awaitCaughtUp(bootstrap, expected, enricher, sent);
        verify(address[0], expected, created);
        node.destroy();
        node.waitFor(30, TimeUnit.SECONDS);
      }
    }
    System.out.println("kills after " + killedAt + " enriched records; " + expected.size() + " live documents verified");
  }

  private static Document doc(String id, int version) {
    return Document.newBuilder().setId(id).setTitle("title of " + id).setText("version " + version + " of " + id)
        .putFields("v", FieldValue.newBuilder().setNumber(version).build()).build();
  }

  /** Waits for the node's heartbeat to show every shard LIVE, lag 0, holding the expected count. */
  private static void awaitCaughtUp(String bootstrap, Map<String, Integer> expected, Enricher enricher, long sent)
      throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(4);
    while (enricher.enrichedCount() < sent && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    Map<Integer, Long> want = new HashMap<>();
    expected.keySet().forEach(id -> want.merge(shardOf(id), 1L, Long::sum));
    try (ClusterView view = new ClusterView(bootstrap)) {
      assertTrue(view.awaitNodes(nodes -> nodes.values().stream().anyMatch(hb -> hb.getShardsCount() == SHARDS
          && ClusterView.allLive(hb) && counts(hb).equals(want)), TimeUnit.NANOSECONDS.toMillis(
          Math.max(0, deadline - System.nanoTime()))), "shards never reached the expected counts " + want
          + "; last seen " + view.freshNodes(2_500).values().stream().map(CrashRecoveryIT::counts).toList());
    }
  }

  private static Map<Integer, Long> counts(NodeHeartbeat hb) {
    Map<Integer, Long> counts = new HashMap<>();
    for (HostedShard s : hb.getShardsList()) {
      counts.put(s.getShard(), s.getDocCount());
    }
    return counts;
  }

  private static void verify(String address, Map<String, Integer> expected, int created) throws Exception {
    ManagedChannel ch = ManagedChannelBuilder.forTarget(address).usePlaintext().build();
    try {
      var stub = ShardSearchGrpc.newBlockingStub(ch);
      for (int i = 0; i < created; i++) {
        String id = "doc-" + i;
        FetchResponse f = stub.withDeadlineAfter(10, TimeUnit.SECONDS)
            .fetch(FetchRequest.newBuilder().setShard(shardOf(id)).setId(id).build());
        Integer v = expected.get(id);
        if (v == null) {
          assertTrue(!f.getFound(), id + " was deleted but is still there");
        } else {
          assertTrue(f.getFound(), id + " is missing");
          assertEquals(v.doubleValue(), f.getDocument().getFieldsMap().get("v").getNumber(), id + " version");
          assertEquals("version " + v + " of " + id, f.getDocument().getText());
        }
      }
    } finally {
      ch.shutdownNow();
    }
  }
}
