package dev.shoal.indexnode.shard;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.search.similarities.Similarity;

/**
 * The Lucene field layout of a shard, and the text analysis shared by indexing and querying.
 *
 * <p>BM25 runs over {@code contents} = title + text, analysed with Lucene's English analyzer
 * (standard tokenizer, possessives, lower case, stop words, Porter stemming) and scored with
 * k1 = 0.9, b = 0.4: Anserini's "flat" BEIR configuration, so numbers are comparable to its
 * published baselines.
 */
public final class ShardSchema {

  public static final String ID = "id";
  public static final String CONTENTS = "contents";
  public static final String TITLE = "title";
  public static final String VECTOR = "vector";
  public static final String KEYWORD_PREFIX = "kw.";
  public static final String NUMBER_PREFIX = "num.";

  public static final float BM25_K1 = 0.9f;
  public static final float BM25_B = 0.4f;

  private ShardSchema() {
  }

  public static Analyzer analyzer() {
    return new EnglishAnalyzer();
  }

  public static Similarity similarity() {
    return new BM25Similarity(BM25_K1, BM25_B);
  }
}
