package dev.shoal.encoder.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.TestTexts;
import dev.shoal.encoder.model.Pooler;
import dev.shoal.encoder.reference.ReferenceEncoder;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the GPU suite is checked against, on a CPU (the default suite): the staged reference reads
 * back as ONNX Runtime wrote it, and the fp16 weights the GPU loads give, through the plain-Java
 * reference forward pass, the staged ONNX Runtime vectors to fp16 accuracy. So a GPU run that
 * disagrees points at the kernels, not at the staging.
 */
class GpuReferenceTest {

  @TempDir
  Path tmp;

  @Test
  void theHalfWeightsTheGpuLoadsReproduceTheStagedOnnxRuntimeVectors() throws Exception {
    GpuReferenceWriter.write(tmp, 6, 3);
    for (ModelSpec onnx : GpuReference.MODELS) {
      float[][] passages = GpuReference.read(GpuReference.vectorsFile(tmp, onnx, "passages"));
      float[][] queries = GpuReference.read(GpuReference.vectorsFile(tmp, onnx, "queries"));
      assertEquals(6, passages.length);
      assertEquals(3, queries.length);
      assertEquals(onnx.dimension(), passages[0].length);
      ModelSpec half = GpuReference.halfWeights(onnx, tmp);
      try (ReferenceEncoder ref = new ReferenceEncoder(half, 2)) {
        float[][] p = ref.embed(TestTexts.passages(6), Encoder.Kind.PASSAGE);
        float[][] q = ref.embed(TestTexts.queries(3), Encoder.Kind.QUERY);
        for (int i = 0; i < p.length; i++) {
          double cos = Pooler.dot(p[i], passages[i]);
          assertTrue(cos >= 0.999, onnx.name() + " passage " + i + ": cosine " + cos);
        }
        for (int i = 0; i < q.length; i++) {
          double cos = Pooler.dot(q[i], queries[i]);
          assertTrue(cos >= 0.999, onnx.name() + " query " + i + ": cosine " + cos);
        }
        assertTrue(Pooler.dot(p[0], passages[1]) < 0.99, "different passages stay apart, so the check can fail");
      }
    }
  }
}
