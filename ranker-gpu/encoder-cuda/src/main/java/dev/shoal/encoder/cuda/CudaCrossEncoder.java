package dev.shoal.encoder.cuda;

import static jcuda.driver.JCudaDriver.cuMemAllocHost;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import dev.shoal.encoder.CrossEncoder;
import dev.shoal.encoder.CrossEncoderModel;
import dev.shoal.encoder.CrossEncoderSpec;
import dev.shoal.encoder.model.BertWeights;
import dev.shoal.encoder.model.ClassifierHead;
import dev.shoal.encoder.tokenizer.WordPieceTokenizer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;

/**
 * A cross-encoder on an NVIDIA GPU: the pair's transformer forward pass ({@link CudaTransformer},
 * segment ids included) on Shoal's kernels, then the classification head on the device: the
 * [CLS] rows gathered, the pooler as a GEMM with a tanh epilogue, the classifier as a GEMM whose
 * labels are padded to one 64-column tile (zero weights), and only the logits copied back; the
 * score per pair as {@link ClassifierHead#score}. fp16 storage, fp32 accumulation.
 *
 * <p>As {@link CudaEncoder}: {@value #STREAMS} lanes with buffers sized once for {@code maxBatch}
 * pairs of the model's {@code maxTokens} (no allocation on a request), the model's shape checked
 * before any device memory is taken (IllegalArgumentException, so {@code auto} falls back to
 * ONNX Runtime), {@link #close()} waiting for calls in flight, then freeing everything.
 * Thread-safe.
 */
public final class CudaCrossEncoder implements CrossEncoder {

  static final int STREAMS = 2;
  /** The classifier's labels padded to one GEMM tile of columns. */
  private static final int LABEL_COLUMNS = CudaKernels.GEMM_TILE;

  private final CrossEncoderSpec spec;
  private final CrossEncoderModel model;
  private final BertWeights w;
  private final ClassifierHead head;
  private final CudaKernels k;
  private final int maxBatch;
  private final boolean graphs;
  private final CudaTransformer transformer;
  private final List<CUdeviceptr> headWeights = new ArrayList<>();
  private final CUdeviceptr poolerW;
  private final CUdeviceptr poolerB;
  private final CUdeviceptr classW;
  private final CUdeviceptr classB;
  private final Lanes<Lane> lanes;

  public CudaCrossEncoder(CrossEncoderSpec spec, int maxBatch) {
    this(spec, maxBatch, CudaKernelSet.configured());
  }

  public CudaCrossEncoder(CrossEncoderSpec spec, int maxBatch, CudaKernelSet kernels) {
    this(spec, maxBatch, kernels, LaunchGraphs.ENABLED);
  }

  /** @param graphs whether small calls run as CUDA graphs of their shape bucket */
  CudaCrossEncoder(CrossEncoderSpec spec, int maxBatch, CudaKernelSet kernels, boolean graphs) {
    this.graphs = graphs;
    this.spec = spec;
    this.maxBatch = Math.max(1, maxBatch);
    this.model = CrossEncoderModel.load(spec);
    this.w = model.weights();
    this.head = model.head();
    CudaKernels.refuseUnsupported(spec.name(), w, spec.maxTokens());
    this.k = new CudaKernels();
    k.makeCurrent();
    CUstream setup = new CUstream();
    cuStreamCreate(setup, CUstream_flags.CU_STREAM_NON_BLOCKING);
    this.transformer = new CudaTransformer(w, k, kernels, setup);
    int h = w.hidden();
    float[] pw = head.hasPooler() ? head.poolerWeight() : identity(h);
    float[] pb = head.hasPooler() ? head.poolerBias() : new float[h];
    poolerW = owned(k.halfCopy(pw, setup));
    poolerB = owned(k.halfCopy(pb, setup));
    float[] cw = new float[h * LABEL_COLUMNS];
    for (int r = 0; r < h; r++) {
      System.arraycopy(head.weight(), r * head.labels(), cw, r * LABEL_COLUMNS, head.labels());
    }
    classW = owned(k.halfCopy(cw, setup));
    classB = owned(k.halfCopy(Arrays.copyOf(head.bias(), LABEL_COLUMNS), setup));
    List<Lane> made = new ArrayList<>();
    for (int i = 0; i < STREAMS; i++) {
      made.add(new Lane(setup));
    }
    this.lanes = new Lanes<>(made, "cross-encoder");
    cuStreamSynchronize(setup);
    cuStreamDestroy(setup);
  }

  private CUdeviceptr owned(CUdeviceptr p) {
    headWeights.add(p);
    return p;
  }

  private static float[] identity(int h) {
    float[] m = new float[h * h];
    for (int i = 0; i < h; i++) {
      m[i * h + i] = 1f;
    }
    return m;
  }

  @Override
  public CrossEncoderSpec model() {
    return spec;
  }

  @Override
  public String backend() {
    return "cuda (" + k.deviceName() + ", Shoal " + transformer.kernels().name().toLowerCase(java.util.Locale.ROOT)
        + " kernels, fp16)";
  }

  @Override
  public float[] score(List<TextPair> pairs) {
    WordPieceTokenizer.Pair[] tokens = new WordPieceTokenizer.Pair[pairs.size()];
    for (int i = 0; i < tokens.length; i++) {
      tokens[i] = model.tokenize(pairs.get(i));
    }
    return scoreTokens(tokens);
  }

  /** Scores of already tokenised pairs (each at most the model's maxTokens), in order. */
  public float[] scoreTokens(WordPieceTokenizer.Pair[] tokens) {
    float[] out = new float[tokens.length];
    if (tokens.length == 0) {
      return out;
    }
    Integer[] order = new Integer[tokens.length];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, Comparator.comparingInt(i -> tokens[i].length()));
    return lanes.on(k, lane -> {
      for (int from = 0; from < order.length; from += maxBatch) {
        int to = Math.min(order.length, from + maxBatch);
        WordPieceTokenizer.Pair[] batch = new WordPieceTokenizer.Pair[to - from];
        for (int i = from; i < to; i++) {
          batch[i - from] = tokens[order[i]];
        }
        float[] scores = lane.run(batch);
        for (int i = from; i < to; i++) {
          out[order[i]] = scores[i - from];
        }
      }
      return out;
    });
  }

  /** One stream with its buffers, all sized at construction. Used by one call at a time. */
  private final class Lane {
    final CUstream stream = new CUstream();
    final int rows = roundUp(maxBatch * spec.maxTokens(), CudaKernels.GEMM_TILE);
    final int headRows = roundUp(maxBatch, CudaKernels.GEMM_TILE);
    final CudaTransformer.Buffers buf;
    final LaunchGraphs captured = new LaunchGraphs();
    final CUdeviceptr cls;
    final CUdeviceptr pooled;
    final CUdeviceptr logits;
    final Pointer hostIn = new Pointer();
    final Pointer hostOut = new Pointer();

    Lane(CUstream setup) {
      cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING);
      int h = w.hidden();
      buf = transformer.new Buffers(rows, maxBatch, setup);
      cls = buf.zeroed((long) headRows * h * Sizeof.SHORT, setup);
      pooled = buf.zeroed((long) headRows * h * Sizeof.SHORT, setup);
      logits = buf.zeroed((long) headRows * LABEL_COLUMNS * Sizeof.SHORT, setup);
      cuMemAllocHost(hostIn, (2L * rows + maxBatch) * Sizeof.INT);
      cuMemAllocHost(hostOut, (long) headRows * LABEL_COLUMNS * Sizeof.SHORT);
    }

    float[] run(WordPieceTokenizer.Pair[] batch) {
      int b = batch.length;
      int seq = 1;
      for (WordPieceTokenizer.Pair p : batch) {
        seq = Math.max(seq, p.length());
      }
      // a small call runs as a CUDA graph of its shape bucket (extra pairs of one token)
      boolean graph = graphs && LaunchGraphs.worthIt(b, seq);
      int bRun = graph ? LaunchGraphs.bucket(b, maxBatch) : b;
      int seqRun = graph ? LaunchGraphs.bucket(seq, spec.maxTokens()) : seq;
      int padded = roundUp(bRun * seqRun, CudaKernels.GEMM_TILE);
      // ids, then segments, then lengths (padding: id 0, segment 0, never read as a key)
      var ints = hostIn.getByteBuffer(0, (2L * padded + bRun) * Sizeof.INT).order(ByteOrder.nativeOrder())
          .asIntBuffer();
      for (int i = 0; i < padded; i++) {
        int s = i / seqRun;
        int p = i % seqRun;
        boolean real = s < b && p < batch[s].length();
        ints.put(i, real ? batch[s].ids()[p] : 0);
        ints.put(padded + i, real ? batch[s].typeIds()[p] : 0);
      }
      for (int s = 0; s < bRun; s++) {
        ints.put(2 * padded + s, s < b ? batch[s].length() : 1);
      }
      long idBytes = (long) padded * Sizeof.INT;
      cuMemcpyHtoDAsync(buf.ids, hostIn, idBytes, stream);
      cuMemcpyHtoDAsync(buf.types, hostIn.withByteOffset(idBytes), idBytes, stream);
      cuMemcpyHtoDAsync(buf.lengths, hostIn.withByteOffset(2 * idBytes), (long) bRun * Sizeof.INT, stream);
      Runnable launches = () -> launches(bRun, seqRun, padded);
      if (graph) {
        captured.run(bRun, seqRun, stream, launches);
      } else {
        launches.run();
      }
      long outBytes = (long) b * LABEL_COLUMNS * Sizeof.SHORT;
      cuMemcpyDtoHAsync(hostOut, logits, outBytes, stream);
      cuStreamSynchronize(stream);
      var halves = hostOut.getByteBuffer(0, outBytes).order(ByteOrder.nativeOrder()).asShortBuffer();
      float[] row = new float[head.labels()];
      float[] out = new float[b];
      for (int s = 0; s < b; s++) {
        for (int l = 0; l < row.length; l++) {
          row[l] = Float.float16ToFloat(halves.get(s * LABEL_COLUMNS + l));
        }
        out[s] = head.score(row, 0);
      }
      return out;
    }

    /** The device work of one call: the transformer, the [CLS] rows, the pooler and the classifier. */
    private void launches(int b, int seq, int padded) {
      transformer.forward(buf, b, seq, padded, true, stream);
      int h = w.hidden();
      int hr = roundUp(b, CudaKernels.GEMM_TILE);
      k.gatherFirstRows(buf.x, b, seq, h, hr, cls, stream);
      // without a pooler the identity stands in, and tanh is skipped
      k.gemmPipelined(cls, poolerW, poolerB, null, pooled, hr, h, h,
          head.hasPooler() ? CudaKernels.Epilogue.BIAS_TANH : CudaKernels.Epilogue.BIAS, stream);
      k.gemmPipelined(pooled, classW, classB, null, logits, hr, LABEL_COLUMNS, h, CudaKernels.Epilogue.BIAS, stream);
    }

    void free() {
      cuStreamSynchronize(stream);
      captured.close();
      buf.free();
      cuMemFreeHost(hostIn);
      cuMemFreeHost(hostOut);
      cuStreamDestroy(stream);
    }
  }

  private static int roundUp(int n, int to) {
    return (n + to - 1) / to * to;
  }

  /** Waits for in-flight calls, then frees the lanes, the weights and the context. Idempotent. */
  @Override
  public synchronized void close() {
    if (lanes.closed()) {
      return;
    }
    lanes.close(k, Lane::free);
    headWeights.forEach(CudaKernels::free);
    transformer.close();
    k.close();
  }
}
