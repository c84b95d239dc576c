package dev.shoal.query.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.shoal.internal.v1.ShardHit;
import dev.shoal.internal.v1.ShardSearchResponse;
import dev.shoal.query.Fusion;
import java.util.List;
import org.junit.jupiter.api.Test;

class MergerTest {

  private static ShardHit hit(String id, double bm25, int bm25Rank, double dense, int denseRank) {
    return ShardHit.newBuilder().setId(id).setBm25Score(bm25).setBm25Rank(bm25Rank).setDenseScore(dense)
        .setDenseRank(denseRank).build();
  }

  private final List<ShardSearchResponse> answers = List.of(
      ShardSearchResponse.newBuilder().setShard(0).setTotalHits(5)
          .addHits(hit("a", 9.0, 1, 0, 0)).addHits(hit("b", 4.0, 2, 0.80, 1)).build(),
      ShardSearchResponse.newBuilder().setShard(1).setTotalHits(3)
          .addHits(hit("c", 7.0, 1, 0.90, 1)).addHits(hit("d", 0, 0, 0.70, 2)).build());

  @Test
  void globalRanksComeFromScoresAcrossShards() {
    Merger m = new Merger(answers);
    assertEquals(8, m.totalHits());
    assertEquals(List.of("a", "c", "b"), m.byBm25().stream().map(r -> r.hit().getId()).toList());
    assertEquals(List.of("c", "b", "d"), m.byDense().stream().map(r -> r.hit().getId()).toList());
  }

  @Test
  void rrfRewardsAgreementBetweenLegs() {
    List<Merger.Ranked> fused = new Merger(answers).fuseFirstPhase(new Fusion.Rrf(60), 1, 1);
    // c: 1/(60+2) + 1/(60+1); a: 1/61; b: 1/63 + 1/62; d: 1/63
    assertEquals(List.of("c", "b", "a", "d"), fused.stream().map(r -> r.hit().getId()).toList());
    Merger.Ranked c = fused.getFirst();
    assertEquals(1.0 / 62 + 1.0 / 61, c.score(), 1e-12);
    assertEquals(2, c.bm25Rank());
    assertEquals(1, c.denseRank());
    assertEquals(1.0 / 62, c.contributions().get(0).contribution(), 1e-12);
  }

  @Test
  void modelScoresReorderTheHeadAndAreExplained() {
    Merger m = new Merger(answers);
    List<Merger.Ranked> head = m.fuseFirstPhase(new Fusion.Rrf(60), 1, 1);
    List<Merger.Ranked> out = m.fuseWithModel(head, new double[] {0.1, 0.2, 0.9, 0.3}, new Fusion.Rrf(60), 1, 1);
    // model ranks: a=1 (0.9), d=2, b=3, c=4; bm25 ranks: a=1, c=2, b=3, d=0
    assertEquals("a", out.getFirst().hit().getId());
    assertEquals(0.9, out.getFirst().modelScore(), 0);
    assertEquals(true, out.getFirst().modelScored());
    assertEquals(1.0 / 61 + 1.0 / 61, out.getFirst().score(), 1e-12);
  }

  @Test
  void tiesBreakByIdSoReplicasAgree() {
    List<ShardSearchResponse> tied = List.of(ShardSearchResponse.newBuilder()
        .addHits(hit("z", 1.0, 1, 0, 0)).addHits(hit("m", 1.0, 2, 0, 0)).addHits(hit("a", 1.0, 3, 0, 0)).build());
    assertEquals(List.of("a", "m", "z"), new Merger(tied).byBm25().stream().map(r -> r.hit().getId()).toList());
  }

  @Test
  void linearFusionNormalisesEachSignal() {
    Fusion.Fused f = new Fusion.Linear().fuse(List.of(new Fusion.Signal("bm25", 0.3, 5, 2, 1, 9),
        new Fusion.Signal("dense", 0.7, 0.9, 1, 0.5, 0.9)));
    assertEquals(0.3 * 0.5 + 0.7 * 1.0, f.score(), 1e-12);
  }
}
