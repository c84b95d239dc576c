package dev.shoal.cli;

import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.PassageWindows;
import java.util.Locale;
import picocli.CommandLine.Option;

/** The encoder model options shared by every command that runs a model. */
final class ModelOptions {

  @Option(names = "--model", description = "bge-small-en-v1.5, bge-small-en-v1.5-int8 (int8 weights: faster on a "
      + "CPU), all-MiniLM-L6-v2, or a directory with model.onnx and tokenizer.json (default: ${DEFAULT-VALUE})",
      defaultValue = "bge-small-en-v1.5")
  String model;

  @Option(names = "--pooling", defaultValue = "cls", description = "for a model directory: cls or mean "
      + "(default: ${DEFAULT-VALUE}; the built-in models know their own)")
  String pooling;

  @Option(names = "--query-prefix", defaultValue = "", description = "for a model directory: text put before "
      + "every query (e.g. an instruction from the model card)")
  String queryPrefix;

  @Option(names = "--dimension", defaultValue = "384", description = "for a model directory: embedding size")
  int dimension;

  @Option(names = "--max-passage-tokens", description = "passage truncation in tokens; 256 keeps SciFact under "
      + "10 minutes on 2 cores (default: ${DEFAULT-VALUE})", defaultValue = "256")
  int maxTokens;

  @Option(names = "--max-windows", description = "a passage longer than --max-passage-tokens is embedded as up to "
      + "this many overlapping windows, pooled into its vector; 1 truncates it (default: ${DEFAULT-VALUE})",
      defaultValue = "" + PassageWindows.DEFAULT_MAX_WINDOWS)
  int maxWindows;

  /** These options as command-line arguments, for a child process that runs the same model. */
  java.util.List<String> asArguments() {
    return java.util.List.of("--model", model, "--pooling", pooling, "--query-prefix", queryPrefix, "--dimension",
        Integer.toString(dimension), "--max-passage-tokens", Integer.toString(maxTokens), "--max-windows",
        Integer.toString(maxWindows));
  }

  ModelSpec spec() {
    return ModelSpec.resolve(model, dimension, ModelSpec.Pooling.valueOf(pooling.toUpperCase(Locale.ROOT)),
        queryPrefix, "", 512).withMaxTokens(maxTokens);
  }
}
