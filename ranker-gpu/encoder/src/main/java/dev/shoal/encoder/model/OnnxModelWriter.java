package dev.shoal.encoder.model;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes an ONNX model file (ModelProto in protobuf wire format) from nodes, initializers and
 * typed graph inputs and outputs: the counterpart of {@link OnnxGraph}, with no ONNX library.
 * What it writes is what ONNX Runtime loads; it covers the parts a transformer graph needs (float
 * and int64 tensors, int, ints, float and tensor attributes, one default-domain opset). Field
 * numbers from onnx.proto: ModelProto ir_version = 1, producer_name = 2, graph = 7,
 * opset_import = 8; GraphProto node = 1, name = 2, initializer = 5, input = 11, output = 12;
 * NodeProto input = 1, output = 2, name = 3, op_type = 4, attribute = 5; AttributeProto name = 1,
 * f = 2, i = 3, t = 5, ints = 8, type = 20; TensorProto dims = 1, data_type = 2, name = 8,
 * raw_data = 9; ValueInfoProto name = 1, type = 2.
 *
 * <p>Not thread-safe: one builder per model, then {@link #toBytes()}.
 */
public final class OnnxModelWriter {

  /** ONNX TensorProto.DataType values used here. */
  public static final int FLOAT = 1;
  public static final int INT64 = 7;

  private static final int IR_VERSION = 7;

  private final int opset;
  private final List<byte[]> nodes = new ArrayList<>();
  private final List<byte[]> initializers = new ArrayList<>();
  private final List<byte[]> inputs = new ArrayList<>();
  private final List<byte[]> outputs = new ArrayList<>();

  /** @param opset the default domain's opset version the graph is written for */
  public OnnxModelWriter(int opset) {
    this.opset = opset;
  }

  /** A node attribute: build with {@link #ints}, {@link #i}, {@link #f} or {@link #tensor}. */
  public record Attribute(byte[] proto) {
  }

  public static Attribute i(String name, long value) {
    Proto a = new Proto().string(1, name).varint(3, value).varint(20, 2);
    return new Attribute(a.bytes());
  }

  public static Attribute f(String name, float value) {
    Proto a = new Proto().string(1, name).fixed32(2, Float.floatToRawIntBits(value)).varint(20, 1);
    return new Attribute(a.bytes());
  }

  public static Attribute ints(String name, long... values) {
    Proto a = new Proto().string(1, name);
    for (long v : values) {
      a.varint(8, v);
    }
    a.varint(20, 7);
    return new Attribute(a.bytes());
  }

  /** A tensor-valued attribute ({@code Constant}'s {@code value}). */
  public static Attribute tensor(String name, byte[] tensorProto) {
    Proto a = new Proto().string(1, name).message(5, tensorProto).varint(20, 4);
    return new Attribute(a.bytes());
  }

  /** A float TensorProto. */
  public static byte[] floatTensor(String name, long[] dims, float[] data) {
    ByteBuffer raw = ByteBuffer.allocate(data.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    raw.asFloatBuffer().put(data);
    return tensorProto(name, dims, FLOAT, raw.array());
  }

  /** An int64 TensorProto. */
  public static byte[] int64Tensor(String name, long[] dims, long[] data) {
    ByteBuffer raw = ByteBuffer.allocate(data.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    raw.asLongBuffer().put(data);
    return tensorProto(name, dims, INT64, raw.array());
  }

  private static byte[] tensorProto(String name, long[] dims, int type, byte[] raw) {
    long n = 1;
    for (long d : dims) {
      n *= d;
    }
    int width = type == FLOAT ? 4 : 8;
    if (n * width != raw.length) {
      throw new IllegalArgumentException("tensor " + name + ": " + raw.length / width + " values for shape "
          + java.util.Arrays.toString(dims));
    }
    Proto t = new Proto();
    for (long d : dims) {
      t.varint(1, d);
    }
    return t.varint(2, type).string(8, name).bytes(9, raw).bytes();
  }

  public OnnxModelWriter initializer(byte[] tensorProto) {
    initializers.add(tensorProto);
    return this;
  }

  public OnnxModelWriter node(String name, String op, List<String> in, List<String> out, Attribute... attributes) {
    Proto n = new Proto();
    for (String s : in) {
      n.string(1, s);
    }
    for (String s : out) {
      n.string(2, s);
    }
    n.string(3, name).string(4, op);
    for (Attribute a : attributes) {
      n.message(5, a.proto());
    }
    nodes.add(n.bytes());
    return this;
  }

  /**
   * A graph input or output with its element type and shape; a dimension given as a String is
   * symbolic ("batch"), as a Number fixed.
   */
  public OnnxModelWriter input(String name, int elemType, Object... dims) {
    inputs.add(valueInfo(name, elemType, dims));
    return this;
  }

  public OnnxModelWriter output(String name, int elemType, Object... dims) {
    outputs.add(valueInfo(name, elemType, dims));
    return this;
  }

  private static byte[] valueInfo(String name, int elemType, Object... dims) {
    Proto shape = new Proto();
    for (Object d : dims) {
      Proto dim = d instanceof Number v ? new Proto().varint(1, v.longValue()) : new Proto().string(2, d.toString());
      shape.message(1, dim.bytes());
    }
    Proto tensorType = new Proto().varint(1, elemType).message(2, shape.bytes());
    Proto type = new Proto().message(1, tensorType.bytes());
    return new Proto().string(1, name).message(2, type.bytes()).bytes();
  }

  public byte[] toBytes() {
    Proto graph = new Proto();
    nodes.forEach(n -> graph.message(1, n));
    graph.string(2, "shoal");
    initializers.forEach(t -> graph.message(5, t));
    inputs.forEach(v -> graph.message(11, v));
    outputs.forEach(v -> graph.message(12, v));
    Proto opsetId = new Proto().string(1, "").varint(2, opset);
    return new Proto().varint(1, IR_VERSION).string(2, "shoal").message(7, graph.bytes())
        .message(8, opsetId.bytes()).bytes();
  }

  /** Protobuf wire-format output of one message. */
  private static final class Proto {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    private void raw(long v) {
      while ((v & ~0x7FL) != 0) {
        out.write((int) ((v & 0x7F) | 0x80));
        v >>>= 7;
      }
      out.write((int) v);
    }

    Proto varint(int field, long v) {
      raw((long) field << 3);
      raw(v);
      return this;
    }

    Proto fixed32(int field, int v) {
      raw((long) field << 3 | 5);
      for (int s = 0; s < 32; s += 8) {
        out.write(v >>> s & 0xff);
      }
      return this;
    }

    Proto bytes(int field, byte[] b) {
      raw((long) field << 3 | 2);
      raw(b.length);
      out.writeBytes(b);
      return this;
    }

    Proto message(int field, byte[] b) {
      return bytes(field, b);
    }

    Proto string(int field, String s) {
      return bytes(field, s.getBytes(StandardCharsets.UTF_8));
    }

    byte[] bytes() {
      return out.toByteArray();
    }
  }
}
