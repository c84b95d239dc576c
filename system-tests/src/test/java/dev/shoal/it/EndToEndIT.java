package dev.shoal.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.shoal.api.v1.Document;
import dev.shoal.api.v1.Explanation;
import dev.shoal.api.v1.FusionParams;
import dev.shoal.api.v1.GetRequest;
import dev.shoal.api.v1.Hit;
import dev.shoal.api.v1.IndexRequest;
import dev.shoal.api.v1.IndexResponse;
import dev.shoal.api.v1.IngestServiceGrpc;
import dev.shoal.api.v1.RankProfile;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.api.v1.SearchResponse;
import dev.shoal.api.v1.SearchServiceGrpc;
import dev.shoal.cluster.KafkaSettings;
import dev.shoal.cluster.Topics;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.eval.BeirDataset;
import dev.shoal.testkit.EmbeddedKafka;
import dev.shoal.testkit.LocalCluster;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole read and write path on real parts: a KRaft broker, 500 SciFact documents produced
 * by a plain KafkaProducer (as any pipeline would), the enricher embedding them with
 * bge-small-en-v1.5, four shards on Lucene + RocksDB, and SearchService over gRPC and HTTP.
 */
class EndToEndIT {

  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir
  static Path dir;
  static EmbeddedKafka kafka;
  static LocalCluster cluster;
  static ManagedChannel channel;
  static SearchServiceGrpc.SearchServiceBlockingStub search;
  static BeirDataset scifact;
  static Map<String, BeirDataset.Doc> indexed = new LinkedHashMap<>();
  static Map<String, String> queryOfRelevantDoc = new LinkedHashMap<>();

  @BeforeAll
  static void start() throws Exception {
    String root = System.getProperty("shoal.repo.root", "..");
    scifact = new BeirDataset(Path.of(root, "testdata", "scifact"));
    Map<String, BeirDataset.Doc> corpus = new LinkedHashMap<>();
    scifact.forEachDoc(d -> corpus.put(d.id(), d));
    Map<String, String> queries = new LinkedHashMap<>();
    scifact.queries().forEach(q -> queries.put(q.id(), q.text()));
    // the relevant documents of the first 40 judged test queries, then the corpus in order, to 500
    for (Map.Entry<String, Map<String, Integer>> e : scifact.qrels("test").entrySet()) {
      if (queryOfRelevantDoc.size() >= 40) {
        break;
      }
      String doc = e.getValue().keySet().iterator().next();
      queryOfRelevantDoc.put(doc, queries.get(e.getKey()));
      indexed.put(doc, corpus.get(doc));
    }
    for (BeirDataset.Doc d : corpus.values()) {
      if (indexed.size() >= 500) {
        break;
      }
      indexed.putIfAbsent(d.id(), d);
    }

    kafka = new EmbeddedKafka(dir.resolve("kafka")).start();
    cluster = new LocalCluster(new LocalCluster.Options(dir, kafka.bootstrap(), 4,
        ModelSpec.BGE_SMALL_EN_V15.withMaxTokens(256), "127.0.0.1", 0, 0, 0, 2)).start();
    channel = ManagedChannelBuilder.forAddress("127.0.0.1", cluster.grpcPort()).usePlaintext().build();
    search = SearchServiceGrpc.newBlockingStub(channel);

    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrap());
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
      for (BeirDataset.Doc d : indexed.values()) {
        String json = JSON.writeValueAsString(Map.of("id", d.id(), "title", d.title(), "text", d.text()));
        producer.send(new ProducerRecord<>(Topics.DOCS, d.id(), json));
      }
      producer.send(new ProducerRecord<>(Topics.DOCS, "broken-1", "{\"id\": \"broken-1\", \"title\": 42"));
      producer.flush();
    }
    long until = System.nanoTime() + TimeUnit.MINUTES.toNanos(6);
    while (!(cluster.searchableDocs() == indexed.size() && cluster.caughtUp())) {
      if (System.nanoTime() > until) {
        throw new AssertionError("only " + cluster.searchableDocs() + " of " + indexed.size()
            + " documents searchable after 6 minutes");
      }
      Thread.sleep(250);
    }
  }

  @AfterAll
  static void stop() {
    if (channel != null) {
      channel.shutdownNow();
    }
    if (cluster != null) {
      cluster.close();
    }
    if (kafka != null) {
      kafka.close();
    }
  }

  private static SearchResponse run(String query, RankProfile profile) {
    return search.withDeadlineAfter(10, TimeUnit.SECONDS).search(SearchRequest.newBuilder().setQuery(query)
        .setTopK(10).setProfile(profile).setExplain(true).build());
  }

  @Test
  void relevantDocumentsAreInTheTopTenForTestQueries() {
    assertTrue(queryOfRelevantDoc.size() >= 20, "enough judged queries among the 500 documents");
    Map<RankProfile, Integer> found = new LinkedHashMap<>();
    for (RankProfile profile : List.of(RankProfile.BM25, RankProfile.NEURAL)) {
      int hits = 0;
      for (Map.Entry<String, String> e : queryOfRelevantDoc.entrySet()) {
        SearchResponse r = run(e.getValue(), profile);
        assertFalse(r.getPartial(), "all 4 shards answer");
        assertEquals(4, r.getShardsAnswered());
        assertFalse(r.getDegraded(), r.getDegradedReason());
        if (r.getHitsList().stream().anyMatch(h -> h.getId().equals(e.getKey()))) {
          hits++;
        }
      }
      found.put(profile, hits);
    }
    System.out.println("relevant document in the top 10, of " + queryOfRelevantDoc.size() + " queries: " + found);
    assertTrue(found.get(RankProfile.NEURAL) >= 5, "neural: " + found);
    assertTrue(found.get(RankProfile.BM25) >= 5, "bm25: " + found);
  }

  @Test
  void hitsCarryTitlesSnippetsAndExplanations() {
    Map.Entry<String, String> first = queryOfRelevantDoc.entrySet().iterator().next();
    SearchResponse r = run(first.getValue(), RankProfile.NEURAL);
    assertEquals(10, r.getHitsCount());
    Set<String> ids = new LinkedHashSet<>();
    double previous = Double.MAX_VALUE;
    for (Hit h : r.getHitsList()) {
      assertTrue(ids.add(h.getId()), "no duplicates");
      assertTrue(indexed.containsKey(h.getId()));
      assertEquals(indexed.get(h.getId()).title(), h.getTitle());
      assertTrue(h.getScore() <= previous, "descending scores");
      previous = h.getScore();
      Explanation e = h.getExplanation();
      assertEquals("rescore", e.getName(), "neural hits are re-scored");
      assertEquals("rrf(k=60)", e.getRule());
      assertEquals(h.getScore(), e.getValue(), 1e-12);
      Map<String, Explanation> inputs = new LinkedHashMap<>();
      e.getInputsList().forEach(in -> inputs.put(in.getName(), in));
      assertEquals(List.of("bm25", "cosine", "fusion"), List.copyOf(inputs.keySet()));
      assertEquals(3.0, inputs.get("cosine").getWeight(), 0, "the exact cosine weighs 3:1 over BM25");
      assertTrue(inputs.get("cosine").getRank() >= 1 && inputs.get("cosine").getRank() <= 100, "ranked in the head");
      assertTrue(Math.abs(inputs.get("cosine").getValue()) <= 1.0 + 1e-6, "a cosine");
      assertEquals(e.getValue(), inputs.get("bm25").getContribution() + inputs.get("cosine").getContribution(), 1e-12);
      assertEquals(List.of("bm25", "dense"), inputs.get("fusion").getInputsList().stream().map(Explanation::getName)
          .toList(), "the first phase that chose the head");
    }
    assertTrue(r.getHitsList().stream().anyMatch(h -> h.getSnippet().contains("<em>")), "highlighted snippets");
    assertTrue(r.getTimingsList().stream().anyMatch(t -> t.getStage().equals("rerank")));
  }

  /**
   * A retriever, a fusion rule and a rescorer added from test code (dev.shoal.it.stages, registered
   * in this module's META-INF/services): each is one class and one line, and a search runs them.
   */
  @Test
  void aRetrieverAFusionRuleAndARescorerAddedFromTestCodeAreSearchable() {
    String query = queryOfRelevantDoc.values().iterator().next();
    SearchRequest.Builder plan = SearchRequest.newBuilder().setQuery(query).setTopK(10).setExplain(true)
        .addRetrievers("bm25").addRetrievers("title").setFusion(FusionParams.newBuilder().setRule("max"));
    SearchResponse fused = search.withDeadlineAfter(10, TimeUnit.SECONDS).search(plan.clone().setRescorer("none")
        .build());
    assertEquals(10, fused.getHitsCount());
    Explanation top = fused.getHits(0).getExplanation();
    assertEquals("max(minmax)", top.getRule(), "the added fusion rule made the ranking");
    assertEquals(List.of("bm25", "title"), top.getInputsList().stream().map(Explanation::getName).toList());
    assertEquals(1.0, top.getValue(), 1e-12, "CombMAX: the best of either list scores 1");
    assertTrue(fused.getHitsList().stream().anyMatch(h -> h.getExplanation().getInputs(1).getRank() > 0),
        "the added retriever's list is among the hits");

    SearchResponse r = search.withDeadlineAfter(10, TimeUnit.SECONDS).search(plan.setRescorer("shortest-passage")
        .build());
    assertEquals(10, r.getHitsCount());
    assertFalse(r.getDegraded(), r.getDegradedReason());
    int previous = -1;
    for (Hit h : r.getHitsList()) {
      BeirDataset.Doc d = indexed.get(h.getId());
      int length = (d.title().isEmpty() ? d.text() : d.title() + ". " + d.text()).length();
      assertTrue(length >= previous, "the added rescorer put the shortest passages first");
      previous = length;
      Explanation e = h.getExplanation();
      assertEquals("shortest-passage", e.getName());
      assertEquals(-length, e.getValue(), 0);
      assertEquals("max(minmax)", e.getInputs(0).getRule(), "the first phase that chose the head");
    }
    StatusRuntimeException unknown = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
        () -> search.search(SearchRequest.newBuilder().setQuery(query).addRetrievers("nope").build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, unknown.getStatus().getCode());
    assertTrue(unknown.getStatus().getDescription().contains("known are [bm25, dense, title]"),
        unknown.getStatus().getDescription());
  }

  @Test
  void getReturnsTheStoredDocument() {
    BeirDataset.Doc d = indexed.values().iterator().next();
    var got = search.get(GetRequest.newBuilder().setId(d.id()).build());
    assertEquals(d.text(), got.getDocument().getText());
    StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
        () -> search.get(GetRequest.newBuilder().setId("no-such-document").build()));
    assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
  }

  @Test
  void httpSearchAndErrors() throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    String base = "http://127.0.0.1:" + cluster.httpPort();
    String q = URLEncoder.encode(queryOfRelevantDoc.values().iterator().next(), StandardCharsets.UTF_8);
    HttpResponse<String> ok = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/search?q=" + q + "&k=3"))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, ok.statusCode(), ok.body());
    JsonNode body = JSON.readTree(ok.body());
    assertEquals(3, body.get("hits").size());
    HttpResponse<String> post = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/search"))
        .POST(HttpRequest.BodyPublishers.ofString("{\"query\": \"vitamin D bone\", \"topK\": 2, \"profile\": \"BM25\"}"))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, post.statusCode(), post.body());
    assertEquals(2, JSON.readTree(post.body()).get("hits").size());
    HttpResponse<String> bad = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/search?q=x&k=5000")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(400, bad.statusCode());
    assertEquals("INVALID_ARGUMENT", JSON.readTree(bad.body()).get("code").asText());
    assertTrue(JSON.readTree(bad.body()).get("message").asText().contains("1000"));
    String id = indexed.keySet().iterator().next();
    HttpResponse<String> doc = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/docs/" + id)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, doc.statusCode());
    assertEquals(id, JSON.readTree(doc.body()).get("document").get("id").asText());
  }

  /** A client stream to IngestService.Index (30 s deadline); its one answer completes {@code result}. */
  private static StreamObserver<IndexRequest> upload(CompletableFuture<IndexResponse> result) {
    return IngestServiceGrpc.newStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS).index(new StreamObserver<>() {
      @Override
      public void onNext(IndexResponse r) {
        result.complete(r);
      }

      @Override
      public void onError(Throwable t) {
        result.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
      }
    });
  }

  @Test
  void ingestServiceAcknowledgesWhatKafkaAcceptedAndRejectsWhatBreaksTheFormat() throws Exception {
    CompletableFuture<IndexResponse> result = new CompletableFuture<>();
    StreamObserver<IndexRequest> upload = upload(result);
    upload.onNext(IndexRequest.newBuilder().setDocument(Document.newBuilder().setId("grpc-1")
        .setTitle("Uploaded over gRPC").setText("Zebrafish regenerate heart tissue after injury.")).build());
    upload.onNext(IndexRequest.newBuilder().setDocument(Document.newBuilder().setId("")
        .setTitle("no id")).build());
    upload.onNext(IndexRequest.newBuilder().setDocument(Document.newBuilder().setId("grpc-2")
        .setTitle("Second upload").setText("Axolotls regrow limbs.")).build());
    upload.onCompleted();
    IndexResponse r = result.get(30, TimeUnit.SECONDS);
    assertEquals(2, r.getAcknowledged());
    assertEquals(1, r.getRejectedCount());
    assertEquals(1, r.getRejected(0).getPosition());
    assertTrue(r.getRejected(0).getReason().contains("'id'"), r.getRejected(0).getReason());
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      try {
        assertEquals("Second upload", search.get(GetRequest.newBuilder().setId("grpc-2").build()).getDocument()
            .getTitle());
        assertEquals("Uploaded over gRPC", search.get(GetRequest.newBuilder().setId("grpc-1").build()).getDocument()
            .getTitle());
        break;
      } catch (StatusRuntimeException e) {
        if (System.nanoTime() > until) {
          throw e;
        }
        Thread.sleep(200);
      }
    }
  }

  @Test
  void repeatedSearchesComeFromTheCacheUntilAShardChanges() throws Exception {
    String q = "Quokka marsupial tail regeneration cache probe";
    SearchResponse first = run(q, RankProfile.BM25);
    assertTrue(first.getTimingsList().stream().noneMatch(t -> t.getStage().equals("cache")));
    // served from the cache once the heartbeats report the generations the answer came from: at
    // once, or after one heartbeat when a shard refreshed just before answering
    long cacheBy = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    SearchResponse computed = first;
    SearchResponse second = run("  quokka MARSUPIAL tail regeneration   cache probe", RankProfile.BM25);
    while (second.getTimingsList().stream().noneMatch(t -> t.getStage().equals("cache"))
        && System.nanoTime() < cacheBy) {
      computed = second;
      Thread.sleep(100);
      second = run("  quokka MARSUPIAL tail regeneration   cache probe", RankProfile.BM25);
    }
    assertTrue(second.getTimingsList().stream().anyMatch(t -> t.getStage().equals("cache")), "served from the cache");
    assertEquals(computed.getHitsList(), second.getHitsList(), "the cached answer is the one last computed");

    CompletableFuture<IndexResponse> done = new CompletableFuture<>();
    StreamObserver<IndexRequest> in = upload(done);
    in.onNext(IndexRequest.newBuilder().setDocument(Document.newBuilder().setId("quokka-1")
        .setTitle("Quokka marsupial tail regeneration").setText("A cache probe about quokka tails.")).build());
    in.onCompleted();
    assertEquals(1, done.get(30, TimeUnit.SECONDS).getAcknowledged());
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    SearchResponse after;
    do {
      Thread.sleep(250);
      after = run(q, RankProfile.BM25);
    } while (after.getHitsList().stream().noneMatch(h -> h.getId().equals("quokka-1")) && System.nanoTime() < until);
    assertEquals("quokka-1", after.getHits(0).getId(), "the shard's new generation invalidated the cached answer");
  }

  @Test
  void metricsAreServedInPrometheusFormat() throws Exception {
    run("vitamin D and bone density", RankProfile.NEURAL);
    HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
        URI.create("http://127.0.0.1:" + cluster.httpPort() + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode());
    String m = r.body();
    long indexed = m.lines().filter(l -> l.startsWith("shoal_indexer_documents_indexed_total{"))
        .mapToLong(l -> Long.parseLong(l.substring(l.lastIndexOf(' ') + 1))).sum();
    assertTrue(indexed >= indexed(), "every document counted, over the 4 shards: " + indexed);
    assertTrue(m.contains("shoal_enricher_records_total{outcome=\"dead_lettered\"} 1\n"), m);
    assertTrue(m.contains("shoal_indexer_consumer_lag{node=\"node-1\",shard=\"3\"} 0\n"), m);
    assertTrue(m.contains("shoal_search_stage_seconds_count{profile=\"neural\",stage=\"rerank\"}"), m);
    assertTrue(m.contains("# TYPE shoal_enricher_embed_seconds histogram"), m);
    assertTrue(m.contains("shoal_indexer_commit_seconds_bucket{node=\"node-1\",le=\"+Inf\"}"), m);
  }

  private static long indexed() {
    return indexed.size();
  }

  @Test
  void malformedRecordGoesToTheDeadLetterTopicWithItsReason() {
    List<ConsumerRecord<String, byte[]>> dlq = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(KafkaSettings.consumer(kafka.bootstrap(),
        "e2e-dlq-reader"))) {
      c.subscribe(List.of(Topics.DLQ));
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (dlq.isEmpty() && System.nanoTime() < until) {
        c.poll(Duration.ofMillis(500)).forEach(dlq::add);
      }
    }
    assertEquals(1, dlq.size());
    ConsumerRecord<String, byte[]> r = dlq.getFirst();
    assertEquals("broken-1", r.key());
    assertEquals("{\"id\": \"broken-1\", \"title\": 42", new String(r.value(), StandardCharsets.UTF_8),
        "original bytes kept");
    String reason = new String(r.headers().lastHeader(Topics.H_REASON).value(), StandardCharsets.UTF_8);
    assertTrue(reason.startsWith("not JSON"), reason);
    assertEquals(Topics.DOCS, new String(r.headers().lastHeader(Topics.H_SOURCE_TOPIC).value(), StandardCharsets.UTF_8));
  }
}
