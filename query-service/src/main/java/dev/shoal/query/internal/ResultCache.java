package dev.shoal.query.internal;

import dev.shoal.api.v1.QuerySyntax;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.api.v1.SearchResponse;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToLongFunction;

/**
 * A bounded LRU cache of complete answers, keyed by the normalised request. An entry remembers
 * the searcher generation of every shard replica that answered; it is served only while each of
 * those replicas still reports the same generation (from heartbeats), so a refresh that changes
 * what a shard can see invalidates it. Partial and degraded answers are never cached.
 * Thread-safe.
 */
public final class ResultCache {

  /** A cached answer and the generation of each replica ("address/shard") it came from. */
  private record Cached(SearchResponse response, Map<String, Long> generations) {
  }

  private final Map<SearchRequest, Cached> map;
  private long hits;
  private long misses;

  public ResultCache(int capacity) {
    this.map = new LinkedHashMap<>(Math.min(capacity, 1 << 16), 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<SearchRequest, Cached> eldest) {
        return size() > capacity;
      }
    };
  }

  /**
   * The key: the validated request without what cannot change the answer (session, timeout);
   * plain queries are lower-cased with whitespace collapsed, as both the analyzer and the
   * (uncased) model would see them.
   */
  public static SearchRequest key(SearchRequest validated) {
    SearchRequest.Builder k = validated.toBuilder().clearSession().clearTimeoutMs();
    if (validated.getSyntax() == QuerySyntax.PLAIN) {
      k.setQuery(validated.getQuery().strip().replaceAll("\\s+", " ").toLowerCase(Locale.ROOT));
    }
    return k.build();
  }

  /** The cached answer if every replica it came from still has the same generation, else null. */
  public synchronized SearchResponse get(SearchRequest key, ToLongFunction<String> currentGeneration) {
    Cached e = map.get(key);
    if (e != null) {
      for (Map.Entry<String, Long> g : e.generations().entrySet()) {
        if (currentGeneration.applyAsLong(g.getKey()) != g.getValue()) {
          map.remove(key);
          e = null;
          break;
        }
      }
    }
    if (e == null) {
      misses++;
      return null;
    }
    hits++;
    return e.response();
  }

  public synchronized void put(SearchRequest key, SearchResponse response, Map<String, Long> generations) {
    if (!response.getPartial() && !response.getDegraded()) {
      map.put(key, new Cached(response, Map.copyOf(generations)));
    }
  }

  public synchronized long hits() {
    return hits;
  }

  public synchronized long misses() {
    return misses;
  }

  public synchronized int size() {
    return map.size();
  }
}
