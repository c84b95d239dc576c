package dev.shoal.encoder.cuda;

import static jcuda.driver.JCudaDriver.cuMemAllocHost;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.model.BertWeights;
import dev.shoal.encoder.model.ModelFiles;
import dev.shoal.encoder.model.OnnxGraph;
import dev.shoal.encoder.tokenizer.WordPieceTokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

/**
 * The encoder on an NVIDIA GPU: Shoal's own CUDA kernels ({@link CudaKernels}) run the whole
 * forward pass in fp16 with fp32 accumulation. Weights come from the ONNX file's initializers
 * ({@link BertWeights}) and are converted to half precision once, on the device.
 *
 * <p>Work is spread over {@value #STREAMS} streams, each with its own device buffers, pooled by
 * batch shape (padded rows × sequence length), so a repeated shape allocates nothing, and its
 * own pinned host buffers for token ids and embeddings. A call takes a free stream (waiting if
 * all are busy); texts are sorted by length and cut into batches of at most {@code maxBatch}.
 * Thread-safe. Errors from the driver surface as {@link jcuda.CudaException}.
 */
public final class CudaEncoder implements Encoder {

  static final int STREAMS = 2;

  private final ModelSpec spec;
  private final WordPieceTokenizer tokenizer;
  private final BertWeights w;
  private final CudaKernels k;
  private final int maxBatch;
  private final DeviceWeights dw;
  private final BlockingQueue<Lane> lanes = new ArrayBlockingQueue<>(STREAMS);

  /** The weights in device memory, fp16. */
  private record DeviceWeights(CUdeviceptr word, CUdeviceptr position, CUdeviceptr type0, CUdeviceptr embGamma,
                               CUdeviceptr embBeta, List<CUdeviceptr[]> layers) {
  }

  public CudaEncoder(ModelSpec spec, int maxBatch) {
    this.spec = spec;
    this.maxBatch = Math.max(1, maxBatch);
    try (InputStream tok = ModelFiles.open(spec.tokenizer())) {
      this.tokenizer = WordPieceTokenizer.load(tok);
      this.w = BertWeights.from(OnnxGraph.read(ModelFiles.readAll(spec.onnx())));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read model " + spec.name(), e);
    }
    this.k = new CudaKernels();
    k.makeCurrent();
    CUstream setup = new CUstream();
    cuStreamCreate(setup, 0);
    int h = w.hidden();
    float[] type0 = java.util.Arrays.copyOf(w.tokenTypeEmbeddings(), h);
    List<CUdeviceptr[]> layers = new ArrayList<>();
    for (BertWeights.Layer l : w.layers()) {
      float[][] parts = {l.wq(), l.bq(), l.wk(), l.bk(), l.wv(), l.bv(), l.wo(), l.bo(), l.attentionNormGamma(),
          l.attentionNormBeta(), l.w1(), l.b1(), l.w2(), l.b2(), l.outputNormGamma(), l.outputNormBeta()};
      CUdeviceptr[] d = new CUdeviceptr[parts.length];
      for (int i = 0; i < parts.length; i++) {
        d[i] = k.halfCopy(parts[i], setup);
      }
      layers.add(d);
    }
    this.dw = new DeviceWeights(k.halfCopy(w.wordEmbeddings(), setup), k.halfCopy(w.positionEmbeddings(), setup),
        k.halfCopy(type0, setup), k.halfCopy(w.embeddingNormGamma(), setup), k.halfCopy(w.embeddingNormBeta(), setup),
        List.copyOf(layers));
    cuStreamDestroy(setup);
    for (int i = 0; i < STREAMS; i++) {
      lanes.add(new Lane());
    }
  }

  public String deviceName() {
    return k.deviceName();
  }

  @Override
  public ModelSpec model() {
    return spec;
  }

  @Override
  public String backend() {
    return "cuda (" + k.deviceName() + ", Shoal kernels, fp16)";
  }

  @Override
  public float[][] embed(List<String> texts, Kind kind) {
    int[][] ids = new int[texts.size()][];
    for (int i = 0; i < ids.length; i++) {
      String prefix = kind == Kind.QUERY ? spec.queryPrefix() : spec.passagePrefix();
      ids[i] = tokenizer.encode(prefix + texts.get(i), spec.maxTokens());
    }
    return embedIds(ids);
  }

  /** Embeddings of already tokenised sequences, in order. */
  public float[][] embedIds(int[][] ids) {
    Integer[] order = new Integer[ids.length];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    java.util.Arrays.sort(order, java.util.Comparator.comparingInt(i -> ids[i].length));
    float[][] out = new float[ids.length][];
    return onLane(lane -> {
      for (int from = 0; from < order.length; from += maxBatch) {
        int to = Math.min(order.length, from + maxBatch);
        int[][] batch = new int[to - from][];
        for (int i = from; i < to; i++) {
          batch[i - from] = ids[order[i]];
        }
        float[][] vectors = lane.run(batch);
        for (int i = from; i < to; i++) {
          out[order[i]] = vectors[i - from];
        }
      }
      return out;
    });
  }

  /** Runs work on a free stream (waiting for one), with this encoder's context current. */
  private <T> T onLane(java.util.function.Function<Lane, T> work) {
    Lane lane;
    try {
      lane = lanes.take();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for a CUDA stream", e);
    }
    try {
      k.makeCurrent();
      return work.apply(lane);
    } finally {
      lanes.add(lane);
    }
  }

  /** Cosine of a query embedding against candidate embeddings (all L2-normalised), on the GPU. */
  public float[] cosine(float[] query, float[][] candidates) {
    int h = query.length;
    float[] flat = new float[candidates.length * h];
    for (int i = 0; i < candidates.length; i++) {
      System.arraycopy(candidates[i], 0, flat, i * h, h);
    }
    return onLane(lane -> {
      CUdeviceptr q = CudaKernels.alloc((long) h * Sizeof.FLOAT);
      CUdeviceptr c = CudaKernels.alloc((long) flat.length * Sizeof.FLOAT);
      CUdeviceptr s = CudaKernels.alloc((long) candidates.length * Sizeof.FLOAT);
      try {
        CudaKernels.upload(q, query);
        CudaKernels.upload(c, flat);
        k.cosine(q, c, candidates.length, h, s, lane.stream);
        cuStreamSynchronize(lane.stream);
        return CudaKernels.download(s, candidates.length);
      } finally {
        CudaKernels.free(q);
        CudaKernels.free(c);
        CudaKernels.free(s);
      }
    });
  }

  /** One stream with its buffers. Used by one call at a time. */
  private final class Lane {
    final CUstream stream = new CUstream();
    final Map<Long, Buffers> byShape = new HashMap<>();
    Pointer hostIds = new Pointer();
    Pointer hostOut = new Pointer();
    long hostIdsBytes;
    long hostOutBytes;

    Lane() {
      cuStreamCreate(stream, 0);
    }

    float[][] run(int[][] batch) {
      int b = batch.length;
      int seq = 1;
      for (int[] s : batch) {
        seq = Math.max(seq, s.length);
      }
      int rows = b * seq;
      int padded = (rows + CudaKernels.GEMM_TILE - 1) / CudaKernels.GEMM_TILE * CudaKernels.GEMM_TILE;
      Buffers buf = byShape.computeIfAbsent(((long) padded << 32) | seq, key -> new Buffers(padded, maxBatch));
      // token ids (padding = id 0, never read as a key thanks to the lengths) then the lengths
      long idBytes = (long) (padded + b) * Sizeof.INT;
      ensureHost(idBytes, (long) b * w.hidden() * Sizeof.FLOAT);
      var ints = hostIds.getByteBuffer(0, idBytes).order(ByteOrder.nativeOrder()).asIntBuffer();
      for (int i = 0; i < padded; i++) {
        int s = i / seq;
        int p = i % seq;
        ints.put(i, s < b && p < batch[s].length ? batch[s][p] : 0);
      }
      for (int s = 0; s < b; s++) {
        ints.put(padded + s, batch[s].length);
      }
      cuMemcpyHtoDAsync(buf.ids, hostIds, (long) padded * Sizeof.INT, stream);
      cuMemcpyHtoDAsync(buf.lengths, hostIds.withByteOffset((long) padded * Sizeof.INT), (long) b * Sizeof.INT,
          stream);
      forward(buf, b, seq, padded);
      cuMemcpyDtoHAsync(hostOut, buf.pooled, (long) b * w.hidden() * Sizeof.FLOAT, stream);
      cuStreamSynchronize(stream);
      var floats = hostOut.getByteBuffer(0, (long) b * w.hidden() * Sizeof.FLOAT).order(ByteOrder.nativeOrder())
          .asFloatBuffer();
      float[][] out = new float[b][w.hidden()];
      for (int s = 0; s < b; s++) {
        floats.get(s * w.hidden(), out[s]);
      }
      return out;
    }

    private void ensureHost(long idBytes, long outBytes) {
      if (idBytes > hostIdsBytes) {
        if (hostIdsBytes > 0) {
          cuMemFreeHost(hostIds);
        }
        hostIds = new Pointer();
        cuMemAllocHost(hostIds, idBytes);
        hostIdsBytes = idBytes;
      }
      if (outBytes > hostOutBytes) {
        if (hostOutBytes > 0) {
          cuMemFreeHost(hostOut);
        }
        hostOut = new Pointer();
        cuMemAllocHost(hostOut, outBytes);
        hostOutBytes = outBytes;
      }
    }

    private void forward(Buffers buf, int b, int seq, int rows) {
      int h = w.hidden();
      int inter = w.intermediate();
      float eps = w.epsilon();
      k.embedLayerNorm(buf.ids, rows, seq, dw.word(), dw.position(), dw.type0(), dw.embGamma(), dw.embBeta(), eps, h,
          buf.x, stream);
      for (CUdeviceptr[] l : dw.layers()) {
        k.gemm(buf.x, l[0], l[1], null, buf.q, rows, h, h, CudaKernels.Epilogue.BIAS, stream);
        k.gemm(buf.x, l[2], l[3], null, buf.k, rows, h, h, CudaKernels.Epilogue.BIAS, stream);
        k.gemm(buf.x, l[4], l[5], null, buf.v, rows, h, h, CudaKernels.Epilogue.BIAS, stream);
        k.attention(buf.q, buf.k, buf.v, buf.lengths, b, seq, w.heads(), w.headSize(), buf.ctx, stream);
        k.gemm(buf.ctx, l[6], l[7], buf.x, buf.a, rows, h, h, CudaKernels.Epilogue.BIAS_RESIDUAL, stream);
        k.layerNorm(buf.a, rows, l[8], l[9], eps, h, buf.a, stream);
        k.gemm(buf.a, l[10], l[11], null, buf.inter, rows, inter, h, CudaKernels.Epilogue.BIAS_GELU, stream);
        k.gemm(buf.inter, l[12], l[13], buf.a, buf.x, rows, h, inter, CudaKernels.Epilogue.BIAS_RESIDUAL, stream);
        k.layerNorm(buf.x, rows, l[14], l[15], eps, h, buf.x, stream);
      }
      k.poolNormalize(buf.x, buf.lengths, b, seq, h, spec.pooling() == ModelSpec.Pooling.CLS ? 0 : 1, buf.pooled,
          stream);
    }
  }

  /** Device buffers for one batch shape. */
  private final class Buffers {
    final CUdeviceptr ids;
    final CUdeviceptr lengths;
    final CUdeviceptr x;
    final CUdeviceptr q;
    final CUdeviceptr k;
    final CUdeviceptr v;
    final CUdeviceptr ctx;
    final CUdeviceptr a;
    final CUdeviceptr inter;
    final CUdeviceptr pooled;

    Buffers(int rows, int batch) {
      long half = Sizeof.SHORT;
      long act = (long) rows * w.hidden() * half;
      ids = CudaKernels.alloc((long) rows * Sizeof.INT);
      lengths = CudaKernels.alloc((long) batch * Sizeof.INT);
      x = CudaKernels.alloc(act);
      q = CudaKernels.alloc(act);
      k = CudaKernels.alloc(act);
      v = CudaKernels.alloc(act);
      ctx = CudaKernels.alloc(act);
      a = CudaKernels.alloc(act);
      inter = CudaKernels.alloc((long) rows * w.intermediate() * half);
      pooled = CudaKernels.alloc((long) batch * w.hidden() * Sizeof.FLOAT);
    }
  }

  @Override
  public void close() {
    // device memory and the context go with the process; an encoder lives as long as its server
  }
}
