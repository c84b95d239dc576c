package dev.shoal.indexnode.shard;

import com.google.protobuf.ByteString;
import dev.shoal.internal.v1.CorpusStatistics;
import dev.shoal.internal.v1.FieldStatistics;
import dev.shoal.internal.v1.LexicalLeg;
import dev.shoal.internal.v1.TermStatistics;
import java.io.IOException;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.lucene.index.IndexReader;
import org.apache.lucene.index.Term;
import org.apache.lucene.index.TermStates;
import org.apache.lucene.queryparser.classic.ParseException;
import org.apache.lucene.search.CollectionStatistics;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.util.BytesRef;

/**
 * Corpus statistics for BM25 across shards, as a distributed search engine's "dfs" phase: a
 * shard reports its own counts for the terms of the lexical legs ({@link #local}), the query
 * service adds them up over every shard ({@link dev.shoal.internal.CorpusStatisticsSum}), and each shard then scores with the sums
 * ({@link #scoring}), so a document gets the score one index over the whole corpus would give it
 * whichever shard it is on. Without the sums, each shard's IDF and average length are its own, and
 * the merged ranking drifts from a single index's by how unevenly the terms fall on the shards.
 *
 * <p>Only the terms a query names before rewriting are counted (the terms of a wildcard, prefix or
 * fuzzy clause are expanded per shard, and those clauses score by constant or by the shard's own
 * counts). Stateless; thread-safe.
 */
public final class CorpusStats {

  private CorpusStats() {
  }

  /** This shard's counts for the terms and fields of the legs, on one searcher. */
  public static CorpusStatistics local(IndexSearcher s, ShardQueries queries, List<LexicalLeg> legs)
      throws ParseException, IOException {
    return LexicalLegs.parseLexical(queries, legs).lookUp(s).statistics();
  }

  /** The counts of terms already looked up in this searcher's segments, and of their fields. */
  static CorpusStatistics local(IndexSearcher s, Map<Term, TermStates> terms) throws IOException {
    Set<String> fields = new LinkedHashSet<>();
    terms.keySet().forEach(t -> fields.add(t.field()));
    IndexReader reader = s.getIndexReader();
    CorpusStatistics.Builder out = CorpusStatistics.newBuilder();
    for (String f : fields) {
      CollectionStatistics c = s.collectionStatistics(f);
      FieldStatistics.Builder b = FieldStatistics.newBuilder().setField(f).setMaxDoc(reader.maxDoc());
      if (c != null) {
        b.setDocCount(c.docCount()).setSumTotalTermFreq(c.sumTotalTermFreq()).setSumDocFreq(c.sumDocFreq());
      }
      out.addFields(b);
    }
    for (Map.Entry<Term, TermStates> e : terms.entrySet()) {
      Term t = e.getKey();
      out.addTerms(TermStatistics.newBuilder().setField(t.field()).setTerm(ByteString.copyFrom(t.bytes().bytes,
          t.bytes().offset, t.bytes().length)).setDocFreq(e.getValue().docFreq())
          .setTotalTermFreq(e.getValue().totalTermFreq()));
    }
    return out.build();
  }

  /**
   * A searcher over the same reader that scores with the given corpus statistics where they name
   * the term or field, and with the shard's own elsewhere; on as many threads as {@code shard}
   * searches ({@link SlicedSearcher}).
   */
  public static IndexSearcher scoring(IndexSearcher shard, CorpusStatistics corpus) {
    Map<String, FieldStatistics> fields = new HashMap<>();
    corpus.getFieldsList().forEach(f -> fields.put(f.getField(), f));
    Map<Term, TermStatistics> terms = new HashMap<>();
    corpus.getTermsList().forEach(t -> terms.put(new Term(t.getField(), new BytesRef(t.getTerm().toByteArray())), t));
    IndexSearcher s = new SlicedSearcher(shard.getIndexReader(), shard) {
      @Override
      public org.apache.lucene.search.TermStatistics termStatistics(Term term, int docFreq, long totalTermFreq)
          throws IOException {
        TermStatistics t = terms.get(term);
        // a term this shard holds is in the sums too, so they are never below the shard's own
        if (t == null || t.getDocFreq() < docFreq) {
          return super.termStatistics(term, docFreq, totalTermFreq);
        }
        return new org.apache.lucene.search.TermStatistics(term.bytes(), t.getDocFreq(), t.getTotalTermFreq());
      }

      @Override
      public CollectionStatistics collectionStatistics(String field) throws IOException {
        FieldStatistics f = fields.get(field);
        if (f == null || f.getDocCount() <= 0) {
          return super.collectionStatistics(field);
        }
        return new CollectionStatistics(field, f.getMaxDoc(), f.getDocCount(), f.getSumTotalTermFreq(),
            f.getSumDocFreq());
      }
    };
    return scoringAs(s, shard);
  }

  /** {@code s} set to score and cache as {@code like} does (a searcher over the same reader or a wider one). */
  static IndexSearcher scoringAs(IndexSearcher s, IndexSearcher like) {
    s.setSimilarity(like.getSimilarity());
    s.setQueryCache(like.getQueryCache());
    s.setQueryCachingPolicy(like.getQueryCachingPolicy());
    return s;
  }
}
