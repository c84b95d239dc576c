package dev.shoal.ranker.internal;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A bounded LRU cache of query embeddings, keyed by the query text: a search asks for the same
 * query's vector twice (kNN, then re-scoring), and popular queries repeat. Thread-safe; the
 * cached arrays are shared and must not be modified.
 */
public final class QueryEmbeddingCache {

  private final int capacity;
  private final Map<String, float[]> map;
  private long hits;
  private long misses;

  /** @param capacity queries kept; 0 keeps none */
  public QueryEmbeddingCache(int capacity) {
    this.capacity = capacity;
    this.map = new LinkedHashMap<>(Math.min(capacity, 1 << 16), 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, float[]> eldest) {
        return size() > capacity;
      }
    };
  }

  public synchronized float[] get(String query) {
    float[] v = capacity == 0 ? null : map.get(query);
    if (v == null) {
      misses++;
    } else {
      hits++;
    }
    return v;
  }

  public synchronized void put(String query, float[] vector) {
    if (capacity > 0) {
      map.put(query, vector);
    }
  }

  public synchronized int size() {
    return map.size();
  }

  public synchronized long hits() {
    return hits;
  }

  public synchronized long misses() {
    return misses;
  }
}
