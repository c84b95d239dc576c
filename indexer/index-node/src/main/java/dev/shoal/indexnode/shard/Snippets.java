package dev.shoal.indexnode.shard;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;

/**
 * A highlighted passage of a document: the window of about {@value #WINDOW} characters with
 * the most distinct query terms, matches wrapped in {@code <em>}. Each word is analysed with
 * the index analyzer, so stemmed forms match ("proteins" for "protein"); words are letters and
 * digits (a decimal number is two words here).
 *
 * <p>The result is HTML: the document's text is escaped ({@code & < > " '}), so only the
 * {@code <em>} tags are markup. Its length is bounded whatever the text: the window's ends move
 * to the nearest whitespace within {@value #SLACK} characters, else they cut the text there (text
 * without spaces: CJK, URLs, base64). Thread-safe.
 */
public final class Snippets {

  static final int WINDOW = 240;
  /** How far a window's end may move to reach a word boundary. */
  static final int SLACK = 20;
  private static final int PREFIX = 3;
  private final Analyzer analyzer;

  public Snippets(Analyzer analyzer) {
    this.analyzer = analyzer;
  }

  /**
   * Finds the words of {@code text} whose analysed form is a query term. Running the analyzer
   * over a whole abstract costs ~50 µs; so words are found by a plain scan, and only those that
   * share their first three letters with some query term (stemming keeps a word's start) go
   * through the analyzer, one word at a time. Three letters: Porter stemming rewrites only a
   * word's end, except a final y that becomes i (cry → cri), which the prefixes allow for.
   */
  private void findMatches(String text, Set<String> queryTerms, List<int[]> matches, List<String> matchTerms) {
    long[] prefixes = new long[queryTerms.size() * 2];
    int count = 0;
    List<String> shortTerms = new ArrayList<>(); // a stem shorter than the prefix: "ti" of "ties"
    for (String t : queryTerms) {
      if (t.length() < PREFIX) {
        shortTerms.add(t);
        continue;
      }
      prefixes[count++] = prefixKey(t, 0, t.length());
      if (t.charAt(PREFIX - 1) == 'i') {
        prefixes[count++] = prefixKey(t.substring(0, PREFIX - 1) + "y", 0, PREFIX);
      }
    }
    int n = text.length();
    int i = 0;
    while (i < n) {
      while (i < n && !Character.isLetterOrDigit(text.charAt(i))) {
        i++;
      }
      int from = i;
      while (i < n && Character.isLetterOrDigit(text.charAt(i))) {
        i++;
      }
      if (from == i || !contains(prefixes, count, prefixKey(text, from, i)) && !startsWithAny(text, from, shortTerms)) {
        continue;
      }
      String word = text.substring(from, i).toLowerCase(java.util.Locale.ROOT);
      String term = analysedMatch(word, queryTerms);
      if (term != null) {
        matches.add(new int[] {from, i});
        matchTerms.add(term);
      }
    }
  }

  /** The first {@value #PREFIX} characters of text[from, to), lower-cased, packed into a long. */
  private static long prefixKey(String text, int from, int to) {
    long key = Math.min(PREFIX, to - from);
    for (int j = from; j < Math.min(to, from + PREFIX); j++) {
      key = key << 16 | Character.toLowerCase(text.charAt(j));
    }
    return key;
  }

  private static boolean startsWithAny(String text, int from, List<String> terms) {
    for (String t : terms) {
      if (text.regionMatches(true, from, t, 0, t.length())) {
        return true;
      }
    }
    return false;
  }

  private static boolean contains(long[] keys, int count, long key) {
    for (int j = 0; j < count; j++) {
      if (keys[j] == key) {
        return true;
      }
    }
    return false;
  }

  /** The query term that {@code word} analyses to, or null. */
  private String analysedMatch(String word, Set<String> queryTerms) {
    try (TokenStream ts = analyzer.tokenStream(ShardSchema.CONTENTS, word)) {
      CharTermAttribute term = ts.addAttribute(CharTermAttribute.class);
      ts.reset();
      String found = null;
      while (ts.incrementToken()) {
        String t = term.toString();
        if (found == null && queryTerms.contains(t)) {
          found = t;
        }
      }
      ts.end();
      return found;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public String snippet(String text, Set<String> queryTerms) {
    if (text.isEmpty()) {
      return "";
    }
    List<int[]> matches = new ArrayList<>();
    List<String> matchTerms = new ArrayList<>();
    if (!queryTerms.isEmpty()) {
      findMatches(text, queryTerms, matches, matchTerms);
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
    // begin at a word boundary a little before the first match, end at one after the window
    start = Math.max(0, start - 40);
    int limit = Math.max(0, start - SLACK);
    while (start > limit && !Character.isWhitespace(text.charAt(start - 1))) {
      start--;
    }
    if (start > 0 && Character.isLowSurrogate(text.charAt(start))) {
      start++;
    }
    int end = Math.min(text.length(), start + WINDOW);
    limit = Math.min(text.length(), end + SLACK);
    while (end < limit && !Character.isWhitespace(text.charAt(end))) {
      end++;
    }
    if (end < text.length() && Character.isLowSurrogate(text.charAt(end))) {
      end--;
    }
    StringBuilder sb = new StringBuilder();
    if (start > 0) {
      sb.append("…");
    }
    int pos = start;
    for (int[] m : matches) {
      if (m[0] < pos || m[1] > end) {
        continue;
      }
      escape(text, pos, m[0], sb);
      sb.append("<em>");
      escape(text, m[0], m[1], sb);
      sb.append("</em>");
      pos = m[1];
    }
    escape(text, pos, end, sb);
    if (end < text.length()) {
      sb.append("…");
    }
    return sb.toString();
  }

  private static void escape(String text, int from, int to, StringBuilder out) {
    for (int i = from; i < to; i++) {
      char c = text.charAt(i);
      switch (c) {
        case '&' -> out.append("&amp;");
        case '<' -> out.append("&lt;");
        case '>' -> out.append("&gt;");
        case '"' -> out.append("&quot;");
        case '\'' -> out.append("&#39;");
        default -> out.append(c);
      }
    }
  }
}
