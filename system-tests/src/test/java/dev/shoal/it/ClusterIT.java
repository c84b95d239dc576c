package dev.shoal.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
import dev.shoal.internal.v1.ShardAssignment;
import dev.shoal.query.QueryService;
import dev.shoal.query.QueryServiceConfig;
import dev.shoal.ranker.RankerServer;
import dev.shoal.testkit.ClusterView;
import dev.shoal.testkit.EmbeddedKafka;
import dev.shoal.testkit.ServiceProcess;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The coordination layer on a cluster of separate JVMs: two shard managers and three index
 * nodes as their own processes, a real broker, the enricher, ranker and query service in the
 * test JVM. In order: the leading manager is killed and the standby takes over; the new leader
 * is paused until it loses the lead, then resumed, and epochs still only grow; an index node
 * is SIGKILLed under steady query load and the replication factor comes back; a fourth node
 * joins and shards move to it without any shard dropping below two LIVE replicas.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterIT {

  static final int SHARDS = 4;
  static final int REPLICAS = 2;
  static final int DOCS = 300;

  @TempDir
  static Path dir;
  static EmbeddedKafka kafka;
  static OnnxEncoder encoder;
  static RankerServer ranker;
  static Enricher enricher;
  static QueryService query;
  static ClusterView view;
  static ManagedChannel channel;
  static final Map<String, Process> managers = new LinkedHashMap<>();
  static final Map<String, Process> nodes = new LinkedHashMap<>();
  static List<String> queries;

  @BeforeAll
  static void start() throws Exception {
    kafka = new EmbeddedKafka(dir.resolve("kafka")).start();
    ClusterTopics.ensure(kafka.bootstrap(), SHARDS, (short) 1);
    view = new ClusterView(kafka.bootstrap());
    encoder = new OnnxEncoder(ModelSpec.ALL_MINILM_L6_V2.withMaxTokens(64), 2, 16);
    ranker = new RankerServer("127.0.0.1", 0, encoder);
    ranker.start();
    enricher = new Enricher(EnricherConfig.defaults(kafka.bootstrap(), "cluster-it"), encoder);
    enricher.start();
    for (String n : List.of("n1", "n2", "n3")) {
      startNode(n);
    }
    for (String m : List.of("m1", "m2")) {
      startManager(m);
    }
    String root = System.getProperty("shoal.repo.root", "..");
    List<BeirDataset.Doc> docs = new BeirDataset(Path.of(root, "testdata", "scifact")).docs().subList(0, DOCS);
    try (DocumentProducer p = new DocumentProducer(kafka.bootstrap())) {
      docs.forEach(d -> p.send(d.document()));
      p.flush();
    }
    queries = docs.stream().skip(100).limit(20).map(BeirDataset.Doc::title).toList();
    assertTrue(ClusterView.await(() -> view.fullyReplicated(SHARDS, REPLICAS, DOCS), 240_000),
        "4 shards x 2 LIVE replicas over 3 nodes: " + view.latest());
    query = new QueryService(QueryServiceConfig.defaults(kafka.bootstrap(), ranker.address())).start();
    channel = ManagedChannelBuilder.forAddress("127.0.0.1", query.grpcPort()).usePlaintext().build();
    assertTrue(ClusterView.await(() -> query.liveReplicas().values().stream().allMatch(l -> l.size() == REPLICAS),
        20_000), "the query service sees every replica LIVE: " + query.liveReplicas());
  }

  static void startNode(String id) throws Exception {
    nodes.put(id, ServiceProcess.node(kafka.bootstrap(), id, dir.resolve(id), dir).process());
  }

  static void startManager(String id) throws Exception {
    int health = ServiceProcess.freePort();
    managers.put(id, ServiceProcess.shoal(id, dir, "-Xmx256m", List.of("manager", "--kafka", kafka.bootstrap(),
        "--manager-id", id, "--shards", Integer.toString(SHARDS), "--replicas", Integer.toString(REPLICAS),
        "--failure-timeout-ms", "5000", "--health-port", Integer.toString(health)), health).process());
  }

  @AfterAll
  static void stop() throws Exception {
    if (channel != null) {
      channel.shutdownNow();
    }
    for (Process p : nodes.values()) {
      p.destroyForcibly();
    }
    for (Process p : managers.values()) {
      p.destroyForcibly();
    }
    for (AutoCloseable c : new AutoCloseable[] {query, view, enricher, ranker, encoder, kafka}) {
      if (c != null) {
        c.close();
      }
    }
  }

  static SearchResponse search(String q, RankProfile profile, int timeoutMs) {
    return SearchServiceGrpc.newBlockingStub(channel).withDeadlineAfter(timeoutMs + 2_000, TimeUnit.MILLISECONDS)
        .search(SearchRequest.newBuilder().setQuery(q).setProfile(profile).setTimeoutMs(timeoutMs).setTopK(10)
            .build());
  }

  static Map<String, List<String>> results() {
    Map<String, List<String>> out = new HashMap<>();
    for (String q : queries) {
      for (RankProfile p : List.of(RankProfile.BM25, RankProfile.NEURAL)) {
        SearchResponse r = search(q, p, 5_000);
        assertEquals(SHARDS, r.getShardsAnswered(), "every shard answers: " + q);
        out.put(p + " " + q, r.getHitsList().stream().map(Hit::getId).toList());
      }
    }
    return out;
  }

  @Test
  @Order(1)
  void theStandbyManagerTakesOverWithinTenSecondsAndOldEpochsAreNeverApplied() throws Exception {
    ShardAssignment before = view.latest();
    String leader = before.getManagerId();
    String standby = managers.keySet().stream().filter(m -> !m.equals(leader)).findFirst().orElseThrow();
    long killedAt = System.currentTimeMillis();
    managers.remove(leader).destroyForcibly().waitFor(); // SIGKILL
    try {
      standbyTakesOver(before, leader, standby, killedAt);
    } finally {
      startManager("m3"); // a new standby, so the rest runs with two managers again, whatever this test found
    }
  }

  private static void standbyTakesOver(ShardAssignment before, String leader, String standby, long killedAt)
      throws Exception {
    assertTrue(ClusterView.await(() -> view.assignments().stream().anyMatch(p -> p.receivedAtMillis() > killedAt
        && p.assignment().getManagerId().equals(standby)), 15_000), "the standby published");
    ClusterView.Published first = view.assignments().stream().filter(p -> p.receivedAtMillis() > killedAt
        && p.assignment().getManagerId().equals(standby)).findFirst().orElseThrow();
    long tookMs = first.receivedAtMillis() - killedAt;
    System.out.printf("manager failover: %s leads %d ms after %s was killed (epoch %d -> %d)%n", standby, tookMs,
        leader, before.getEpoch(), first.assignment().getEpoch());
    assertTrue(tookMs <= 10_000, "standby leads within 10 s: " + tookMs + " ms");
    long newEpoch = first.assignment().getEpoch();
    for (ClusterView.Published p : view.assignments()) {
      if (p != first && p.receivedAtMillis() < first.receivedAtMillis()) {
        assertTrue(p.assignment().getEpoch() < newEpoch, "the new term's epoch is above every earlier one");
      }
    }
    // every node moves to the new term and never applies an older epoch again
    Thread.sleep(3_000);
    Map<String, Long> highest = new HashMap<>();
    for (ClusterView.Beat b : view.beats()) {
      String n = b.heartbeat().getNodeId();
      long e = b.heartbeat().getAssignmentEpoch();
      Long seen = highest.get(n);
      if (seen != null && seen >= newEpoch) {
        assertTrue(e >= newEpoch, n + " went back from epoch " + seen + " to " + e);
      }
      highest.merge(n, e, Math::max);
    }
    for (String n : nodes.keySet()) {
      assertTrue(highest.getOrDefault(n, 0L) >= newEpoch, n + " applied the new term: " + highest);
    }
  }

  /**
   * A leader that is paused (SIGSTOP) loses the lead when its group session expires; when it
   * resumes, whatever it does cannot go back in time: epochs on the topic only grow, and no node
   * applies an older one.
   */
  @Test
  @Order(2)
  void aPausedLeaderThatResumesIsFenced() throws Exception {
    String leader = view.latest().getManagerId();
    String other = managers.keySet().stream().filter(m -> !m.equals(leader)).findFirst().orElseThrow();
    Process paused = managers.get(leader);
    new ProcessBuilder("kill", "-STOP", Long.toString(paused.pid())).start().waitFor();
    long stoppedAt = System.currentTimeMillis();
    assertTrue(ClusterView.await(() -> view.assignments().stream().anyMatch(p -> p.receivedAtMillis() > stoppedAt
        && p.assignment().getManagerId().equals(other)), 15_000), other + " takes over from the paused " + leader);
    long resumedAt = System.currentTimeMillis();
    new ProcessBuilder("kill", "-CONT", Long.toString(paused.pid())).start().waitFor();
    Thread.sleep(6_000); // the resumed manager polls, finds its partition lost, and steps down
    long previous = Long.MIN_VALUE;
    for (ClusterView.Published p : view.assignments()) {
      assertTrue(p.assignment().getEpoch() > previous, "epochs on the topic only grow: " + p.assignment().getEpoch()
          + " after " + previous + " (from " + p.assignment().getManagerId() + ")");
      previous = p.assignment().getEpoch();
    }
    Map<String, Long> highest = new HashMap<>();
    for (ClusterView.Beat b : view.beats()) {
      if (b.receivedAtMillis() < resumedAt) {
        highest.merge(b.heartbeat().getNodeId(), b.heartbeat().getAssignmentEpoch(), Math::max);
        continue;
      }
      long seen = highest.getOrDefault(b.heartbeat().getNodeId(), Long.MIN_VALUE);
      assertTrue(b.heartbeat().getAssignmentEpoch() >= seen, b.heartbeat().getNodeId() + " went back from epoch "
          + seen + " to " + b.heartbeat().getAssignmentEpoch());
      highest.merge(b.heartbeat().getNodeId(), b.heartbeat().getAssignmentEpoch(), Math::max);
    }
    System.out.printf("paused leader: %s took over from %s; after %s resumed, epochs still only grew%n", other,
        leader, leader);
  }

  @Test
  @Order(3)
  void aKilledNodeUnderLoadCostsNoFailedQueryAndItsReplicasComeBack() throws Exception {
    Map<String, List<String>> before = results();
    AtomicInteger complete = new AtomicInteger();
    AtomicInteger partial = new AtomicInteger();
    Map<String, Integer> failures = new ConcurrentHashMap<>();
    ExecutorService pool = Executors.newFixedThreadPool(8);
    AtomicInteger sent = new AtomicInteger();
    Thread load = Thread.ofPlatform().start(() -> {
      long next = System.nanoTime();
      while (!Thread.currentThread().isInterrupted()) {
        int i = sent.getAndIncrement();
        pool.submit(() -> {
          try {
            SearchResponse r = search(queries.get(i % queries.size()),
                i % 2 == 0 ? RankProfile.BM25 : RankProfile.NEURAL, 2_000);
            (r.getPartial() ? partial : complete).incrementAndGet();
          } catch (RuntimeException e) {
            failures.merge(e.toString(), 1, Integer::sum);
          }
        });
        next += TimeUnit.MILLISECONDS.toNanos(50); // 20 queries/s
        long sleep = next - System.nanoTime();
        if (sleep > 0) {
          try {
            TimeUnit.NANOSECONDS.sleep(sleep);
          } catch (InterruptedException e) {
            return;
          }
        }
      }
    });
    Thread.sleep(3_000);
    long killedAt = System.currentTimeMillis();
    nodes.remove("n2").destroyForcibly().waitFor(); // SIGKILL
    Thread.sleep(6_000); // the failure timeout passes: n2 is not fresh any more
    boolean restored = ClusterView.await(() -> view.fullyReplicated(SHARDS, REPLICAS, DOCS)
        && view.latest().getPlacementsList().stream().noneMatch(p -> p.getReplicasList().stream()
        .anyMatch(r -> r.getNodeId().equals("n2"))), 60_000);
    long restoredMs = System.currentTimeMillis() - killedAt;
    Thread.sleep(2_000);
    load.interrupt();
    load.join();
    pool.shutdown();
    assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
    int total = complete.get() + partial.get() + failures.values().stream().mapToInt(Integer::intValue).sum();
    System.out.printf("node failover: %d queries, %d complete, %d partial, failures %s; replication restored %d ms "
        + "after the kill%n", total, complete.get(), partial.get(), failures, restoredMs);
    assertTrue(restored, "2 LIVE replicas per shard again within 60 s of the kill: " + view.latest());
    assertEquals(Map.of(), failures, "no query fails");
    assertTrue(total >= 20 * 10, "steady load ran: " + total);
    assertTrue(complete.get() >= 0.995 * total, complete.get() + " of " + total + " complete");
    assertTrue(ClusterView.await(() -> query.liveReplicas().values().stream().allMatch(l -> l.size() == REPLICAS),
        10_000), "routed to the new replicas: " + query.liveReplicas());
    assertEquals(before, results(), "results after recovery equal those before");
  }

  @Test
  @Order(4)
  void aJoiningNodeTakesShardsAndNoShardDropsBelowTwoLiveReplicas() throws Exception {
    List<String> violations = new ArrayList<>();
    AtomicInteger samples = new AtomicInteger();
    Thread sampler = Thread.ofPlatform().start(() -> {
      while (!Thread.currentThread().isInterrupted()) {
        Map<Integer, List<String>> live = query.liveReplicas();
        samples.incrementAndGet();
        live.forEach((shard, replicas) -> {
          if (replicas.size() < REPLICAS) {
            violations.add("shard " + shard + " LIVE on " + replicas);
          }
        });
        try {
          Thread.sleep(100);
        } catch (InterruptedException e) {
          return;
        }
      }
    });
    startNode("n4");
    boolean moved = ClusterView.await(() -> {
      ShardAssignment a = view.latest();
      long onNew = a.getPlacementsList().stream().filter(p -> p.getReplicasList().stream()
          .anyMatch(r -> r.getNodeId().equals("n4"))).count();
      return onNew >= 2 && view.fullyReplicated(SHARDS, REPLICAS, DOCS);
    }, 120_000);
    Thread.sleep(3_000); // let any last step settle while still sampling
    sampler.interrupt();
    sampler.join();
    System.out.printf("rebalance: %d routing samples, placement now %s%n", samples.get(), view.latest()
        .getPlacementsList());
    assertTrue(moved, "shards moved to the new node: " + view.latest());
    assertEquals(List.of(), violations, "no shard below 2 LIVE replicas in " + samples.get() + " samples");
    assertTrue(samples.get() > 50, "sampled every 100 ms: " + samples.get());
    assertNotEquals(0, view.latest().getPlacementsList().stream().filter(p -> p.getReplicasList().stream()
        .anyMatch(r -> r.getNodeId().equals("n1") || r.getNodeId().equals("n3"))).count());
  }
}
