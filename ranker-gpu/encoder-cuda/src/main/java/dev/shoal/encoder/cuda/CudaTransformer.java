package dev.shoal.encoder.cuda;

import static jcuda.driver.JCudaDriver.cuMemsetD8Async;

import dev.shoal.encoder.model.BertWeights;
import java.util.ArrayList;
import java.util.List;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

/**
 * A BERT encoder's weights in device memory (fp16) and its forward pass, shared by the embedding
 * encoder ({@link CudaEncoder}) and the cross-encoder ({@link CudaCrossEncoder}): both run the
 * same transformer and differ in what they make of the last hidden state.
 *
 * <p>Either kernel set ({@link CudaKernelSet}) reads the fused QKV weights ([h, 3h], one GEMM per
 * layer into a [rows, 3h] buffer, attention reading q, k and v from it with a row stride of 3h).
 *
 * <p>Not thread-safe by itself: each lane owns a {@link Buffers} and runs one forward at a time on
 * its stream; the weights are only read. {@link #close()} frees the weights.
 */
final class CudaTransformer implements AutoCloseable {

  private record Layer(CUdeviceptr wqkv, CUdeviceptr bqkv, CUdeviceptr wo, CUdeviceptr bo, CUdeviceptr ln1Gamma,
                       CUdeviceptr ln1Beta, CUdeviceptr w1, CUdeviceptr b1, CUdeviceptr w2, CUdeviceptr b2,
                       CUdeviceptr ln2Gamma, CUdeviceptr ln2Beta) {
  }

  private final BertWeights w;
  private final CudaKernels k;
  private final CudaKernelSet kernels;
  private final CUdeviceptr word;
  private final CUdeviceptr position;
  private final CUdeviceptr type;
  private final CUdeviceptr embGamma;
  private final CUdeviceptr embBeta;
  private final List<Layer> layers = new ArrayList<>();
  private final List<CUdeviceptr> owned = new ArrayList<>();

  /** Uploads the weights on {@code setup} (the caller synchronises it). */
  CudaTransformer(BertWeights w, CudaKernels k, CudaKernelSet kernels, CUstream setup) {
    this.w = w;
    this.k = k;
    this.kernels = kernels == CudaKernelSet.TILED && !CudaKernels.flashSupports(w.headSize()) ? CudaKernelSet.SIMPLE : kernels;
    int h = w.hidden();
    word = half(w.wordEmbeddings(), setup);
    position = half(w.positionEmbeddings(), setup);
    type = half(w.tokenTypeEmbeddings(), setup);
    embGamma = half(w.embeddingNormGamma(), setup);
    embBeta = half(w.embeddingNormBeta(), setup);
    for (BertWeights.Layer l : w.layers()) {
      layers.add(new Layer(half(fuseColumns(h, l.wq(), l.wk(), l.wv()), setup), half(concat(l.bq(), l.bk(), l.bv()), setup),
          half(l.wo(), setup), half(l.bo(), setup), half(l.attentionNormGamma(), setup),
          half(l.attentionNormBeta(), setup), half(l.w1(), setup), half(l.b1(), setup), half(l.w2(), setup),
          half(l.b2(), setup), half(l.outputNormGamma(), setup), half(l.outputNormBeta(), setup)));
    }
  }

  CudaKernelSet kernels() {
    return kernels;
  }

  BertWeights weights() {
    return w;
  }

  private CUdeviceptr half(float[] data, CUstream setup) {
    CUdeviceptr p = k.halfCopy(data, setup);
    owned.add(p);
    return p;
  }

  /** [in, out] matrices side by side: [in, 3 × out], so x · W gives q | k | v in one row. */
  static float[] fuseColumns(int in, float[] a, float[] b, float[] c) {
    int out = a.length / in;
    float[] f = new float[in * out * 3];
    for (int r = 0; r < in; r++) {
      System.arraycopy(a, r * out, f, r * 3 * out, out);
      System.arraycopy(b, r * out, f, r * 3 * out + out, out);
      System.arraycopy(c, r * out, f, r * 3 * out + 2 * out, out);
    }
    return f;
  }

  private static float[] concat(float[] a, float[] b, float[] c) {
    float[] f = new float[a.length + b.length + c.length];
    System.arraycopy(a, 0, f, 0, a.length);
    System.arraycopy(b, 0, f, a.length, b.length);
    System.arraycopy(c, 0, f, a.length + b.length, c.length);
    return f;
  }

  /** One lane's activations, sized once for {@code rows} token rows and {@code sequences} sequences, zeroed. */
  final class Buffers {
    final int rows;
    final CUdeviceptr ids;
    final CUdeviceptr types;
    final CUdeviceptr lengths;
    final CUdeviceptr x;
    final CUdeviceptr qkv;
    final CUdeviceptr ctx;
    final CUdeviceptr a;
    final CUdeviceptr inter;
    private final List<CUdeviceptr> mine = new ArrayList<>();

    Buffers(int rows, int sequences, CUstream setup) {
      this.rows = rows;
      int h = w.hidden();
      long act = (long) rows * h * Sizeof.SHORT;
      ids = zeroed((long) rows * Sizeof.INT, setup);
      types = zeroed((long) rows * Sizeof.INT, setup);
      lengths = zeroed((long) sequences * Sizeof.INT, setup);
      x = zeroed(act, setup);
      qkv = zeroed(3 * act, setup);
      ctx = zeroed(act, setup);
      a = zeroed(act, setup);
      inter = zeroed((long) rows * w.intermediate() * Sizeof.SHORT, setup);
    }

    CUdeviceptr zeroed(long bytes, CUstream setup) {
      CUdeviceptr p = CudaKernels.alloc(bytes);
      cuMemsetD8Async(p, (byte) 0, Math.max(bytes, 16), setup);
      mine.add(p);
      return p;
    }

    void free() {
      mine.forEach(CudaKernels::free);
      mine.clear();
    }
  }

  /**
   * The forward pass of {@code b} sequences padded to {@code seq} tokens ({@code rows} = b × seq
   * rounded up to the GEMM tile), ids, lengths (and segments when {@code withTypes}) already in
   * {@code buf}; the last hidden state is left in {@code buf.x}. Asynchronous on {@code stream}.
   */
  void forward(Buffers buf, int b, int seq, int rows, boolean withTypes, CUstream stream) {
    int h = w.hidden();
    int inter = w.intermediate();
    float eps = w.epsilon();
    k.embedLayerNorm(buf.ids, withTypes ? buf.types : null, rows, seq, word, position, type, embGamma, embBeta, eps, h,
        buf.x, stream);
    CUdeviceptr q = buf.qkv;
    CUdeviceptr key = buf.qkv.withByteOffset((long) h * Sizeof.SHORT);
    CUdeviceptr value = buf.qkv.withByteOffset(2L * h * Sizeof.SHORT);
    for (Layer l : layers) {
      if (kernels == CudaKernelSet.TILED) {
        k.gemmPipelined(buf.x, l.wqkv(), l.bqkv(), null, buf.qkv, rows, 3 * h, h, CudaKernels.Epilogue.BIAS, stream);
        k.flashAttention(q, key, value, 3 * h, buf.lengths, b, seq, w.heads(), w.headSize(), buf.ctx, stream);
        k.gemmPipelined(buf.ctx, l.wo(), l.bo(), null, buf.a, rows, h, h, CudaKernels.Epilogue.BIAS, stream);
        k.layerNormResidual(buf.a, buf.x, l.ln1Gamma(), l.ln1Beta(), eps, h, rows, buf.a, stream);
        k.gemmPipelined(buf.a, l.w1(), l.b1(), null, buf.inter, rows, inter, h, CudaKernels.Epilogue.BIAS_GELU, stream);
        k.gemmPipelined(buf.inter, l.w2(), l.b2(), null, buf.x, rows, h, inter, CudaKernels.Epilogue.BIAS, stream);
        k.layerNormResidual(buf.x, buf.a, l.ln2Gamma(), l.ln2Beta(), eps, h, rows, buf.x, stream);
      } else {
        k.gemm(buf.x, l.wqkv(), l.bqkv(), null, buf.qkv, rows, 3 * h, h, CudaKernels.Epilogue.BIAS, stream);
        k.attention(q, key, value, 3 * h, buf.lengths, b, seq, w.heads(), w.headSize(), buf.ctx, stream);
        k.gemm(buf.ctx, l.wo(), l.bo(), buf.x, buf.a, rows, h, h, CudaKernels.Epilogue.BIAS_RESIDUAL, stream);
        k.layerNorm(buf.a, rows, l.ln1Gamma(), l.ln1Beta(), eps, h, buf.a, stream);
        k.gemm(buf.a, l.w1(), l.b1(), null, buf.inter, rows, inter, h, CudaKernels.Epilogue.BIAS_GELU, stream);
        k.gemm(buf.inter, l.w2(), l.b2(), buf.a, buf.x, rows, h, inter, CudaKernels.Epilogue.BIAS_RESIDUAL, stream);
        k.layerNorm(buf.x, rows, l.ln2Gamma(), l.ln2Beta(), eps, h, buf.x, stream);
      }
    }
  }

  @Override
  public void close() {
    owned.forEach(CudaKernels::free);
    owned.clear();
  }
}
