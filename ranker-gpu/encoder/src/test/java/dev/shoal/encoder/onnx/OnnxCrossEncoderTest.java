package dev.shoal.encoder.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.encoder.CrossEncoder.TextPair;
import dev.shoal.encoder.CrossEncoderSpec;
import dev.shoal.encoder.TestCrossEncoders;
import dev.shoal.encoder.TestTexts;
import dev.shoal.encoder.model.BertClassifierGraph;
import dev.shoal.encoder.reference.ReferenceCrossEncoder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A cross-encoder graph written by {@link BertClassifierGraph} (random weights, the PyTorch
 * exporter's layout) scored by ONNX Runtime and by the plain-Java reference: the same function of
 * the same weights, pair tokenisation, segment ids, padding mask and head included.
 */
class OnnxCrossEncoderTest {

  @TempDir
  Path tmp;

  private static List<TextPair> pairs(int n) {
    List<String> q = TestTexts.queries(n);
    List<String> p = TestTexts.passages(n + 3);
    List<TextPair> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      // each query with a passage of its own and one shared with the next query
      out.add(new TextPair(q.get(i), i % 3 == 0 ? p.get(i).substring(0, Math.min(60, p.get(i).length())) : p.get(i)));
    }
    return out;
  }

  @ParameterizedTest
  @ValueSource(ints = {1, 2})
  void onnxRuntimeAndTheReferenceAgreeOnEveryPair(int labels) {
    CrossEncoderSpec spec = CrossEncoderSpec.fromDirectory(
        TestCrossEncoders.write(tmp.resolve("ce"), TestCrossEncoders.small(labels, 7)), 128);
    List<TextPair> pairs = pairs(24);
    float[] ort;
    try (OnnxCrossEncoder onnx = new OnnxCrossEncoder(spec, 2, 8)) {
      ort = onnx.score(pairs);
      // one pair alone (no padding, the wide session) scores as it did inside a padded batch
      for (int i : new int[] {0, 5, 23}) {
        assertEquals(ort[i], onnx.score(List.of(pairs.get(i)))[0], 1e-4, "pair " + i + " alone");
      }
      assertEquals(0, onnx.score(List.of()).length);
    }
    float[] ref = new ReferenceCrossEncoder(spec).score(pairs);
    double mean = 0;
    for (float s : ref) {
      mean += s / ref.length;
    }
    double var = 0;
    for (int i = 0; i < ref.length; i++) {
      assertEquals(ref[i], ort[i], 2e-4 * Math.max(1, Math.abs(ref[i])), "pair " + i);
      var += (ref[i] - mean) * (ref[i] - mean) / ref.length;
    }
    assertTrue(Math.sqrt(var) > 0.05, "scores spread over the pairs, so agreement is not a constant: sd "
        + Math.sqrt(var));
  }

  @Test
  void theSegmentIdsReachTheModel() {
    CrossEncoderSpec spec = CrossEncoderSpec.fromDirectory(
        TestCrossEncoders.write(tmp.resolve("ce"), TestCrossEncoders.small(1, 11)), 64);
    ReferenceCrossEncoder ref = new ReferenceCrossEncoder(spec);
    try (OnnxCrossEncoder onnx = new OnnxCrossEncoder(spec, 1, 4)) {
      TextPair pair = new TextPair("vitamin d bone density", "Vitamin D supplements and fracture risk in adults.");
      var tokens = onnx.tokenize(pair);
      float asPair = onnx.score(List.of(pair))[0];
      float allSegmentZero = ref.scoreIds(tokens.ids(), new int[tokens.length()]);
      assertEquals(ref.scoreIds(tokens.ids(), tokens.typeIds()), asPair, 2e-4 * Math.max(1, Math.abs(asPair)));
      assertNotEquals(allSegmentZero, asPair, 1e-3, "segment 1 changes the score, so it was fed");
    }
  }

  @Test
  void aModelWithoutAClassifierOrWithThreeLabelsIsRefusedWhenLoading() throws Exception {
    Path three = TestCrossEncoders.write(tmp.resolve("three"), TestCrossEncoders.small(3, 1));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new OnnxCrossEncoder(CrossEncoderSpec.fromDirectory(three, 64), 1, 4));
    assertTrue(e.getMessage().contains("one output (a relevance logit) or two"), e.getMessage());
    Path empty = Files.createDirectories(tmp.resolve("empty"));
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
        () -> CrossEncoderSpec.fromDirectory(empty, 64));
    assertTrue(missing.getMessage().contains("model.onnx and tokenizer.json"), missing.getMessage());
  }

  @Test
  void closedRefusesCalls() {
    CrossEncoderSpec spec = CrossEncoderSpec.fromDirectory(
        TestCrossEncoders.write(tmp.resolve("ce"), TestCrossEncoders.small(1, 3)), 64);
    OnnxCrossEncoder onnx = new OnnxCrossEncoder(spec, 1, 4);
    onnx.close();
    assertThrows(IllegalStateException.class, () -> onnx.score(List.of(new TextPair("a", "b"))));
  }
}
