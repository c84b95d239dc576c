package dev.shoal.encoder.cuda;

import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.TestTexts;
import dev.shoal.encoder.model.BertWeights;
import dev.shoal.encoder.model.HalfWeights;
import dev.shoal.encoder.onnx.OnnxEncoder;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes {@link GpuReference}'s folder on a CPU: {@code java ... GpuReferenceWriter DIR}, with the
 * test class path (ONNX Runtime and the model artifacts on it). Takes about a minute on 2 cores.
 */
public final class GpuReferenceWriter {

  private GpuReferenceWriter() {
  }

  public static void main(String[] args) throws IOException {
    Path dir = Path.of(args.length > 0 ? args[0] : "gpu-reference");
    write(dir);
    System.out.println("GPU reference written to " + dir.toAbsolutePath());
  }

  static void write(Path dir) throws IOException {
    write(dir, GpuReference.PASSAGES, GpuReference.QUERIES);
  }

  /** The reference of the first {@code passageCount} passages and {@code queryCount} queries. */
  static void write(Path dir, int passageCount, int queryCount) throws IOException {
    Files.createDirectories(dir);
    List<String> passages = TestTexts.passages(passageCount);
    List<String> queries = TestTexts.queries(queryCount);
    for (ModelSpec spec : GpuReference.MODELS) {
      try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(
          dir.resolve(spec.name() + HalfWeights.EXTENSION)), 1 << 20)) {
        HalfWeights.write(BertWeights.load(spec.onnx()), out);
      }
      try (OnnxEncoder onnx = new OnnxEncoder(spec, Runtime.getRuntime().availableProcessors(), 32)) {
        GpuReference.write(GpuReference.vectorsFile(dir, spec, "passages"), onnx.embed(passages, Encoder.Kind.PASSAGE));
        GpuReference.write(GpuReference.vectorsFile(dir, spec, "queries"), onnx.embed(queries, Encoder.Kind.QUERY));
      }
    }
  }
}
