package dev.shoal.indexnode.shard;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.SearcherFactory;
import org.apache.lucene.search.SearcherManager;
import org.apache.lucene.store.FSDirectory;

/**
 * The Lucene half of a shard: an {@link IndexWriter} whose commits carry the Kafka offset they
 * include (commit user data {@value #COMMIT_OFFSET_KEY}), and near-real-time searchers.
 *
 * <p>Threading: updates and commits from one writer thread; {@link #refresh} and searches from
 * any thread.
 */
public final class ShardIndex implements AutoCloseable {

  public static final String COMMIT_OFFSET_KEY = "kafka.offset";

  private final FSDirectory directory;
  private final IndexWriter writer;
  private final SearcherManager searchers;
  private final CompactingMergePolicy mergePolicy = new CompactingMergePolicy();
  private final long committedOffset;

  public ShardIndex(Path dir) throws IOException {
    Files.createDirectories(dir);
    this.directory = FSDirectory.open(dir);
    IndexWriter w = null;
    try {
      IndexWriterConfig cfg = new IndexWriterConfig(ShardSchema.analyzer()).setSimilarity(ShardSchema.similarity())
          .setOpenMode(IndexWriterConfig.OpenMode.CREATE_OR_APPEND).setRAMBufferSizeMB(64).setMergePolicy(mergePolicy);
      w = new IndexWriter(directory, cfg);
      this.searchers = new SearcherManager(w, new SearcherFactory() {
        @Override
        public IndexSearcher newSearcher(IndexReader reader, IndexReader previous) {
          IndexSearcher s = new IndexSearcher(reader);
          s.setSimilarity(ShardSchema.similarity());
          return s;
        }
      });
    } catch (IOException | RuntimeException e) {
      if (w != null) {
        w.close(); // frees write.lock, so a retry can open the shard
      }
      directory.close();
      throw e;
    }
    this.writer = w;
    Map<String, String> userData = new HashMap<>();
    if (DirectoryReader.indexExists(directory)) {
      writer.getLiveCommitData().forEach(e -> userData.put(e.getKey(), e.getValue()));
    }
    this.committedOffset = Long.parseLong(userData.getOrDefault(COMMIT_OFFSET_KEY, "0"));
  }

  /** The offset stored in the commit this index was opened from (0 for a new index). */
  public long openedAtOffset() {
    return committedOffset;
  }

  public void upsert(String id, org.apache.lucene.document.Document doc) throws IOException {
    writer.updateDocument(new Term(ShardSchema.ID, id), doc);
  }

  public void delete(String id) throws IOException {
    writer.deleteDocuments(new Term(ShardSchema.ID, id));
  }

  /** A durable commit recording that everything before {@code offset} is in it. */
  public void commit(long offset) throws IOException {
    writer.setLiveCommitData(Map.of(COMMIT_OFFSET_KEY, Long.toString(offset)).entrySet());
    writer.commit();
  }

  /** Near-real-time refresh: makes the writer's changes searchable. */
  public void refresh() throws IOException {
    searchers.maybeRefreshBlocking();
  }

  /**
   * Starts merging the index's small segments into one on the writer's merge threads ({@link
   * CompactingMergePolicy}), unless there are fewer than two of them. Writer thread.
   *
   * @return whether a compaction started; then {@link #merging} is true until it is done, and a
   *         {@link #refresh} and a commit make it searchable and durable
   */
  public boolean startCompaction() throws IOException {
    long before = mergePolicy.compactions();
    writer.maybeMerge();
    return mergePolicy.compactions() > before;
  }

  /** Whether a merge (a compaction, or one the tiered policy chose) is waiting or running. */
  public boolean merging() {
    return writer.hasPendingMerges() || !writer.getMergingSegments().isEmpty();
  }

  /** The current searcher; every acquire must be followed by one {@link #release}. */
  public IndexSearcher acquire() throws IOException {
    return searchers.acquire();
  }

  public void release(IndexSearcher s) throws IOException {
    searchers.release(s);
  }

  public long docCount() {
    return read(s -> (long) s.getIndexReader().numDocs());
  }

  /** Segments of the current searcher. */
  public int segments() {
    return read(s -> s.getIndexReader().leaves().size());
  }

  /** Changes whenever the documents visible to searches change. */
  public long searcherGeneration() {
    return read(s -> ((DirectoryReader) s.getIndexReader()).getVersion());
  }

  private <T> T read(java.util.function.Function<IndexSearcher, T> fn) {
    try {
      IndexSearcher s = acquire();
      try {
        return fn.apply(s);
      } finally {
        release(s);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The dimension of the indexed embeddings, or 0 when none is indexed yet. */
  public int vectorDimension() {
    return read(s -> {
      for (var leaf : s.getIndexReader().leaves()) {
        var fi = leaf.reader().getFieldInfos().fieldInfo(ShardSchema.VECTOR);
        if (fi != null && fi.getVectorDimension() > 0) {
          return fi.getVectorDimension();
        }
      }
      return 0;
    });
  }

  /**
   * Discards every change since the last commit and closes this index (the writer cannot be used
   * again): what a failed apply undoes before the shard is reopened from its commit.
   */
  public void rollback() throws IOException {
    try {
      searchers.close();
    } finally {
      try {
        writer.rollback();
      } finally {
        directory.close();
      }
    }
  }

  @Override
  public void close() throws IOException {
    try {
      searchers.close();
    } finally {
      try {
        writer.close();
      } finally {
        directory.close();
      }
    }
  }
}
