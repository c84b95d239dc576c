package dev.shoal.indexnode.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.api.v1.Document;
import dev.shoal.api.v1.Operation;
import dev.shoal.api.v1.QuerySyntax;
import dev.shoal.indexnode.shard.SearchThreads;
import dev.shoal.indexnode.shard.ShardStore;
import dev.shoal.internal.CorpusStatisticsSum;
import dev.shoal.internal.v1.CorpusStatistics;
import dev.shoal.internal.v1.EnrichedDocument;
import dev.shoal.internal.v1.Leg;
import dev.shoal.internal.v1.LexicalLeg;
import dev.shoal.internal.v1.NodeSearchRequest;
import dev.shoal.internal.v1.NodeSearchResponse;
import dev.shoal.internal.v1.ShardFailure;
import dev.shoal.internal.v1.ShardHit;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardSearchResponse;
import dev.shoal.internal.v1.StatisticsRequest;
import dev.shoal.server.Metrics;
import io.grpc.Status;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code SearchShards} over two real shards whose term statistics differ ("vitamin" is common in
 * shard 0 and rare in shard 1), against what the query service would get from one {@code
 * Statistics} and one {@code Search} call per shard.
 */
class NodeSearchTest {

  @TempDir
  Path dir;
  private final Map<Integer, ShardStore> stores = new HashMap<>();
  private ShardSearchService service;

  @BeforeEach
  void shards() throws Exception {
    for (int shard = 0; shard < 2; shard++) {
      ShardStore s = new ShardStore(shard, dir.resolve("shard-" + shard));
      List<ShardStore.Record> rs = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        String text = shard == 0 ? "vitamin d and bone density, study " + i
            : (i % 8 == 0 ? "vitamin intake " : "calcium intake ") + "and bone growth in children, cohort " + i;
        rs.add(ShardStore.Record.of(i, EnrichedDocument.newBuilder().setOp(Operation.UPSERT).setSourceOffset(i)
            .setDocument(Document.newBuilder().setId("s" + shard + "-d" + i).setTitle("title " + shard + "/" + i)
                .setText(text)).build()));
      }
      s.apply(rs, rs.size());
      s.refresh();
      stores.put(shard, s);
    }
    service = new ShardSearchService("n1", stores::get, new AtomicInteger(), new Metrics());
  }

  @AfterEach
  void close() throws Exception {
    service.close();
    for (ShardStore s : stores.values()) {
      s.close();
    }
  }

  private static ShardSearchRequest query(String text, int hydrateTop) {
    return ShardSearchRequest.newBuilder().setHydrateTop(hydrateTop).setHighlight(text)
        .addLegs(Leg.newBuilder().setName("bm25").setK(20).setLexical(LexicalLeg.newBuilder().setText(text)))
        .build();
  }

  private NodeSearchResponse searchShards(ShardSearchRequest q, boolean sum, int... shards) {
    return searchShards(NodeSearchRequest.newBuilder().setRequest(q).setSumStatistics(sum), shards);
  }

  private NodeSearchResponse searchShards(NodeSearchRequest.Builder r, int... shards) {
    for (int s : shards) {
      r.addShards(s);
    }
    ShardSearchServiceTest.Answer<NodeSearchResponse> a = new ShardSearchServiceTest.Answer<>();
    service.searchShards(r.build(), a);
    try {
      return (NodeSearchResponse) a.await();
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  private ShardSearchResponse search(ShardSearchRequest q) {
    ShardSearchServiceTest.Answer<ShardSearchResponse> a = new ShardSearchServiceTest.Answer<>();
    service.search(q, a);
    return (ShardSearchResponse) a.got.get();
  }

  /** shard → (id → bm25 score) */
  private static Map<Integer, Map<String, Double>> scores(List<ShardSearchResponse> answers) {
    Map<Integer, Map<String, Double>> out = new TreeMap<>();
    for (ShardSearchResponse a : answers) {
      Map<String, Double> m = new TreeMap<>();
      a.getHitsList().forEach(h -> m.put(h.getId(), h.getSignalsOrThrow("bm25")));
      out.put(a.getShard(), m);
    }
    return out;
  }

  /** The round trips the node's own sums replace: Statistics from each shard, added up, then Search with the sums. */
  private List<ShardSearchResponse> withRoundTrip(ShardSearchRequest q, boolean summed) {
    List<CorpusStatistics> parts = new ArrayList<>();
    for (int s = 0; s < 2; s++) {
      ShardSearchServiceTest.Answer<CorpusStatistics> a = new ShardSearchServiceTest.Answer<>();
      service.statistics(StatisticsRequest.newBuilder().setShard(s).addLegs(q.getLegs(0).getLexical()).build(), a);
      parts.add((CorpusStatistics) a.got.get());
    }
    List<ShardSearchResponse> out = new ArrayList<>();
    for (int s = 0; s < 2; s++) {
      ShardSearchRequest.Builder one = q.toBuilder().setShard(s);
      if (summed) {
        one.setStatistics(CorpusStatisticsSum.of(parts));
      }
      out.add(search(one.build()));
    }
    return out;
  }

  @Test
  void theNodesSumsScoreAsTheStatisticsRoundTripDoes() {
    // the best 45: shard 1's 40 documents with "intake" (5 with "vitamin" too) lead, then 5 of
    // shard 0's 40 with "vitamin" alone
    ShardSearchRequest q = query("vitamin intake", 0);
    q = q.toBuilder().setLegs(0, q.getLegs(0).toBuilder().setK(45)).build();
    NodeSearchResponse r = searchShards(q, true, 0, 1);
    assertEquals(0, r.getFailuresCount(), r.getFailuresList().toString());
    assertTrue(r.getStatisticsSummed());
    assertEquals(2, r.getAnswersCount());
    // searched as one index: the best 45 over both shards, each hit in its own shard's answer, and
    // each scored as the round trip's sums score it
    Map<Integer, Map<String, Double>> node = scores(r.getAnswersList());
    Map<Integer, Map<String, Double>> trip = scores(withRoundTrip(q, true));
    assertEquals(45, node.values().stream().mapToInt(Map::size).sum(), r.toString());
    double floor = node.values().stream().flatMap(m -> m.values().stream()).mapToDouble(d -> d).min().orElseThrow();
    for (int shard = 0; shard < 2; shard++) {
      Map<String, Double> got = node.get(shard);
      Map<String, Double> expected = trip.get(shard);
      got.forEach((id, score) -> assertEquals(expected.get(id), score, 1e-6, id));
      expected.forEach((id, score) -> assertTrue(score <= floor || got.containsKey(id),
          id + " (" + score + ") is among the best 45 over both shards"));
    }
    assertTrue(node.get(0).size() > 0 && node.get(1).size() > 0, "both shards contribute: " + node);
    assertEquals(r.getAnswers(0).getTotalHits() + r.getAnswers(1).getTotalHits(),
        withRoundTrip(q, true).stream().mapToLong(ShardSearchResponse::getTotalHits).sum(), "the totals add up");
    assertNotEquals(trip, scores(withRoundTrip(q, false)),
        "each shard's own statistics score differently, so the comparison above could fail");
    NodeSearchResponse own = searchShards(q, false, 0, 1);
    assertFalse(own.getStatisticsSummed());
    assertEquals(scores(withRoundTrip(q, false)), scores(own.getAnswersList()), "not asked to sum: each by its own");
  }

  @Test
  void theNodeHydratesTheBestOfTheFirstLegOverAllItsShards() {
    NodeSearchResponse r = searchShards(query("vitamin bone", 5), true, 0, 1);
    List<ShardHit> all = new ArrayList<>();
    r.getAnswersList().forEach(a -> all.addAll(a.getHitsList()));
    all.sort(Comparator.<ShardHit>comparingDouble(h -> h.getSignalsOrThrow("bm25")).reversed()
        .thenComparing(ShardHit::getId));
    assertEquals(20, all.size(), "the best 20 over both shards");
    for (int i = 0; i < all.size(); i++) {
      ShardHit h = all.get(i);
      assertEquals(i < 5, h.getHydrated(), i + ": " + h);
      assertEquals(i < 5, !h.getTitle().isEmpty(), i + ": " + h);
    }
    assertTrue(all.subList(0, 5).stream().allMatch(h -> !h.getSnippet().isEmpty()));
  }

  @Test
  void theNodesOwnHydrateTopCountsOverAllItsShards() {
    NodeSearchResponse r = searchShards(NodeSearchRequest.newBuilder().setRequest(query("vitamin bone", 3))
        .setSumStatistics(true).setHydrateTop(12), 0, 1);
    List<ShardHit> all = new ArrayList<>();
    r.getAnswersList().forEach(a -> all.addAll(a.getHitsList()));
    all.sort(Comparator.<ShardHit>comparingDouble(h -> h.getSignalsOrThrow("bm25")).reversed()
        .thenComparing(ShardHit::getId));
    for (int i = 0; i < all.size(); i++) {
      assertEquals(i < 12, all.get(i).getHydrated(), i + ": the node's 12, not the shard request's 3");
    }
  }

  @Test
  void aShardTheNodeDoesNotHostFailsAloneAndTheOthersScoreByTheirOwn() {
    ShardSearchRequest q = query("vitamin bone", 3);
    NodeSearchResponse r = searchShards(q, true, 0, 1, 7);
    assertEquals(List.of(7), r.getFailuresList().stream().map(ShardFailure::getShard).toList());
    assertEquals(Status.Code.UNAVAILABLE.value(), r.getFailures(0).getCode());
    assertTrue(r.getFailures(0).getDescription().contains("not hosted"), r.getFailures(0).getDescription());
    assertFalse(r.getStatisticsSummed(), "two shards' sums are not the corpus's");
    assertEquals(scores(withRoundTrip(q, false)), scores(r.getAnswersList()));
  }

  @Test
  void invalidSyntaxFailsEveryShardWithInvalidArgument() {
    ShardSearchRequest q = ShardSearchRequest.newBuilder().addLegs(Leg.newBuilder().setName("bm25").setK(10)
        .setLexical(LexicalLeg.newBuilder().setText("vitamin AND (bone").setSyntax(QuerySyntax.LUCENE))).build();
    NodeSearchResponse r = searchShards(q, true, 0, 1);
    assertEquals(0, r.getAnswersCount());
    assertEquals(List.of(0, 1), r.getFailuresList().stream().map(ShardFailure::getShard).sorted().toList());
    for (ShardFailure f : r.getFailuresList()) {
      assertEquals(Status.Code.INVALID_ARGUMENT.value(), f.getCode(), f.toString());
      assertTrue(f.getDescription().contains("syntax"), f.getDescription());
    }
  }

  @Test
  void aSearchSpreadOverSlicesAnswersAsOneThreadDoes() throws Exception {
    // three more segments per shard, so that slices have segments to divide
    for (int shard = 0; shard < 2; shard++) {
      for (int segment = 0; segment < 3; segment++) {
        List<ShardStore.Record> rs = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
          long offset = 40 + segment * 30L + i;
          String text = (i % 3 == 0 ? "vitamin " : "") + (i % 2 == 0 ? "bone " : "calcium ") + "intake, wave " + segment
              + " participant " + i;
          rs.add(ShardStore.Record.of(offset, EnrichedDocument.newBuilder().setOp(Operation.UPSERT)
              .setSourceOffset(offset).setDocument(Document.newBuilder().setId("s" + shard + "-w" + segment + "-" + i)
                  .setTitle("wave " + segment).setText(text)).build()));
        }
        stores.get(shard).apply(rs, 40 + segment * 30L + rs.size());
        stores.get(shard).refresh();
      }
    }
    AtomicInteger inFlight = new AtomicInteger();
    AtomicInteger slicesRun = new AtomicInteger();
    ExecutorService pool = new ThreadPoolExecutor(3, 3, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>()) {
      @Override
      protected void beforeExecute(Thread t, Runnable r) {
        slicesRun.incrementAndGet();
      }
    };
    // slices of a handful of documents: a reader this small is one slice by default
    try (SearchThreads threads = SearchThreads.on(pool, 4, inFlight, 1);
         ShardSearchService sliced = new ShardSearchService("n1", stores::get, inFlight, new Metrics(), threads)) {
      for (String text : List.of("vitamin intake", "bone calcium", "participant wave", "vitamin")) {
        for (int k : new int[] {5, 20, 200}) {
          ShardSearchRequest q = query(text, 4);
          q = q.toBuilder().setLegs(0, q.getLegs(0).toBuilder().setK(k)).build();
          NodeSearchRequest r = NodeSearchRequest.newBuilder().setRequest(q).setSumStatistics(true)
              .addShards(0).addShards(1).build();
          ShardSearchServiceTest.Answer<NodeSearchResponse> a = new ShardSearchServiceTest.Answer<>();
          sliced.searchShards(r, a);
          NodeSearchResponse one = searchShards(r.toBuilder().clearShards(), 0, 1);
          NodeSearchResponse got = (NodeSearchResponse) a.await();
          assertEquals(0, got.getFailuresCount(), got.toString());
          assertTrue(got.getAnswers(0).getHitsCount() + got.getAnswers(1).getHitsCount() > 0, text);
          assertEquals(one, got, text + " top " + k + ": hits, scores, their order, totals and pages");
        }
      }
      assertTrue(slicesRun.get() > 0, "the searches above ran slices on the pool");
      // a busy node: each search on its own thread (calls in flight include the one asking)
      inFlight.set(2);
      assertNotNull(threads.forSearch(), "2 calls on 4 threads");
      inFlight.set(3);
      assertNull(threads.forSearch(), "3 calls on 4 threads");
      inFlight.set(0);
    } finally {
      pool.shutdownNow();
    }
  }
}
