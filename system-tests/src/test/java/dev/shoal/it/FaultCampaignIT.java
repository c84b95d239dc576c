package dev.shoal.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.api.document.DocumentJson;
import dev.shoal.api.v1.Document;
import dev.shoal.api.v1.FieldValue;
import dev.shoal.api.v1.Hit;
import dev.shoal.api.v1.Operation;
import dev.shoal.api.v1.RankProfile;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.api.v1.SearchResponse;
import dev.shoal.api.v1.SearchServiceGrpc;
import dev.shoal.cluster.KafkaSettings;
import dev.shoal.cluster.Shards;
import dev.shoal.cluster.Topics;
import dev.shoal.internal.v1.FetchRequest;
import dev.shoal.internal.v1.FetchResponse;
import dev.shoal.internal.v1.HostedShard;
import dev.shoal.internal.v1.NodeHeartbeat;
import dev.shoal.internal.v1.Replica;
import dev.shoal.internal.v1.ShardAssignment;
import dev.shoal.internal.v1.ShardPlacement;
import dev.shoal.internal.v1.ShardSearchGrpc;
import dev.shoal.internal.v1.ShardState;
import dev.shoal.query.QueryService;
import dev.shoal.query.QueryServiceConfig;
import dev.shoal.testkit.ClusterView;
import dev.shoal.testkit.EmbeddedKafka;
import dev.shoal.testkit.ServiceProcess;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A seeded fault campaign on real processes: a broker, an enricher, two shard managers and three
 * index nodes, each its own JVM. Upserts, updates and deletes stream in while a schedule drawn
 * from the seed SIGKILLs and SIGSTOPs index nodes, the enricher and the leading manager, and
 * restarts the broker once. Afterwards every replica of every shard must equal the model
 * computed from what the producer had acknowledged (which ids, which version, how many), with
 * no dead letter, and every acknowledged live document must be found by a search.
 *
 * <p>Prints its seed and schedule; {@code -Dfaults.seed=N} replays another one and
 * {@code -Dfaults.seconds=S} streams for S seconds (default 75).
 */
class FaultCampaignIT {

  private static final int SHARDS = 4;
  private static final int REPLICAS = 2;
  private static final int NODES = 3;
  private static final int OPS_PER_SECOND = 40;
  private static final long STABLE_MS = 8_000;

  @TempDir
  Path dir;

  private final long seed = Long.getLong("faults.seed", 20261201L);
  private final int seconds = Integer.getInteger("faults.seconds", 75);
  private final long t0 = System.nanoTime();
  private final List<String> log = Collections.synchronizedList(new ArrayList<>());

  /** One service: its command line, the health port it serves, and its current process. */
  private final class Service {
    final String name;
    final List<String> args;
    final int healthPort;
    final String heap;
    volatile Process process;
    int starts;

    Service(String name, String heap, int healthPort, List<String> args) {
      this.name = name;
      this.heap = heap;
      this.healthPort = healthPort;
      this.args = args;
    }

    void start() throws IOException, InterruptedException {
      process = ServiceProcess.shoal(name + "-" + starts++, dir, heap, args, healthPort).process();
    }

    void kill() throws InterruptedException {
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
    }

    void signal(String sig) throws IOException, InterruptedException {
      new ProcessBuilder("kill", "-" + sig, Long.toString(process.pid())).start().waitFor();
    }
  }

  private void event(String what) {
    String line = String.format("t=%5.1fs %s", (System.nanoTime() - t0) / 1e9, what);
    log.add(line);
    System.out.println("[faults] " + line);
  }

  /** What the producer sent for one id, in order, and whether Kafka acknowledged each send. */
  private static final class IdHistory {
    int version;
    boolean deleted;
    boolean ambiguous; // a send failed: Kafka may or may not hold it
  }

  private static Document doc(int n, int version) {
    return Document.newBuilder().setId("doc-" + n).setTitle("item " + n)
        .setText("marker" + n + "x version " + version + " of item " + n)
        .putFields("v", FieldValue.newBuilder().setNumber(version).build()).build();
  }

  @Test
  void everyReplicaEqualsTheModelAfterKillsPausesAndABrokerRestart() throws Exception {
    event("seed " + seed + " (replay with -Dfaults.seed=" + seed + "), streaming " + seconds + " s");
    Random rnd = new Random(seed);
    Path kafkaDir = dir.resolve("kafka");
    int kafkaPort = ServiceProcess.freePort();
    Service kafka = service("kafka", "-Xmx768m", List.of("kafka", "--data-dir", kafkaDir.toString(), "--shards",
        Integer.toString(SHARDS), "--port", Integer.toString(kafkaPort)));
    List<Service> all = new ArrayList<>();
    try {
      kafka.start();
      all.add(kafka);
      String bootstrap = EmbeddedKafka.bootstrapOf(kafkaDir);
      Service enricher = service("enricher", "-Xmx768m", List.of("enricher", "--kafka", bootstrap, "--id", "e1",
          "--model", "all-MiniLM-L6-v2", "--max-passage-tokens", "32", "--threads", "1"));
      List<Service> managers = new ArrayList<>();
      for (String m : List.of("m1", "m2")) {
        managers.add(service("manager-" + m, "-Xmx256m", List.of("manager", "--kafka", bootstrap, "--manager-id", m,
            "--shards", Integer.toString(SHARDS), "--replicas", Integer.toString(REPLICAS),
            "--failure-timeout-ms", "5000")));
      }
      List<Service> nodes = new ArrayList<>();
      for (int i = 1; i <= NODES; i++) {
        int port = ServiceProcess.freePort();
        nodes.add(new Service("node-n" + i, "-Xmx512m", port, List.of("node", "--kafka", bootstrap, "--node-id",
            "n" + i, "--data-dir", dir.resolve("n" + i).toString(), "--host", "127.0.0.1", "--port",
            Integer.toString(port), "--commit-docs", "300", "--commit-ms", "2000")));
      }
      for (Service s : concat(List.of(enricher), managers, nodes)) {
        s.start();
        all.add(s);
      }
      event("started: broker, enricher, 2 managers, " + NODES + " nodes");
      try (ClusterView view = new ClusterView(bootstrap)) {
        Map<String, IdHistory> model = stream(bootstrap, rnd, kafka, enricher, managers, nodes, view);
        assertNoDeadLetters(bootstrap);
        int tries = 0;
        do {
          converge(view, model);
        } while (!verifyReplicas(view, model) && ++tries < 3);
        assertTrue(tries < 3, "replicas kept moving during verification");
        verifySearch(bootstrap, model);
      }
    } finally {
      for (Service s : all) {
        if (s.process != null) {
          s.signal("CONT");
          s.process.destroyForcibly();
        }
      }
      System.out.println("[faults] schedule of seed " + seed + ":\n  " + String.join("\n  ", log));
      keepLogs();
    }
  }

  /** The services' output, kept beside the test reports (the temporary directory goes away). */
  private void keepLogs() throws IOException {
    Path to = Path.of("target", "fault-campaign", "seed-" + seed);
    java.nio.file.Files.createDirectories(to);
    try (var files = java.nio.file.Files.list(dir)) {
      for (Path f : files.filter(f -> f.getFileName().toString().endsWith(".out")
          || f.getFileName().toString().endsWith(".log")).toList()) {
        java.nio.file.Files.copy(f, to.resolve(f.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
    }
    System.out.println("[faults] service logs in " + to.toAbsolutePath());
  }

  @SafeVarargs
  private static List<Service> concat(List<Service>... lists) {
    List<Service> out = new ArrayList<>();
    for (List<Service> l : lists) {
      out.addAll(l);
    }
    return out;
  }

  /** A service whose health port is picked now and passed as --health-port. */
  private Service service(String name, String heap, List<String> args) {
    int health = ServiceProcess.freePort();
    List<String> a = new ArrayList<>(args);
    a.addAll(List.of("--health-port", Integer.toString(health)));
    return new Service(name, heap, health, a);
  }

  /**
   * Streams upserts, updates and deletes for {@link #seconds} while the fault thread runs the
   * seeded schedule; returns the model of what was acknowledged.
   */
  private Map<String, IdHistory> stream(String bootstrap, Random rnd, Service kafka, Service enricher,
                                        List<Service> managers, List<Service> nodes, ClusterView view)
      throws Exception {
    Map<String, IdHistory> model = new ConcurrentHashMap<>();
    AtomicBoolean streaming = new AtomicBoolean(true);
    long faultSeed = rnd.nextLong();
    List<Throwable> faultErrors = Collections.synchronizedList(new ArrayList<>());
    Thread faults = new Thread(() -> {
      try {
        runSchedule(new Random(faultSeed), streaming, kafka, enricher, managers, nodes, view);
      } catch (Throwable t) {
        faultErrors.add(t);
      }
    }, "fault-schedule");
    Properties p = KafkaSettings.producer(bootstrap);
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "240000");
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "120000");
    int created = 0;
    int ops = 0;
    int deletes = 0;
    List<Integer> live = new ArrayList<>();
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p)) {
      faults.start();
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
      long next = System.nanoTime();
      while (System.nanoTime() < end) {
        int n;
        Operation op;
        int draw = rnd.nextInt(20);
        if (draw < 13 || live.size() < 30) {
          n = created++;
          live.add(n);
          op = Operation.UPSERT;
        } else if (draw < 18) {
          n = live.get(rnd.nextInt(live.size()));
          op = Operation.UPSERT;
        } else {
          n = live.remove(rnd.nextInt(live.size()));
          op = Operation.DELETE;
          deletes++;
        }
        String id = "doc-" + n;
        IdHistory h = model.computeIfAbsent(id, k -> new IdHistory());
        synchronized (h) {
          h.version++;
          h.deleted = op == Operation.DELETE;
        }
        byte[] json = DocumentJson.write(op == Operation.DELETE ? Document.newBuilder().setId(id).build()
            : doc(n, h.version), op);
        producer.send(new ProducerRecord<>(Topics.DOCS, id, json), (meta, e) -> {
          if (e != null) {
            synchronized (h) {
              h.ambiguous = true;
            }
          }
        });
        ops++;
        next += 1_000_000_000L / OPS_PER_SECOND;
        long wait = next - System.nanoTime();
        if (wait > 0) {
          TimeUnit.NANOSECONDS.sleep(wait);
        }
      }
      producer.flush();
    } finally {
      streaming.set(false);
      faults.join(TimeUnit.MINUTES.toMillis(3));
    }
    assertTrue(faultErrors.isEmpty(), "the fault schedule failed: " + faultErrors);
    long ambiguous = model.values().stream().filter(h -> h.ambiguous).count();
    event(ops + " operations on " + created + " ids (" + deletes + " deletes) sent; " + ambiguous
        + " ids with a send Kafka did not acknowledge");
    assertEquals(0, ambiguous, "with acks=all and an idempotent producer every send is acknowledged across the "
        + "broker restart");
    return model;
  }

  /** The seeded schedule: a fault 1-3 s after the last one ended, the broker restarted once, everything resumed at the end. */
  private void runSchedule(Random rnd, AtomicBoolean streaming, Service kafka, Service enricher,
                           List<Service> managers, List<Service> nodes, ClusterView view) throws Exception {
    long brokerAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos((long) (seconds * 1000L * (0.3 + 0.3
        * rnd.nextDouble())));
    boolean brokerDone = false;
    while (streaming.get()) {
      Thread.sleep(1_000 + rnd.nextInt(2_000));
      if (!streaming.get()) {
        break;
      }
      if (!brokerDone && System.nanoTime() >= brokerAt) {
        brokerDone = true;
        event("SIGKILL broker; restart on the same data directory");
        kafka.kill();
        kafka.start();
        event("broker back");
        continue;
      }
      switch (rnd.nextInt(6)) {
        case 0 -> {
          Service n = nodes.get(rnd.nextInt(nodes.size()));
          event("SIGKILL " + n.name + "; restart on its data directory");
          n.kill();
          n.start();
          event(n.name + " back");
        }
        case 1 -> {
          Service n = nodes.get(rnd.nextInt(nodes.size()));
          int ms = 3_000 + rnd.nextInt(6_000);
          event("SIGSTOP " + n.name + " for " + ms + " ms");
          n.signal("STOP");
          Thread.sleep(ms);
          n.signal("CONT");
          event("SIGCONT " + n.name);
        }
        case 2 -> {
          event("SIGKILL enricher; restart with the same transactional id");
          enricher.kill();
          enricher.start();
          event("enricher back");
        }
        case 3 -> {
          int ms = 2_000 + rnd.nextInt(4_000);
          event("SIGSTOP enricher for " + ms + " ms");
          enricher.signal("STOP");
          Thread.sleep(ms);
          enricher.signal("CONT");
          event("SIGCONT enricher");
        }
        case 4 -> {
          Service leader = leader(view, managers);
          event("SIGKILL leading manager " + leader.name + "; restart");
          leader.kill();
          leader.start();
          event(leader.name + " back");
        }
        default -> {
          Service leader = leader(view, managers);
          int ms = 8_000 + rnd.nextInt(4_000);
          event("SIGSTOP leading manager " + leader.name + " for " + ms + " ms (past its 6 s election session)");
          leader.signal("STOP");
          Thread.sleep(ms);
          leader.signal("CONT");
          event("SIGCONT " + leader.name);
        }
      }
    }
    if (!brokerDone) {
      event("SIGKILL broker; restart on the same data directory");
      kafka.kill();
      kafka.start();
      event("broker back");
    }
  }

  private static Service leader(ClusterView view, List<Service> managers) {
    ShardAssignment a = view.latest();
    String id = a == null ? "m1" : a.getManagerId();
    return managers.stream().filter(m -> m.name.equals("manager-" + id)).findFirst().orElse(managers.getFirst());
  }

  private static Map<Integer, Long> expectedCounts(Map<String, IdHistory> model) {
    Map<Integer, Long> want = new TreeMap<>();
    for (int s = 0; s < SHARDS; s++) {
      want.put(s, 0L);
    }
    model.forEach((id, h) -> {
      if (!h.deleted) {
        want.merge(Shards.of(id, SHARDS), 1L, Long::sum);
      }
    });
    return want;
  }

  /** Whether the latest assignment has R LIVE replicas per shard, caught up, each holding the model's count. */
  private static String notConverged(ClusterView view, Map<Integer, Long> want) {
    ShardAssignment a = view.latest();
    if (a == null) {
      return "no assignment";
    }
    // 5 s: on 2 cores shared by 8 JVMs a heartbeat can come late without anything being wrong
    Map<String, NodeHeartbeat> fresh = view.freshNodes(5_000);
    for (ShardPlacement p : a.getPlacementsList()) {
      if (p.getReplicasCount() != REPLICAS) {
        return "shard " + p.getShard() + " has " + p.getReplicasCount() + " replicas";
      }
      for (Replica r : p.getReplicasList()) {
        NodeHeartbeat hb = fresh.get(r.getNodeId());
        HostedShard h = hb == null ? null : hb.getShardsList().stream().filter(s -> s.getShard() == p.getShard())
            .findFirst().orElse(null);
        if (h == null) {
          return "shard " + p.getShard() + " on " + r.getNodeId() + ": no fresh report";
        }
        if (h.getState() != ShardState.LIVE || h.getLag() != 0 || h.getDocCount() != want.get(p.getShard())
            || !hb.getAddress().equals(r.getAddress())) {
          return "shard " + p.getShard() + " on " + r.getNodeId() + ": " + h.getState() + ", lag " + h.getLag() + ", "
              + h.getDocCount() + " of " + want.get(p.getShard()) + " documents";
        }
      }
    }
    return a.getPlacementsCount() == SHARDS ? null : "placements for " + a.getPlacementsCount() + " shards";
  }

  /**
   * Waits until the cluster has converged and stayed so for {@value #STABLE_MS} ms under one
   * epoch: a node back from a pause may still draw a rebalance that moves replicas.
   */
  private void converge(ClusterView view, Map<String, IdHistory> model) throws InterruptedException {
    Map<Integer, Long> want = expectedCounts(model);
    long start = System.nanoTime();
    long deadline = start + TimeUnit.SECONDS.toNanos(180);
    long stableSince = 0;
    long epoch = -1;
    String why = "not checked";
    java.util.LinkedHashSet<String> seen = new java.util.LinkedHashSet<>();
    int epochs = 0;
    long report = System.nanoTime();
    while (System.nanoTime() < deadline) {
      why = notConverged(view, want);
      if (System.nanoTime() - report > TimeUnit.SECONDS.toNanos(15)) {
        report = System.nanoTime();
        event("converging: " + (why == null ? "converged, waiting for it to hold" : why));
      }
      long e = view.latest() == null ? -1 : view.latest().getEpoch();
      if (why != null) {
        seen.remove(why);
        seen.add(why);
      }
      if (e != epoch) {
        epochs++;
      }
      long now = System.nanoTime();
      if (why != null) {
        stableSince = 0;
      } else if (e != epoch || stableSince == 0) {
        stableSince = now;
      } else if (now - stableSince >= TimeUnit.MILLISECONDS.toNanos(STABLE_MS)) {
        event("converged after " + (now - start) / 1_000_000 + " ms (stable for " + STABLE_MS + " ms at epoch "
            + epoch + "): " + want + " documents per shard, " + REPLICAS + " LIVE replicas each");
        return;
      }
      epoch = e;
      Thread.sleep(250);
    }
    List<String> last = new ArrayList<>(seen);
    String history = "; " + epochs + " epochs seen while waiting; last reasons: "
        + last.subList(Math.max(0, last.size() - 6), last.size()) + "; latest assignment: " + view.latest();
    assertEquals(null, why, "the cluster did not converge on the model " + want + history);
    throw new AssertionError("the cluster converged but never stayed so for " + STABLE_MS + " ms" + history);
  }

  /** Every record the campaign wrote is valid: none may reach the DLQ, whatever the faults. */
  private void assertNoDeadLetters(String bootstrap) {
    Properties c = KafkaSettings.consumer(bootstrap, null);
    List<String> reasons = new ArrayList<>();
    try (var consumer = new org.apache.kafka.clients.consumer.KafkaConsumer<String, byte[]>(c)) {
      List<org.apache.kafka.common.TopicPartition> parts = consumer.partitionsFor(Topics.DLQ).stream()
          .map(pi -> new org.apache.kafka.common.TopicPartition(Topics.DLQ, pi.partition())).toList();
      consumer.assign(parts);
      consumer.seekToBeginning(parts);
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
      while (System.nanoTime() < until) {
        for (var r : consumer.poll(java.time.Duration.ofMillis(200))) {
          var h = r.headers().lastHeader(Topics.H_REASON);
          reasons.add(r.key() + ": " + (h == null ? "?" : new String(h.value(), java.nio.charset.StandardCharsets.UTF_8)));
        }
      }
    }
    assertTrue(reasons.isEmpty(), reasons.size() + " valid records dead-lettered, e.g. "
        + reasons.subList(0, Math.min(3, reasons.size())));
    event("no dead letters");
  }

  /** Fetches every id ever produced from every replica of its shard and compares it with the model. */
  private boolean verifyReplicas(ClusterView view, Map<String, IdHistory> model) {
    ShardAssignment a = view.latest();
    Map<String, NodeHeartbeat> fresh = view.freshNodes(5_000);
    int checked = 0;
    for (ShardPlacement p : a.getPlacementsList()) {
      for (Replica r : p.getReplicasList()) {
        HostedShard h = fresh.get(r.getNodeId()).getShardsList().stream().filter(s -> s.getShard() == p.getShard())
            .findFirst().orElseThrow();
        assertEquals(0, h.getDeadLetters(), "shard " + p.getShard() + " on " + r.getNodeId() + " dead-lettered records");
        ManagedChannel ch = ManagedChannelBuilder.forTarget(r.getAddress()).usePlaintext().build();
        try {
          var stub = ShardSearchGrpc.newBlockingStub(ch);
          for (Map.Entry<String, IdHistory> e : new TreeMap<>(model).entrySet()) {
            if (Shards.of(e.getKey(), SHARDS) != p.getShard()) {
              continue;
            }
            FetchResponse f;
            try {
              f = stub.withDeadlineAfter(10, TimeUnit.SECONDS)
                  .fetch(FetchRequest.newBuilder().setShard(p.getShard()).setId(e.getKey()).build());
            } catch (StatusRuntimeException moved) {
              event("replica moved while verifying (" + moved.getStatus() + "); converging again");
              return false;
            }
            IdHistory m = e.getValue();
            String where = e.getKey() + " on " + r.getNodeId() + " (shard " + p.getShard() + ")";
            if (m.deleted) {
              assertTrue(!f.getFound(), where + " was deleted but is there");
            } else {
              assertTrue(f.getFound(), where + " is missing");
              assertEquals(m.version, (int) f.getDocument().getFieldsMap().get("v").getNumber(), where + ": version");
            }
            checked++;
          }
        } finally {
          ch.shutdownNow();
        }
      }
    }
    event("every replica equals the model: " + checked + " (replica, id) pairs fetched");
    return true;
  }

  /** Every live document is the top BM25 hit for its own marker term, through a query service. */
  private void verifySearch(String bootstrap, Map<String, IdHistory> model) throws Exception {
    List<String> live = model.entrySet().stream().filter(e -> !e.getValue().deleted).map(Map.Entry::getKey).sorted()
        .toList();
    try (QueryService q = new QueryService(QueryServiceConfig.defaults(bootstrap, "127.0.0.1:1")
        .withResultCacheBytes(0)).start()) {
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!q.ready() && System.nanoTime() < until) {
        Thread.sleep(50);
      }
      ManagedChannel ch = ManagedChannelBuilder.forAddress("127.0.0.1", q.grpcPort()).usePlaintext().build();
      try {
        var stub = SearchServiceGrpc.newBlockingStub(ch);
        // a new query service knows the replicas' states once it has read a round of heartbeats
        SearchRequest probe = SearchRequest.newBuilder().setQuery("item").setProfile(RankProfile.BM25).build();
        while (stub.withDeadlineAfter(10, TimeUnit.SECONDS).search(probe).getPartial()
            && System.nanoTime() < until + TimeUnit.SECONDS.toNanos(10)) {
          Thread.sleep(100);
        }
        Map<String, String> wrong = new LinkedHashMap<>();
        for (String id : live) {
          String marker = "marker" + id.substring("doc-".length()) + "x";
          SearchResponse r = stub.withDeadlineAfter(10, TimeUnit.SECONDS).search(SearchRequest.newBuilder()
              .setQuery(marker).setProfile(RankProfile.BM25).setTopK(1).build());
          assertTrue(!r.getPartial(), "search for " + marker + " was partial: " + r.getShardNoticesList());
          List<String> ids = r.getHitsList().stream().map(Hit::getId).toList();
          if (!ids.equals(List.of(id))) {
            wrong.put(id, ids.toString());
          }
        }
        assertTrue(wrong.isEmpty(), "not found by search: " + wrong);
      } finally {
        ch.shutdownNow();
      }
    }
    event("all " + live.size() + " live documents found by a search for their marker");
  }
}
