package dev.shoal.encoder.model;

import java.util.List;
import java.util.Map;

/**
 * The sequence-classification head of a BERT-family model: the pooler (a dense layer and tanh on
 * the [CLS] row; absent in models exported without one) and the classifier (a dense layer to the
 * labels), read from an ONNX graph's initializers. Every matrix is stored [in, out] row-major,
 * whether the graph multiplies it by {@code Gemm} with {@code transB = 1} (the PyTorch exporter
 * on a 2-d input, weights [out, in] under their PyTorch names) or by {@code MatMul} (weights
 * anonymous behind {@code /bert/pooler/dense/MatMul} and {@code /classifier/MatMul}).
 *
 * <p>How the logits become one relevance score, higher is more relevant: one label is the score
 * itself (MS MARCO cross-encoders); two labels give their difference, relevant minus not
 * relevant, i.e. the log-odds of relevance. Models with more labels are refused. Immutable;
 * thread-safe.
 *
 * @param poolerWeight [hidden, hidden], or null when the model has no pooler
 * @param poolerBias   [hidden], or null
 * @param weight       [hidden, labels]
 * @param bias         [labels]
 */
public record ClassifierHead(int hidden, int labels, float[] poolerWeight, float[] poolerBias, float[] weight,
                             float[] bias) {

  public ClassifierHead {
    if (labels < 1 || labels > 2) {
      throw new IllegalArgumentException("a cross-encoder's classifier has one output (a relevance logit) or two "
          + "(not relevant, relevant); this model has " + labels);
    }
  }

  public boolean hasPooler() {
    return poolerWeight != null;
  }

  /** The relevance score of one row's logits. */
  public float score(float[] logits, int offset) {
    return labels == 1 ? logits[offset] : logits[offset + 1] - logits[offset];
  }

  public static ClassifierHead from(OnnxGraph g) {
    String prefix = BertWeights.prefix(g);
    Map<String, List<OnnxGraph.Node>> consumers = BertWeights.consumers(g);
    Dense classifier = dense(g, consumers, "classifier", "/classifier");
    if (classifier == null) {
      throw new IllegalArgumentException("the graph has no classifier (classifier.weight, or a /classifier/MatMul "
          + "or /classifier/Gemm node): is it a sequence-classification export?");
    }
    Dense pooler = dense(g, consumers, prefix + "pooler.dense", BertWeights.nodePrefix(prefix) + "/pooler/dense");
    int hidden = classifier.in();
    if (pooler != null && (pooler.in() != hidden || pooler.out() != hidden)) {
      throw new IllegalArgumentException("pooler is " + pooler.in() + "x" + pooler.out() + ", classifier takes "
          + hidden);
    }
    return new ClassifierHead(hidden, classifier.out(), pooler == null ? null : pooler.weight(),
        pooler == null ? null : pooler.bias(), classifier.weight(), classifier.bias());
  }

  /** A dense layer as [in, out] weights and its bias. */
  private record Dense(int in, int out, float[] weight, float[] bias) {
  }

  private static Dense dense(OnnxGraph g, Map<String, List<OnnxGraph.Node>> consumers, String param, String node) {
    OnnxGraph.Tensor bias = g.initializers().get(param + ".bias");
    OnnxGraph.Tensor named = g.initializers().get(param + ".weight");
    if (named != null) {
      for (OnnxGraph.Node n : consumers.getOrDefault(named.name(), List.of())) {
        if (n.op().equals("Gemm") && n.intAttribute("transB", 0) == 1) {
          int out = (int) named.dims()[0];
          int in = (int) named.dims()[1];
          return new Dense(in, out, transpose(named.data(), out, in), biasOf(bias, out, param));
        }
      }
      int in = (int) named.dims()[0];
      int out = (int) named.dims()[1];
      return new Dense(in, out, named.data(), biasOf(bias, out, param));
    }
    for (String op : List.of("MatMul", "Gemm")) {
      OnnxGraph.Node n = g.node(node + "/" + op);
      if (n == null) {
        continue;
      }
      for (String input : n.inputs()) {
        OnnxGraph.Tensor t = g.initializers().get(input);
        if (t != null && t.dims().length == 2) {
          if (n.intAttribute("transB", 0) == 1) {
            return new Dense((int) t.dims()[1], (int) t.dims()[0], transpose(t.data(), (int) t.dims()[0],
                (int) t.dims()[1]), biasOf(bias, (int) t.dims()[0], param));
          }
          return new Dense((int) t.dims()[0], (int) t.dims()[1], t.data(), biasOf(bias, (int) t.dims()[1], param));
        }
      }
    }
    return null;
  }

  private static float[] biasOf(OnnxGraph.Tensor bias, int out, String param) {
    if (bias == null) {
      return new float[out];
    }
    if (bias.data().length != out) {
      throw new IllegalArgumentException(param + ".bias has " + bias.data().length + " values, expected " + out);
    }
    return bias.data();
  }

  private static float[] transpose(float[] m, int rows, int cols) {
    float[] t = new float[m.length];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        t[c * rows + r] = m[r * cols + c];
      }
    }
    return t;
  }
}
