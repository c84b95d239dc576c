package dev.shoal.indexnode.shard;

import dev.shoal.api.v1.Operation;
import dev.shoal.internal.v1.CorpusStatistics;
import dev.shoal.internal.v1.EnrichedDocument;
import dev.shoal.internal.v1.Leg;
import dev.shoal.internal.v1.ShardHit;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardSearchResponse;
import dev.shoal.internal.v1.StatisticsRequest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.lucene.queryparser.classic.ParseException;
import org.apache.lucene.index.StoredFields;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.MatchAllDocsQuery;
import org.apache.lucene.search.ScoreDoc;

/**
 * One shard: a Lucene index ({@link ShardIndex}: BM25 over title + text, HNSW over the embedding,
 * keyword and numeric filter fields, as {@link DocumentMapper} lays them out) and a RocksDB
 * document store ({@link DocStore}) holding each document's enriched record; searched by a
 * {@link ShardSearcher}.
 *
 * <p>Durability: {@link #apply} writes RocksDB through its WAL in one batch per call, together
 * with the next Kafka offset; {@link #commit} syncs that WAL, then makes Lucene durable with the
 * same offset in its commit user data, so no Lucene commit records an offset the document store
 * could lose. Recovery resumes from the lower of the two stores' offsets: records after it are
 * replayed, and upserts and deletes by id are idempotent and never replace a newer version of a
 * document with an older one, so a crash at any point loses nothing and doubles nothing.
 *
 * <p>Records that can never be applied (no value, unreadable, an embedding of another dimension,
 * no id) become dead letters: kept with their offset and reason, counted, and passed over.
 * {@link #abandon()} discards Lucene's uncommitted changes and closes the shard, for a caller that
 * reopens it from its commit after a failed apply.
 *
 * <p>Threading: {@link #apply}, {@link #commit} and {@link #abandon} from one writer thread;
 * {@link #refresh}, {@link #search}, {@link #hydrate} and {@link #load} from any thread, between a
 * successful {@link #tryAcquire()} and its {@link #release()}: closing the shard stops new
 * acquisitions and waits for the readers in flight before it frees RocksDB's native handles (a
 * read through a freed handle would crash the JVM).
 */
public final class ShardStore implements AutoCloseable {

  /** A record read from Kafka: its offset and the enriched document, or why it could not be read. */
  public record Record(long offset, EnrichedDocument document, String unreadable) {
    public static Record of(long offset, EnrichedDocument document) {
      return new Record(offset, document, null);
    }

    public static Record unreadable(long offset, String why) {
      return new Record(offset, null, why);
    }
  }

  /** What a shard could not apply. */
  public record DeadLetter(long offset, String reason) {
  }

  /** A fault a test injects on purpose before a batch is applied (nothing else uses it). */
  public interface FaultInjection {
    void beforeApply(int shard, long firstOffset) throws IOException;
  }

  private final int shard;
  private final ShardIndex index;
  private final DocStore docs;
  private final ShardSearcher searcher;
  private final long recoveredOffset;
  private final AtomicInteger deadLetterCount = new AtomicInteger();
  private volatile long appliedOffset;
  private volatile long committedOffset;
  private volatile long visibleOffset;
  private volatile FaultInjection faults;
  private long pendingSinceCommit;
  private volatile int dimension;
  private volatile String model;
  private final Object readers = new Object();
  private int activeReaders;
  private boolean closing;

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
    long docsOffset = docs.offset();
    // a lost WAL tail leaves RocksDB behind the Lucene commit: replay from the lower offset
    this.recoveredOffset = Math.min(index.openedAtOffset(), docsOffset);
    this.appliedOffset = recoveredOffset;
    this.committedOffset = index.openedAtOffset();
    this.visibleOffset = recoveredOffset;
    this.dimension = docs.dimension() > 0 ? docs.dimension() : index.vectorDimension();
    this.model = docs.model();
    this.deadLetterCount.set(docs.deadLetters().size());
  }

  public int shard() {
    return shard;
  }

  /** The Kafka offset replay resumes from: the lower of the Lucene commit's and the document store's. */
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

  /** For tests: a fault to raise before each apply, or null for none. */
  public void injectFaults(FaultInjection f) {
    this.faults = f;
  }

  /**
   * Applies records in offset order; {@code nextOffset} is the offset after the last one.
   * Records that can never be applied become dead letters; an exception means nothing of the
   * batch is in the document store, and Lucene may hold part of it until {@link #abandon()}.
   */
  public void apply(List<Record> records, long nextOffset) throws IOException {
    FaultInjection f = faults;
    if (f != null && !records.isEmpty()) {
      f.beforeApply(shard, records.getFirst().offset());
    }
    Map<String, DocStore.Version> pending = new HashMap<>();
    int newDimension = 0;
    String newModel = null;
    try (DocStore.Batch batch = docs.batch()) {
      for (Record r : records) {
        String why = r.document() == null ? r.unreadable() : invalid(r.document(), newDimension, newModel);
        if (why != null) {
          batch.deadLetter(new DeadLetter(r.offset(), why));
          deadLetterCount.incrementAndGet();
          continue;
        }
        EnrichedDocument e = r.document();
        String id = e.getDocument().getId();
        DocStore.Version v = new DocStore.Version(e.getSourcePartition(), e.getSourceOffset());
        DocStore.Version stored = pending.containsKey(id) ? pending.get(id) : docs.version(id);
        if (!v.supersedes(stored)) {
          continue; // an older version of a document already replaced or deleted
        }
        pending.put(id, v);
        if (e.getOp() == Operation.DELETE) {
          index.delete(id);
          batch.delete(id, v);
        } else {
          if (dimension == 0 && newDimension == 0 && e.getEmbeddingCount() > 0) {
            newDimension = e.getEmbeddingCount();
            batch.dimension(newDimension);
          }
          if (model.isEmpty() && newModel == null && e.getEmbeddingCount() > 0 && !e.getModel().isEmpty()) {
            newModel = e.getModel();
            batch.model(newModel);
          }
          index.upsert(id, DocumentMapper.toLucene(e));
          batch.upsert(e, v);
        }
        pendingSinceCommit++;
      }
      batch.commit(nextOffset);
    }
    if (newDimension > 0) {
      dimension = newDimension;
    }
    if (newModel != null) {
      model = newModel;
    }
    appliedOffset = nextOffset;
  }

  /** Why a readable record can never be applied, or null. */
  private String invalid(EnrichedDocument e, int newDimension, String newModel) {
    if (e.getDocument().getId().isEmpty()) {
      return "enriched record without a document id";
    }
    if (e.getOp() == Operation.DELETE || e.getEmbeddingCount() == 0) {
      return null;
    }
    int d = dimension > 0 ? dimension : newDimension;
    if (d > 0 && e.getEmbeddingCount() != d) {
      return "embedding of dimension " + e.getEmbeddingCount() + " in a shard of dimension " + d + " (model '"
          + e.getModel() + "'): re-enrich with the shard's model";
    }
    String m = !model.isEmpty() ? model : newModel == null ? "" : newModel;
    if (!m.isEmpty() && !e.getModel().isEmpty() && !e.getModel().equals(m)) {
      return "embedding by model '" + e.getModel() + "' in a shard whose passages '" + m + "' embedded: one shard "
          + "holds one model's vectors; re-enrich with '" + m + "' or index into a new cluster";
    }
    return null;
  }

  ShardSearcher searcher() {
    return searcher;
  }

  /** The model that embedded this shard's passages, or "" before the first embedding. */
  public String model() {
    return model;
  }

  /** Documents applied since the last commit. */
  public long pendingSinceCommit() {
    return pendingSinceCommit;
  }

  /** Syncs the document store's WAL, then commits Lucene with the applied offset. */
  public void commit() throws IOException {
    long offset = appliedOffset;
    docs.syncWal();
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

  /**
   * Starts merging the shard's small segments into one, in the background, when it has two or more
   * (see {@link CompactingMergePolicy}): for a shard whose writes have paused. Writer thread.
   *
   * @return whether a compaction started; {@link #finishCompaction} then completes it
   */
  public boolean startCompaction() throws IOException {
    return index.startCompaction();
  }

  /**
   * Once the compaction's merge is done, makes it searchable and durable (a refresh, then a commit
   * at the applied offset, which moves no offset). Writer thread.
   *
   * @return false while the merge still runs
   */
  public boolean finishCompaction() throws IOException {
    if (index.merging()) {
      return false;
    }
    refresh();
    commit();
    return true;
  }

  public long docCount() {
    return index.docCount();
  }

  /** Segments of the current searcher (each query pays each term's lookup once per segment). */
  public int segments() {
    return index.segments();
  }

  public long searcherGeneration() {
    return index.searcherGeneration();
  }

  /** Records passed over as dead letters (since the shard was created). */
  public int deadLetterCount() {
    return deadLetterCount.get();
  }

  /** Every dead letter, in offset order. */
  public List<DeadLetter> deadLetters() {
    return docs.deadLetters();
  }

  /**
   * The request's legs and scorers against this shard's current searcher.
   *
   * @throws ParseException for invalid Lucene syntax
   */
  public ShardSearchResponse search(ShardSearchRequest req) throws ParseException, IOException {
    IndexSearcher s = index.acquire();
    try {
      return searcher.search(s, docs, req, model, dimension);
    } finally {
      index.release(s);
    }
  }

  /** A request's lexical legs parsed once, for the statistics and searches of all a node call's shards. */
  public LexicalLegs parse(List<Leg> legs) throws ParseException {
    return searcher.parse(legs);
  }

  /**
   * Holds this shard's current searcher for a node call: its search alone, or with the node's
   * other shards as one ({@link ShardGroup}), the legs parsed once for all of them. Close it (the
   * searcher is released).
   */
  public Pinned pin(LexicalLegs legs) throws IOException {
    return new Pinned(index.acquire(), legs);
  }

  /** A searcher held by {@link #pin}. Not thread-safe. */
  public final class Pinned implements AutoCloseable {
    private final IndexSearcher held;
    private final LexicalLegs legs;
    private LexicalLegs.Lookups lookups;
    private boolean closed;

    private Pinned(IndexSearcher held, LexicalLegs legs) {
      this.held = held;
      this.legs = legs;
    }

    public int shard() {
      return shard;
    }

    IndexSearcher searcher() {
      return held;
    }

    ShardStore store() {
      return ShardStore.this;
    }

    /** The legs' terms looked up in the held searcher, on first use. */
    private LexicalLegs.Lookups lookups() throws IOException {
      if (lookups == null) {
        lookups = legs.lookUp(held);
      }
      return lookups;
    }

    /**
     * @throws ModelMismatchException when the request's vectors come from another model than this
     *                                shard's passages
     */
    public void check(ShardSearchRequest req) {
      searcher.checkModels(req, model, dimension);
    }

    /** The search (its legs those the lookups were made for), on the held searcher. */
    public ShardSearchResponse search(ShardSearchRequest req) throws ParseException, IOException {
      return searcher.search(held, docs, req, model, dimension, lookups());
    }

    @Override
    public void close() throws IOException {
      if (!closed) {
        closed = true;
        index.release(held);
      }
    }
  }

  /** This shard's corpus statistics for the terms of some lexical legs (see {@link CorpusStats}). */
  public CorpusStatistics statistics(StatisticsRequest req) throws ParseException, IOException {
    IndexSearcher s = index.acquire();
    try {
      return searcher.statistics(s, req);
    } finally {
      index.release(s);
    }
  }

  /** The stored parts of a few documents (see {@link ShardSearcher#hydrate}). */
  public List<ShardHit> hydrate(Collection<String> ids, String highlight, List<String> fields, boolean withTitles,
                                boolean withSnippets, boolean withText) throws IOException {
    return searcher.hydrate(docs, ids, highlight, fields, withTitles, withSnippets, withText);
  }

  /** The ids of up to {@code n} of the documents visible now, the first in index order (a warm-up's sample). */
  public List<String> someIds(int n) throws IOException {
    IndexSearcher s = index.acquire();
    try {
      StoredFields stored = s.storedFields();
      List<String> ids = new ArrayList<>();
      for (ScoreDoc sd : s.search(new MatchAllDocsQuery(), n).scoreDocs) {
        ids.add(stored.document(sd.doc).get(ShardSchema.ID));
      }
      return ids;
    } finally {
      index.release(s);
    }
  }

  /** The stored enriched record of a document, or null. */
  public EnrichedDocument load(String id) throws IOException {
    return docs.load(id);
  }

  /** The offset RocksDB recorded with its last batch (for diagnostics and tests). */
  public long docStoreOffset() throws IOException {
    return docs.offset();
  }

  /** Takes a read reference; false once the shard is closing (the caller answers as if it were not hosted). */
  public boolean tryAcquire() {
    synchronized (readers) {
      if (closing) {
        return false;
      }
      activeReaders++;
      return true;
    }
  }

  public void release() {
    synchronized (readers) {
      if (--activeReaders == 0) {
        readers.notifyAll();
      }
    }
  }

  /** Refuses new readers and waits for those in flight (reads are short: a search, a few documents). */
  private void drainReaders() {
    synchronized (readers) {
      closing = true;
      boolean interrupted = false;
      while (activeReaders > 0) {
        try {
          readers.wait(1_000);
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** Discards Lucene's changes since the last commit and closes the shard without committing. */
  public void abandon() throws IOException {
    drainReaders();
    try {
      index.rollback();
    } finally {
      docs.close();
    }
  }

  @Override
  public void close() throws IOException {
    drainReaders();
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
