package dev.shoal.indexnode.shard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.lucene.analysis.Analyzer;
import org.junit.jupiter.api.Test;

class SnippetsTest {

  private static final Pattern EM = Pattern.compile("<em>(.*?)</em>");
  private final Analyzer analyzer = ShardSchema.analyzer();
  private final Snippets snippets = new Snippets(analyzer);
  private final ShardQueries queries = new ShardQueries(analyzer);

  @Test
  void highlightsStemmedFormsAndNothingElse() {
    String s = snippets.snippet("Proteins fold quickly. A folded protein, unlike the ribosome, is stable.",
        Set.copyOf(queries.terms("protein folding")));
    assertEquals("<em>Proteins</em> <em>fold</em> quickly. A <em>folded</em> <em>protein</em>, unlike the ribosome, "
        + "is stable.", s);
  }

  @Test
  void shortStemsAndFinalYMatch() {
    // "ties" stems to "ti" (shorter than the scan's prefix); "cry" to "cri" (y becomes i)
    String s = snippets.snippet("Family ties matter; infants cry.", Set.copyOf(queries.terms("ties crying")));
    assertEquals("Family <em>ties</em> matter; infants <em>cry</em>.", s);
  }

  /**
   * On real abstracts, every highlighted word analyses to a query term, and every word the full
   * analyzer would match inside the snippet is highlighted.
   */
  @Test
  void agreesWithTheAnalyzerOnSciFactAbstracts() throws IOException {
    List<String> texts = new ArrayList<>();
    List<String> lines = Files.readAllLines(Path.of(System.getProperty("shoal.repo.root", "."), "testdata", "scifact", "corpus.jsonl"));
    for (int i = 0; i < 200; i++) {
      texts.add(new com.fasterxml.jackson.databind.ObjectMapper().readTree(lines.get(i)).get("text").asText());
    }
    String[] qs = {"vitamin D deficiency bone density", "cancer cells express proteins", "gene expression in mice",
        "0-dimensional biomaterials show inductive properties", "antibiotic resistance of bacteria"};
    int highlighted = 0;
    for (String text : texts) {
      for (String q : qs) {
        Set<String> terms = new HashSet<>(queries.terms(q));
        String snippet = snippets.snippet(text, terms);
        Matcher m = EM.matcher(snippet);
        while (m.find()) {
          highlighted++;
          assertTrue(terms.containsAll(analyse(m.group(1))) && !analyse(m.group(1)).isEmpty(),
              m.group(1) + " is not a query term: " + terms);
        }
        String plain = unescape(snippet.replace("<em>", "").replace("</em>", "").replace("…", ""));
        int expected = 0;
        for (String word : plain.split("[^\\p{L}\\p{Nd}]+")) {
          if (!word.isEmpty() && analyse(word).stream().anyMatch(terms::contains)) {
            expected++;
          }
        }
        int found = 0;
        Matcher m2 = EM.matcher(snippet);
        while (m2.find()) {
          found++;
        }
        assertEquals(expected, found, "snippet of '" + q + "': " + snippet);
      }
    }
    assertTrue(highlighted > 100, "the queries must highlight something: " + highlighted);
  }

  /** A page's highlight remembers what words analysed to; each document still gets the snippet it gets alone. */
  @Test
  void aPagesHighlightGivesEachDocumentTheSnippetItGetsAlone() throws IOException {
    List<String> lines = Files.readAllLines(Path.of(System.getProperty("shoal.repo.root", "."), "testdata", "scifact",
        "corpus.jsonl"));
    var json = new com.fasterxml.jackson.databind.ObjectMapper();
    int highlighted = 0;
    for (String q : new String[] {"vitamin D deficiency bone density", "cancer cells express proteins"}) {
      Set<String> terms = new HashSet<>(queries.terms(q));
      Snippets.Highlight page = snippets.highlight(terms);
      for (int i = 0; i < 300; i++) {
        String text = json.readTree(lines.get(i)).get("text").asText();
        String alone = snippets.snippet(text, terms);
        assertEquals(alone, page.snippet(text), "document " + i + " for '" + q + "'");
        highlighted += alone.contains("<em>") ? 1 : 0;
      }
    }
    assertTrue(highlighted > 50, "the queries must highlight something: " + highlighted);
  }

  /** The best window is found in one pass: a text of 60,000 matching words stays cheap and keeps its bound. */
  @Test
  void manyMatchesChooseTheFirstWindowWithTheMostDistinctTerms() {
    String s = snippets.snippet("vitamin ".repeat(30_000) + "vitamin deficiency and bone density " + "vitamin ".repeat(100),
        Set.copyOf(queries.terms("vitamin deficiency bone")));
    assertTrue(s.contains("<em>deficiency</em> and <em>bone</em>"), s);
    assertTrue(s.length() <= 2 * (Snippets.WINDOW + 2 * Snippets.SLACK), "length " + s.length());
  }

  @Test
  void textWithoutSpacesGivesAWindowNotTheWholeText() {
    String s = snippets.snippet("x".repeat(100_000), Set.of("x"));
    assertTrue(s.length() <= Snippets.WINDOW + 2 * Snippets.SLACK + 2, "length " + s.length());
    String url = "see https://example.org/" + "a1b2c3".repeat(20_000) + "/vitamin?q=1 and more";
    String u = snippets.snippet(url, Set.copyOf(queries.terms("vitamin")));
    assertTrue(u.length() <= Snippets.WINDOW + 2 * Snippets.SLACK + 2, "length " + u.length());
    String cjk = "蛋白质折叠".repeat(50_000);
    assertTrue(snippets.snippet(cjk, Set.of("蛋白质")).length() <= Snippets.WINDOW + 2 * Snippets.SLACK + 2);
  }

  @Test
  void cutsNeverSplitASurrogatePair() {
    String emoji = "\ud83e\uddec".repeat(10_000); // DNA emoji, two chars each
    String s = snippets.snippet(emoji, Set.of());
    String body = s.replace("…", "");
    assertTrue(!Character.isLowSurrogate(body.charAt(0)) && !Character.isHighSurrogate(body.charAt(body.length() - 1)),
        "a cut through a surrogate pair makes invalid UTF-8");
  }

  @Test
  void documentHtmlIsEscapedSoOnlyTheHighlightsAreMarkup() {
    String s = snippets.snippet("<script>alert('x')</script> & \"vitamin\" <b>levels</b>",
        Set.copyOf(queries.terms("vitamin")));
    assertEquals("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;<em>vitamin</em>&quot; "
        + "&lt;b&gt;levels&lt;/b&gt;", s);
  }

  private static String unescape(String html) {
    return html.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'")
        .replace("&amp;", "&");
  }

  /** The index analyzer's terms for a word, as queries are analysed. */
  private List<String> analyse(String word) {
    return queries.terms(word);
  }
}
