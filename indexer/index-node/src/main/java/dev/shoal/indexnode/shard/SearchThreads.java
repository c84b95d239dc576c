package dev.shoal.indexnode.shard;

import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.lucene.index.IndexReader;

/**
 * How many threads one search of a node's shards may use: while at most half the node's cores
 * are taken by calls in flight, a search spreads its segments over {@code threads} slices searched
 * at once, the calling thread taking slices too; on a busier node, the calling thread alone (a
 * second thread would only take a core from another search and add its hand-off). So a lone query
 * answers sooner, and throughput under load is that of one thread per search. The hits and scores
 * are the same either way ({@link SlicedSearcher}), and a reader too small to gain from a second
 * thread ({@link SlicedSearcher#MIN_DOCS_PER_SLICE}) is searched as one slice. Thread-safe; {@link
 * #close} stops the slice threads.
 */
public final class SearchThreads implements AutoCloseable {

  private final ExecutorService pool;
  private final int threads;
  private final int idleUpTo;
  private final AtomicInteger inFlight;
  private final int minDocsPerSlice;

  private SearchThreads(int threads, AtomicInteger inFlight, ExecutorService pool, int minDocsPerSlice) {
    this.threads = Math.max(1, threads);
    this.minDocsPerSlice = minDocsPerSlice;
    this.idleUpTo = Math.max(1, this.threads / 2);
    this.inFlight = inFlight;
    this.pool = pool;
  }

  /**
   * Up to {@code threads} per search while calls in flight ({@code inFlight}, this one included)
   * are at most half of them.
   */
  public static SearchThreads upTo(int threads, AtomicInteger inFlight) {
    return threads <= 1 ? one() : on(Executors.newFixedThreadPool(threads - 1, r -> {
      Thread t = new Thread(r, "shard-slice");
      t.setDaemon(true);
      return t;
    }), threads, inFlight);
  }

  /** One thread per search, always. */
  public static SearchThreads one() {
    return new SearchThreads(1, new AtomicInteger(), null, SlicedSearcher.MIN_DOCS_PER_SLICE);
  }

  /** As {@link #upTo}, the slices besides the caller's on {@code pool}, which {@link #close} shuts down. */
  public static SearchThreads on(ExecutorService pool, int threads, AtomicInteger inFlight) {
    return on(pool, threads, inFlight, SlicedSearcher.MIN_DOCS_PER_SLICE);
  }

  /** As {@link #on(ExecutorService, int, AtomicInteger)}, with slices of at least {@code minDocsPerSlice} documents. */
  public static SearchThreads on(ExecutorService pool, int threads, AtomicInteger inFlight, int minDocsPerSlice) {
    return new SearchThreads(threads, inFlight, pool, minDocsPerSlice);
  }

  /** Where a search starting now may run slices besides its own thread; null: on its own thread only. */
  public Executor forSearch() {
    return pool != null && inFlight.get() <= idleUpTo ? pool : null;
  }

  /** A searcher over {@code reader} for a search starting now: sliced as {@link #forSearch} allows. */
  public SlicedSearcher searcher(IndexReader reader) {
    return new SlicedSearcher(reader, forSearch(), threads, minDocsPerSlice);
  }

  @Override
  public void close() {
    if (pool != null) {
      pool.shutdownNow();
    }
  }
}
