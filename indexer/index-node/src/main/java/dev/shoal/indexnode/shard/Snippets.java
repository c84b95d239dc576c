package dev.shoal.indexnode.shard;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
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
 * without spaces: CJK, URLs, base64). Thread-safe; a {@link Highlight} is not.
 */
public final class Snippets {

  static final int WINDOW = 240;
  /** How far a window's end may move to reach a word boundary. */
  static final int SLACK = 20;
  private static final int PREFIX = 3;
  /** Context shown before a snippet's first match, when the window has room for it. */
  private static final int LEAD = 40;
  private final Analyzer analyzer;

  public Snippets(Analyzer analyzer) {
    this.analyzer = analyzer;
  }

  /**
   * The highlighting of one query's terms, for the snippets of a page of documents. Not
   * thread-safe: one per call. It remembers what each candidate word analysed to, so a word met
   * again (in the same document or in the next one: a page's documents share their vocabulary) is
   * not analysed again.
   */
  public Highlight highlight(Set<String> queryTerms) {
    return new Highlight(queryTerms);
  }

  /** {@code highlight(queryTerms).snippet(text)}, for one document. */
  public String snippet(String text, Set<String> queryTerms) {
    return highlight(queryTerms).snippet(text);
  }

  /** One query's terms, prepared for the scan; see {@link #highlight}. */
  public final class Highlight {
    /** Words remembered at most; a text of ever new words (hostile, or a long table) is still analysed word by word. */
    private static final int MAX_REMEMBERED = 4_096;
    /** What a remembered word that analyses to no query term maps to. */
    private static final String NO_TERM = new String("");

    private final Set<String> queryTerms;
    /** Each term's number, for the count of distinct terms in a window. */
    private final Map<String, Integer> termNumbers = new HashMap<>();
    /** The terms' three-letter prefixes ({@link #prefixKey}), sorted for a binary search. */
    private final long[] prefixes;
    /** Stems shorter than the prefix: "ti" of "ties". */
    private final String[] shortTerms;
    private final Map<String, String> analysed = new HashMap<>();

    private Highlight(Set<String> queryTerms) {
      this.queryTerms = queryTerms;
      long[] keys = new long[queryTerms.size() * 2];
      int count = 0;
      List<String> shorts = new ArrayList<>();
      for (String t : queryTerms) {
        termNumbers.put(t, termNumbers.size());
        if (t.length() < PREFIX) {
          shorts.add(t);
          continue;
        }
        keys[count++] = prefixKey(t, 0, t.length());
        if (t.charAt(PREFIX - 1) == 'i') {
          keys[count++] = prefixKey(t.substring(0, PREFIX - 1) + "y", 0, PREFIX);
        }
      }
      this.prefixes = Arrays.copyOf(keys, count);
      Arrays.sort(prefixes);
      this.shortTerms = shorts.toArray(String[]::new);
    }

    /**
     * Finds the words of the text whose analysed form is a query term. Running the analyzer
     * over a whole abstract costs ~50 µs; so words are found by a plain scan, and only those that
     * share their first three letters with some query term (stemming keeps a word's start) go
     * through the analyzer, one word at a time, once per distinct word. Three letters: Porter
     * stemming rewrites only a word's end, except a final y that becomes i (cry → cri), which
     * the prefixes allow for.
     */
    private void findMatches(String text, List<int[]> matches, List<String> matchTerms) {
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
        if (from == i || Arrays.binarySearch(prefixes, prefixKey(text, from, i)) < 0 && !startsWithAny(text, from)) {
          continue;
        }
        String term = termOf(text.substring(from, i).toLowerCase(Locale.ROOT));
        if (term != null) {
          matches.add(new int[] {from, i});
          matchTerms.add(term);
        }
      }
    }

    private boolean startsWithAny(String text, int from) {
      for (String t : shortTerms) {
        if (text.regionMatches(true, from, t, 0, t.length())) {
          return true;
        }
      }
      return false;
    }

    /** The query term a lower-cased word analyses to, or null; remembered. */
    private String termOf(String word) {
      String known = analysed.get(word);
      if (known != null) {
        return known == NO_TERM ? null : known;
      }
      String term = analysedMatch(word, queryTerms);
      if (analysed.size() < MAX_REMEMBERED) {
        analysed.put(word, term == null ? NO_TERM : term);
      }
      return term;
    }

    public String snippet(String text) {
      if (text.isEmpty()) {
        return "";
      }
      int n = text.length();
      List<int[]> matches = new ArrayList<>();
      List<String> matchTerms = new ArrayList<>();
      if (!queryTerms.isEmpty()) {
        findMatches(text, matches, matchTerms);
      }
      int[] window = bestWindow(matches, matchTerms);
      // begin at a word boundary a little before the first match (as much as the window leaves
      // after its last match, at most 40 characters), end at one after the window
      int start = Math.max(0, window[0] - Math.min(LEAD, Math.max(0, WINDOW - (window[1] - window[0]))));
      int limit = Math.max(0, start - SLACK);
      while (start > limit && !Character.isWhitespace(text.charAt(start - 1))) {
        start--;
      }
      if (start > 0 && Character.isLowSurrogate(text.charAt(start))) {
        start++;
      }
      int end = Math.min(n, start + WINDOW);
      limit = Math.min(n, end + SLACK);
      while (end < limit && !Character.isWhitespace(text.charAt(end))) {
        end++;
      }
      if (end < n && Character.isLowSurrogate(text.charAt(end))) {
        end--;
      }
      StringBuilder sb = new StringBuilder(end - start + 64);
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
      if (end < n) {
        sb.append("…");
      }
      return sb.toString();
    }

    /**
     * The first window of {@value #WINDOW} characters with the most distinct query terms: where
     * it starts (at a match) and where its last match ends; {0, 0} without a match. The windows
     * are scanned in one pass: a window starting at a later match ends at or after the previous
     * one's end.
     */
    private int[] bestWindow(List<int[]> matches, List<String> matchTerms) {
      int[] inWindow = new int[termNumbers.size()];
      int distinct = 0;
      int best = -1;
      int[] window = {0, 0};
      int j = 0;
      for (int i = 0; i < matches.size(); i++) {
        int from = matches.get(i)[0];
        if (j < i) {
          j = i;
        }
        while (j < matches.size() && matches.get(j)[1] <= from + WINDOW) {
          if (inWindow[termNumbers.get(matchTerms.get(j))]++ == 0) {
            distinct++;
          }
          j++;
        }
        if (distinct > best) {
          best = distinct;
          window = new int[] {from, j > i ? matches.get(j - 1)[1] : from};
        }
        if (j > i && --inWindow[termNumbers.get(matchTerms.get(i))] == 0) {
          distinct--;
        }
      }
      return window;
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
