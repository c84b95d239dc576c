package dev.shoal.indexer.shard;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.analysis.tokenattributes.OffsetAttribute;

/**
 * A highlighted passage of a document: the window of about {@value #WINDOW} characters with
 * the most distinct query terms, matches wrapped in {@code <em>}. The text is analysed with
 * the index analyzer, so stemmed forms match ("proteins" for "protein"). Thread-safe.
 */
public final class Snippets {

  static final int WINDOW = 240;
  private final Analyzer analyzer;

  public Snippets(Analyzer analyzer) {
    this.analyzer = analyzer;
  }

  public String snippet(String text, Set<String> queryTerms) {
    if (text.isEmpty()) {
      return "";
    }
    List<int[]> matches = new ArrayList<>();
    List<String> matchTerms = new ArrayList<>();
    if (!queryTerms.isEmpty()) {
      try (TokenStream ts = analyzer.tokenStream(ShardSchema.CONTENTS, text)) {
        CharTermAttribute term = ts.addAttribute(CharTermAttribute.class);
        OffsetAttribute offset = ts.addAttribute(OffsetAttribute.class);
        ts.reset();
        while (ts.incrementToken()) {
          String t = term.toString();
          if (queryTerms.contains(t)) {
            matches.add(new int[] {offset.startOffset(), offset.endOffset()});
            matchTerms.add(t);
          }
        }
        ts.end();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    int start = 0;
    int best = -1;
    for (int i = 0; i < matches.size(); i++) {
      int from = matches.get(i)[0];
      java.util.Set<String> distinct = new java.util.HashSet<>();
      for (int j = i; j < matches.size() && matches.get(j)[1] <= from + WINDOW; j++) {
        distinct.add(matchTerms.get(j));
      }
      if (distinct.size() > best) {
        best = distinct.size();
        start = from;
      }
    }
    // begin at a word boundary a little before the first match
    start = Math.max(0, start - 40);
    while (start > 0 && !Character.isWhitespace(text.charAt(start - 1))) {
      start--;
    }
    int end = Math.min(text.length(), start + WINDOW);
    while (end < text.length() && !Character.isWhitespace(text.charAt(end))) {
      end++;
    }
    StringBuilder sb = new StringBuilder();
    if (start > 0) {
      sb.append("…");
    }
    int pos = start;
    for (int[] m : matches) {
      if (m[0] < start || m[1] > end) {
        continue;
      }
      sb.append(text, pos, m[0]).append("<em>").append(text, m[0], m[1]).append("</em>");
      pos = m[1];
    }
    sb.append(text, pos, end);
    if (end < text.length()) {
      sb.append("…");
    }
    return sb.toString();
  }
}
