package dev.shoal.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ReportTest {

  // two queries, one relevant document each; run B finds q2's document at rank 1, A at rank 2
  private final Qrels qrels = new Qrels(Map.of("q1", Map.of("d1", 1), "q2", Map.of("d2", 1)));
  private final Run a = new Run("a", Map.of(
      "q1", List.of(new Run.Entry("d1", 1, 2.0), new Run.Entry("x", 2, 1.0)),
      "q2", List.of(new Run.Entry("y", 1, 2.0), new Run.Entry("d2", 2, 1.0))));
  private final Run b = new Run("b", Map.of(
      "q1", List.of(new Run.Entry("d1", 1, 2.0)),
      "q2", List.of(new Run.Entry("d2", 1, 3.0), new Run.Entry("y", 2, 1.0))));

  private List<Report.Entry> entries() {
    Map<String, Run> runs = new LinkedHashMap<>();
    runs.put("baseline.run", a);
    runs.put("better.run", b);
    return Report.score(qrels, runs, List.of("ndcg_cut_10", "recip_rank"), TrecEval.Options.defaults());
  }

  @Test
  void recallCurveRisesToOne() {
    Report.Entry e = entries().getFirst();
    // depth 1: q1 found, q2 not -> 0.5; depth 2 and beyond: both -> 1.0
    assertEquals(0.5, e.recall()[0], 1e-12);
    assertEquals(1.0, e.recall()[1], 1e-12);
    assertEquals(1.0, e.recall()[Report.DEPTHS.length - 1], 1e-12);
  }

  @Test
  void htmlIsSelfContainedAndShowsTheNumbers() {
    String html = Report.html("Test <report>", entries(), Map.of("q2", "where is d2"));
    assertTrue(html.startsWith("<!DOCTYPE html>"));
    assertTrue(html.contains("Test &lt;report&gt;"), "titles are escaped");
    // recip_rank: A = (1 + 1/2) / 2 = 0.75, B = 1.0
    assertTrue(html.contains("0.7500"), html);
    assertTrue(html.contains("1.0000"));
    assertTrue(html.contains("+0.2500"), "B's delta on recip_rank");
    assertTrue(html.contains("where is d2"), "mover text");
    assertTrue(html.contains("<svg"), "charts are inline SVG");
    assertFalse(html.contains("<script"), "no script");
    assertFalse(html.contains("http://") || html.contains("https://") || html.contains("src="), "nothing fetched");
  }

  @Test
  void markdownSummarisesTheComparison() {
    String md = Report.markdown("T", entries(), Map.of("q2", "where is d2"));
    assertTrue(md.contains("| baseline.run | 0."), md);
    assertTrue(md.contains("1 better / 1 tied / 0 worse"), md);
    assertTrue(md.contains("q2 +"), md);
  }
}
