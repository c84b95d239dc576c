package dev.shoal.encoder.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A BERT encoder's weights in half precision, one file: what the GPU staging ships instead of the
 * ONNX graph (half the bytes, and all the CUDA kernels read: they convert every weight to fp16
 * anyway, with the same round-to-nearest-even as {@link Float#floatToFloat16}, so an encoder
 * loaded from here computes what one loaded from the ONNX file does).
 *
 * <p>Layout: the line {@value #MAGIC_LINE}, one line of JSON (hidden, heads, intermediate,
 * epsilon, maxPositions, and {@code tensors}: [name, [dims]] in file order, PyTorch names such as
 * {@code encoder.layer.0.attention.self.query.weight}, linear weights [in, out]), then each
 * tensor's values as little-endian IEEE fp16. {@code ranker-gpu/gpu/bench_torch.py} reads the same
 * file. Stateless.
 */
public final class HalfWeights {

  /** The file name extension {@link BertWeights#load} recognises. */
  public static final String EXTENSION = ".f16";
  static final String MAGIC_LINE = "shoal-bert-f16 1";

  private HalfWeights() {
  }

  public static void write(BertWeights w, OutputStream out) throws IOException {
    Map<String, float[]> tensors = new LinkedHashMap<>();
    Map<String, long[]> dims = new LinkedHashMap<>();
    int h = w.hidden();
    put(tensors, dims, "embeddings.word_embeddings.weight", w.wordEmbeddings(), w.wordEmbeddings().length / h, h);
    put(tensors, dims, "embeddings.position_embeddings.weight", w.positionEmbeddings(), w.maxPositions(), h);
    put(tensors, dims, "embeddings.token_type_embeddings.weight", w.tokenTypeEmbeddings(),
        w.tokenTypeEmbeddings().length / h, h);
    put(tensors, dims, "embeddings.LayerNorm.weight", w.embeddingNormGamma(), h);
    put(tensors, dims, "embeddings.LayerNorm.bias", w.embeddingNormBeta(), h);
    int inter = w.intermediate();
    for (int i = 0; i < w.layers().size(); i++) {
      List<float[]> params = w.layers().get(i).tensors();
      for (int j = 0; j < params.size(); j++) {
        String name = BertWeights.Layer.PARAMETERS.get(j);
        float[] t = params.get(j);
        // matrices [in, out]: the feed-forward ones are h x intermediate and back, the rest h x h
        long[] shape = !name.endsWith(".weight") || name.contains("LayerNorm") ? new long[] {t.length}
            : name.startsWith("intermediate.") ? new long[] {h, inter}
            : name.startsWith("output.dense") ? new long[] {inter, h} : new long[] {h, h};
        put(tensors, dims, "encoder.layer." + i + "." + name, t, shape);
      }
    }
    ObjectMapper json = new ObjectMapper();
    ObjectNode header = json.createObjectNode().put("hidden", h).put("heads", w.heads()).put("intermediate", inter)
        .put("epsilon", w.epsilon()).put("maxPositions", w.maxPositions()).put("layers", w.layers().size());
    ArrayNode list = header.putArray("tensors");
    dims.forEach((name, d) -> {
      ArrayNode entry = list.addArray().add(name);
      ArrayNode shape = entry.addArray();
      for (long x : d) {
        shape.add(x);
      }
    });
    out.write((MAGIC_LINE + "\n" + json.writeValueAsString(header) + "\n").getBytes(StandardCharsets.UTF_8));
    for (float[] t : tensors.values()) {
      ByteBuffer b = ByteBuffer.allocate(t.length * 2).order(ByteOrder.LITTLE_ENDIAN);
      for (float v : t) {
        b.putShort(Float.floatToFloat16(v));
      }
      out.write(b.array());
    }
  }

  private static void put(Map<String, float[]> tensors, Map<String, long[]> dims, String name, float[] data,
                          long... shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    if (n != data.length) {
      throw new IllegalArgumentException(name + " has " + data.length + " values, not " + Arrays.toString(shape));
    }
    tensors.put(name, data);
    dims.put(name, shape);
  }

  public static BertWeights read(InputStream in) throws IOException {
    DataInputStream data = new DataInputStream(in);
    String magic = line(data);
    if (!MAGIC_LINE.equals(magic)) {
      throw new IllegalArgumentException("not a Shoal fp16 weights file (first line '" + magic + "')");
    }
    JsonNode header = new ObjectMapper().readTree(line(data));
    Map<String, float[]> t = new LinkedHashMap<>();
    for (JsonNode entry : header.path("tensors")) {
      long n = 1;
      for (JsonNode d : entry.get(1)) {
        n *= d.asLong();
      }
      byte[] raw = new byte[Math.toIntExact(n * 2)];
      data.readFully(raw);
      ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
      float[] v = new float[(int) n];
      for (int i = 0; i < v.length; i++) {
        v[i] = Float.float16ToFloat(b.getShort());
      }
      t.put(entry.get(0).asText(), v);
    }
    int layers = header.path("layers").asInt();
    List<BertWeights.Layer> list = new ArrayList<>();
    for (int i = 0; i < layers; i++) {
      list.add(BertWeights.Layer.of(i, name -> need(t, name)));
    }
    return new BertWeights(header.path("hidden").asInt(), header.path("heads").asInt(),
        header.path("intermediate").asInt(), (float) header.path("epsilon").asDouble(),
        header.path("maxPositions").asInt(), need(t, "embeddings.word_embeddings.weight"),
        need(t, "embeddings.position_embeddings.weight"), need(t, "embeddings.token_type_embeddings.weight"),
        need(t, "embeddings.LayerNorm.weight"), need(t, "embeddings.LayerNorm.bias"), List.copyOf(list));
  }

  private static float[] need(Map<String, float[]> t, String name) {
    float[] v = t.get(name);
    if (v == null) {
      throw new IllegalArgumentException("the fp16 weights file has no " + name);
    }
    return v;
  }

  private static String line(DataInputStream in) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    for (int c = in.read(); c != '\n'; c = in.read()) {
      if (c < 0) {
        throw new IllegalArgumentException("truncated fp16 weights file");
      }
      b.write(c);
    }
    return b.toString(StandardCharsets.UTF_8);
  }
}
