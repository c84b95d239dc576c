package dev.shoal.query.internal;

import dev.shoal.api.v1.SearchResponse;
import dev.shoal.api.v1.StageTiming;
import dev.shoal.server.Metrics;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The query pipeline's metrics: stage latency per profile, partial, degraded and hedged counts.
 * Series are looked up once per (profile, stage) and kept, so a search formats no label strings.
 * Thread-safe.
 */
final class SearchMetrics {

  private record Key(String profile, String stage) {
  }

  private final Metrics metrics;
  private final Map<Key, Metrics.Histogram> stages = new ConcurrentHashMap<>();
  private final Map<String, Metrics.Counter> partial = new ConcurrentHashMap<>();
  private final Map<String, Metrics.Counter> degraded = new ConcurrentHashMap<>();
  private final Metrics.Counter hedged;

  SearchMetrics(Metrics metrics) {
    this.metrics = metrics;
    this.hedged = metrics.counter("shoal_search_hedged_total", "Shard requests sent to a second replica because the "
        + "first had not answered by its recent p95.");
    // every profile's counters exist from the start at 0, so rates and ratios have a series to read
    for (String profile : List.of("bm25", "dense", "hybrid", "neural", "custom")) {
      partial(profile);
      degraded(profile);
    }
  }

  private Metrics.Counter partial(String profile) {
    return partial.computeIfAbsent(profile, p -> metrics.counter("shoal_search_partial_total",
        "Answers missing at least one shard.", "profile", p));
  }

  private Metrics.Counter degraded(String profile) {
    return degraded.computeIfAbsent(profile, p -> metrics.counter("shoal_search_degraded_total",
        "Answers without a model stage (query embedding or re-scoring failed).", "profile", p));
  }

  void hedged(int n) {
    if (n > 0) {
      hedged.add(n);
    }
  }

  void record(SearchResponse r, String profile) {
    for (StageTiming t : r.getTimingsList()) {
      stages.computeIfAbsent(new Key(profile, t.getStage()), k -> metrics.histogram("shoal_search_stage_seconds",
          "Time spent per search stage.", Metrics.LATENCY_SECONDS, "profile", k.profile(), "stage", k.stage()))
          .observe(t.getMillis() / 1000);
    }
    if (r.getPartial()) {
      partial(profile).inc();
    }
    if (r.getDegraded()) {
      degraded(profile).inc();
    }
  }
}
