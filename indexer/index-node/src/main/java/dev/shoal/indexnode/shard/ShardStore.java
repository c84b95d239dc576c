package dev.shoal.indexnode.shard;

import dev.shoal.api.v1.Operation;
import dev.shoal.internal.v1.EnrichedDocument;
import dev.shoal.internal.v1.ShardHit;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardSearchResponse;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.apache.lucene.queryparser.classic.ParseException;
import org.apache.lucene.search.IndexSearcher;

/**
 * One shard: a Lucene index ({@link ShardIndex}: BM25 over title + text, HNSW over the embedding,
 * keyword and numeric filter fields, as {@link DocumentMapper} lays them out) and a RocksDB
 * document store ({@link DocStore}) holding each document's enriched record; searched by a
 * {@link ShardSearcher}.
 *
 * <p>Durability: {@link #apply} writes RocksDB through its WAL in one batch per call, together
 * with the next Kafka offset; {@link #commit} makes Lucene durable with the same offset in its
 * commit user data. Recovery resumes from the Lucene commit's offset: records between it and
 * RocksDB's offset are replayed, and upserts/deletes by id are idempotent, so a crash at any
 * point loses nothing and doubles nothing.
 *
 * <p>Threading: {@link #apply} and {@link #commit} from one writer thread; {@link #refresh},
 * {@link #search}, {@link #hydrate} and {@link #load} from any thread.
 */
public final class ShardStore implements AutoCloseable {

  private final int shard;
  private final ShardIndex index;
  private final DocStore docs;
  private final ShardSearcher searcher;
  private final long recoveredOffset;
  private volatile long appliedOffset;
  private volatile long committedOffset;
  private volatile long visibleOffset;
  private long pendingSinceCommit;

  public ShardStore(int shard, Path dir) throws IOException {
    this.shard = shard;
    this.index = new ShardIndex(dir.resolve("lucene"));
    try {
      this.docs = new DocStore(shard, dir.resolve("docs"));
    } catch (IOException | RuntimeException e) {
      index.close();
      throw e;
    }
    this.searcher = new ShardSearcher(shard);
    this.recoveredOffset = index.openedAtOffset();
    this.appliedOffset = recoveredOffset;
    this.committedOffset = recoveredOffset;
    this.visibleOffset = recoveredOffset;
  }

  public int shard() {
    return shard;
  }

  /** The Kafka offset to resume from: the one stored in the last Lucene commit. */
  public long recoveredOffset() {
    return recoveredOffset;
  }

  public long appliedOffset() {
    return appliedOffset;
  }

  public long committedOffset() {
    return committedOffset;
  }

  /** Records up to this offset (exclusive) are visible to searches. */
  public long visibleOffset() {
    return visibleOffset;
  }

  /** Applies records in offset order; {@code nextOffset} is the offset after the last one. */
  public void apply(Iterable<Map.Entry<Long, EnrichedDocument>> records, long nextOffset) throws IOException {
    for (Map.Entry<Long, EnrichedDocument> r : records) {
      EnrichedDocument e = r.getValue();
      String id = e.getDocument().getId();
      if (e.getOp() == Operation.DELETE) {
        index.delete(id);
      } else {
        index.upsert(id, DocumentMapper.toLucene(e));
      }
      pendingSinceCommit++;
    }
    docs.write(records, nextOffset);
    appliedOffset = nextOffset;
  }

  /** Documents applied since the last commit. */
  public long pendingSinceCommit() {
    return pendingSinceCommit;
  }

  /** A durable Lucene commit recording the applied offset. */
  public void commit() throws IOException {
    long offset = appliedOffset;
    index.commit(offset);
    committedOffset = offset;
    pendingSinceCommit = 0;
  }

  /** Near-real-time refresh: makes applied documents searchable. */
  public void refresh() throws IOException {
    long offset = appliedOffset;
    index.refresh();
    visibleOffset = offset;
  }

  public long docCount() {
    return index.docCount();
  }

  public long searcherGeneration() {
    return index.searcherGeneration();
  }

  /**
   * The request's legs and scorers against this shard's current searcher.
   *
   * @throws ParseException for invalid Lucene syntax
   */
  public ShardSearchResponse search(ShardSearchRequest req) throws ParseException, IOException {
    IndexSearcher s = index.acquire();
    try {
      return searcher.search(s, docs, req);
    } finally {
      index.release(s);
    }
  }

  /** The stored parts of a few documents (see {@link ShardSearcher#hydrate}). */
  public List<ShardHit> hydrate(Collection<String> ids, String highlight, List<String> fields, boolean withTitles,
                                boolean withSnippets, boolean withText) throws IOException {
    return searcher.hydrate(docs, ids, highlight, fields, withTitles, withSnippets, withText);
  }

  /** The stored enriched record of a document, or null. */
  public EnrichedDocument load(String id) throws IOException {
    return docs.load(id);
  }

  /** The offset RocksDB recorded with its last batch (for diagnostics and tests). */
  public long docStoreOffset() throws IOException {
    return docs.offset();
  }

  @Override
  public void close() throws IOException {
    try {
      if (pendingSinceCommit > 0 || appliedOffset != committedOffset) {
        commit();
      }
    } finally {
      try {
        index.close();
      } finally {
        docs.close();
      }
    }
  }
}
