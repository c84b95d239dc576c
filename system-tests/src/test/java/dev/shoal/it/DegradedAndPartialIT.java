package dev.shoal.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.api.v1.Hit;
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
import dev.shoal.internal.v1.EmbedRequest;
import dev.shoal.internal.v1.EmbedResponse;
import dev.shoal.internal.v1.HostedShard;
import dev.shoal.internal.v1.NodeHeartbeat;
import dev.shoal.internal.v1.RankerGrpc;
import dev.shoal.internal.v1.ScoreRequest;
import dev.shoal.internal.v1.ScoreResponse;
import dev.shoal.internal.v1.ShardState;
import dev.shoal.manager.ShardManager;
import dev.shoal.manager.ShardManagerConfig;
import dev.shoal.query.QueryService;
import dev.shoal.query.QueryServiceConfig;
import dev.shoal.ranker.RankerServer;
import dev.shoal.ranker.RankerService;
import dev.shoal.server.GrpcServer;
import dev.shoal.testkit.ClusterView;
import dev.shoal.testkit.EmbeddedKafka;
import dev.shoal.testkit.ServiceProcess;
import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.StreamObserver;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Deadlines on real parts: four index nodes as separate processes (one shard each); when one
 * stops answering (SIGSTOP), searches still answer within their deadline, flagged partial with
 * 3 of 4 shards. A ranker that cannot be reached, or that stops answering Score (a fault
 * injected on purpose), gives answers within the deadline flagged degraded, in first-phase order.
 */
class DegradedAndPartialIT {

  @TempDir
  static Path dir;
  static EmbeddedKafka kafka;
  static OnnxEncoder encoder;
  static RankerServer ranker;
  static GrpcServer stuckScoreRanker;
  static Enricher enricher;
  static ShardManager manager;
  static final List<Process> nodes = new ArrayList<>();
  static final List<AutoCloseable> services = new ArrayList<>();
  static List<String> queries;
  static ClusterView view;

  @BeforeAll
  static void start() throws Exception {
    kafka = new EmbeddedKafka(dir.resolve("kafka")).start();
    ClusterTopics.ensure(kafka.bootstrap(), 4, (short) 1);
    view = new ClusterView(kafka.bootstrap());
    encoder = new OnnxEncoder(ModelSpec.ALL_MINILM_L6_V2.withMaxTokens(64), 2, 16);
    ranker = new RankerServer("127.0.0.1", 0, encoder);
    ranker.start();
    RankerService real = new RankerService(encoder);
    // fault injected on purpose: Embed works, Score never answers
    stuckScoreRanker = GrpcServer.forAddress("127.0.0.1", 0).service(new RankerGrpc.RankerImplBase() {
      @Override
      public void embed(EmbedRequest request, StreamObserver<EmbedResponse> response) {
        real.embed(request, response);
      }

      @Override
      public void score(ScoreRequest request, StreamObserver<ScoreResponse> response) {
        // never answers
      }
    }).start();
    enricher = new Enricher(EnricherConfig.defaults(kafka.bootstrap(), "partial-it"), encoder);
    enricher.start();
    for (int i = 0; i < 4; i++) {
      nodes.add(startNode("n" + i));
    }
    awaitHeartbeats(4);
    manager = new ShardManager(ShardManagerConfig.defaults(kafka.bootstrap(), "m1", 4).withReplicas(1)
        .withFailureTimeoutMillis(120_000));
    manager.start();
    String root = System.getProperty("shoal.repo.root", "..");
    BeirDataset scifact = new BeirDataset(Path.of(root, "testdata", "scifact"));
    List<BeirDataset.Doc> docs = scifact.docs().subList(0, 300);
    try (DocumentProducer p = new DocumentProducer(kafka.bootstrap())) {
      docs.forEach(d -> p.send(d.document()));
      p.flush();
    }
    queries = docs.stream().limit(12).map(BeirDataset.Doc::title).toList();
    awaitFourLiveNodes(docs.size());
  }

  private static Process startNode(String id) throws Exception {
    return ServiceProcess.node(kafka.bootstrap(), id, dir.resolve(id), dir).process();
  }

  /** Waits until this many nodes have sent a heartbeat, so the manager places over all of them. */
  private static void awaitHeartbeats(int n) throws InterruptedException {
    assertTrue(view.awaitNodes(nodes -> nodes.size() == n, 120_000), "nodes heartbeating: " + view.freshNodes(2_500)
        .keySet());
  }

  private static void awaitFourLiveNodes(int docs) throws Exception {
    assertTrue(view.awaitNodes(nodes -> nodes.size() == 4 && nodes.values().stream().allMatch(hb ->
        hb.getShardsCount() == 1 && ClusterView.allLive(hb))
        && nodes.values().stream().mapToLong(ClusterView::docs).sum() == docs, 240_000),
        "four nodes serve one shard each: " + view.freshNodes(2_500).values());
    Thread.sleep(1_500); // one more refresh and routing update everywhere
  }

  @AfterAll
  static void stop() throws Exception {
    for (Process p : nodes) {
      new ProcessBuilder("kill", "-CONT", Long.toString(p.pid())).start().waitFor();
      p.destroyForcibly();
    }
    for (AutoCloseable s : services) {
      s.close();
    }
    for (AutoCloseable c : new AutoCloseable[] {view, manager, enricher, stuckScoreRanker, ranker, encoder, kafka}) {
      if (c != null) {
        c.close();
      }
    }
  }

  private static QueryService queryService(String rankerTarget) {
    QueryService q = new QueryService(QueryServiceConfig.defaults(kafka.bootstrap(), rankerTarget)).start();
    services.add(q);
    return q;
  }

  private static SearchResponse search(QueryService q, String text, RankProfile profile, int timeoutMs) {
    return timed(q, text, profile, timeoutMs).response();
  }

  private static SearchResponse search(QueryService q, SearchRequest.Builder request, int timeoutMs) {
    return timed(q, request, timeoutMs).response();
  }

  /** A search's answer and the time its call took, from a connected channel to a ready service. */
  private record Timed(SearchResponse response, double millis) {
  }

  private static Timed timed(QueryService q, String text, RankProfile profile, int timeoutMs) {
    return timed(q, SearchRequest.newBuilder().setQuery(text).setProfile(profile), timeoutMs);
  }

  /**
   * The clock starts once the channel is connected (a health check went through): the channel's
   * set-up is the test's, not the search's, and on 2 busy cores it can take a good part of a second.
   */
  private static Timed timed(QueryService q, SearchRequest.Builder request, int timeoutMs) {
    ManagedChannel ch = ManagedChannelBuilder.forAddress("127.0.0.1", q.grpcPort()).usePlaintext().build();
    try {
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (!q.ready() && System.nanoTime() < until) {
        Thread.sleep(50);
      }
      HealthGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS).check(HealthCheckRequest.getDefaultInstance());
      long t0 = System.nanoTime();
      SearchResponse r = SearchServiceGrpc.newBlockingStub(ch).withDeadlineAfter(timeoutMs + 5_000,
          TimeUnit.MILLISECONDS).search(request.setTimeoutMs(timeoutMs).setTopK(10).build());
      return new Timed(r, (System.nanoTime() - t0) / 1e6);
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    } finally {
      ch.shutdownNow();
    }
  }

  /**
   * Whether the answer's shards scored by their own statistics, the round trip for the corpus's
   * not fitting its quarter of the deadline (as the answer's timings say).
   */
  private static boolean ownStatistics(SearchResponse r) {
    return r.getTimingsList().stream().anyMatch(t -> t.getStage().equals("statistics_skipped"));
  }

  private static List<String> ids(SearchResponse r) {
    return r.getHitsList().stream().map(Hit::getId).toList();
  }

  @Test
  void aRankerThatCannotBeReachedOrStopsAnsweringDegradesToFirstPhaseOrder() throws Exception {
    int freePort;
    try (ServerSocket s = new ServerSocket(0)) {
      freePort = s.getLocalPort();
    }
    QueryService healthy = queryService(ranker.address());
    QueryService unreachable = queryService("127.0.0.1:" + freePort);
    QueryService stuck = queryService(stuckScoreRanker.address());
    for (String q : queries) {
      SearchResponse normal = search(healthy, q, RankProfile.NEURAL, 3_000);
      assertFalse(normal.getDegraded(), normal.getDegradedReason());

      Timed noRanker = timed(unreachable, q, RankProfile.NEURAL, 1_000);
      assertTrue(noRanker.millis() < 1_500, "answered within the deadline: " + noRanker.millis() + " ms");
      assertTrue(noRanker.response().getDegraded());
      assertFalse(noRanker.response().getPartial());
      // the order is compared with a deadline that leaves the statistics round trip its time: at
      // 1 s on 2 busy cores it may not fit its quarter, and the shards then (say that they) score
      // by their own statistics, which changes BM25's order
      SearchResponse noRankerOrder = search(unreachable, q, RankProfile.NEURAL, 3_000);
      SearchResponse bm25 = search(healthy, q, RankProfile.BM25, 3_000);
      assertFalse(ownStatistics(noRankerOrder) || ownStatistics(bm25), "the corpus's statistics in 750 ms");
      assertTrue(noRankerOrder.getDegraded());
      assertEquals(ids(bm25), ids(noRankerOrder), "without a query embedding the first phase is BM25");

      // the ranker's Score (the "ranker" rescorer: a second-phase model on the head's passages) never answers
      SearchRequest.Builder reranked0 = SearchRequest.newBuilder().setQuery(q).setProfile(RankProfile.HYBRID)
          .setRescorer("ranker");
      Timed slow = timed(stuck, reranked0.clone(), 1_000);
      assertTrue(slow.millis() < 1_500, "answered within the deadline: " + slow.millis() + " ms");
      assertTrue(slow.response().getDegraded());
      assertTrue(slow.response().getDegradedReason().contains("DEADLINE_EXCEEDED"), slow.response().getDegradedReason());
      SearchResponse slowOrder = search(stuck, reranked0.clone(), 3_000);
      SearchResponse hybrid = search(healthy, q, RankProfile.HYBRID, 3_000);
      assertFalse(ownStatistics(slowOrder) || ownStatistics(hybrid), "the corpus's statistics in 750 ms");
      assertTrue(slowOrder.getDegraded(), "the ranker is as stuck with more time");
      assertEquals(ids(hybrid), ids(slowOrder), "when only re-scoring fails the order is the hybrid first phase");
      // ten passages: what a healthy CPU ranker encodes within its 1 s budget
      SearchResponse reranked = search(healthy, SearchRequest.newBuilder().setQuery(q).setProfile(RankProfile.HYBRID)
          .setRescorer("ranker").setRerankDepth(10).setExplain(true), 3_000);
      assertFalse(reranked.getDegraded(), reranked.getDegradedReason());
      assertEquals("ranker", reranked.getHits(0).getExplanation().getInputs(1).getName(),
          "the ranker's scores were fused in");
      // a ranker that serves no cross-encoder: the cross-encoder rescorer degrades, never silently
      SearchResponse noCrossEncoder = search(healthy, SearchRequest.newBuilder().setQuery(q)
          .setProfile(RankProfile.HYBRID).setRescorer("cross-encoder"), 3_000);
      assertTrue(noCrossEncoder.getDegraded());
      assertTrue(noCrossEncoder.getDegradedReason().contains("FAILED_PRECONDITION")
          && noCrossEncoder.getDegradedReason().contains("no cross-encoder"), noCrossEncoder.getDegradedReason());
      assertEquals(ids(search(healthy, q, RankProfile.HYBRID, 3_000)), ids(noCrossEncoder),
          "the first-phase order is kept");
    }
  }

  @Test
  void aNodeThatStopsAnsweringGivesPartialAnswersWithinTheDeadline() throws Exception {
    QueryService q = queryService(ranker.address());
    // a query of its own: the loop's queries must not be in the result cache from before the stop
    SearchResponse before = search(q, "bone mineral density before the stop", RankProfile.BM25, 2_000);
    assertFalse(before.getPartial(), before.getShardNoticesList().toString());
    assertEquals(4, before.getShardsAnswered());
    Process victim = nodes.get(2);
    new ProcessBuilder("kill", "-STOP", Long.toString(victim.pid())).start().waitFor();
    try {
      for (String text : queries) {
        for (RankProfile profile : List.of(RankProfile.BM25, RankProfile.NEURAL)) {
          Timed t = timed(q, text, profile, 800);
          SearchResponse r = t.response();
          assertTrue(t.millis() < 1_300, profile + " answered in " + t.millis() + " ms");
          assertTrue(r.getPartial(), "partial");
          assertEquals(3, r.getShardsAnswered());
          assertEquals(4, r.getShardsTotal());
          assertTrue(r.getHitsCount() > 0, "the other shards still answer");
        }
      }
    } finally {
      new ProcessBuilder("kill", "-CONT", Long.toString(victim.pid())).start().waitFor();
    }
  }
}
