package dev.shoal.encoder.model;

import static dev.shoal.encoder.model.OnnxModelWriter.FLOAT;
import static dev.shoal.encoder.model.OnnxModelWriter.INT64;

import java.util.List;
import java.util.SplittableRandom;

/**
 * Builds a BERT sequence-classification ONNX graph with random weights, laid out as the PyTorch
 * exporter writes {@code BertForSequenceClassification} (opset 14): inputs {@code input_ids},
 * {@code attention_mask}, {@code token_type_ids} [batch, sequence] int64, output {@code logits}
 * [batch, labels]; initializers under their PyTorch names ({@code bert.encoder.layer.0.output.dense.bias},
 * {@code bert.pooler.dense.weight}, {@code classifier.weight}), the encoder's linear weights
 * anonymous and [in, out] behind {@code /bert/encoder/layer.N/.../MatMul} nodes, LayerNorm
 * decomposed (ReduceMean, Sub, Pow, ReduceMean, Add ε, Sqrt, Div, Mul, Add), exact GELU through
 * Erf, the padding mask added to the scaled scores before Softmax, the pooler and classifier as
 * Gemm with transB = 1 on the [CLS] row.
 *
 * <p>No cross-encoder weights ship with Shoal, so tests and the GPU staging use this to check that
 * ONNX Runtime, the plain-Java reference and the CUDA kernels compute the same function of the
 * same weights. Random weights give meaningless but well spread scores (weights scaled by
 * 1/√fan-in, so activations neither vanish nor saturate). Stateless.
 */
public final class BertClassifierGraph {

  /**
   * @param vocab        word-embedding rows (the tokenizer's vocabulary size)
   * @param hidden       hidden size
   * @param heads        attention heads (hidden / heads is the head size)
   * @param layers       transformer layers
   * @param intermediate feed-forward width
   * @param positions    position-embedding rows (the longest sequence)
   * @param labels       classifier outputs (1: a relevance logit; 2: not relevant, relevant)
   * @param seed         the weights' random seed
   */
  public record Config(int vocab, int hidden, int heads, int layers, int intermediate, int positions, int labels,
                       long seed) {
    public Config {
      if (hidden % heads != 0 || labels < 1 || layers < 1) {
        throw new IllegalArgumentException("hidden must divide into heads, labels and layers be positive: " + hidden
            + ", " + heads + ", " + labels + ", " + layers);
      }
    }
  }

  /** LayerNorm epsilon, as BERT's config sets it. */
  public static final float EPSILON = 1e-12f;

  private final Config c;
  private final OnnxModelWriter w = new OnnxModelWriter(14);
  private final SplittableRandom random;
  private int anonymous = 1000;

  private BertClassifierGraph(Config c) {
    this.c = c;
    this.random = new SplittableRandom(c.seed());
  }

  /** The model file's bytes. */
  public static byte[] build(Config config) {
    return new BertClassifierGraph(config).graph();
  }

  private byte[] graph() {
    int h = c.hidden();
    w.input("input_ids", INT64, "batch", "sequence");
    w.input("attention_mask", INT64, "batch", "sequence");
    w.input("token_type_ids", INT64, "batch", "sequence");
    w.output("logits", FLOAT, "batch", c.labels());

    String words = op("/bert/embeddings/word_embeddings/Gather", "Gather",
        weight("bert.embeddings.word_embeddings.weight", 0.5, c.vocab(), h), "input_ids");
    String types = op("/bert/embeddings/token_type_embeddings/Gather", "Gather",
        weight("bert.embeddings.token_type_embeddings.weight", 0.5, 2, h), "token_type_ids");
    long[] ids = new long[c.positions()];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = i;
    }
    w.initializer(OnnxModelWriter.int64Tensor("bert.embeddings.position_ids", new long[] {1, ids.length}, ids));
    String shape = op("/bert/embeddings/Shape", "Shape", "input_ids");
    String length = op("/bert/embeddings/Slice", "Slice", shape, ints("/bert/embeddings/Constant", 1),
        ints("/bert/embeddings/Constant_1", 2), ints("/bert/embeddings/Constant_2", 0));
    String positionIds = op("/bert/embeddings/Slice_1", "Slice", "bert.embeddings.position_ids",
        ints("/bert/embeddings/Constant_3", 0), length, ints("/bert/embeddings/Constant_4", 1));
    String positions = op("/bert/embeddings/position_embeddings/Gather", "Gather",
        weight("bert.embeddings.position_embeddings.weight", 0.5, c.positions(), h), positionIds);
    String sum = op("/bert/embeddings/Add", "Add", words, types);
    sum = op("/bert/embeddings/Add_1", "Add", sum, positions);
    String x = layerNorm("/bert/embeddings/LayerNorm", "bert.embeddings.LayerNorm", sum);

    String mask = op("/bert/Unsqueeze", "Unsqueeze", "attention_mask", ints("/bert/Constant", 1, 2));
    mask = op("/bert/Cast", "Cast", List.of(mask), OnnxModelWriter.i("to", FLOAT));
    mask = op("/bert/Sub", "Sub", scalar("/bert/Constant_1", 1f), mask);
    String additive = op("/bert/Mul", "Mul", mask, scalar("/bert/Constant_2", -Float.MAX_VALUE));

    for (int l = 0; l < c.layers(); l++) {
      x = layer(l, x, additive);
    }

    String cls = op("/bert/pooler/Gather", "Gather", List.of(x, int64Scalar("/bert/pooler/Constant", 0)),
        OnnxModelWriter.i("axis", 1));
    String pooled = op("/bert/pooler/dense/Gemm", "Gemm",
        List.of(cls, weight("bert.pooler.dense.weight", 1 / Math.sqrt(h), h, h), bias("bert.pooler.dense.bias", h)),
        OnnxModelWriter.i("transB", 1));
    pooled = op("/bert/pooler/activation/Tanh", "Tanh", pooled);
    w.node("/classifier/Gemm", "Gemm", List.of(pooled, weight("classifier.weight", 1.5 / Math.sqrt(h), c.labels(), h),
        bias("classifier.bias", c.labels())), List.of("logits"), OnnxModelWriter.i("transB", 1));
    return w.toBytes();
  }

  private String layer(int l, String x, String mask) {
    int h = c.hidden();
    int d = h / c.heads();
    String p = "/bert/encoder/layer." + l;
    String n = "bert.encoder.layer." + l;
    String q = linear(p + "/attention/self/query", n + ".attention.self.query", x, h, h);
    String k = linear(p + "/attention/self/key", n + ".attention.self.key", x, h, h);
    String v = linear(p + "/attention/self/value", n + ".attention.self.value", x, h, h);
    String heads = ints(p + "/attention/self/Constant", 0, 0, c.heads(), d);
    q = op(p + "/attention/self/Transpose", "Transpose", List.of(op(p + "/attention/self/Reshape", "Reshape", q, heads)),
        OnnxModelWriter.ints("perm", 0, 2, 1, 3));
    k = op(p + "/attention/self/Transpose_1", "Transpose",
        List.of(op(p + "/attention/self/Reshape_1", "Reshape", k, heads)), OnnxModelWriter.ints("perm", 0, 2, 3, 1));
    v = op(p + "/attention/self/Transpose_2", "Transpose",
        List.of(op(p + "/attention/self/Reshape_2", "Reshape", v, heads)), OnnxModelWriter.ints("perm", 0, 2, 1, 3));
    String scores = op(p + "/attention/self/MatMul", "MatMul", q, k);
    scores = op(p + "/attention/self/Div", "Div", scores, scalar(p + "/attention/self/Constant_1", (float) Math.sqrt(d)));
    scores = op(p + "/attention/self/Add", "Add", scores, mask);
    String probs = op(p + "/attention/self/Softmax", "Softmax", List.of(scores), OnnxModelWriter.i("axis", -1));
    String context = op(p + "/attention/self/MatMul_1", "MatMul", probs, v);
    context = op(p + "/attention/self/Transpose_3", "Transpose", List.of(context),
        OnnxModelWriter.ints("perm", 0, 2, 1, 3));
    context = op(p + "/attention/self/Reshape_3", "Reshape", context, ints(p + "/attention/self/Constant_2", 0, 0, h));
    String a = linear(p + "/attention/output/dense", n + ".attention.output.dense", context, h, h);
    a = op(p + "/attention/output/Add", "Add", a, x);
    a = layerNorm(p + "/attention/output/LayerNorm", n + ".attention.output.LayerNorm", a);
    String i = linear(p + "/intermediate/dense", n + ".intermediate.dense", a, h, c.intermediate());
    String g = op(p + "/intermediate/intermediate_act_fn/Div", "Div", i,
        scalar(p + "/intermediate/intermediate_act_fn/Constant", 1.4142135f));
    g = op(p + "/intermediate/intermediate_act_fn/Erf", "Erf", g);
    g = op(p + "/intermediate/intermediate_act_fn/Add", "Add", g,
        scalar(p + "/intermediate/intermediate_act_fn/Constant_1", 1f));
    g = op(p + "/intermediate/intermediate_act_fn/Mul", "Mul", i, g);
    g = op(p + "/intermediate/intermediate_act_fn/Mul_1", "Mul", g,
        scalar(p + "/intermediate/intermediate_act_fn/Constant_2", 0.5f));
    String o = linear(p + "/output/dense", n + ".output.dense", g, c.intermediate(), h);
    o = op(p + "/output/Add", "Add", o, a);
    return layerNorm(p + "/output/LayerNorm", n + ".output.LayerNorm", o);
  }

  /** x · W + b with W anonymous [in, out] (as the exporter writes a Linear on a 3-d input). */
  private String linear(String node, String param, String x, int in, int out) {
    String weight = weight("onnx::MatMul_" + anonymous++, 1 / Math.sqrt(in), in, out);
    String y = op(node + "/MatMul", "MatMul", x, weight);
    return op(node + "/Add", "Add", bias(param + ".bias", out), y);
  }

  private String layerNorm(String node, String param, String x) {
    String mean = op(node + "/ReduceMean", "ReduceMean", List.of(x), OnnxModelWriter.ints("axes", -1));
    String centred = op(node + "/Sub", "Sub", x, mean);
    String square = op(node + "/Pow", "Pow", centred, scalar(node + "/Constant", 2f));
    String variance = op(node + "/ReduceMean_1", "ReduceMean", List.of(square), OnnxModelWriter.ints("axes", -1));
    String shifted = op(node + "/Add", "Add", variance, scalar(node + "/Constant_1", EPSILON));
    String norm = op(node + "/Div", "Div", centred, op(node + "/Sqrt", "Sqrt", shifted));
    String gamma = param + ".weight";
    float[] g = new float[c.hidden()];
    for (int j = 0; j < g.length; j++) {
      g[j] = (float) (1 + 0.1 * random.nextGaussian());
    }
    w.initializer(OnnxModelWriter.floatTensor(gamma, new long[] {g.length}, g));
    return op(node + "/Add_1", "Add", op(node + "/Mul", "Mul", norm, gamma), bias(param + ".bias", c.hidden()));
  }

  private String op(String name, String op, String... in) {
    return op(name, op, List.of(in));
  }

  private String op(String name, String op, List<String> in, OnnxModelWriter.Attribute... attributes) {
    String out = name + "_output_0";
    w.node(name, op, in, List.of(out), attributes);
    return out;
  }

  private String weight(String name, double std, int rows, int cols) {
    float[] v = new float[rows * cols];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) (std * random.nextGaussian());
    }
    w.initializer(OnnxModelWriter.floatTensor(name, new long[] {rows, cols}, v));
    return name;
  }

  private String bias(String name, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (0.1 * random.nextGaussian());
    }
    w.initializer(OnnxModelWriter.floatTensor(name, new long[] {n}, v));
    return name;
  }

  private String scalar(String name, float value) {
    String out = name + "_output_0";
    w.node(name, "Constant", List.of(), List.of(out),
        OnnxModelWriter.tensor("value", OnnxModelWriter.floatTensor("", new long[0], new float[] {value})));
    return out;
  }

  private String int64Scalar(String name, long value) {
    String out = name + "_output_0";
    w.node(name, "Constant", List.of(), List.of(out),
        OnnxModelWriter.tensor("value", OnnxModelWriter.int64Tensor("", new long[0], new long[] {value})));
    return out;
  }

  private String ints(String name, long... values) {
    String out = name + "_output_0";
    w.node(name, "Constant", List.of(), List.of(out),
        OnnxModelWriter.tensor("value", OnnxModelWriter.int64Tensor("", new long[] {values.length}, values)));
    return out;
  }
}
