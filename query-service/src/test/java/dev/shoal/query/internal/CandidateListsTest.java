package dev.shoal.query.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.shoal.internal.v1.ShardHit;
import dev.shoal.internal.v1.ShardSearchResponse;
import dev.shoal.query.plan.Candidate;
import dev.shoal.query.plan.Explain;
import dev.shoal.query.plan.FusionWeights;
import dev.shoal.query.plan.Linear;
import dev.shoal.query.plan.Rrf;
import dev.shoal.query.plan.Signal;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CandidateListsTest {

  private static ShardHit hit(String id, Map<String, Double> signals) {
    return ShardHit.newBuilder().setId(id).putAllSignals(signals).build();
  }

  private static final List<String> LEGS = List.of("bm25", "dense");
  private static final FusionWeights EQUAL = new FusionWeights(Map.of());

  private final List<ShardSearchResponse> answers = List.of(
      ShardSearchResponse.newBuilder().setShard(0).setTotalHits(5)
          .addHits(hit("a", Map.of("bm25", 9.0))).addHits(hit("b", Map.of("bm25", 4.0, "dense", 0.80))).build(),
      ShardSearchResponse.newBuilder().setShard(1).setTotalHits(3)
          .addHits(hit("c", Map.of("bm25", 7.0, "dense", 0.90))).addHits(hit("d", Map.of("dense", 0.70))).build());

  private static List<String> ids(List<Candidate> cs) {
    return cs.stream().map(Candidate::id).toList();
  }

  @Test
  void globalRanksComeFromScoresAcrossShards() {
    CandidateLists l = new CandidateLists(answers, LEGS);
    assertEquals(8, l.totalHits());
    assertEquals(List.of("a", "c", "b"), ids(l.single("bm25")));
    assertEquals(List.of("c", "b", "d"), ids(l.single("dense")));
    Candidate c = l.single("bm25").get(1);
    assertEquals(1, c.shard());
    assertEquals(2, c.rank("bm25"));
    assertEquals(1, c.rank("dense"));
    assertEquals(Explain.signal("bm25", 7.0, 2, 1, 7.0), c.explanation());
  }

  @Test
  void rrfRewardsAgreementBetweenLegsAndExplainsEachSignal() {
    List<Candidate> fused = new CandidateLists(answers, LEGS).fused(new Rrf(60), EQUAL);
    // c: 1/(60+2) + 1/(60+1); a: 1/61; b: 1/63 + 1/62; d: 1/63
    assertEquals(List.of("c", "b", "a", "d"), ids(fused));
    Candidate c = fused.getFirst();
    assertEquals(1.0 / 62 + 1.0 / 61, c.score(), 1e-12);
    Explain e = c.explanation();
    assertEquals("fusion", e.name());
    assertEquals("rrf(k=60)", e.rule());
    assertEquals(c.score(), e.value(), 0);
    assertEquals(List.of("bm25", "dense"), e.inputs().stream().map(Explain::name).toList());
    assertEquals(2, e.inputs().get(0).rank());
    assertEquals(1.0 / 62, e.inputs().get(0).contribution(), 1e-12);
    assertEquals(7.0, e.inputs().get(0).value(), 0);
  }

  @Test
  void weightsComeFromTheSignalsName() {
    List<Candidate> fused = new CandidateLists(answers, LEGS).fused(new Rrf(60),
        new FusionWeights(Map.of("dense", 10.0)));
    assertEquals(List.of("c", "b", "d", "a"), ids(fused), "dense weighs ten times: d (dense #3) passes a (bm25 #1)");
    assertEquals(10.0, fused.getFirst().explanation().inputs().get(1).weight(), 0);
  }

  @Test
  void tiesBreakByIdSoReplicasAgree() {
    List<ShardSearchResponse> tied = List.of(ShardSearchResponse.newBuilder().addHits(hit("z", Map.of("bm25", 1.0)))
        .addHits(hit("m", Map.of("bm25", 1.0))).addHits(hit("a", Map.of("bm25", 1.0))).build());
    assertEquals(List.of("a", "m", "z"), ids(new CandidateLists(tied, List.of("bm25")).single("bm25")));
  }

  @Test
  void fusionToADepthSeesEachLegOnlyToThatDepth() {
    CandidateLists l = new CandidateLists(answers, LEGS);
    // bm25: a, c, b; dense: c, b, d. To depth 1 only a (bm25's first) and c (dense's first) are in.
    List<Candidate> top1 = l.fusedToDepth(new Rrf(60), EQUAL, 1);
    assertEquals(List.of("a", "c"), ids(top1).stream().sorted().toList());
    Candidate c = top1.stream().filter(x -> x.id().equals("c")).findFirst().orElseThrow();
    assertEquals(1, c.rank("dense"));
    assertEquals(0, c.rank("bm25"), "c is bm25's second: below depth 1 that list does not reach it");
    assertEquals(Map.of("dense", 0.90), c.signals(), "nor does its bm25 score travel");
    assertEquals(1.0 / 61, c.score(), 1e-12);
    // to depth 2, c is in both lists and b in dense's; d (dense's third) is still out
    List<Candidate> top2 = l.fusedToDepth(new Rrf(60), EQUAL, 2);
    assertEquals(List.of("c", "a", "b"), ids(top2));
    Candidate c2 = top2.getFirst();
    assertEquals(2, c2.rank("bm25"));
    assertEquals(1.0 / 62 + 1.0 / 61, c2.score(), 1e-12);
    // past every list's length it is the full fusion
    assertEquals(ids(l.fused(new Rrf(60), EQUAL)), ids(l.fusedToDepth(new Rrf(60), EQUAL, 100)));
  }

  @Test
  void linearFusionNormalisesEachSignal() {
    var f = new Linear().fuse(List.of(new Signal("bm25", 0.3, 5, 2, 1, 9), new Signal("dense", 0.7, 0.9, 1, 0.5, 0.9)));
    assertEquals(0.3 * 0.5 + 0.7 * 1.0, f.score(), 1e-12);
  }

  @Test
  void aScorersValueTravelsWithTheCandidateButMakesNoList() {
    List<ShardSearchResponse> withCosine = List.of(ShardSearchResponse.newBuilder()
        .addHits(hit("a", Map.of("bm25", 2.0, "cosine", 0.3))).addHits(hit("b", Map.of("bm25", 1.0, "cosine", 0.9)))
        .build());
    CandidateLists l = new CandidateLists(withCosine, List.of("bm25"));
    Candidate b = l.single("bm25").get(1);
    assertEquals(0.9, b.signal("cosine"), 0);
    assertEquals(0, b.rank("cosine"));
  }
}
