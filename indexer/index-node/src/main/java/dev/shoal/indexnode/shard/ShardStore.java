package dev.shoal.indexnode.shard;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.shoal.api.v1.Document;
import dev.shoal.internal.v1.EnrichedDocument;
import dev.shoal.api.v1.FieldValue;
import dev.shoal.api.v1.Operation;
import dev.shoal.internal.v1.ShardHit;
import dev.shoal.internal.v1.ShardSearchRequest;
import dev.shoal.internal.v1.ShardSearchResponse;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.lucene.document.DoublePoint;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.KnnFloatVectorField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.StoredFields;
import org.apache.lucene.index.Term;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.apache.lucene.queryparser.classic.ParseException;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.KnnFloatVectorQuery;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.SearcherFactory;
import org.apache.lucene.search.SearcherManager;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.store.FSDirectory;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * One shard: a Lucene index (BM25 over title + text, HNSW over the embedding, keyword and
 * numeric filter fields) and a RocksDB store holding each document's enriched record.
 *
 * <p>Durability: {@link #apply} writes RocksDB through its WAL in one batch per call, together
 * with the next Kafka offset; {@link #commit} makes Lucene durable with the same offset in its
 * commit user data. Recovery resumes from the Lucene commit's offset: records between it and
 * RocksDB's offset are replayed, and upserts/deletes by id are idempotent, so a crash at any
 * point loses nothing and doubles nothing.
 *
 * <p>Threading: {@link #apply} and {@link #commit} from one writer thread; {@link #refresh},
 * {@link #search} and {@link #fetch} from any thread.
 */
public final class ShardStore implements AutoCloseable {

  public static final String COMMIT_OFFSET_KEY = "kafka.offset";
  private static final byte[] ROCKS_OFFSET_KEY = "\u0000meta.offset".getBytes(StandardCharsets.UTF_8);

  static {
    RocksDB.loadLibrary();
  }

  private final int shard;
  private final FSDirectory directory;
  private final IndexWriter writer;
  private final SearcherManager searchers;
  private final RocksDB docs;
  private final WriteOptions writeOptions = new WriteOptions();
  private final ShardQueries queries;
  private final Snippets snippets;
  private final long recoveredOffset;
  private volatile long appliedOffset;
  private volatile long committedOffset;
  private volatile long visibleOffset;
  private volatile long lag = -1;
  private long pendingSinceCommit;

  public ShardStore(int shard, Path dir) throws IOException {
    this.shard = shard;
    Files.createDirectories(dir.resolve("lucene"));
    this.directory = FSDirectory.open(dir.resolve("lucene"));
    IndexWriterConfig cfg = new IndexWriterConfig(ShardSchema.analyzer())
        .setSimilarity(ShardSchema.similarity())
        .setOpenMode(IndexWriterConfig.OpenMode.CREATE_OR_APPEND)
        .setRAMBufferSizeMB(64);
    this.writer = new IndexWriter(directory, cfg);
    this.searchers = new SearcherManager(writer, new SearcherFactory() {
      @Override
      public IndexSearcher newSearcher(org.apache.lucene.index.IndexReader reader,
                                       org.apache.lucene.index.IndexReader previous) {
        IndexSearcher s = new IndexSearcher(reader);
        s.setSimilarity(ShardSchema.similarity());
        return s;
      }
    });
    Map<String, String> userData = new HashMap<>();
    if (DirectoryReader.indexExists(directory)) {
      writer.getLiveCommitData().forEach(e -> userData.put(e.getKey(), e.getValue()));
    }
    this.recoveredOffset = Long.parseLong(userData.getOrDefault(COMMIT_OFFSET_KEY, "0"));
    this.appliedOffset = recoveredOffset;
    this.committedOffset = recoveredOffset;
    this.visibleOffset = recoveredOffset;
    Files.createDirectories(dir.resolve("docs"));
    try (Options options = new Options().setCreateIfMissing(true)) {
      this.docs = RocksDB.open(options, dir.resolve("docs").toString());
    } catch (RocksDBException e) {
      throw new IOException("cannot open RocksDB for shard " + shard + ": " + e.getMessage(), e);
    }
    this.queries = new ShardQueries(ShardSchema.analyzer());
    this.snippets = new Snippets(ShardSchema.analyzer());
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

  public long lag() {
    return lag;
  }

  public void setLag(long lag) {
    this.lag = lag;
  }

  /** Applies records in offset order; {@code nextOffset} is the offset after the last one. */
  public void apply(Iterable<Map.Entry<Long, EnrichedDocument>> records, long nextOffset) throws IOException {
    try (WriteBatch batch = new WriteBatch()) {
      for (Map.Entry<Long, EnrichedDocument> r : records) {
        EnrichedDocument e = r.getValue();
        String id = e.getDocument().getId();
        byte[] key = id.getBytes(StandardCharsets.UTF_8);
        if (e.getOp() == Operation.DELETE) {
          writer.deleteDocuments(new Term(ShardSchema.ID, id));
          batch.delete(key);
        } else {
          writer.updateDocument(new Term(ShardSchema.ID, id), toLucene(e));
          batch.put(key, e.toByteArray());
        }
        pendingSinceCommit++;
      }
      batch.put(ROCKS_OFFSET_KEY, ByteBuffer.allocate(8).putLong(nextOffset).array());
      docs.write(writeOptions, batch);
    } catch (RocksDBException e) {
      throw new IOException("RocksDB write failed on shard " + shard + ": " + e.getMessage(), e);
    }
    appliedOffset = nextOffset;
  }

  private static org.apache.lucene.document.Document toLucene(EnrichedDocument e) {
    Document d = e.getDocument();
    org.apache.lucene.document.Document doc = new org.apache.lucene.document.Document();
    doc.add(new StringField(ShardSchema.ID, d.getId(), Field.Store.YES));
    doc.add(new TextField(ShardSchema.CONTENTS, d.getTitle() + "\n" + d.getText(), Field.Store.NO));
    doc.add(new TextField(ShardSchema.TITLE, d.getTitle(), Field.Store.NO));
    if (e.getEmbeddingCount() > 0) {
      float[] v = new float[e.getEmbeddingCount()];
      for (int i = 0; i < v.length; i++) {
        v[i] = e.getEmbedding(i);
      }
      doc.add(new KnnFloatVectorField(ShardSchema.VECTOR, v, VectorSimilarityFunction.DOT_PRODUCT));
    }
    for (Map.Entry<String, FieldValue> f : d.getFieldsMap().entrySet()) {
      String kw = ShardSchema.KEYWORD_PREFIX + f.getKey();
      switch (f.getValue().getKindCase()) {
        case KEYWORD -> doc.add(new StringField(kw, f.getValue().getKeyword(), Field.Store.NO));
        case KEYWORDS -> f.getValue().getKeywords().getValuesList()
            .forEach(v -> doc.add(new StringField(kw, v, Field.Store.NO)));
        case NUMBER -> doc.add(new DoublePoint(ShardSchema.NUMBER_PREFIX + f.getKey(), f.getValue().getNumber()));
        default -> { }
      }
    }
    return doc;
  }

  /** Documents applied since the last commit. */
  public long pendingSinceCommit() {
    return pendingSinceCommit;
  }

  /** A durable Lucene commit recording the applied offset. */
  public void commit() throws IOException {
    long offset = appliedOffset;
    writer.setLiveCommitData(Map.of(COMMIT_OFFSET_KEY, Long.toString(offset)).entrySet());
    writer.commit();
    committedOffset = offset;
    pendingSinceCommit = 0;
  }

  /** Near-real-time refresh: makes applied documents searchable. */
  public void refresh() throws IOException {
    long offset = appliedOffset;
    searchers.maybeRefreshBlocking();
    visibleOffset = offset;
  }

  public long docCount() {
    return withSearcher(s -> (long) s.getIndexReader().numDocs());
  }

  public long searcherGeneration() {
    return withSearcher(s -> ((DirectoryReader) s.getIndexReader()).getVersion());
  }

  private interface SearcherFn<T> {
    T apply(IndexSearcher s) throws IOException;
  }

  private <T> T withSearcher(SearcherFn<T> fn) {
    try {
      IndexSearcher s = searchers.acquire();
      try {
        return fn.apply(s);
      } finally {
        searchers.release(s);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * BM25 and kNN legs of one request against this shard's current searcher.
   *
   * @throws ParseException for invalid Lucene syntax
   */
  public ShardSearchResponse search(ShardSearchRequest req) throws ParseException, IOException {
    Query filter = queries.filter(req.getFiltersList());
    Query lexical = req.getQuery().isEmpty() ? null : queries.lexical(req.getQuery(), req.getSyntax());
    IndexSearcher s = searchers.acquire();
    try {
      Map<String, ShardHit.Builder> hits = new LinkedHashMap<>();
      long total = 0;
      StoredFields stored = s.storedFields();
      if (lexical != null && req.getBm25K() > 0) {
        Query q = lexical;
        if (filter != null) {
          q = new BooleanQuery.Builder().add(lexical, BooleanClause.Occur.MUST)
              .add(filter, BooleanClause.Occur.FILTER).build();
        }
        TopDocs top = s.search(q, req.getBm25K());
        total = top.totalHits.value();
        int rank = 0;
        for (ScoreDoc sd : top.scoreDocs) {
          String id = stored.document(sd.doc).get(ShardSchema.ID);
          hits.computeIfAbsent(id, k -> ShardHit.newBuilder().setId(k))
              .setBm25Score(sd.score).setBm25Rank(++rank);
        }
      }
      if (req.getQueryVectorCount() > 0 && req.getDenseK() > 0) {
        float[] v = new float[req.getQueryVectorCount()];
        for (int i = 0; i < v.length; i++) {
          v[i] = req.getQueryVector(i);
        }
        TopDocs top = s.search(new KnnFloatVectorQuery(ShardSchema.VECTOR, v, req.getDenseK(), filter), req.getDenseK());
        int rank = 0;
        for (ScoreDoc sd : top.scoreDocs) {
          String id = stored.document(sd.doc).get(ShardSchema.ID);
          // Lucene scores DOT_PRODUCT as (1 + cos) / 2; report the cosine itself
          hits.computeIfAbsent(id, k -> ShardHit.newBuilder().setId(k))
              .setDenseScore(2.0 * sd.score - 1.0).setDenseRank(++rank);
        }
        if (lexical == null) {
          total = top.totalHits.value();
        }
      }
      ShardSearchResponse.Builder out = ShardSearchResponse.newBuilder().setShard(shard).setTotalHits(total)
          .setSearcherGeneration(((DirectoryReader) s.getIndexReader()).getVersion());
      boolean loadAll = req.getWithSnippets() || req.getWithVectors()
          || (req.getFieldsCount() > 0 && req.getHydrateTop() == 0);
      Set<String> toLoad = loadAll ? hits.keySet() : best(hits, req.getHydrateTop());
      if (toLoad.isEmpty()) {
        hits.values().forEach(out::addHits);
        return out.build();
      }
      Map<String, ShardHit> loaded = new HashMap<>();
      for (ShardHit h : hydrate(toLoad, req.getQuery(), req.getFieldsList(), true,
          req.getWithSnippets() || !loadAll, req.getWithVectors())) {
        loaded.put(h.getId(), h);
      }
      for (ShardHit.Builder h : hits.values()) {
        ShardHit d = loaded.get(h.getId());
        if (d != null) {
          out.addHits(h.mergeFrom(d).setHydrated(true));
        } else if (!toLoad.contains(h.getId())) {
          out.addHits(h);
        } // else deleted after the searcher was opened
      }
      return out.build();
    } finally {
      searchers.release(s);
    }
  }

  /** The ids of the n best hits, best first: by BM25 rank, or by kNN rank when there is no BM25 list. */
  private static Set<String> best(Map<String, ShardHit.Builder> hits, int n) {
    if (n <= 0) {
      return Set.of();
    }
    boolean lexical = hits.values().stream().anyMatch(h -> h.getBm25Rank() > 0);
    return hits.values().stream().filter(h -> (lexical ? h.getBm25Rank() : h.getDenseRank()) > 0)
        .sorted(java.util.Comparator.comparingInt(h -> lexical ? h.getBm25Rank() : h.getDenseRank()))
        .limit(n).map(ShardHit.Builder::getId).collect(java.util.stream.Collectors.toCollection(
            java.util.LinkedHashSet::new));
  }

  /**
   * The stored parts of a few documents that a search returned: title, a snippet highlighting
   * the terms of {@code query}, the requested fields, the embedding. Ids no longer stored are
   * left out. Each document is one RocksDB read.
   */
  public List<ShardHit> hydrate(Collection<String> ids, String query, List<String> fields, boolean withTitles,
                                boolean withSnippets, boolean withVectors) throws IOException {
    Set<String> terms = withSnippets && !query.isEmpty() ? new HashSet<>(queries.terms(query)) : Set.of();
    List<ShardHit> out = new ArrayList<>(ids.size());
    for (String id : ids) {
      EnrichedDocument e = load(id);
      if (e == null) {
        continue;
      }
      Document d = e.getDocument();
      ShardHit.Builder h = ShardHit.newBuilder().setId(id);
      if (withTitles) {
        h.setTitle(d.getTitle());
      }
      if (withSnippets) {
        h.setSnippet(snippets.snippet(d.getText(), terms));
      }
      for (String f : fields) {
        FieldValue v = d.getFieldsMap().get(f);
        if (v != null) {
          h.putFields(f, v);
        }
      }
      if (withVectors) {
        h.addAllVector(e.getEmbeddingList());
      }
      out.add(h.build());
    }
    return out;
  }

  /** The stored enriched record of a document, or null. */
  public EnrichedDocument load(String id) throws IOException {
    try {
      byte[] bytes = docs.get(id.getBytes(StandardCharsets.UTF_8));
      return bytes == null ? null : EnrichedDocument.parseFrom(bytes);
    } catch (RocksDBException | InvalidProtocolBufferException e) {
      throw new IOException("cannot read document '" + id + "' of shard " + shard + ": " + e.getMessage(), e);
    }
  }

  /** The offset RocksDB recorded with its last batch (for diagnostics and tests). */
  public long docStoreOffset() throws IOException {
    try {
      byte[] b = docs.get(ROCKS_OFFSET_KEY);
      return b == null ? 0 : ByteBuffer.wrap(b).getLong();
    } catch (RocksDBException e) {
      throw new IOException(e);
    }
  }

  @Override
  public void close() throws IOException {
    try {
      if (pendingSinceCommit > 0 || appliedOffset != committedOffset) {
        commit();
      }
    } finally {
      searchers.close();
      writer.close();
      directory.close();
      docs.close();
      writeOptions.close();
    }
  }
}
