package dev.shoal.query.internal;

import dev.shoal.api.v1.Hit;
import dev.shoal.api.v1.RankProfile;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.api.v1.SearchResponse;
import dev.shoal.query.WarmupReport;
import dev.shoal.query.WarmupSettings;
import dev.shoal.server.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

/**
 * Searches a query service runs through its own pipeline before it reports SERVING, so that users'
 * first queries find the search path compiled, the connections to the shards and the ranker open,
 * and the model run at the batch shapes concurrent queries make.
 *
 * <p>The service knows nothing of the corpus, so the texts adapt to it: the first searches are
 * dense ones (kNN answers whatever the words), and later texts are made of the words of the titles
 * and snippets that come back, 2 to 12 of them, so the lexical legs find hits and queries span the
 * token lengths users send. Every searching profile takes its turn.
 *
 * <p>Run it on a pipeline of its own (its own metrics registry, no result cache), sharing the
 * router, shard client and ranker with the serving one: the warm-up is then neither counted in the
 * service's metrics nor kept in its cache. Failures are counted, not thrown: each search has a
 * deadline of {@value #SEARCH_DEADLINE_MILLIS} ms, and {@value #FAILURES_IN_A_ROW} failures in a
 * row end the warm-up, so one against a cluster that cannot answer still ends soon and the service
 * reports SERVING as it would have without one.
 * {@link #run} blocks; one run per instance.
 */
public final class QueryWarmup {

  private static final Pattern WORD = Pattern.compile("[\\p{L}\\p{N}]{3,}");
  private static final Pattern TAG = Pattern.compile("<[^>]*>");
  /** Where the vocabulary starts: plain words a dense search answers in any corpus. */
  private static final List<String> SEEDS = List.of("introduction", "results of the study",
      "what is the effect of this", "history and overview", "how does it work", "methods and analysis");
  private static final RankProfile[] PROFILES = {RankProfile.NEURAL, RankProfile.BM25, RankProfile.HYBRID,
      RankProfile.DENSE};
  private static final int MAX_WORDS = 2_000;
  /** One search's deadline: a cold first search may take a second, a replica that is gone should not hold the rest. */
  static final long SEARCH_DEADLINE_MILLIS = 5_000;
  /** Failures in a row after which the warm-up stops: a cluster that cannot answer warms nothing. */
  static final int FAILURES_IN_A_ROW = 8;

  private final Searcher pipeline;
  private final Clock clock;
  private final List<String> words = new CopyOnWriteArrayList<>();

  /** The one call the warm-up makes: a search as the fronts run it. */
  @FunctionalInterface
  public interface Searcher {
    SearchResponse search(SearchRequest request, long deadlineNanos) throws Exception;
  }

  public QueryWarmup(Searcher pipeline, Clock clock) {
    this.pipeline = pipeline;
    this.clock = clock;
  }

  /** Runs the warm-up; returns when it is done, out of budget, or the thread is interrupted. */
  public WarmupReport run(WarmupSettings settings) throws InterruptedException {
    long start = clock.nanoTime();
    long end = start + TimeUnit.MILLISECONDS.toNanos(settings.budgetMillis());
    AtomicInteger next = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    AtomicInteger completed = new AtomicInteger();
    AtomicInteger failedInARow = new AtomicInteger();
    List<Thread> threads = new ArrayList<>();
    for (int c = 0; c < settings.clients(); c++) {
      threads.add(Thread.ofPlatform().daemon().name("query-warmup-" + c).start(() -> {
        int i;
        while ((i = next.getAndIncrement()) < settings.searches() && clock.nanoTime() < end
            && failedInARow.get() < FAILURES_IN_A_ROW && !Thread.currentThread().isInterrupted()) {
          try {
            learn(pipeline.search(request(i),
                Math.min(end, clock.nanoTime() + TimeUnit.MILLISECONDS.toNanos(SEARCH_DEADLINE_MILLIS))));
            failedInARow.set(0);
          } catch (InterruptedException e) {
            return;
          } catch (Exception e) {
            failed.incrementAndGet();
            failedInARow.incrementAndGet();
          }
          completed.incrementAndGet();
        }
      }));
    }
    try {
      for (Thread t : threads) {
        t.join();
      }
    } finally {
      threads.forEach(Thread::interrupt);
    }
    return new WarmupReport(completed.get(), failed.get(), (clock.nanoTime() - start) / 1e9);
  }

  /** The i-th warm-up search: profiles in turn, texts from the seeds until hits have taught some words. */
  SearchRequest request(int i) {
    RankProfile profile = words.isEmpty() ? RankProfile.DENSE : PROFILES[i % PROFILES.length];
    return SearchRequest.newBuilder().setQuery(text(i)).setProfile(profile).setTopK(10).build();
  }

  private String text(int i) {
    int n = words.size();
    if (n == 0) {
      return SEEDS.get(i % SEEDS.size());
    }
    // a cheap deterministic spread over the words learned so far, of 2..12 words
    int length = 2 + (i * 7) % 11;
    StringBuilder sb = new StringBuilder();
    long h = i * 0x9E3779B97F4A7C15L;
    for (int w = 0; w < length; w++) {
      h = h * 6364136223846793005L + 1442695040888963407L;
      sb.append(sb.isEmpty() ? "" : " ").append(words.get((int) Math.floorMod(h >>> 17, (long) n)));
    }
    return sb.toString();
  }

  private void learn(SearchResponse response) {
    if (words.size() >= MAX_WORDS) {
      return;
    }
    List<String> found = new ArrayList<>();
    for (Hit h : response.getHitsList()) {
      var m = WORD.matcher(h.getTitle() + " " + TAG.matcher(h.getSnippet()).replaceAll(" "));
      while (m.find() && found.size() < 64) {
        found.add(m.group().toLowerCase(Locale.ROOT));
      }
    }
    words.addAll(found);
  }
}
