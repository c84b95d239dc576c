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
 * With no executor it searches all its segments as one slice on the calling thread (Lucene's
 * IndexSearcher cuts no slices then). Hits, scores and their order are those
 * of the single-threaded search (slices share the minimum competitive score; ties break by
 * document). Thread-safe as IndexSearcher is. Public so that a benchmark's baseline can slice as
 * the index node does.
 */
public class SlicedSearcher extends IndexSearcher {

  private final Executor executor;
  private final int threads;

  /**
   * @param executor where slices other than the caller's run, or null for one thread
   * @param threads  how many slices to cut with an executor (at most; a reader with fewer segments gets fewer)
   */
  public SlicedSearcher(IndexReader reader, Executor executor, int threads) {
    super(reader, executor);
    this.executor = executor;
    this.threads = Math.max(1, threads);
  }

  /** A searcher over {@code reader} that spreads as {@code like} does (on one thread if it is no SlicedSearcher). */
  SlicedSearcher(IndexReader reader, IndexSearcher like) {
    this(reader, like instanceof SlicedSearcher s ? s.executor : null, like instanceof SlicedSearcher s ? s.threads : 1);
  }

  @Override
  protected LeafSlice[] slices(List<LeafReaderContext> leaves) {
    long docs = 0;
    for (LeafReaderContext leaf : leaves) {
      docs += leaf.reader().maxDoc();
    }
    int perSlice = (int) Math.min(Integer.MAX_VALUE, Math.max(1, (docs + threads - 1) / threads));
    return slices(leaves, perSlice, Integer.MAX_VALUE, false);
  }
}
