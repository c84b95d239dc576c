package dev.shoal.encoder;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Where a BERT-family ONNX model and its tokenizer.json live, and how its output becomes an
 * embedding. Immutable.
 *
 * @param name           the name reported with every embedding (also the config value)
 * @param onnx           class-path resource ("classpath:...") or file path of the ONNX graph
 * @param tokenizer      the same for tokenizer.json
 * @param dimension      hidden size = embedding length
 * @param pooling        CLS vector or attention-masked mean of the last hidden state
 * @param queryPrefix    prepended to queries (bge's retrieval instruction), may be empty
 * @param passagePrefix  prepended to passages, may be empty
 * @param maxTokens      truncation length including [CLS] and [SEP]
 */
public record ModelSpec(String name, String onnx, String tokenizer, int dimension, Pooling pooling,
                        String queryPrefix, String passagePrefix, int maxTokens) {

  public enum Pooling { CLS, MEAN }

  public ModelSpec {
    Objects.requireNonNull(name);
    Objects.requireNonNull(onnx);
    Objects.requireNonNull(tokenizer);
    Objects.requireNonNull(pooling);
    queryPrefix = queryPrefix == null ? "" : queryPrefix;
    passagePrefix = passagePrefix == null ? "" : passagePrefix;
    if (dimension <= 0 || maxTokens < 2) {
      throw new IllegalArgumentException("dimension and maxTokens must be positive: " + dimension + ", " + maxTokens);
    }
  }

  /** BAAI bge-small-en-v1.5, the default: CLS pooling, the model card's query instruction. */
  public static final ModelSpec BGE_SMALL_EN_V15 = new ModelSpec("bge-small-en-v1.5",
      "classpath:bge-small-en-v1.5.onnx", "classpath:bge-small-en-v1.5-tokenizer.json", 384, Pooling.CLS,
      "Represent this sentence for searching relevant passages: ", "", 512);

  /**
   * bge-small-en-v1.5 with its weights quantised to int8 (ONNX Runtime's dynamic quantisation:
   * int8 matrix products, activations quantised per call), for CPU deployments: about a quarter of
   * the size, faster on a CPU, at a relevance cost the README measures per collection. Its
   * vectors are not those of {@link #BGE_SMALL_EN_V15}, so it has its own name: a cluster embeds
   * passages and queries with the same one. ONNX Runtime only (the CUDA kernels take fp32 or fp16 weights).
   */
  public static final ModelSpec BGE_SMALL_EN_V15_INT8 = new ModelSpec("bge-small-en-v1.5-int8",
      "classpath:bge-small-en-v1.5-q.onnx", "classpath:bge-small-en-v1.5-q-tokenizer.json", 384, Pooling.CLS,
      BGE_SMALL_EN_V15.queryPrefix, "", 512);

  /** sentence-transformers all-MiniLM-L6-v2: 6 layers, mean pooling, 256 tokens as in its config. */
  public static final ModelSpec ALL_MINILM_L6_V2 = new ModelSpec("all-MiniLM-L6-v2",
      "classpath:all-minilm-l6-v2.onnx", "classpath:all-minilm-l6-v2-tokenizer.json", 384, Pooling.MEAN,
      "", "", 256);

  /** A copy with another truncation length (the demo trades passage length for speed). */
  public ModelSpec withMaxTokens(int tokens) {
    return new ModelSpec(name, onnx, tokenizer, dimension, pooling, queryPrefix, passagePrefix, tokens);
  }

  /**
   * Resolves a model by name ({@code bge-small-en-v1.5}, {@code bge-small-en-v1.5-int8},
   * {@code all-MiniLM-L6-v2}) or by a
   * directory holding {@code model.onnx} and {@code tokenizer.json}; for a directory, pooling
   * and prefixes come from the arguments (the model card says which).
   */
  public static ModelSpec resolve(String nameOrDir, int dimension, Pooling pooling, String queryPrefix,
                                  String passagePrefix, int maxTokens) {
    if (BGE_SMALL_EN_V15.name.equalsIgnoreCase(nameOrDir)) {
      return BGE_SMALL_EN_V15;
    }
    if (BGE_SMALL_EN_V15_INT8.name.equalsIgnoreCase(nameOrDir)) {
      return BGE_SMALL_EN_V15_INT8;
    }
    if (ALL_MINILM_L6_V2.name.equalsIgnoreCase(nameOrDir)) {
      return ALL_MINILM_L6_V2;
    }
    Path dir = Path.of(nameOrDir);
    Path onnx = dir.resolve("model.onnx");
    Path tok = dir.resolve("tokenizer.json");
    if (!Files.isRegularFile(onnx) || !Files.isRegularFile(tok)) {
      throw new IllegalArgumentException("unknown model '" + nameOrDir + "': expected bge-small-en-v1.5, "
          + "bge-small-en-v1.5-int8, all-MiniLM-L6-v2, or a directory with model.onnx and tokenizer.json");
    }
    return new ModelSpec(dir.getFileName().toString(), onnx.toString(), tok.toString(), dimension, pooling,
        queryPrefix, passagePrefix, maxTokens);
  }
}
