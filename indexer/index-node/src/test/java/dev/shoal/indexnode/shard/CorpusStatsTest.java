package dev.shoal.indexnode.shard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.shoal.api.v1.QuerySyntax;
import dev.shoal.internal.CorpusStatisticsSum;
import dev.shoal.internal.v1.CorpusStatistics;
import dev.shoal.internal.v1.Leg;
import dev.shoal.internal.v1.LexicalLeg;
import java.io.BufferedReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.apache.lucene.store.Directory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * BM25 over shards with summed corpus statistics ranks exactly as one index over the whole corpus:
 * SciFact's corpus in one Lucene index and in four unevenly filled ones (as hashing fills shards),
 * the same queries, the same analyzer and similarity.
 */
class CorpusStatsTest {

  private static final int SHARDS = 4;
  private static final ShardQueries QUERIES = new ShardQueries(ShardSchema.analyzer());
  private static final List<Directory> dirs = new ArrayList<>();
  private static IndexSearcher whole;
  private static final List<IndexSearcher> shards = new ArrayList<>();
  private static final List<String> queries = new ArrayList<>();

  private record Hit(String id, float score) {
  }

  @BeforeAll
  static void index() throws Exception {
    Path data = Path.of(System.getProperty("shoal.repo.root", "../.."), "testdata", "scifact");
    ObjectMapper json = new ObjectMapper();
    Directory one = new ByteBuffersDirectory();
    dirs.add(one);
    List<IndexWriter> writers = new ArrayList<>();
    IndexWriter all = writer(one);
    for (int s = 0; s < SHARDS; s++) {
      Directory d = new ByteBuffersDirectory();
      dirs.add(d);
      writers.add(writer(d));
    }
    try (BufferedReader r = Files.newBufferedReader(data.resolve("corpus.jsonl"))) {
      String line;
      int n = 0;
      while ((line = r.readLine()) != null) {
        JsonNode d = json.readTree(line);
        Document doc = new Document();
        doc.add(new StringField(ShardSchema.ID, d.get("_id").asText(), Field.Store.YES));
        doc.add(new TextField(ShardSchema.CONTENTS, d.get("title").asText() + "\n" + d.get("text").asText(),
            Field.Store.NO));
        all.addDocument(doc);
        // uneven on purpose: half to shard 0, the rest spread, as a skewed hash would
        writers.get(n % 2 == 0 ? 0 : 1 + n % 3).addDocument(doc);
        n++;
      }
    }
    all.close();
    for (IndexWriter w : writers) {
      w.close();
    }
    whole = searcher(one);
    for (int s = 0; s < SHARDS; s++) {
      shards.add(searcher(dirs.get(s + 1)));
    }
    try (BufferedReader r = Files.newBufferedReader(data.resolve("queries.jsonl"))) {
      String line;
      while ((line = r.readLine()) != null && queries.size() < 300) {
        queries.add(json.readTree(line).get("text").asText());
      }
    }
  }

  @AfterAll
  static void close() throws Exception {
    whole.getIndexReader().close();
    for (IndexSearcher s : shards) {
      s.getIndexReader().close();
    }
    for (Directory d : dirs) {
      d.close();
    }
  }

  private static IndexWriter writer(Directory d) throws Exception {
    return new IndexWriter(d, new IndexWriterConfig(ShardSchema.analyzer()).setSimilarity(ShardSchema.similarity()));
  }

  private static IndexSearcher searcher(Directory d) throws Exception {
    IndexSearcher s = new IndexSearcher(DirectoryReader.open(d));
    s.setSimilarity(ShardSchema.similarity());
    return s;
  }

  private static List<Hit> top(IndexSearcher s, Query q, int k) throws Exception {
    List<Hit> out = new ArrayList<>();
    for (ScoreDoc sd : s.search(q, k).scoreDocs) {
      out.add(new Hit(s.storedFields().document(sd.doc).get(ShardSchema.ID), sd.score));
    }
    return out;
  }

  /** The merged top k of the shards, each scoring with the given statistics (or its own: null). */
  private static List<Hit> distributed(String text, boolean withSums) throws Exception {
    LexicalLeg leg = LexicalLeg.newBuilder().setText(text).setSyntax(QuerySyntax.PLAIN).build();
    CorpusStatistics sums = null;
    if (withSums) {
      List<CorpusStatistics> parts = new ArrayList<>();
      for (IndexSearcher s : shards) {
        parts.add(CorpusStats.local(s, QUERIES, List.of(leg)));
      }
      sums = CorpusStatisticsSum.of(parts);
    }
    Query q = QUERIES.lexical(text, QuerySyntax.PLAIN);
    List<Hit> merged = new ArrayList<>();
    for (IndexSearcher s : shards) {
      merged.addAll(top(sums == null ? s : CorpusStats.scoring(s, sums), q, 10));
    }
    merged.sort(Comparator.comparingDouble(Hit::score).reversed());
    return merged.subList(0, Math.min(10, merged.size()));
  }

  @Test
  void shardsScoringWithTheSummedStatisticsRankAsOneIndex() throws Exception {
    int differentWithoutSums = 0;
    for (String text : queries) {
      List<Hit> reference = top(whole, QUERIES.lexical(text, QuerySyntax.PLAIN), 10);
      List<Hit> shardsWithSums = distributed(text, true);
      assertEquals(reference.size(), shardsWithSums.size(), text);
      for (int i = 0; i < reference.size(); i++) {
        assertEquals(reference.get(i).score(), shardsWithSums.get(i).score(), 1e-4f, text + " @" + i);
        // ties may come in either order; a different document at a different score may not
        if (!reference.get(i).id().equals(shardsWithSums.get(i).id())) {
          int at = i;
          assertTrue(reference.stream().anyMatch(h -> h.id().equals(shardsWithSums.get(at).id())
              && Math.abs(h.score() - shardsWithSums.get(at).score()) < 1e-4f), text + " @" + i);
        }
      }
      if (!distributed(text, false).stream().map(Hit::id).toList().equals(reference.stream().map(Hit::id).toList())) {
        differentWithoutSums++;
      }
    }
    // the test can fail: with each shard's own statistics the rankings do differ
    assertTrue(differentWithoutSums > 0, "no query ranked differently with per-shard statistics");
    System.out.printf("%d queries: every top 10 as one index with summed statistics; %d differ with per-shard "
        + "statistics%n", queries.size(), differentWithoutSums);
  }

  /**
   * {@link LexicalLegs}: one lookup per term and shard gives the counts separate docFreq and
   * totalTermFreq calls give, and the search it feeds (term queries carrying their states) scores
   * every hit as the freshly parsed query does, with the summed statistics and without.
   */
  @Test
  void termsLookedUpOnceGiveTheSameStatisticsAndScores() throws Exception {
    List<String> texts = new ArrayList<>(queries.subList(0, 100));
    List<String> lucene = List.of("+vitamin -bone \"cell biology\" defici*", "title:cancer^3 OR (obesity AND -mice)");
    texts.addAll(lucene);
    int withStates = 0;
    for (String text : texts) {
      QuerySyntax syntax = lucene.contains(text) ? QuerySyntax.LUCENE : QuerySyntax.PLAIN;
      Leg leg = Leg.newBuilder().setName("bm25").setK(10).setLexical(LexicalLeg.newBuilder().setText(text)
          .setSyntax(syntax)).build();
      LexicalLegs legs = LexicalLegs.parse(QUERIES, List.of(leg));
      List<LexicalLegs.Lookups> lookups = new ArrayList<>();
      List<CorpusStatistics> parts = new ArrayList<>();
      for (IndexSearcher s : shards) {
        LexicalLegs.Lookups l = legs.lookUp(s);
        lookups.add(l);
        CorpusStatistics once = l.statistics();
        parts.add(once);
        for (var t : once.getTermsList()) {
          org.apache.lucene.index.Term term = new org.apache.lucene.index.Term(t.getField(),
              new org.apache.lucene.util.BytesRef(t.getTerm().toByteArray()));
          assertEquals(s.getIndexReader().docFreq(term), t.getDocFreq(), text + ": " + term);
          assertEquals(s.getIndexReader().totalTermFreq(term), t.getTotalTermFreq(), text + ": " + term);
        }
      }
      CorpusStatistics sums = CorpusStatisticsSum.of(parts);
      Query parsed = QUERIES.lexical(text, syntax);
      for (int i = 0; i < shards.size(); i++) {
        Query prepared = lookups.get(i).query(0);
        withStates += termStates(prepared);
        IndexSearcher scoring = CorpusStats.scoring(shards.get(i), sums);
        assertEquals(top(scoring, parsed, 10), top(scoring, prepared, 10), text + " with sums, shard " + i);
        assertEquals(top(shards.get(i), parsed, 10), top(shards.get(i), prepared, 10), text + " own, shard " + i);
      }
    }
    assertTrue(withStates > 100 * SHARDS, "the term queries carried their looked-up states: " + withStates);
  }

  /** How many term queries in q carry term states. */
  private static int termStates(Query q) {
    int[] n = {0};
    q.visit(new org.apache.lucene.search.QueryVisitor() {
      @Override
      public void consumeTerms(Query query, org.apache.lucene.index.Term... terms) {
        if (query instanceof org.apache.lucene.search.TermQuery t && t.getTermStates() != null) {
          n[0]++;
        }
      }

      @Override
      public org.apache.lucene.search.QueryVisitor getSubVisitor(org.apache.lucene.search.BooleanClause.Occur occur,
                                                                 Query parent) {
        return this;
      }
    });
    return n[0];
  }

  @Test
  void aRepeatedQueryTermWeighsByItsCount() throws Exception {
    Query once = QUERIES.lexical("vitamin deficiency", QuerySyntax.PLAIN);
    Query twice = QUERIES.lexical("vitamin deficiency vitamins", QuerySyntax.PLAIN);
    List<Hit> a = top(whole, once, 1);
    assertEquals("(contents:vitamin)^2.0 contents:defici", twice.toString(), "vitamins stems to vitamin");
    assertTrue(top(whole, twice, 1).getFirst().score() > a.getFirst().score());
  }
}
