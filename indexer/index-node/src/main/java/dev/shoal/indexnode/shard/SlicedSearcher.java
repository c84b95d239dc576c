package dev.shoal.indexnode.shard;

import java.util.List;
import java.util.concurrent.Executor;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.search.IndexSearcher;

/**
 * An IndexSearcher that may spread one search over several threads: its segments grouped into
 * {@code threads} slices of about equal size (whole segments, largest first, as Lucene groups
 * them), searched at once on the executor and the calling thread (Lucene's task executor has the
 * caller take slices too, so a busy executor slows a search down to one thread, never blocks it).
 * With no executor, or fewer than {@link #MIN_DOCS_PER_SLICE} documents per slice, it searches
 * all its segments as one slice on the calling thread. Hits, scores and their order are those
 * of the single-threaded search (slices share the minimum competitive score; ties break by
 * document). Thread-safe as IndexSearcher is. Public so that a benchmark's baseline can slice as
 * the index node does.
 */
public class SlicedSearcher extends IndexSearcher {

  /**
   * The fewest documents a slice gets: a reader is cut into {@code min(threads, docs / this)}
   * slices (one, below twice this). A second thread pays its hand-off (a wake-up, a task, the
   * merge of two top k) only on a search large enough: BM25 over the demo's shards, one segment
   * each, copied n times ({@code bin/shoal bench slices}, {@code bench/slices.md}; p50 of one
   * thread against two slices, this 2-core VM): 5,183 documents 0.18-0.20 ms against 0.19,
   * 51,830 0.28-0.30 against 0.27-0.28, 207,320 0.48 against 0.35, 518,300 0.96-1.17 against
   * 0.72-0.76. Lucene's own default, 250,000, would leave the middle two on one thread.
   */
  public static final int MIN_DOCS_PER_SLICE = 20_000;

  private final Executor executor;
  private final int threads;
  private final int minDocsPerSlice;

  /**
   * @param executor        where slices other than the caller's run, or null for one thread
   * @param threads         how many slices to cut with an executor (at most; a reader with fewer
   *                        segments, or fewer than {@code minDocsPerSlice} documents a slice, gets fewer)
   * @param minDocsPerSlice the fewest documents a slice gets ({@link #MIN_DOCS_PER_SLICE} on a node)
   */
  public SlicedSearcher(IndexReader reader, Executor executor, int threads, int minDocsPerSlice) {
    super(reader, executor);
    this.executor = executor;
    this.threads = Math.max(1, threads);
    this.minDocsPerSlice = Math.max(1, minDocsPerSlice);
  }

  /** A searcher over {@code reader} that spreads as {@code like} does (on one thread if it is no SlicedSearcher). */
  SlicedSearcher(IndexReader reader, IndexSearcher like) {
    this(reader, like instanceof SlicedSearcher s ? s.executor : null, like instanceof SlicedSearcher s ? s.threads : 1,
        like instanceof SlicedSearcher s ? s.minDocsPerSlice : MIN_DOCS_PER_SLICE);
  }

  @Override
  protected LeafSlice[] slices(List<LeafReaderContext> leaves) {
    long docs = 0;
    for (LeafReaderContext leaf : leaves) {
      docs += leaf.reader().maxDoc();
    }
    // as many slices as hold the minimum each, at most one per thread
    long count = Math.max(1, Math.min(threads, docs / minDocsPerSlice));
    int perSlice = count == 1 ? Integer.MAX_VALUE : (int) Math.min(Integer.MAX_VALUE, (docs + count - 1) / count);
    return slices(leaves, perSlice, Integer.MAX_VALUE, false);
  }
}
