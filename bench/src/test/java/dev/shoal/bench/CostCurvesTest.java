package dev.shoal.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.api.v1.Document;
import dev.shoal.internal.v1.EnrichedDocument;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class CostCurvesTest {

  private static List<EnrichedDocument> base() {
    Random r = new Random(7);
    String[] words = {"vitamin", "bone", "density", "cell", "protein", "gene", "expression", "tumour", "risk", "dose"};
    List<EnrichedDocument> out = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      StringBuilder text = new StringBuilder();
      for (int j = 0; j < 30; j++) {
        text.append(j == 0 ? "" : " ").append(words[r.nextInt(words.length)]).append(i % 3 == 0 ? "" : "s");
      }
      EnrichedDocument.Builder b = EnrichedDocument.newBuilder().setModel("m")
          .setDocument(Document.newBuilder().setId("d" + i).setTitle("title " + i).setText(text.toString()));
      double norm = 0;
      float[] v = new float[16];
      for (int j = 0; j < v.length; j++) {
        v[j] = (float) r.nextGaussian();
        norm += v[j] * v[j];
      }
      for (float x : v) {
        b.addEmbedding((float) (x / Math.sqrt(norm)));
      }
      out.add(b.build());
    }
    return out;
  }

  @Test
  void aCopyHasItsOwnIdTheCollectionsWordsAndAUnitVectorNearItsSource() {
    List<EnrichedDocument> base = base();
    Set<String> vocabulary = new HashSet<>();
    base.forEach(e -> vocabulary.addAll(List.of(e.getDocument().getText().split(" "))));
    CostCurves.Synthesis s = new CostCurves.Synthesis(base);
    for (EnrichedDocument d : base) {
      EnrichedDocument c = s.copy(d, 3);
      assertEquals(d.getDocument().getId() + "~3", c.getDocument().getId());
      assertEquals("m", c.getModel());
      String[] words = c.getDocument().getText().split(" ");
      assertEquals(d.getDocument().getText().split(" ").length, words.length, "a copy is as long as its source");
      for (String w : words) {
        assertTrue(vocabulary.contains(w), w);
      }
      assertNotEquals(d.getDocument().getText(), c.getDocument().getText(), "half the words are redrawn");
      assertEquals(d.getEmbeddingCount(), c.getEmbeddingCount());
      double norm = 0;
      double dot = 0;
      for (int j = 0; j < c.getEmbeddingCount(); j++) {
        norm += c.getEmbedding(j) * c.getEmbedding(j);
        dot += c.getEmbedding(j) * d.getEmbedding(j);
      }
      assertEquals(1.0, norm, 1e-5);
      assertTrue(dot > 0.8, "cosine to its source " + dot);
      assertTrue(dot < 0.9999, "a copy's vector is not its source's " + dot);
    }
  }

  @Test
  void theCorpusIsTheTopicsLiveDocumentsEachIdOnceAtItsLastVersion() {
    List<EnrichedDocument> base = base();
    List<EnrichedDocument> topic = new ArrayList<>(base); // the demo loaded once...
    topic.add(base.get(5).toBuilder().setDocument(base.get(5).getDocument().toBuilder().setTitle("v2")).build());
    topic.addAll(base.subList(10, 20)); // ...then ten of them enriched again, unchanged
    topic.add(EnrichedDocument.newBuilder().setOp(dev.shoal.api.v1.Operation.DELETE)
        .setDocument(Document.newBuilder().setId("d7")).build());
    List<EnrichedDocument> live = CostCurves.live(topic);
    assertEquals(base.size() - 1, live.size(), "each id once, the deleted one gone");
    assertEquals(base.size() - 1, live.stream().map(e -> e.getDocument().getId()).distinct().count());
    assertTrue(live.stream().noneMatch(e -> e.getDocument().getId().equals("d7")));
    assertEquals("v2", live.stream().filter(e -> e.getDocument().getId().equals("d5")).findFirst().orElseThrow()
        .getDocument().getTitle(), "the last version wins");
    assertEquals("d0", live.getFirst().getDocument().getId(), "in the order ids first appear");
  }

  @Test
  void theRecipeIsDeterministic() {
    List<EnrichedDocument> base = base();
    CostCurves.Synthesis a = new CostCurves.Synthesis(base);
    CostCurves.Synthesis b = new CostCurves.Synthesis(base);
    for (int copy = 1; copy < 3; copy++) {
      for (EnrichedDocument d : base) {
        assertEquals(a.copy(d, copy), b.copy(d, copy));
      }
    }
  }
}
