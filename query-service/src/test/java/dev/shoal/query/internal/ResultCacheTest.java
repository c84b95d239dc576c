package dev.shoal.query.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

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
  void keyIgnoresSessionTimeoutCaseAndSpacingOfPlainQueries() {
    SearchRequest a = SearchRequest.newBuilder().setQuery("  Vitamin   D ").setSyntax(QuerySyntax.PLAIN)
        .setSession("s1").setTimeoutMs(100).build();
    SearchRequest b = SearchRequest.newBuilder().setQuery("vitamin d").setSyntax(QuerySyntax.PLAIN).build();
    assertEquals(ResultCache.key(a), ResultCache.key(b));
    SearchRequest lucene = SearchRequest.newBuilder().setQuery("Vitamin AND D").setSyntax(QuerySyntax.LUCENE).build();
    assertEquals("Vitamin AND D", ResultCache.key(lucene).getQuery(), "operators are case-sensitive in Lucene syntax");
    assertNotEquals(ResultCache.key(b), ResultCache.key(b.toBuilder().setTopK(20).build()));
  }

  @Test
  void anEntryLivesUntilAReplicaReportsAnotherGeneration() {
    ResultCache cache = new ResultCache(10);
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
  void partialAndDegradedAnswersAreNotCachedAndCapacityIsBounded() {
    ResultCache cache = new ResultCache(2);
    SearchRequest k1 = SearchRequest.newBuilder().setQuery("one").build();
    cache.put(k1, ANSWER.toBuilder().setPartial(true).build(), Map.of());
    cache.put(k1, ANSWER.toBuilder().setDegraded(true).build(), Map.of());
    assertEquals(0, cache.size());
    for (String q : new String[] {"a", "b", "c"}) {
      cache.put(SearchRequest.newBuilder().setQuery(q).build(), ANSWER, Map.of());
    }
    assertEquals(2, cache.size());
    assertNull(cache.get(SearchRequest.newBuilder().setQuery("a").build(), r -> 0), "least recently used went first");
  }
}
