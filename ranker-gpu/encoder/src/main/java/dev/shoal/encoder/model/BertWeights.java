package dev.shoal.encoder.model;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The weights of a BERT-family encoder taken from an ONNX graph's initializers, each mapped to
 * its place in the network. Biases, embeddings and LayerNorm parameters keep their PyTorch
 * names in the exports we serve ({@code encoder.layer.3.output.LayerNorm.weight}); the linear
 * weights are anonymous ({@code onnx::MatMul_1525}) and are named here after the node that
 * consumes them ({@code /encoder/layer.0/attention/self/query/MatMul} →
 * {@code encoder.layer.0.attention.self.query.weight}). Linear weights are stored [in, out]
 * row-major, as the graph multiplies {@code x · W}. The head size and the LayerNorm epsilon are
 * read from the graph's constants. A model exported with a task head
 * ({@code BertForSequenceClassification}) has its encoder under a prefix ({@code bert.} in
 * initializer names, {@code /bert} in node names), found from the word embeddings' name; the
 * head itself is {@link ClassifierHead}'s. Immutable; thread-safe.
 */
public record BertWeights(int hidden, int heads, int intermediate, float epsilon, int maxPositions,
                          float[] wordEmbeddings, float[] positionEmbeddings, float[] tokenTypeEmbeddings,
                          float[] embeddingNormGamma, float[] embeddingNormBeta, List<Layer> layers) {

  /** One transformer layer; every matrix [in, out] row-major. */
  public record Layer(float[] wq, float[] bq, float[] wk, float[] bk, float[] wv, float[] bv,
                      float[] wo, float[] bo, float[] attentionNormGamma, float[] attentionNormBeta,
                      float[] w1, float[] b1, float[] w2, float[] b2, float[] outputNormGamma,
                      float[] outputNormBeta) {

    /**
     * Each parameter's PyTorch name within {@code encoder.layer.N.}, in the order of this record's
     * components (and of {@link #tensors()} and {@link #of}).
     */
    public static final List<String> PARAMETERS = List.of("attention.self.query.weight",
        "attention.self.query.bias", "attention.self.key.weight", "attention.self.key.bias",
        "attention.self.value.weight", "attention.self.value.bias", "attention.output.dense.weight",
        "attention.output.dense.bias", "attention.output.LayerNorm.weight", "attention.output.LayerNorm.bias",
        "intermediate.dense.weight", "intermediate.dense.bias", "output.dense.weight", "output.dense.bias",
        "output.LayerNorm.weight", "output.LayerNorm.bias");

    /** The layer of layer {@code index}, each parameter looked up by its full name. */
    public static Layer of(int index, java.util.function.Function<String, float[]> byName) {
      float[][] t = new float[PARAMETERS.size()][];
      for (int i = 0; i < t.length; i++) {
        t[i] = byName.apply("encoder.layer." + index + "." + PARAMETERS.get(i));
      }
      return new Layer(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10], t[11], t[12], t[13], t[14],
          t[15]);
    }

    /** The parameters in {@link #PARAMETERS} order. */
    public List<float[]> tensors() {
      return List.of(wq, bq, wk, bk, wv, bv, wo, bo, attentionNormGamma, attentionNormBeta, w1, b1, w2, b2,
          outputNormGamma, outputNormBeta);
    }
  }

  private static final Pattern MATMUL = Pattern.compile("^/(encoder/layer\\.\\d+/.+)/MatMul$");
  private static final Pattern LAYER = Pattern.compile("^encoder\\.layer\\.(\\d+)\\.");

  public int headSize() {
    return hidden / heads;
  }

  /**
   * The weights at a model location ("classpath:..." or a path): an ONNX graph, or a
   * {@link HalfWeights} file (name ending {@value HalfWeights#EXTENSION}), as the GPU staging ships.
   */
  public static BertWeights load(String location) throws java.io.IOException {
    if (location.endsWith(HalfWeights.EXTENSION)) {
      try (java.io.InputStream in = new java.io.BufferedInputStream(ModelFiles.open(location), 1 << 20)) {
        return HalfWeights.read(in);
      }
    }
    return from(OnnxGraph.read(ModelFiles.readAll(location)));
  }

  public static BertWeights from(OnnxGraph g) {
    String prefix = prefix(g);
    String nodePrefix = nodePrefix(prefix);
    Map<String, List<OnnxGraph.Node>> consumers = consumers(g);
    Map<String, OnnxGraph.Tensor> named = new HashMap<>();
    for (OnnxGraph.Tensor t : g.initializers().values()) {
      String name = t.name().startsWith(prefix) ? t.name().substring(prefix.length()) : t.name();
      if (name.startsWith("embeddings.") || name.startsWith("encoder.")) {
        named.put(name, t);
        continue;
      }
      for (OnnxGraph.Node n : consumers.getOrDefault(t.name(), List.of())) {
        Matcher m = n.name().startsWith(nodePrefix) ? MATMUL.matcher(n.name().substring(nodePrefix.length())) : null;
        if (n.op().equals("MatMul") && m != null && m.matches()) {
          named.put(m.group(1).replace('/', '.') + ".weight", t);
        }
      }
    }
    TreeSet<Integer> layerIds = new TreeSet<>();
    for (String name : named.keySet()) {
      Matcher m = LAYER.matcher(name);
      if (m.find()) {
        layerIds.add(Integer.parseInt(m.group(1)));
      }
    }
    if (layerIds.isEmpty() || layerIds.first() != 0 || layerIds.last() != layerIds.size() - 1) {
      throw new IllegalArgumentException("no BERT encoder layers found in the graph (layers " + layerIds + ")");
    }
    OnnxGraph.Tensor words = need(named, "embeddings.word_embeddings.weight");
    int hidden = (int) words.dims()[1];
    OnnxGraph.Tensor positions = need(named, "embeddings.position_embeddings.weight");
    List<Layer> layers = new ArrayList<>();
    for (int i : layerIds) {
      layers.add(Layer.of(i, name -> data(named, name)));
    }
    int intermediate = (int) need(named, "encoder.layer.0.intermediate.dense.weight").dims()[1];
    float scale = constantInput(g, nodePrefix + "/encoder/layer.0/attention/self/Div");
    int headSize = Math.round(scale * scale);
    if (headSize <= 0 || hidden % headSize != 0) {
      throw new IllegalArgumentException("attention scale " + scale + " does not give a head size dividing " + hidden);
    }
    float eps = constantInput(g, nodePrefix + "/embeddings/LayerNorm/Add");
    OnnxGraph.Tensor types = named.get("embeddings.token_type_embeddings.weight");
    return new BertWeights(hidden, hidden / headSize, intermediate, eps, (int) positions.dims()[0], words.data(),
        positions.data(), types == null ? new float[hidden] : types.data(),
        data(named, "embeddings.LayerNorm.weight"), data(named, "embeddings.LayerNorm.bias"), List.copyOf(layers));
  }

  /**
   * What the encoder's initializer names start with: "" for a bare encoder, "bert." for one
   * exported with a task head.
   */
  static String prefix(OnnxGraph g) {
    String suffix = "embeddings.word_embeddings.weight";
    for (String name : g.initializers().keySet()) {
      if (name.endsWith(suffix)) {
        return name.substring(0, name.length() - suffix.length());
      }
    }
    throw new IllegalArgumentException("the graph has no weight for " + suffix);
  }

  /** The node-name form of an initializer prefix: "bert." → "/bert". */
  static String nodePrefix(String prefix) {
    return prefix.isEmpty() ? "" : "/" + prefix.substring(0, prefix.length() - 1).replace('.', '/');
  }

  static Map<String, List<OnnxGraph.Node>> consumers(OnnxGraph g) {
    Map<String, List<OnnxGraph.Node>> consumers = new HashMap<>();
    for (OnnxGraph.Node n : g.nodes()) {
      for (String in : n.inputs()) {
        consumers.computeIfAbsent(in, k -> new ArrayList<>()).add(n);
      }
    }
    return consumers;
  }

  /** The scalar constant that node {@code name} takes as one of its inputs. */
  static float constantInput(OnnxGraph g, String name) {
    OnnxGraph.Node n = g.node(name);
    if (n != null) {
      for (String in : n.inputs()) {
        Float c = g.constant(in);
        if (c == null && g.initializers().containsKey(in) && g.initializers().get(in).data().length == 1) {
          c = g.initializers().get(in).data()[0];
        }
        if (c != null) {
          return c;
        }
      }
    }
    throw new IllegalArgumentException("the graph has no node " + name + " with a scalar constant input");
  }

  private static OnnxGraph.Tensor need(Map<String, OnnxGraph.Tensor> named, String name) {
    OnnxGraph.Tensor t = named.get(name);
    if (t == null) {
      throw new IllegalArgumentException("the graph has no weight for " + name);
    }
    return t;
  }

  private static float[] data(Map<String, OnnxGraph.Tensor> named, String name) {
    return need(named, name).data();
  }
}
