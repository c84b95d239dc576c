package dev.shoal.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.api.v1.RankProfile;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.eval.BeirDataset;
import dev.shoal.eval.Qrels;
import dev.shoal.eval.Run;
import dev.shoal.eval.RunCollector;
import dev.shoal.eval.TrecEval;
import dev.shoal.testkit.DemoLoader;
import dev.shoal.testkit.LocalCluster;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.BoostQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.store.ByteBuffersDirectory;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Shoal's {@code bm25} profile against the reference BM25 of Lucene's toolkits (Anserini's BEIR
 * "flat" configuration), built here from Lucene alone and none of Shoal's code: one index, title
 * and text as one field, Lucene's English analyzer, BM25 k1 = 0.9, b = 0.4, a query as the bag
 * of its analysed words, each weighted by its count. Shoal runs the same corpus through Kafka,
 * the enricher and four shards on an index node, and is queried over gRPC. The two must agree:
 * nDCG@10 within 0.0005 and the same top 10 (up to documents of exactly equal score) for at least
 * 99% of the queries.
 */
class ReferenceBm25IT {

  private static final float K1 = 0.9f;
  private static final float B = 0.4f;

  @TempDir
  Path dir;

  private record Scored(String id, float score) {
  }

  @ParameterizedTest
  @ValueSource(strings = {"scifact", "cranfield", "cacm"})
  void shoalsBm25IsTheReferenceBm25(String name) throws Exception {
    BeirDataset data = new BeirDataset(Path.of(System.getProperty("shoal.repo.root", ".."), "testdata", name));
    Qrels qrels = Qrels.read(data.dir().resolve("qrels").resolve("test.tsv"));
    var judged = data.qrels("test").keySet();
    List<BeirDataset.Query> queries = data.queries().stream().filter(q -> judged.contains(q.id())).toList();

    Map<String, List<Scored>> reference = reference(data, queries);
    Run shoal;
    try (LocalCluster cluster = new LocalCluster(new LocalCluster.Options(dir, null, 4,
        ModelSpec.ALL_MINILM_L6_V2.withMaxTokens(64), "127.0.0.1", 0, 0, 0, 2)).start()) {
      DemoLoader.load(data, dir, cluster, new PrintStream(OutputStream.nullOutputStream()), System.nanoTime());
      RunCollector.Collected c = RunCollector.collect("127.0.0.1:" + cluster.grpcPort(), queries,
          SearchRequest.newBuilder().setProfile(RankProfile.BM25).setTopK(10).build(), null, "shoal", n -> { });
      assertEquals(0, c.partial(), "complete answers");
      shoal = c.run();
    }

    int same = 0;
    List<String> differ = new ArrayList<>();
    for (BeirDataset.Query q : queries) {
      if (sameTopTen(reference.get(q.id()), shoal.has(q.id()) ? shoal.of(q.id()) : List.of())) {
        same++;
      } else if (differ.size() < 5) {
        differ.add(q.id() + " reference " + reference.get(q.id()).subList(0, Math.min(3, reference.get(q.id()).size()))
            + " shoal " + (shoal.has(q.id()) ? shoal.of(q.id()).subList(0, Math.min(3, shoal.of(q.id()).size())) : "[]"));
      }
    }
    Map<String, List<Run.Entry>> ref = new LinkedHashMap<>();
    reference.forEach((qid, list) -> {
      List<Run.Entry> entries = new ArrayList<>();
      for (int i = 0; i < Math.min(10, list.size()); i++) {
        entries.add(new Run.Entry(list.get(i).id(), i + 1, list.get(i).score()));
      }
      ref.put(qid, entries);
    });
    TrecEval.Options opts = TrecEval.Options.defaults();
    double refNdcg = TrecEval.evaluate(qrels, new Run("reference", ref), List.of("ndcg_cut_10"), opts).all("ndcg_cut_10");
    double shoalNdcg = TrecEval.evaluate(qrels, shoal, List.of("ndcg_cut_10"), opts).all("ndcg_cut_10");
    String line = String.format(Locale.ROOT, "%s: %d queries, same top 10 for %d (%.1f%%); nDCG@10 reference %.4f, "
        + "shoal %.4f", name, queries.size(), same, 100.0 * same / queries.size(), refNdcg, shoalNdcg);
    System.out.println(line);
    Path out = Path.of("target", "reference-bm25.txt");
    Files.createDirectories(out.getParent());
    Files.writeString(out, line + System.lineSeparator(), java.nio.file.StandardOpenOption.CREATE,
        java.nio.file.StandardOpenOption.APPEND);
    assertTrue(same >= 0.99 * queries.size(), line + "; first that differ: " + differ);
    assertEquals(refNdcg, shoalNdcg, 0.0005, line);
  }

  /** Same documents at the same ranks, where a document may trade places with one of exactly its score. */
  private static boolean sameTopTen(List<Scored> reference, List<Run.Entry> shoal) {
    int n = Math.min(10, reference.size());
    if (shoal.size() != n) {
      return false;
    }
    for (int i = 0; i < n; i++) {
      Run.Entry s = shoal.get(i);
      if (Math.abs(reference.get(i).score() - s.score()) > 1e-4 * Math.max(1, Math.abs(s.score()))) {
        return false;
      }
      boolean tied = reference.stream().anyMatch(r -> r.id().equals(s.doc())
          && Math.abs(r.score() - s.score()) <= 1e-4 * Math.max(1, Math.abs(s.score())));
      if (!tied) {
        return false;
      }
    }
    return true;
  }

  /** Top 30 per query from one plain Lucene index of the corpus, scored as Anserini scores BEIR. */
  private static Map<String, List<Scored>> reference(BeirDataset data, List<BeirDataset.Query> queries)
      throws Exception {
    Analyzer analyzer = new EnglishAnalyzer();
    BM25Similarity bm25 = new BM25Similarity(K1, B);
    Map<String, List<Scored>> out = new LinkedHashMap<>();
    try (ByteBuffersDirectory d = new ByteBuffersDirectory()) {
      try (IndexWriter w = new IndexWriter(d, new IndexWriterConfig(analyzer).setSimilarity(bm25))) {
        data.forEachDoc(doc -> {
          Document ld = new Document();
          ld.add(new StringField("id", doc.id(), Field.Store.YES));
          ld.add(new TextField("contents", doc.title() + "\n" + doc.text(), Field.Store.NO));
          try {
            w.addDocument(ld);
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        });
      }
      try (DirectoryReader reader = DirectoryReader.open(d)) {
        IndexSearcher s = new IndexSearcher(reader);
        s.setSimilarity(bm25);
        for (BeirDataset.Query q : queries) {
          Map<String, Integer> counts = new LinkedHashMap<>();
          try (TokenStream ts = analyzer.tokenStream("contents", q.text())) {
            CharTermAttribute t = ts.addAttribute(CharTermAttribute.class);
            ts.reset();
            while (ts.incrementToken()) {
              counts.merge(t.toString(), 1, Integer::sum);
            }
            ts.end();
          }
          BooleanQuery.Builder b = new BooleanQuery.Builder();
          counts.forEach((term, c) -> b.add(new BoostQuery(new TermQuery(new Term("contents", term)), c),
              BooleanClause.Occur.SHOULD));
          List<Scored> hits = new ArrayList<>();
          for (ScoreDoc sd : s.search(b.build(), 30).scoreDocs) {
            hits.add(new Scored(s.storedFields().document(sd.doc).get("id"), sd.score));
          }
          out.put(q.id(), hits);
        }
      }
    }
    return out;
  }
}
