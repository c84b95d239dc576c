package dev.shoal.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hand-made fixtures; every expected value is worked out in the comments.
 *
 * <pre>
 * qrels                      run (rank column deliberately contradicts the scores)
 * q1 d1 3                    q1 d1 rank 1 score  5.0   tie with d3: trec_eval orders equal scores
 * q1 d2 2                    q1 d3 rank 2 score  5.0   by doc id descending, so d3 comes first
 * q1 d3 0                    q1 d9 rank 3 score  4.0   unjudged
 * q1 d4 1                    q1 d4 rank 4 score -1.0   negative score
 * q2 d5 0   (judged, none relevant)   q2 d5 rank 1 score 2.0
 * q3 d6 1   (absent from the run)     q4 d1 rank 1 score 1.0   (absent from the qrels: ignored)
 * </pre>
 *
 * q1 ranking: d3 (grade 0), d1 (3), d9 (unjudged), d4 (1). At level 1: relevant at ranks 2 and 4;
 * num_rel = 3 (d1, d2, d4); fewer results (4) than the cutoff of P_5.
 */
class TrecEvalTest {

  @TempDir
  Path dir;

  private Qrels qrels() throws Exception {
    Path p = dir.resolve("qrels.txt");
    Files.writeString(p, """
        q1 0 d1 3
        q1 0 d2 2
        q1 0 d3 0
        q1 0 d4 1
        q2 0 d5 0
        q3 0 d6 1
        """);
    return Qrels.read(p);
  }

  private Run run(String extra) throws Exception {
    Path p = dir.resolve("run.txt");
    Files.writeString(p, """
        q1 Q0 d1 1 5.0 test
        q1 Q0 d3 2 5.0 test
        q1 Q0 d9 3 4.0 test
        q1 Q0 d4 4 -1.0 test
        q2 Q0 d5 1 2.0 test
        q4 Q0 d1 1 1.0 test
        """ + extra);
    return Run.read(p);
  }

  private static final List<String> MEASURES = List.of("num_q", "num_ret", "num_rel", "num_rel_ret", "map",
      "map_cut_2", "recip_rank", "P_5", "recall_2", "success_1", "success_2", "ndcg", "ndcg_cut_2");

  @Test
  void perQueryValuesMatchTheHandComputation() throws Exception {
    TrecEval.Result r = TrecEval.evaluate(qrels(), run(""), MEASURES, TrecEval.Options.defaults());
    assertEquals(4, r.of("q1", "num_ret"));
    assertEquals(3, r.of("q1", "num_rel"));
    assertEquals(2, r.of("q1", "num_rel_ret"));
    // AP = (1/2 + 2/4) / 3
    assertEquals((0.5 + 0.5) / 3, r.of("q1", "map"), 1e-12);
    // only rank 2 within the cut: (1/2) / 3
    assertEquals(0.5 / 3, r.of("q1", "map_cut_2"), 1e-12);
    // first relevant at rank 2 (d3 outranks d1 on the tie)
    assertEquals(0.5, r.of("q1", "recip_rank"), 1e-12);
    // 2 relevant in 4 results, divided by the cutoff 5
    assertEquals(0.4, r.of("q1", "P_5"), 1e-12);
    assertEquals(1.0 / 3, r.of("q1", "recall_2"), 1e-12);
    assertEquals(0, r.of("q1", "success_1"));
    assertEquals(1, r.of("q1", "success_2"));
    // DCG = 3/log2(3) + 1/log2(5) = 2.3234659; ideal (3,2,1) = 3 + 2/log2(3) + 1/log2(4) = 4.7618595
    assertEquals(0.4879324590, r.of("q1", "ndcg"), 1e-9);
    // DCG@2 = 3/log2(3); ideal@2 = 3 + 2/log2(3)
    assertEquals(0.4441228664, r.of("q1", "ndcg_cut_2"), 1e-9);
    // q2 is judged but has no relevant document: evaluated, every measure 0
    assertEquals(0, r.of("q2", "map"));
    assertEquals(0, r.of("q2", "ndcg"));
    assertEquals(0, r.of("q2", "recip_rank"));
    assertEquals(0, r.of("q2", "num_rel"));
    assertEquals(1, r.of("q2", "num_ret"));
    assertFalse(r.perQuery().containsKey("q3"), "judged but not in the run: not evaluated without -c");
    assertFalse(r.perQuery().containsKey("q4"), "in the run but not judged: ignored");
  }

  @Test
  void summaryAveragesOverEvaluatedQueriesAndSumsCounts() throws Exception {
    TrecEval.Result r = TrecEval.evaluate(qrels(), run(""), MEASURES, TrecEval.Options.defaults());
    assertEquals(2, r.all("num_q"));
    assertEquals(5, r.all("num_ret"), "4 + 1: counts are summed");
    assertEquals(3, r.all("num_rel"));
    assertEquals(2, r.all("num_rel_ret"));
    assertEquals((1.0 / 3) / 2, r.all("map"), 1e-12);
    assertEquals(0.4879324590 / 2, r.all("ndcg"), 1e-9);
    assertEquals(0.2, r.all("P_5"), 1e-12);
  }

  @Test
  void completeCountsMissingJudgedQueriesAsZero() throws Exception {
    TrecEval.Result r = TrecEval.evaluate(qrels(), run(""), MEASURES, new TrecEval.Options(1, true, 0));
    assertEquals(3, r.all("num_q"));
    assertEquals(4, r.all("num_rel"), "q3's relevant document is counted");
    assertEquals((1.0 / 3) / 3, r.all("map"), 1e-12);
    assertEquals(0, r.of("q3", "ndcg"));
  }

  @Test
  void relevanceLevelChangesBinaryMeasuresNotNdcg() throws Exception {
    TrecEval.Result r = TrecEval.evaluate(qrels(), run(""), MEASURES, new TrecEval.Options(2, false, 0));
    // at level 2 only d1 (3) and d2 (2) are relevant: AP = (1/2) / 2
    assertEquals(0.25, r.of("q1", "map"), 1e-12);
    assertEquals(2, r.of("q1", "num_rel"));
    assertEquals(1, r.of("q1", "num_rel_ret"));
    assertEquals(0.4879324590, r.of("q1", "ndcg"), 1e-9);
  }

  @Test
  void depthCutsEachRanking() throws Exception {
    TrecEval.Result r = TrecEval.evaluate(qrels(), run(""), MEASURES, new TrecEval.Options(1, false, 2));
    assertEquals(2, r.of("q1", "num_ret"));
    // only d3, d1 remain: AP = (1/2) / 3
    assertEquals(0.5 / 3, r.of("q1", "map"), 1e-12);
  }

  @Test
  void aDuplicateDocumentIsRejectedLikeTrecEval() throws Exception {
    Run dup = run("q1 Q0 d1 5 0.5 test\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TrecEval.evaluate(qrels(), dup, MEASURES, TrecEval.Options.defaults()));
    assertTrue(e.getMessage().contains("d1 more than once"), e.getMessage());
  }

  @Test
  void outputUsesTrecEvalsLayout() throws Exception {
    TrecEval.Result r = TrecEval.evaluate(qrels(), run(""), List.of("map", "num_rel_ret", "P.5,10"),
        TrecEval.Options.defaults());
    assertEquals(List.of("map", "num_rel_ret", "P_5", "P_10"), r.measures());
    String out = r.format(true);
    assertTrue(out.contains("map                   \tq1\t0.3333\n"), out);
    assertTrue(out.contains("num_rel_ret           \tall\t2\n"), out);
    assertTrue(out.contains("P_10                  \tall\t0.1000\n"), out);
  }

  @Test
  void unknownMeasuresAreRejectedWithTheList() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrecEval.expand(List.of("mrr")));
    assertTrue(e.getMessage().contains("recip_rank"));
  }
}
