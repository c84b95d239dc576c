package dev.shoal.query.internal;

import dev.shoal.api.v1.QuerySyntax;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.api.v1.SearchResponse;
import dev.shoal.cluster.HeartbeatWatcher;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.ToLongFunction;

/**
 * An LRU cache of complete answers bounded by bytes, keyed by the normalised request. Each entry
 * weighs its estimated heap size (key and answer, see {@link #weigh}); the least recently used
 * go first once the total passes the budget, and an answer heavier than an eighth of the budget
 * is not kept at all, so one k=1000 answer with explanations cannot flush the cache. An entry remembers
 * the searcher generation of every shard replica that answered; it is served only while each of
 * those replicas still reports the same generation (from heartbeats), so a refresh that changes
 * what a shard can see invalidates it. An answer from a generation newer than the replica's last
 * heartbeat is kept but not served until a heartbeat reports that generation. Partial and degraded answers are never cached.
 * Thread-safe.
 */
public final class ResultCache {

  /** A cached answer and the generation of each replica ("address/shard") it came from. */
  private record Cached(SearchResponse response, Map<String, Long> generations, long bytes) {
  }

  private final Map<SearchRequest, Cached> map = new LinkedHashMap<>(1 << 10, 0.75f, true);
  private final long budgetBytes;
  private long bytes;
  private long hits;
  private long misses;

  /** @param budgetBytes the most estimated heap the entries may hold together; positive */
  public ResultCache(long budgetBytes) {
    if (budgetBytes <= 0) {
      throw new IllegalArgumentException("cache budget must be positive, got " + budgetBytes);
    }
    this.budgetBytes = budgetBytes;
  }

  /**
   * Estimated heap of an entry: a protobuf message in memory holds its strings as Java strings and
   * each message, map and list behind object headers, so twice the serialized size plus a fixed
   * cost per hit (its message, field map and explanation nodes) and per entry, without walking the
   * object graph. ResultCacheTest measures heap held against this estimate for answers with
   * titles, snippets, a field and explanations, and requires it within 0.67x..1.5x.
   */
  static long weigh(SearchRequest key, SearchResponse response, Map<String, Long> generations) {
    return 2L * (key.getSerializedSize() + response.getSerializedSize()) + 400L * response.getHitsCount()
        + 64L * generations.size() + 256;
  }

  /**
   * The key: the validated request without what cannot change the answer (session, timeout);
   * plain queries with whitespace collapsed, as the analyzer and the tokenizer both see them. Case
   * is kept: the analyzer folds it, but a cased model embeds "US" and "us" differently.
   */
  public static SearchRequest key(SearchRequest validated) {
    SearchRequest.Builder k = validated.toBuilder().clearSession().clearTimeoutMs();
    if (validated.getSyntax() == QuerySyntax.PLAIN) {
      k.setQuery(validated.getQuery().strip().replaceAll("\\s+", " "));
    }
    return k.build();
  }

  /** The cached answer if every replica it came from still has the same generation, else null. */
  public synchronized SearchResponse get(SearchRequest key, ToLongFunction<String> currentGeneration) {
    Cached e = map.get(key);
    if (e != null) {
      for (Map.Entry<String, Long> g : e.generations().entrySet()) {
        long now = currentGeneration.applyAsLong(g.getKey());
        if (now == g.getValue()) {
          continue;
        }
        // a replica that answered from a generation its heartbeats have not reported yet: the
        // entry is not known to be current, but will be at the next heartbeat; kept, not served
        if (now == HeartbeatWatcher.UNKNOWN || now > g.getValue()) {
          map.remove(key);
          bytes -= e.bytes();
        }
        e = null;
        break;
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
    if (response.getPartial() || response.getDegraded()) {
      return;
    }
    long weight = weigh(key, response, generations);
    if (weight > budgetBytes / 8) {
      return;
    }
    Cached old = map.put(key, new Cached(response, Map.copyOf(generations), weight));
    bytes += weight - (old == null ? 0 : old.bytes());
    for (var it = map.values().iterator(); bytes > budgetBytes && it.hasNext(); ) {
      bytes -= it.next().bytes();
      it.remove();
    }
  }

  /** The estimated heap the entries hold now. */
  public synchronized long bytes() {
    return bytes;
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
