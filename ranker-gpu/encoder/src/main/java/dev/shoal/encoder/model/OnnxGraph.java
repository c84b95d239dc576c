package dev.shoal.encoder.model;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * The parts of an ONNX model file that a hand-written forward pass needs: the initializers
 * (float tensors with their names and shapes), the nodes (name, op type, inputs, outputs) and the
 * scalar float constants. Read straight from the protobuf wire format of the ONNX schema
 * (ModelProto.graph = 7; GraphProto.node = 1, initializer = 5; NodeProto input = 1, output = 2,
 * name = 3, op_type = 4, attribute = 5; TensorProto dims = 1, data_type = 2, float_data = 4,
 * name = 8, raw_data = 9), so no ONNX library is needed. Immutable once read; thread-safe.
 */
public final class OnnxGraph {

  /** A float tensor: row-major data with its shape. */
  public record Tensor(String name, long[] dims, float[] data) {
  }

  /** A graph node, with its integer attributes (a Gemm's {@code transB}, a Softmax's {@code axis}). */
  public record Node(String name, String op, List<String> inputs, List<String> outputs, Map<String, Long> ints) {

    /** The integer attribute's value, or {@code otherwise} when the node does not set it. */
    public long intAttribute(String attribute, long otherwise) {
      return ints.getOrDefault(attribute, otherwise);
    }
  }

  private static final int FLOAT = 1;

  private final Map<String, Tensor> initializers = new HashMap<>();
  private final List<Node> nodes = new ArrayList<>();
  private final Map<String, Float> scalarConstants = new HashMap<>();

  private OnnxGraph() {
  }

  public static OnnxGraph read(byte[] model) {
    OnnxGraph g = new OnnxGraph();
    forGraph(model, g::readGraph);
    if (g.nodes.isEmpty()) {
      throw new IllegalArgumentException("not an ONNX model: no graph nodes found");
    }
    return g;
  }

  /** The operator types of a model's graph, read without decoding its weights. */
  public static Set<String> operators(byte[] model) {
    Set<String> ops = new TreeSet<>();
    forGraph(model, g -> {
      while (g.more()) {
        int t = g.tag();
        if (t >>> 3 == 1 && (t & 7) == 2) {
          Wire node = g.message();
          while (node.more()) {
            int f = node.tag();
            if (f >>> 3 == 4 && (f & 7) == 2) {
              ops.add(node.string());
            } else {
              node.skip(f);
            }
          }
        } else {
          g.skip(t);
        }
      }
    });
    return ops;
  }

  /** Hands the ModelProto's graph (field 7) to {@code reader}, skipping the model's other fields. */
  private static void forGraph(byte[] model, Consumer<Wire> reader) {
    Wire m = new Wire(model, 0, model.length);
    while (m.more()) {
      int tag = m.tag();
      if (tag >>> 3 == 7 && (tag & 7) == 2) {
        reader.accept(m.message());
      } else {
        m.skip(tag);
      }
    }
  }

  private void readGraph(Wire w) {
    while (w.more()) {
      int tag = w.tag();
      switch (tag >>> 3) {
        case 1 -> readNode(w.message());
        case 5 -> {
          Tensor t = readTensor(w.message());
          if (t != null) {
            initializers.put(t.name(), t);
          }
        }
        default -> w.skip(tag);
      }
    }
  }

  private void readNode(Wire w) {
    List<String> in = new ArrayList<>();
    List<String> out = new ArrayList<>();
    String name = "";
    String op = "";
    Tensor value = null;
    Map<String, Long> ints = new HashMap<>();
    while (w.more()) {
      int tag = w.tag();
      switch (tag >>> 3) {
        case 1 -> in.add(w.string());
        case 2 -> out.add(w.string());
        case 3 -> name = w.string();
        case 4 -> op = w.string();
        case 5 -> {
          Tensor t = readAttribute(w.message(), ints);
          if (t != null) {
            value = t;
          }
        }
        default -> w.skip(tag);
      }
    }
    nodes.add(new Node(name, op, List.copyOf(in), List.copyOf(out), Map.copyOf(ints)));
    if (op.equals("Constant") && value != null && value.data().length == 1 && out.size() == 1) {
      scalarConstants.put(out.getFirst(), value.data()[0]);
    }
  }

  /**
   * AttributeProto: name = 1, i = 3 (an integer value, put in {@code ints} under its name),
   * t = 5 (a tensor value, returned).
   */
  private static Tensor readAttribute(Wire w, Map<String, Long> ints) {
    Tensor t = null;
    String name = "";
    Long i = null;
    while (w.more()) {
      int tag = w.tag();
      if (tag >>> 3 == 5 && (tag & 7) == 2) {
        t = readTensor(w.message());
      } else if (tag >>> 3 == 1 && (tag & 7) == 2) {
        name = w.string();
      } else if (tag >>> 3 == 3 && (tag & 7) == 0) {
        i = w.varint();
      } else {
        w.skip(tag);
      }
    }
    if (i != null) {
      ints.put(name, i);
    }
    return t;
  }

  /** A TensorProto if it holds floats, else null. */
  private static Tensor readTensor(Wire w) {
    List<Long> dims = new ArrayList<>();
    int type = 0;
    String name = "";
    float[] data = null;
    List<Float> floats = new ArrayList<>();
    while (w.more()) {
      int tag = w.tag();
      switch (tag >>> 3) {
        case 1 -> {
          if ((tag & 7) == 2) {
            Wire p = w.message();
            while (p.more()) {
              dims.add(p.varint());
            }
          } else {
            dims.add(w.varint());
          }
        }
        case 2 -> type = (int) w.varint();
        case 4 -> {
          if ((tag & 7) == 2) {
            Wire p = w.message();
            while (p.more()) {
              floats.add(p.fixed32());
            }
          } else {
            floats.add(w.fixed32());
          }
        }
        case 8 -> name = w.string();
        case 9 -> {
          Wire raw = w.message();
          FloatBufferView v = new FloatBufferView(raw);
          data = v.floats();
        }
        default -> w.skip(tag);
      }
    }
    if (type != FLOAT) {
      return null;
    }
    if (data == null) {
      data = new float[floats.size()];
      for (int i = 0; i < data.length; i++) {
        data[i] = floats.get(i);
      }
    }
    long[] d = dims.stream().mapToLong(Long::longValue).toArray();
    return new Tensor(name, d, data);
  }

  public Map<String, Tensor> initializers() {
    return initializers;
  }

  public List<Node> nodes() {
    return nodes;
  }

  /** The value of a scalar float Constant node's output, or null. */
  public Float constant(String output) {
    return scalarConstants.get(output);
  }

  /** The node with this name, or null. */
  public Node node(String name) {
    for (Node n : nodes) {
      if (n.name().equals(name)) {
        return n;
      }
    }
    return null;
  }

  /** Little-endian raw bytes as floats. */
  private record FloatBufferView(Wire raw) {
    float[] floats() {
      ByteBuffer b = ByteBuffer.wrap(raw.bytes, raw.pos, raw.end - raw.pos).order(ByteOrder.LITTLE_ENDIAN);
      float[] out = new float[(raw.end - raw.pos) / 4];
      b.asFloatBuffer().get(out);
      return out;
    }
  }

  /** A cursor over protobuf wire format. */
  private static final class Wire {
    final byte[] bytes;
    int pos;
    final int end;

    Wire(byte[] bytes, int pos, int end) {
      this.bytes = bytes;
      this.pos = pos;
      this.end = end;
    }

    boolean more() {
      return pos < end;
    }

    int tag() {
      return (int) varint();
    }

    long varint() {
      long r = 0;
      int shift = 0;
      while (true) {
        byte b = bytes[pos++];
        r |= (long) (b & 0x7f) << shift;
        if (b >= 0) {
          return r;
        }
        shift += 7;
      }
    }

    float fixed32() {
      int v = (bytes[pos] & 0xff) | (bytes[pos + 1] & 0xff) << 8 | (bytes[pos + 2] & 0xff) << 16
          | (bytes[pos + 3] & 0xff) << 24;
      pos += 4;
      return Float.intBitsToFloat(v);
    }

    Wire message() {
      int len = (int) varint();
      Wire w = new Wire(bytes, pos, pos + len);
      pos += len;
      return w;
    }

    String string() {
      Wire w = message();
      return new String(bytes, w.pos, w.end - w.pos, StandardCharsets.UTF_8);
    }

    void skip(int tag) {
      switch (tag & 7) {
        case 0 -> varint();
        case 1 -> pos += 8;
        case 2 -> {
          int len = (int) varint();
          pos += len;
        }
        case 5 -> pos += 4;
        default -> throw new IllegalArgumentException("unsupported protobuf wire type " + (tag & 7));
      }
    }
  }
}
