package dev.shoal.encoder.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.TestTexts;
import dev.shoal.encoder.reference.ReferenceEncoder;
import java.io.ByteArrayInputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fp16 weights file the GPU staging ships: 2 bytes a weight, every tensor read back as the
 * fp16 rounding of the ONNX file's value, and the reference encoder on it gives the ONNX file's
 * embeddings to fp16 accuracy (as the CUDA kernels, which round the weights the same way, would).
 */
class HalfWeightsTest {

  @TempDir
  Path tmp;

  private static long params(BertWeights w) {
    long n = w.wordEmbeddings().length + w.positionEmbeddings().length + w.tokenTypeEmbeddings().length
        + w.embeddingNormGamma().length + w.embeddingNormBeta().length;
    for (BertWeights.Layer l : w.layers()) {
      for (float[] t : l.tensors()) {
        n += t.length;
      }
    }
    return n;
  }

  @Test
  void roundTripsEachWeightToItsHalfPrecisionValueAndEmbedsAlike() throws Exception {
    ModelSpec onnx = ModelSpec.ALL_MINILM_L6_V2.withMaxTokens(64);
    BertWeights w = BertWeights.load(onnx.onnx());
    Path file = tmp.resolve("all-minilm-l6-v2" + HalfWeights.EXTENSION);
    try (OutputStream out = Files.newOutputStream(file)) {
      HalfWeights.write(w, out);
    }
    long data = 2 * params(w);
    assertTrue(Files.size(file) > data && Files.size(file) < data + 20_000, "2 bytes a weight and a header: "
        + Files.size(file) + " for " + params(w) + " weights");
    BertWeights h = BertWeights.load(file.toString());
    assertEquals(w.hidden(), h.hidden());
    assertEquals(w.heads(), h.heads());
    assertEquals(w.intermediate(), h.intermediate());
    assertEquals(w.epsilon(), h.epsilon());
    assertEquals(w.maxPositions(), h.maxPositions());
    assertEquals(w.layers().size(), h.layers().size());
    assertEquals(params(w), params(h));
    float[] a = w.layers().get(3).w1();
    float[] b = h.layers().get(3).w1();
    int rounded = 0;
    for (int i = 0; i < a.length; i++) {
      assertEquals(Float.float16ToFloat(Float.floatToFloat16(a[i])), b[i], 0f, "element " + i);
      rounded += a[i] != b[i] ? 1 : 0;
    }
    assertTrue(rounded > a.length / 2, "the file holds fp16 values, not the fp32 ones: " + rounded);
    ModelSpec half = new ModelSpec(onnx.name(), file.toString(), onnx.tokenizer(), onnx.dimension(), onnx.pooling(),
        onnx.queryPrefix(), onnx.passagePrefix(), onnx.maxTokens());
    List<String> texts = TestTexts.passages(4);
    try (ReferenceEncoder full = new ReferenceEncoder(onnx, 2);
         ReferenceEncoder halved = new ReferenceEncoder(half, 2)) {
      float[][] x = full.embed(texts, Encoder.Kind.PASSAGE);
      float[][] y = halved.embed(texts, Encoder.Kind.PASSAGE);
      for (int i = 0; i < texts.size(); i++) {
        double cos = Pooler.dot(x[i], y[i]);
        assertTrue(cos > 0.9995 && cos < 1.0001, "passage " + i + ": cosine " + cos);
      }
    }
    assertThrows(IllegalArgumentException.class,
        () -> HalfWeights.read(new ByteArrayInputStream("not weights\n{}\n".getBytes())));
  }
}
