package dev.shoal.encoder;

import dev.shoal.encoder.model.BertClassifierGraph;
import dev.shoal.encoder.model.ModelFiles;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Small cross-encoders for tests: a random-weight BERT sequence-classification graph
 * ({@link BertClassifierGraph}) with bge-small's real tokenizer, written as a model directory
 * the way a user exports theirs.
 */
public final class TestCrossEncoders {

  /** bge-small-en-v1.5's vocabulary size (its tokenizer.json). */
  public static final int VOCAB = 30_522;

  private TestCrossEncoders() {
  }

  /** 2 layers, hidden 64 in 2 heads of 32, feed-forward 256, 512 positions. */
  public static BertClassifierGraph.Config small(int labels, long seed) {
    return new BertClassifierGraph.Config(VOCAB, 64, 2, 2, 256, 512, labels, seed);
  }

  /** Writes {@code dir/model.onnx} and {@code dir/tokenizer.json}; returns {@code dir}. */
  public static Path write(Path dir, BertClassifierGraph.Config config) {
    try {
      Files.createDirectories(dir);
      Files.write(dir.resolve("model.onnx"), BertClassifierGraph.build(config));
      try (InputStream in = ModelFiles.open(ModelSpec.BGE_SMALL_EN_V15.tokenizer())) {
        Files.copy(in, dir.resolve("tokenizer.json"), StandardCopyOption.REPLACE_EXISTING);
      }
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
