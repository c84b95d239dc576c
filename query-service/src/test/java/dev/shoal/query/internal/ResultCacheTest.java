package dev.shoal.query.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.api.v1.Explanation;
import dev.shoal.api.v1.FieldValue;
import dev.shoal.api.v1.Hit;
import dev.shoal.api.v1.QuerySyntax;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.api.v1.SearchResponse;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ResultCacheTest {

  private static final SearchResponse ANSWER = SearchResponse.newBuilder()
      .addHits(Hit.newBuilder().setId("d1")).setShardsAnswered(2).setShardsTotal(2).build();

  @Test
  void keyIgnoresSessionTimeoutAndSpacingOfPlainQueriesButKeepsCase() {
    SearchRequest a = SearchRequest.newBuilder().setQuery("  Vitamin   D ").setSyntax(QuerySyntax.PLAIN)
        .setSession("s1").setTimeoutMs(100).build();
    SearchRequest b = SearchRequest.newBuilder().setQuery("Vitamin D").setSyntax(QuerySyntax.PLAIN).build();
    assertEquals(ResultCache.key(a), ResultCache.key(b));
    assertNotEquals(ResultCache.key(b), ResultCache.key(b.toBuilder().setQuery("vitamin d").build()),
        "a cased model embeds the two differently");
    SearchRequest lucene = SearchRequest.newBuilder().setQuery("Vitamin AND D").setSyntax(QuerySyntax.LUCENE).build();
    assertEquals("Vitamin AND D", ResultCache.key(lucene).getQuery(), "operators are case-sensitive in Lucene syntax");
    assertNotEquals(ResultCache.key(b), ResultCache.key(b.toBuilder().setTopK(20).build()));
  }

  @Test
  void anEntryLivesUntilAReplicaReportsAnotherGeneration() {
    ResultCache cache = new ResultCache(1 << 20);
    SearchRequest key = ResultCache.key(SearchRequest.newBuilder().setQuery("q").build());
    Map<String, Long> current = new HashMap<>(Map.of("n1:1/0", 5L, "n1:1/1", 7L));
    cache.put(key, ANSWER, Map.of("n1:1/0", 5L, "n1:1/1", 7L));
    assertEquals(ANSWER, cache.get(key, r -> current.getOrDefault(r, Long.MIN_VALUE)));
    current.put("n1:1/1", 8L); // shard 1 refreshed
    assertNull(cache.get(key, r -> current.getOrDefault(r, Long.MIN_VALUE)));
    assertEquals(0, cache.size(), "the stale entry is dropped");
    assertEquals(1, cache.hits());
    assertEquals(1, cache.misses());
  }

  @Test
  void anAnswerNewerThanTheLastHeartbeatWaitsForItInsteadOfBeingDropped() {
    ResultCache cache = new ResultCache(1 << 20);
    SearchRequest key = ResultCache.key(SearchRequest.newBuilder().setQuery("q").build());
    Map<String, Long> current = new HashMap<>(Map.of("n1:1/0", 5L));
    // the shard refreshed to 6 and answered from it before its next heartbeat said so
    cache.put(key, ANSWER, Map.of("n1:1/0", 6L));
    assertNull(cache.get(key, r -> current.getOrDefault(r, Long.MIN_VALUE)), "not known to be current yet");
    assertEquals(1, cache.size(), "kept: the heartbeat lags the answer");
    current.put("n1:1/0", 6L);
    assertEquals(ANSWER, cache.get(key, r -> current.getOrDefault(r, Long.MIN_VALUE)));
    current.put("n1:1/0", 7L);
    assertNull(cache.get(key, r -> current.getOrDefault(r, Long.MIN_VALUE)));
    assertEquals(0, cache.size());
    cache.put(key, ANSWER, Map.of("n1:1/0", 7L));
    current.remove("n1:1/0"); // the replica went silent
    assertNull(cache.get(key, r -> current.getOrDefault(r, Long.MIN_VALUE)));
    assertEquals(0, cache.size(), "nothing is known of a silent replica: dropped");
  }

  @Test
  void partialAndDegradedAnswersAreNotCachedAndTheLeastRecentlyUsedGoFirst() {
    long one = ResultCache.weigh(SearchRequest.newBuilder().setQuery("a").build(), ANSWER, Map.of());
    ResultCache cache = new ResultCache(8 * one + one / 2);
    SearchRequest k1 = SearchRequest.newBuilder().setQuery("one").build();
    cache.put(k1, ANSWER.toBuilder().setPartial(true).build(), Map.of());
    cache.put(k1, ANSWER.toBuilder().setDegraded(true).build(), Map.of());
    assertEquals(0, cache.size());
    for (String q : new String[] {"a", "b", "c", "d", "e", "f", "g", "h", "i"}) {
      cache.put(SearchRequest.newBuilder().setQuery(q).build(), ANSWER, Map.of());
    }
    assertEquals(8, cache.size());
    assertTrue(cache.bytes() <= 8 * one + one / 2);
    assertNull(cache.get(SearchRequest.newBuilder().setQuery("a").build(), r -> 0), "least recently used went first");
  }

  /** A k=1000 answer as a NEURAL search returns it: titles, snippets, a field, explanations. */
  private static SearchResponse bigAnswer(int n, int k) {
    SearchResponse.Builder r = SearchResponse.newBuilder().setShardsAnswered(3).setShardsTotal(3);
    for (int i = 0; i < k; i++) {
      r.addHits(Hit.newBuilder().setId("doc-" + n + "-" + i).setScore(1.0 / (i + 1))
          .setTitle("A title of about eighty characters for hit " + i + " of answer " + n + " ........")
          .setSnippet("…" + "snippet text with an <em>highlighted</em> term ".repeat(6))
          .putFields("year", FieldValue.newBuilder().setNumber(2000 + i % 20).build())
          .setExplanation(Explanation.newBuilder().setName("fusion").setValue(0.1).setRule("rrf(k=10)")
              .addInputs(Explanation.newBuilder().setName("bm25").setValue(12.5).setRank(i + 1).setWeight(1))
              .addInputs(Explanation.newBuilder().setName("dense").setValue(0.8).setRank(i + 2).setWeight(1))));
    }
    return r.build();
  }

  private static long usedHeapAfterGc() throws InterruptedException {
    Runtime rt = Runtime.getRuntime();
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(50);
    }
    return rt.totalMemory() - rt.freeMemory();
  }

  /**
   * The review's case: a sweep over many distinct deep queries. By entry count (10,000 answers)
   * the cache kept every one of them, about 1.5 GB for these 1,000; by bytes it keeps its budget.
   */
  @Test
  void manyDeepAnswersStayWithinTheByteBudget() throws Exception {
    long budget = 32L << 20;
    long before = usedHeapAfterGc();
    ResultCache cache = new ResultCache(budget);
    for (int n = 0; n < 1_000; n++) {
      SearchRequest key = SearchRequest.newBuilder().setQuery("query " + n).setTopK(1000).build();
      SearchResponse answer = bigAnswer(n, 1000);
      cache.put(key, answer, Map.of("n1:1/0", 1L));
    }
    long held = usedHeapAfterGc() - before;
    assertTrue(cache.bytes() <= budget, "estimate " + cache.bytes() + " within " + budget);
    assertTrue(cache.size() > 0 && cache.size() < 1_000, "kept " + cache.size());
    assertTrue(held < 3 * budget, "heap held " + (held >> 20) + " MiB for a budget of " + (budget >> 20) + " MiB");
  }

  /** The weight is an estimate of heap; it must not be far below what the entries really hold. */
  @Test
  void theWeightIsCloseToTheHeapAnEntryHolds() throws Exception {
    long before = usedHeapAfterGc();
    ResultCache cache = new ResultCache(1L << 34);
    for (int n = 0; n < 200; n++) {
      cache.put(SearchRequest.newBuilder().setQuery("query " + n).setTopK(100).build(), bigAnswer(n, 100), Map.of());
    }
    long held = usedHeapAfterGc() - before;
    double ratio = (double) held / cache.bytes();
    System.out.printf("result cache: estimated %d KiB, heap held %d KiB (ratio %.2f)%n", cache.bytes() >> 10,
        held >> 10, ratio);
    assertTrue(ratio > 0.67 && ratio < 1.5, "heap/estimate " + ratio);
  }
}
