package dev.shoal.encoder.cuda;

import static jcuda.driver.JCudaDriver.cuMemAllocHost;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemsetD8Async;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.model.BertWeights;
import dev.shoal.encoder.model.ModelFiles;
import dev.shoal.encoder.tokenizer.WordPieceTokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
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
 * The encoder on an NVIDIA GPU: Shoal's own CUDA kernels ({@link CudaKernels}) run the whole
 * forward pass ({@link CudaTransformer}, with the {@link CudaKernelSet} given, the tiled one by
 * default) in fp16 with fp32 accumulation, then pooling and L2 normalisation. Weights come from
 * the ONNX file's initializers or an fp16 weights file ({@link BertWeights#load}) and are
 * converted to half precision once, on the device.
 *
 * <p>Work is spread over {@value #STREAMS} lanes, each a non-blocking stream with its own device
 * buffers and pinned host buffers, all sized once at construction for {@code maxBatch} sequences
 * of the model's {@code maxTokens} (and zeroed, so padded rows are never garbage): no request
 * allocates or frees device memory. A call takes a free lane (waiting if all are busy); texts are
 * sorted by length and cut into batches of at most {@code maxBatch}.
 *
 * <p>Construction checks the model's shape against what the kernels take ({@link
 * CudaKernels#unsupported}) before touching the device, and throws IllegalArgumentException, so
 * {@code auto} falls back to the CPU. {@link #close()} waits for in-flight calls, then frees every
 * device buffer, the pinned memory, the streams and its hold on the context; later calls throw
 * IllegalStateException. Thread-safe. Errors from the driver surface as {@link jcuda.CudaException}.
 */
public final class CudaEncoder implements Encoder {

  static final int STREAMS = 2;
  /** Candidates one lane scores at once with {@link #cosine} (the ranker's Score limit). */
  static final int MAX_COSINE_CANDIDATES = 1_000;

  private final ModelSpec spec;
  private final WordPieceTokenizer tokenizer;
  private final BertWeights w;
  private final CudaKernels k;
  private final int maxBatch;
  private final boolean graphs;
  private final CudaTransformer transformer;
  private final Lanes<Lane> lanes;

  public CudaEncoder(ModelSpec spec, int maxBatch) {
    this(spec, maxBatch, CudaKernelSet.configured());
  }

  /** @param kernels which kernel set runs the forward pass */
  public CudaEncoder(ModelSpec spec, int maxBatch, CudaKernelSet kernels) {
    this(spec, maxBatch, kernels, LaunchGraphs.ENABLED);
  }

  /** @param graphs whether small calls run as CUDA graphs of their shape bucket */
  CudaEncoder(ModelSpec spec, int maxBatch, CudaKernelSet kernels, boolean graphs) {
    this.graphs = graphs;
    this.spec = spec;
    this.maxBatch = Math.max(1, maxBatch);
    try (InputStream tok = ModelFiles.open(spec.tokenizer())) {
      this.tokenizer = WordPieceTokenizer.load(tok);
      this.w = BertWeights.load(spec.onnx());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read model " + spec.name(), e);
    }
    CudaKernels.refuseUnsupported(spec.name(), w, spec.maxTokens());
    this.k = new CudaKernels();
    k.makeCurrent();
    CUstream setup = new CUstream();
    cuStreamCreate(setup, CUstream_flags.CU_STREAM_NON_BLOCKING);
    this.transformer = new CudaTransformer(w, k, kernels, setup);
    List<Lane> made = new ArrayList<>();
    for (int i = 0; i < STREAMS; i++) {
      made.add(new Lane(setup));
    }
    this.lanes = new Lanes<>(made, "encoder");
    cuStreamSynchronize(setup);
    cuStreamDestroy(setup);
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
    return "cuda (" + k.deviceName() + ", Shoal " + transformer.kernels().name().toLowerCase(java.util.Locale.ROOT)
        + " kernels, fp16)";
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

  /** Embeddings of already tokenised sequences (each at most the model's maxTokens), in order. */
  public float[][] embedIds(int[][] ids) {
    for (int[] s : ids) {
      if (s.length > spec.maxTokens()) {
        throw new IllegalArgumentException("a sequence of " + s.length + " tokens; this encoder takes "
            + spec.maxTokens());
      }
    }
    Integer[] order = new Integer[ids.length];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, Comparator.comparingInt(i -> ids[i].length));
    float[][] out = new float[ids.length][];
    if (ids.length == 0) {
      return out;
    }
    return lanes.on(k, lane -> {
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

  /** Cosine of a query embedding against candidate embeddings (all L2-normalised), on the GPU. */
  public float[] cosine(float[] query, float[][] candidates) {
    if (candidates.length > MAX_COSINE_CANDIDATES) {
      throw new IllegalArgumentException("at most " + MAX_COSINE_CANDIDATES + " candidates, got " + candidates.length);
    }
    int h = w.hidden();
    if (query.length != h) {
      throw new IllegalArgumentException("a query of " + query.length + " values; the model's is " + h);
    }
    if (candidates.length == 0) {
      return new float[0];
    }
    return lanes.on(k, lane -> lane.cosine(query, candidates));
  }

  /** One stream with its buffers, all sized at construction. Used by one call at a time. */
  private final class Lane {
    final CUstream stream = new CUstream();
    final int rows = roundUp(maxBatch * spec.maxTokens(), CudaKernels.GEMM_TILE);
    final CudaTransformer.Buffers buf;
    final LaunchGraphs captured = new LaunchGraphs();
    final List<CUdeviceptr> device = new ArrayList<>();
    final CUdeviceptr pooled;
    final CUdeviceptr cosQuery;
    final CUdeviceptr cosCandidates;
    final CUdeviceptr cosScores;
    final Pointer hostIds = new Pointer();
    final Pointer hostOut = new Pointer();
    final long hostIdsBytes;
    final long hostOutBytes;

    Lane(CUstream setup) {
      cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING);
      int h = w.hidden();
      buf = transformer.new Buffers(rows, maxBatch, setup);
      pooled = zeroed((long) maxBatch * h * Sizeof.FLOAT, setup);
      cosQuery = zeroed((long) h * Sizeof.FLOAT, setup);
      cosCandidates = zeroed((long) MAX_COSINE_CANDIDATES * h * Sizeof.FLOAT, setup);
      cosScores = zeroed((long) MAX_COSINE_CANDIDATES * Sizeof.FLOAT, setup);
      hostIdsBytes = Math.max((long) (rows + maxBatch) * Sizeof.INT, (long) (MAX_COSINE_CANDIDATES + 1) * h
          * Sizeof.FLOAT);
      hostOutBytes = (long) Math.max(maxBatch * h, MAX_COSINE_CANDIDATES) * Sizeof.FLOAT;
      cuMemAllocHost(hostIds, hostIdsBytes);
      cuMemAllocHost(hostOut, hostOutBytes);
    }

    private CUdeviceptr zeroed(long bytes, CUstream setup) {
      CUdeviceptr p = CudaKernels.alloc(bytes);
      cuMemsetD8Async(p, (byte) 0, Math.max(bytes, 16), setup);
      device.add(p);
      return p;
    }

    float[][] run(int[][] batch) {
      int b = batch.length;
      int seq = 1;
      for (int[] s : batch) {
        seq = Math.max(seq, s.length);
      }
      // a small call runs as a CUDA graph of its shape bucket: extra sequences of one token, and
      // padding past each length, change nothing in the real rows
      boolean graph = graphs && LaunchGraphs.worthIt(b, seq);
      int bRun = graph ? LaunchGraphs.bucket(b, maxBatch) : b;
      int seqRun = graph ? LaunchGraphs.bucket(seq, spec.maxTokens()) : seq;
      int padded = roundUp(bRun * seqRun, CudaKernels.GEMM_TILE);
      // token ids (padding = id 0, never read as a key thanks to the lengths) then the lengths
      long idBytes = (long) (padded + bRun) * Sizeof.INT;
      var ints = hostIds.getByteBuffer(0, idBytes).order(ByteOrder.nativeOrder()).asIntBuffer();
      for (int i = 0; i < padded; i++) {
        int s = i / seqRun;
        int p = i % seqRun;
        ints.put(i, s < b && p < batch[s].length ? batch[s][p] : 0);
      }
      for (int s = 0; s < bRun; s++) {
        ints.put(padded + s, s < b ? batch[s].length : 1);
      }
      cuMemcpyHtoDAsync(buf.ids, hostIds, (long) padded * Sizeof.INT, stream);
      cuMemcpyHtoDAsync(buf.lengths, hostIds.withByteOffset((long) padded * Sizeof.INT), (long) bRun * Sizeof.INT,
          stream);
      Runnable launches = () -> {
        transformer.forward(buf, bRun, seqRun, padded, false, stream);
        k.poolNormalize(buf.x, buf.lengths, bRun, seqRun, w.hidden(), spec.pooling() == ModelSpec.Pooling.CLS ? 0 : 1,
            pooled, stream);
      };
      if (graph) {
        captured.run(bRun, seqRun, stream, launches);
      } else {
        launches.run();
      }
      long outBytes = (long) b * w.hidden() * Sizeof.FLOAT;
      cuMemcpyDtoHAsync(hostOut, pooled, outBytes, stream);
      cuStreamSynchronize(stream);
      var floats = hostOut.getByteBuffer(0, outBytes).order(ByteOrder.nativeOrder()).asFloatBuffer();
      float[][] out = new float[b][w.hidden()];
      for (int s = 0; s < b; s++) {
        floats.get(s * w.hidden(), out[s]);
      }
      return out;
    }

    float[] cosine(float[] query, float[][] candidates) {
      int h = w.hidden();
      int n = candidates.length;
      var staged = hostIds.getByteBuffer(0, (long) (n + 1) * h * Sizeof.FLOAT).order(ByteOrder.nativeOrder())
          .asFloatBuffer();
      staged.put(0, query);
      for (int i = 0; i < n; i++) {
        staged.put((i + 1) * h, candidates[i]);
      }
      cuMemcpyHtoDAsync(cosQuery, hostIds, (long) h * Sizeof.FLOAT, stream);
      cuMemcpyHtoDAsync(cosCandidates, hostIds.withByteOffset((long) h * Sizeof.FLOAT), (long) n * h * Sizeof.FLOAT,
          stream);
      k.cosine(cosQuery, cosCandidates, n, h, cosScores, stream);
      cuMemcpyDtoHAsync(hostOut, cosScores, (long) n * Sizeof.FLOAT, stream);
      cuStreamSynchronize(stream);
      float[] out = new float[n];
      hostOut.getByteBuffer(0, (long) n * Sizeof.FLOAT).order(ByteOrder.nativeOrder()).asFloatBuffer().get(out);
      return out;
    }

    void free() {
      cuStreamSynchronize(stream);
      captured.close();
      buf.free();
      device.forEach(CudaKernels::free);
      cuMemFreeHost(hostIds);
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
    transformer.close();
    k.close();
  }
}
