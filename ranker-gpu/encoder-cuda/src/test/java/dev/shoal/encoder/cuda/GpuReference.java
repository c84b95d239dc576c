package dev.shoal.encoder.cuda;

import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.model.HalfWeights;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * What the GPU suite checks against, prepared on a CPU beforehand ({@link GpuReferenceWriter}, run
 * by {@code ranker-gpu/gpu/stage.sh}) so that the GPU machine needs neither ONNX Runtime nor the
 * ONNX files: for each model its fp16 weights ({@link HalfWeights}) and ONNX Runtime's embeddings
 * of the first {@value #PASSAGES} SciFact passages and {@value #QUERIES} queries. Vectors files:
 * little-endian int count, int dimension, then the floats. This class only reads (it never loads
 * ONNX Runtime).
 */
final class GpuReference {

  static final int PASSAGES = 1_000;
  static final int QUERIES = 100;
  static final List<ModelSpec> MODELS = List.of(ModelSpec.BGE_SMALL_EN_V15, ModelSpec.ALL_MINILM_L6_V2);

  private GpuReference() {
  }

  /** The staged reference folder ({@code -Dshoal.gpu.reference}), or null when not staged. */
  static Path staged() {
    String dir = System.getProperty("shoal.gpu.reference");
    return dir == null || dir.isEmpty() ? null : Path.of(dir);
  }

  /** The model as the GPU run loads it: its fp16 weights in {@code dir}, its tokenizer from the class path. */
  static ModelSpec halfWeights(ModelSpec spec, Path dir) {
    return new ModelSpec(spec.name(), dir.resolve(spec.name() + HalfWeights.EXTENSION).toString(), spec.tokenizer(),
        spec.dimension(), spec.pooling(), spec.queryPrefix(), spec.passagePrefix(), spec.maxTokens());
  }

  static Path vectorsFile(Path dir, ModelSpec spec, String what) {
    return dir.resolve(spec.name() + "-" + what + ".f32");
  }

  static float[][] read(Path file) {
    try {
      ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
      int n = b.getInt();
      int dim = b.getInt();
      float[][] out = new float[n][dim];
      for (float[] v : out) {
        b.asFloatBuffer().get(v);
        b.position(b.position() + dim * Float.BYTES);
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the staged reference " + file, e);
    }
  }

  static void write(Path file, float[][] vectors) throws IOException {
    int dim = vectors.length == 0 ? 0 : vectors[0].length;
    ByteBuffer b = ByteBuffer.allocate(8 + vectors.length * dim * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(vectors.length).putInt(dim);
    for (float[] v : vectors) {
      for (float x : v) {
        b.putFloat(x);
      }
    }
    Files.write(file, b.array());
  }
}
