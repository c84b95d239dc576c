package dev.shoal.encoder.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.TestTexts;
import dev.shoal.encoder.model.BertWeights;
import dev.shoal.encoder.model.Pooler;
import dev.shoal.encoder.onnx.OnnxEncoder;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The plain-Java forward pass (the CUDA kernels' reference) against ONNX Runtime on the same
 * weights: 64 SciFact passages per model, every embedding at cosine ≥ 0.99999. This proves
 * the weight mapping from the ONNX initializers and the decomposition of the network on every
 * machine; the GPU suite then checks the kernels against this reference.
 */
class ReferenceEncoderTest {

  static final int PASSAGES = 64;
  /** Passages cut to 128 tokens, 64 of them, keep the fp32 Java pass under a minute for both models on 2 cores. */
  static final int TOKENS = 128;

  static List<ModelSpec> models() {
    return List.of(ModelSpec.BGE_SMALL_EN_V15.withMaxTokens(TOKENS), ModelSpec.ALL_MINILM_L6_V2.withMaxTokens(TOKENS));
  }

  @ParameterizedTest
  @MethodSource("models")
  void matchesOnnxRuntimeOnSciFactPassages(ModelSpec spec) {
    List<String> passages = TestTexts.passages(PASSAGES);
    float[][] ort;
    try (OnnxEncoder onnx = new OnnxEncoder(spec, 2, 16)) {
      ort = onnx.embed(passages, Encoder.Kind.PASSAGE);
    }
    float[][] ref;
    try (ReferenceEncoder reference = new ReferenceEncoder(spec, 2)) {
      BertWeights w = reference.weights();
      assertEquals(384, w.hidden());
      assertEquals(12, w.heads(), "12 heads of 32");
      assertEquals(1536, w.intermediate());
      assertEquals(spec.name().startsWith("bge") ? 12 : 6, w.layers().size(), "layers");
      ref = reference.embed(passages, Encoder.Kind.PASSAGE);
    }
    double worst = 1;
    for (int i = 0; i < PASSAGES; i++) {
      double cos = Pooler.dot(ref[i], ort[i]);
      worst = Math.min(worst, cos);
      assertTrue(cos >= 0.99999, spec.name() + " passage " + i + ": cosine " + cos);
    }
    // the comparison is not vacuous: different passages are far apart
    assertTrue(Pooler.dot(ref[0], ref[1]) < 0.95, "distinct passages differ: " + Pooler.dot(ref[0], ref[1]));
    System.out.printf("%s: reference vs ONNX Runtime, %d passages (<= %d tokens), worst cosine %.8f%n", spec.name(),
        PASSAGES, TOKENS, worst);
  }
}
