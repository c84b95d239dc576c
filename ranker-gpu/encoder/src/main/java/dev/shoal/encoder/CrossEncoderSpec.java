package dev.shoal.encoder;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Where a BERT-family sequence-classification ONNX model (a cross-encoder) and its tokenizer.json
 * live. The graph takes {@code input_ids}, {@code attention_mask} and {@code token_type_ids}
 * [batch, sequence] and gives {@code logits} [batch, 1 or 2]. No cross-encoder ships with Shoal:
 * a deployment points at a directory exported from its own model (see the README). Immutable.
 *
 * @param name      the name reported with every score (the directory's name)
 * @param onnx      file path (or "classpath:..." resource) of the ONNX graph
 * @param tokenizer the same for tokenizer.json
 * @param maxTokens truncation length of a pair, [CLS] and both [SEP] included
 */
public record CrossEncoderSpec(String name, String onnx, String tokenizer, int maxTokens) {

  public CrossEncoderSpec {
    Objects.requireNonNull(name);
    Objects.requireNonNull(onnx);
    Objects.requireNonNull(tokenizer);
    if (maxTokens < 4) {
      throw new IllegalArgumentException("maxTokens must leave room for [CLS], two [SEP] and a token: " + maxTokens);
    }
  }

  /** A directory holding {@code model.onnx} and {@code tokenizer.json}. */
  public static CrossEncoderSpec fromDirectory(Path dir, int maxTokens) {
    Path onnx = dir.resolve("model.onnx");
    Path tok = dir.resolve("tokenizer.json");
    if (!Files.isRegularFile(onnx) || !Files.isRegularFile(tok)) {
      throw new IllegalArgumentException("cross-encoder directory " + dir + " must hold model.onnx and tokenizer.json"
          + " (a BERT-family sequence-classification export; see the README's 'Cross-encoder' section)");
    }
    return new CrossEncoderSpec(dir.toAbsolutePath().normalize().getFileName().toString(), onnx.toString(),
        tok.toString(), maxTokens);
  }
}
