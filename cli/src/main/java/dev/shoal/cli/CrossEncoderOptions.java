package dev.shoal.cli;

import dev.shoal.encoder.CrossEncoderSpec;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The second-phase model a ranker may serve: {@code --cross-encoder DIR}, shared by the ranker and the demo. */
final class CrossEncoderOptions {

  @Option(names = "--cross-encoder", paramLabel = "DIR", description = "serve this cross-encoder for the "
      + "cross-encoder rescorer: a directory with model.onnx (a BERT-family sequence-classification export taking "
      + "input_ids, attention_mask, token_type_ids, giving logits) and its tokenizer.json (default: none)")
  Path dir;

  @Option(names = "--cross-encoder-max-tokens", defaultValue = "512", description = "a (query, passage) pair's "
      + "length in tokens; the passage is cut to fit (default: ${DEFAULT-VALUE})")
  int maxTokens;

  /** The model, or null when none was asked for. */
  CrossEncoderSpec spec() {
    return dir == null ? null : CrossEncoderSpec.fromDirectory(dir, maxTokens);
  }
}
