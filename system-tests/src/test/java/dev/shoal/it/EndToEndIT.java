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
import dev.shoal.encoder.CrossEncoder;
import dev.shoal.encoder.CrossEncoderSpec;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.TestCrossEncoders;
import dev.shoal.encoder.reference.ReferenceCrossEncoder;
import dev.shoal.eval.BeirDataset;
import dev.shoal.indexnode.shard.ShardStore;
import dev.shoal.testkit.EmbeddedKafka;
import dev.shoal.testkit.HeadlessChromium;
import dev.shoal.query.QueryServiceConfig;
import dev.shoal.query.WarmupReport;
import dev.shoal.testkit.LocalCluster;
import dev.shoal.testkit.PrometheusScrape;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.opentelemetry.api.GlobalOpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
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
  static CrossEncoderSpec crossEncoder;
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
    crossEncoder = CrossEncoderSpec.fromDirectory(TestCrossEncoders.write(dir.resolve("tiny-cross-encoder"),
        TestCrossEncoders.small(1, 42)), 256);
    cluster = new LocalCluster(new LocalCluster.Options(dir, kafka.bootstrap(), 4,
        ModelSpec.BGE_SMALL_EN_V15.withMaxTokens(256), "127.0.0.1", 0, 0, 0, 2).withCrossEncoder(crossEncoder))
        .start();
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

  /** Whether the answer came from the query service's result cache (its timings then have a cache stage). */
  private static boolean servedFromCache(SearchResponse r) {
    return r.getTimingsList().stream().anyMatch(t -> t.getStage().equals("cache"));
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

  /**
   * The cross-encoder rescorer: the ranker's cross-encoder (a small random-weight BERT classifier,
   * as no real one ships) re-orders the hybrid head; each hit's explanation carries the model's
   * score of that very (query, passage) pair, which the plain-Java reference reproduces.
   */
  @Test
  void theCrossEncoderRescorerOrdersTheHeadByTheModelsScoreOfEachPair() {
    String query = queryOfRelevantDoc.values().iterator().next();
    SearchRequest.Builder req = SearchRequest.newBuilder().setQuery(query).setProfile(RankProfile.HYBRID)
        .setTopK(10).setRerankDepth(20).setExplain(true);
    SearchResponse firstPhase = search.withDeadlineAfter(10, TimeUnit.SECONDS).search(req.clone()
        .setRescorer("none").build());
    SearchResponse r = search.withDeadlineAfter(10, TimeUnit.SECONDS).search(req.setRescorer("cross-encoder").build());
    assertFalse(r.getDegraded(), r.getDegradedReason());
    assertEquals(10, r.getHitsCount());
    ReferenceCrossEncoder reference = new ReferenceCrossEncoder(crossEncoder);
    double previous = Double.POSITIVE_INFINITY;
    for (Hit h : r.getHitsList()) {
      Explanation e = h.getExplanation();
      assertEquals("rescore", e.getName());
      Explanation model = e.getInputsList().stream().filter(i -> i.getName().equals("cross-encoder")).findFirst()
          .orElseThrow(() -> new AssertionError("no cross-encoder signal in " + e));
      BeirDataset.Doc d = indexed.get(h.getId());
      String passage = d.title().isEmpty() ? d.text() : d.title() + ". " + d.text();
      float expected = reference.score(List.of(new CrossEncoder.TextPair(query, passage)))[0];
      assertEquals(expected, model.getValue(), 1e-3 * Math.max(1, Math.abs(expected)), "the pair's score: " + h.getId());
      assertTrue(model.getValue() <= previous, "best model score first");
      previous = model.getValue();
    }
    assertFalse(ids(firstPhase).equals(ids(r)), "the model re-ordered the head: " + ids(r));
  }

  private static List<String> ids(SearchResponse r) {
    return r.getHitsList().stream().map(Hit::getId).toList();
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
    // other tests write documents; once written to, a shard compacts its small segments when its
    // writes pause, a new generation that would rightly end a cached answer: wait that out first
    cluster.awaitCompacted(Duration.ofSeconds(60));
    String q = "Quokka marsupial tail regeneration cache probe";
    SearchResponse first = run(q, RankProfile.BM25);
    assertFalse(servedFromCache(first));
    // served from the cache once the heartbeats report the generations the answer came from: at
    // once, or after one heartbeat when a shard refreshed just before answering
    long cacheBy = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    SearchResponse computed = first;
    SearchResponse second = run("  quokka MARSUPIAL tail regeneration   cache probe", RankProfile.BM25);
    while (!servedFromCache(second) && System.nanoTime() < cacheBy) {
      computed = second;
      Thread.sleep(100);
      second = run("  quokka MARSUPIAL tail regeneration   cache probe", RankProfile.BM25);
    }
    assertTrue(servedFromCache(second), "served from the cache");
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
  void oneSearchIsOneTraceAcrossTheQueryServiceEveryIndexNodeItCalledAndTheRanker() throws Exception {
    InMemorySpanExporter exporter = InMemorySpanExporter.create();
    SdkTracerProvider tracer = SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(exporter))
        .build();
    GlobalOpenTelemetry.resetForTest();
    GlobalOpenTelemetry.set(OpenTelemetrySdk.builder().setTracerProvider(tracer)
        .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance())).build());
    try {
      // a query no other test sends, so neither the result cache nor the embedding cache answers it
      SearchResponse r = run("how are traces of white matter anisotropy measured in newborns", RankProfile.NEURAL);
      assertEquals(32, r.getTraceId().length(), "the response names its trace: " + r.getTraceId());
      List<SpanData> spans = new ArrayList<>();
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      do {
        Thread.sleep(50);
        spans = exporter.getFinishedSpanItems();
      } while (spans.stream().noneMatch(s -> s.getName().equals("shoal.v1.SearchService/Search"))
          && System.nanoTime() < until);
      List<SpanData> trace = spans.stream().filter(s -> s.getTraceId().equals(r.getTraceId())).toList();
      assertEquals(spans.size(), trace.size(), "every span of the search is in its one trace: " + spans);
      SpanData root = trace.stream().filter(s -> s.getName().equals("shoal.v1.SearchService/Search")).findFirst()
          .orElseThrow(() -> new AssertionError("no query service span: " + trace));
      assertEquals(SpanKind.SERVER, root.getKind());
      assertFalse(root.getParentSpanContext().isValid(), "the query service's span is the root");
      for (String stage : List.of("parse", "embed", "retrieve", "fetch")) {
        assertTrue(trace.stream().anyMatch(s -> s.getName().equals(stage)
            && s.getParentSpanId().equals(root.getSpanId())), "a span for the " + stage + " stage: " + trace);
      }
      // the first phase: one SearchShards call per node carrying its shards (a Search per shard
      // for a hedge, a retry, a node with one shard of the query)
      List<SpanData> shardCalls = trace.stream().filter(s -> s.getKind() == SpanKind.CLIENT
          && (s.getName().equals("shoal.internal.v1.ShardSearch/Search")
          || s.getName().equals("shoal.internal.v1.ShardSearch/SearchShards"))).toList();
      assertFalse(shardCalls.isEmpty(), "the first phase called the index node: " + trace);
      java.util.Set<String> nodes = new java.util.TreeSet<>();
      java.util.Set<Long> shards = new java.util.TreeSet<>();
      for (SpanData call : shardCalls) {
        SpanData served = trace.stream().filter(s -> s.getKind() == SpanKind.SERVER
            && s.getParentSpanId().equals(call.getSpanId())).findFirst()
            .orElseThrow(() -> new AssertionError("the index node called by " + call + " has no span in the trace"));
        List<Long> asked = shardsOf(call);
        assertEquals(asked, shardsOf(served), "the call and its server name the same shards");
        nodes.add(served.getAttributes().get(AttributeKey.stringKey("shoal.node")));
        shards.addAll(asked);
      }
      assertEquals(java.util.Set.of(0L, 1L, 2L, 3L), shards, "every shard answered inside the trace");
      assertEquals(java.util.Set.of("node-1"), nodes, "the cluster's index node names itself in its spans");
      SpanData embed = trace.stream().filter(s -> s.getKind() == SpanKind.CLIENT
          && s.getName().equals("shoal.internal.v1.Ranker/Embed")).findFirst()
          .orElseThrow(() -> new AssertionError("no call to the ranker: " + trace));
      assertTrue(trace.stream().anyMatch(s -> s.getKind() == SpanKind.SERVER
          && s.getName().equals("shoal.internal.v1.Ranker/Embed") && s.getParentSpanId().equals(embed.getSpanId())),
          "the ranker's span is the child of the query service's call: " + trace);
    } finally {
      GlobalOpenTelemetry.resetForTest();
      tracer.shutdown();
    }
  }

  @Test
  void theSearchPageShowsHitsExplanationsAndAComparisonInHeadlessChromium() throws Exception {
    // the page is checked against an answer the result cache holds, so no shard may change meanwhile
    cluster.awaitCompacted(Duration.ofSeconds(60));
    String query = "vitamin D and bone density";
    SearchResponse api = run(query, RankProfile.NEURAL);
    // cached once the heartbeats report the generations it came from: at once, or after one
    // heartbeat when a shard refreshed just before (as a compaction's last step does)
    long cachedBy = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (!servedFromCache(api) && System.nanoTime() < cachedBy) {
      Thread.sleep(100);
      api = run(query, RankProfile.NEURAL);
    }
    Path shots = Path.of("target", "screenshots");
    try (HeadlessChromium browser = HeadlessChromium.launch(dir.resolve("chromium"))) {
      HeadlessChromium.Page page = browser.newPage();
      page.viewport(1280, 900);
      page.navigate("http://127.0.0.1:" + cluster.httpPort() + "/");
      assertEquals("Shoal search", page.evaluate("document.title").asText());
      assertTrue(page.evaluate("document.activeElement.id").asText().equals("q"), "the query box has the focus");
      page.type(query);
      page.evaluate("document.getElementById('compare').value = 'bm25'");
      page.press("Enter");
      page.waitFor("document.querySelectorAll('#primary li.hit').length === 10"
          + " && document.querySelectorAll('#secondary li.hit').length === 10", Duration.ofSeconds(30));
      // what the page shows is what the API answers
      assertEquals(api.getHits(0).getTitle(), page.evaluate(
          "document.querySelector('#primary li.hit .title').textContent").asText());
      assertEquals(api.getHits(0).getId(), page.evaluate(
          "document.querySelector('#primary li.hit').dataset.id").asText());
      assertEquals(10, page.evaluate("document.querySelectorAll('#primary details.explain').length").asInt(),
          "every hit can explain its score");
      page.evaluate("document.querySelector('#primary details.explain').open = true");
      String tree = page.evaluate("document.querySelector('#primary details.explain .tree').innerText").asText();
      assertTrue(tree.contains("bm25") && tree.contains("cosine") && tree.contains("rank") && tree.contains("adds"),
          "the explanation names each signal with its value, rank and contribution: " + tree);
      assertEquals(10, page.evaluate("document.querySelectorAll('#primary .moved').length").asInt(),
          "each neural hit is marked against its bm25 rank");
      assertTrue(page.evaluate("document.querySelectorAll('#primary .moved.up, #primary .moved.down, "
          + "#primary .moved.new').length").asInt() > 0, "the profiles disagree somewhere on SciFact");
      assertTrue(page.evaluate("document.querySelectorAll('#primary .snippet em').length").asInt() > 0,
          "matched terms are highlighted");
      // the API call above filled the result cache, so the page's answer has the cache's stages
      String timings = page.evaluate("document.querySelector('#primary table.timings').innerText").asText();
      assertTrue(timings.contains("cache") && timings.contains("total") && timings.contains(" ms"),
          "the stage timings are shown: " + timings);
      String other = page.evaluate("document.querySelector('#secondary table.timings').innerText").asText();
      assertTrue(other.contains("retrieve") && other.contains("fetch"), "an uncached answer shows its stages: " + other);
      String url = page.evaluate("location.search").asText();
      assertTrue(url.contains("q=vitamin+D+and+bone+density") && url.contains("profile=neural")
          && url.contains("compare=bm25"), "the search is in the URL: " + url);
      page.screenshot(shots.resolve("search-page-desktop.png"));

      page.viewport(420, 900);
      page.waitFor("getComputedStyle(document.getElementById('columns')).gridTemplateColumns.split(' ').length === 1",
          Duration.ofSeconds(5));
      page.screenshot(shots.resolve("search-page-narrow.png"));

      // the URL alone brings the same search back, paged
      page.viewport(1280, 900);
      page.navigate("http://127.0.0.1:" + cluster.httpPort() + "/" + url + "&page=2");
      page.waitFor("document.querySelectorAll('#primary li.hit').length > 0", Duration.ofSeconds(30));
      assertEquals(11, page.evaluate("parseInt(document.querySelector('#primary li.hit .rank').textContent)").asInt(),
          "page 2 starts at hit 11");
      assertEquals(query, page.evaluate("document.getElementById('q').value").asText());
    }
  }

  /** The shard of a Search span, or the shards of a SearchShards span. */
  private static List<Long> shardsOf(SpanData span) {
    Long one = span.getAttributes().get(AttributeKey.longKey("shoal.shard"));
    List<Long> several = span.getAttributes().get(AttributeKey.longArrayKey("shoal.shards"));
    assertTrue(one != null ^ several != null, "a shard call names its shard or its shards: " + span);
    return one != null ? List.of(one) : several;
  }

  @Test
  void theWarmupSearchesTheRealShardsAndRankerAndIsCountedInNoSearchMetric() throws Exception {
    URI url = URI.create("http://127.0.0.1:" + cluster.httpPort() + "/metrics");
    PrometheusScrape before = PrometheusScrape.of(HttpClient.newHttpClient(), url, null);

    WarmupReport w = cluster.warmUp();

    PrometheusScrape after = PrometheusScrape.of(HttpClient.newHttpClient(), url, null);
    int searches = QueryServiceConfig.defaults("", "").warmup().searches();
    assertEquals(searches, w.searches(), "the whole warm-up ran: " + w);
    assertEquals(0, w.failed(), "every warm-up search answered: " + w);
    double shardCalls = 0;
    for (String method : List.of("Search", "SearchShards")) { // per shard, or per node for its shards
      shardCalls += after.sum("grpc_server_started_total", "grpc_service", "shoal.internal.v1.ShardSearch",
          "grpc_method", method) - before.sum("grpc_server_started_total", "grpc_service",
          "shoal.internal.v1.ShardSearch", "grpc_method", method);
    }
    assertTrue(shardCalls >= searches, "each warm-up search reached the shards over gRPC: " + shardCalls);
    double embeds = after.sum("grpc_server_started_total", "grpc_service", "shoal.internal.v1.Ranker",
        "grpc_method", "Embed") - before.sum("grpc_server_started_total", "grpc_service", "shoal.internal.v1.Ranker",
        "grpc_method", "Embed");
    assertTrue(embeds >= searches / 2.0, "the dense, hybrid and neural ones embedded their query: " + embeds);
    assertEquals(before.sum("shoal_search_stage_seconds"), after.sum("shoal_search_stage_seconds"),
        "no warm-up search in the service's own search metrics");
    assertEquals(before.sum("grpc_server_started_total", "grpc_service", "shoal.v1.SearchService"),
        after.sum("grpc_server_started_total", "grpc_service", "shoal.v1.SearchService"));
    // the README promises the warm-up's answers are kept in no cache: 400 new queries through the
    // serving pipeline would add entries (and bytes) to the result cache
    assertEquals(1, after.series("shoal_search_cache_entries"), "the serving result cache is on");
    assertEquals(before.sum("shoal_search_cache_entries"), after.sum("shoal_search_cache_entries"),
        "no warm-up answer in the result cache");
    assertEquals(before.sum("shoal_search_cache_bytes"), after.sum("shoal_search_cache_bytes"));
  }

  @Test
  void shardsMergeTheirSmallSegmentsOnceWritesPauseAndTheMetricShowsIt() throws Exception {
    cluster.awaitCompacted(Duration.ofSeconds(60));
    URI url = URI.create("http://127.0.0.1:" + cluster.httpPort() + "/metrics");
    PrometheusScrape m = PrometheusScrape.of(HttpClient.newHttpClient(), url, null);
    long docs = 0;
    for (ShardStore s : cluster.indexNode().shards().values()) {
      // a few hundred documents a shard, fed through the enricher over many refreshes: every
      // segment is far under the merge floor, so one is left
      assertEquals(1, s.segments(), "shard " + s.shard() + " merged its small segments into one");
      assertEquals(1, m.sum("shoal_indexer_segments", "node", "node-1", "shard", Integer.toString(s.shard())),
          "the gauge reads the searcher's segments");
      docs += s.docCount();
    }
    assertTrue(docs >= indexed.size(), "no document lost in the merges: " + docs);
    relevantDocumentsAreInTheTopTenForTestQueries();
  }

  @Test
  void metricsAreServedInPrometheusFormat() throws Exception {
    run("vitamin D and bone density", RankProfile.NEURAL);
    URI url = URI.create("http://127.0.0.1:" + cluster.httpPort() + "/metrics");
    HttpResponse<String> text = HttpClient.newHttpClient().send(HttpRequest.newBuilder(url).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, text.statusCode());
    assertTrue(text.headers().firstValue("content-type").orElse("").startsWith("text/plain; version=0.0.4"),
        "a scraper that asks for nothing gets the text format: " + text.headers().map());
    assertTrue(text.body().contains("# TYPE shoal_enricher_embed_seconds histogram"), text.body());
    // the same registry in the protobuf format, parsed by the Prometheus library's own classes
    PrometheusScrape m = PrometheusScrape.of(HttpClient.newHttpClient(), url, null);
    assertTrue(m.sum("shoal_indexer_documents_indexed_total") >= indexed(),
        "every document counted, over the 4 shards: " + m.sum("shoal_indexer_documents_indexed_total"));
    assertEquals(1, m.sum("shoal_enricher_records_total", "outcome", "dead_lettered"), "the broken record");
    assertEquals(1, m.series("shoal_indexer_consumer_lag", "node", "node-1", "shard", "3"));
    assertEquals(0, m.sum("shoal_indexer_consumer_lag", "node", "node-1", "shard", "3"), "caught up");
    assertTrue(m.sum("shoal_search_stage_seconds", "profile", "neural", "stage", "rerank") >= 1, "searches timed");
    assertEquals("HISTOGRAM", m.type("shoal_enricher_embed_seconds"));
    assertTrue(m.series("shoal_indexer_commit_seconds", "node", "node-1") == 1, "commits timed per node");
    // JVM and gRPC server metrics from the library
    assertTrue(m.families().contains("jvm_memory_used_bytes"), "JVM metrics: " + m.families());
    assertTrue(m.sum("grpc_server_handled_total", "grpc_service", "shoal.v1.SearchService", "grpc_method", "Search",
        "grpc_code", "OK") >= 1, "gRPC server metrics: " + m.families());
    // every metric the Grafana dashboard in deploy/ plots is one the cluster serves
    String root = System.getProperty("shoal.repo.root", "..");
    JsonNode dashboard = JSON.readTree(Path.of(root, "deploy", "grafana", "shoal-dashboard.json").toFile());
    java.util.regex.Matcher names = java.util.regex.Pattern.compile("\\b((?:shoal|grpc_server|jvm)_[a-z_]+)")
        .matcher(dashboard.findValuesAsText("expr").toString());
    Set<String> plotted = new java.util.TreeSet<>();
    while (names.find()) {
      plotted.add(names.group(1).replaceFirst("_(bucket|count|sum)$", ""));
    }
    assertTrue(plotted.size() >= 10, "the dashboard plots " + plotted);
    for (String name : plotted) {
      assertTrue(m.families().contains(name) || m.families().contains(name.replaceFirst("_total$", "")),
          "the dashboard plots " + name + ", which /metrics does not serve: " + m.families());
    }
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
