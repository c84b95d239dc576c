package dev.shoal.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.api.v1.RankProfile;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.api.v1.SearchResponse;
import dev.shoal.api.v1.SearchServiceGrpc;
import dev.shoal.cluster.ClusterTopics;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.onnx.OnnxEncoder;
import dev.shoal.enricher.Enricher;
import dev.shoal.enricher.EnricherConfig;
import dev.shoal.eval.BeirDataset;
import dev.shoal.ingest.DocumentProducer;
import dev.shoal.internal.v1.HostedShard;
import dev.shoal.internal.v1.NodeHeartbeat;
import dev.shoal.internal.v1.ShardState;
import dev.shoal.manager.ShardManager;
import dev.shoal.manager.ShardManagerConfig;
import dev.shoal.query.QueryService;
import dev.shoal.query.QueryServiceConfig;
import dev.shoal.ranker.RankerServer;
import dev.shoal.testkit.ClusterView;
import dev.shoal.testkit.EmbeddedKafka;
import dev.shoal.testkit.PrometheusScrape;
import dev.shoal.testkit.ServiceProcess;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two index-node processes each hold every shard (replication factor 2). When one stops
 * answering (SIGSTOP), each shard request is hedged to the other replica after the first one's
 * recent p95, so answers stay complete and fast instead of partial.
 */
class HedgingIT {

  @TempDir
  Path dir;

  @Test
  void aStoppedReplicaIsHedgedAroundAndAnswersStayComplete() throws Exception {
    try (EmbeddedKafka kafka = new EmbeddedKafka(dir.resolve("kafka")).start();
         OnnxEncoder encoder = new OnnxEncoder(ModelSpec.ALL_MINILM_L6_V2.withMaxTokens(64), 2, 16);
         RankerServer ranker = new RankerServer("127.0.0.1", 0, encoder)) {
      ClusterTopics.ensure(kafka.bootstrap(), 4, (short) 1);
      ranker.start();
      Process n0 = ServiceProcess.node(kafka.bootstrap(), "n0", dir.resolve("n0"), dir).process();
      Process n1 = ServiceProcess.node(kafka.bootstrap(), "n1", dir.resolve("n1"), dir).process();
      try (Enricher enricher = new Enricher(EnricherConfig.defaults(kafka.bootstrap(), "hedging-it"), encoder);
           ShardManager manager = new ShardManager(ShardManagerConfig.defaults(kafka.bootstrap(), "m1", 4)
               .withFailureTimeoutMillis(120_000))) {
        enricher.start();
        manager.start();
        BeirDataset scifact = new BeirDataset(Path.of(System.getProperty("shoal.repo.root", ".."), "testdata",
            "scifact"));
        List<BeirDataset.Doc> docs = scifact.docs().subList(0, 200);
        try (DocumentProducer p = new DocumentProducer(kafka.bootstrap())) {
          docs.forEach(d -> p.send(d.document()));
          p.flush();
        }
        awaitBothNodesHoldEverything(kafka.bootstrap(), docs.size());
        try (QueryService q = new QueryService(QueryServiceConfig.defaults(kafka.bootstrap(), ranker.address())).start()) {
          ManagedChannel ch = ManagedChannelBuilder.forAddress("127.0.0.1", q.grpcPort()).usePlaintext().build();
          var stub = SearchServiceGrpc.newBlockingStub(ch);
          long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
          while (!q.ready() && System.nanoTime() < until) {
            Thread.sleep(50);
          }
          for (int i = 0; i < 40; i++) { // latency history for both replicas
            stub.search(SearchRequest.newBuilder().setQuery(docs.get(i).title() + " warm " + i)
                .setProfile(RankProfile.BM25).build());
          }
          new ProcessBuilder("kill", "-STOP", Long.toString(n1.pid())).start().waitFor();
          try {
            for (int i = 0; i < 20; i++) {
              long t0 = System.nanoTime();
              SearchResponse r = stub.withDeadlineAfter(10, TimeUnit.SECONDS).search(SearchRequest.newBuilder()
                  .setQuery(docs.get(50 + i).title()).setProfile(RankProfile.BM25).setTimeoutMs(3_000).build());
              double ms = (System.nanoTime() - t0) / 1e6;
              assertFalse(r.getPartial(), "query " + i + " answered by all shards");
              assertEquals(4, r.getShardsAnswered());
              assertTrue(ms < 1_500, "query " + i + " took " + ms + " ms: hedging, not the 3 s deadline");
              assertEquals(docs.get(50 + i).id(), r.getHits(0).getId());
            }
          } finally {
            new ProcessBuilder("kill", "-CONT", Long.toString(n1.pid())).start().waitFor();
            ch.shutdownNow();
          }
          double hedged = PrometheusScrape.of(HttpClient.newHttpClient(),
              URI.create("http://127.0.0.1:" + q.httpPort() + "/metrics"), null).sum("shoal_search_hedged_total");
          assertTrue(hedged > 0, "hedged requests were counted: " + hedged);
        }
      } finally {
        n0.destroyForcibly();
        n1.destroyForcibly();
      }
    }
  }

  private static void awaitBothNodesHoldEverything(String bootstrap, int docs) throws Exception {
    try (ClusterView view = new ClusterView(bootstrap)) {
      assertTrue(view.awaitNodes(nodes -> nodes.size() == 2 && nodes.values().stream().allMatch(hb ->
          hb.getShardsCount() == 4 && ClusterView.allLive(hb) && ClusterView.docs(hb) == docs), 240_000),
          "both nodes hold every shard: " + view.freshNodes(2_500).values());
      Thread.sleep(1_500); // one more refresh and routing update everywhere
    }
  }
}
