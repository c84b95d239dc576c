package dev.shoal.encoder.cuda;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;

import dev.shoal.encoder.model.ModelFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * The compiled kernels ({@code shoal_encoder.cu}, loaded from the committed fatbin with
 * {@code cuModuleLoadData}) and one typed launcher per kernel, so callers never build argument
 * arrays by hand. Runs in device 0's primary context, shared by every instance in the process
 * (so two models, or a test beside an encoder, never mix private contexts); a thread must call
 * {@link #makeCurrent()} before launching. Launches are asynchronous on the given stream; a
 * launch over nothing (zero rows, zero candidates) is skipped. {@link #close()} unloads the module
 * and releases the context. Only loaded after {@link CudaProbe} found a driver.
 *
 * <p>The committed fatbin is built with nvcc 13 (SASS for sm_80 and sm_90, PTX ISA 9.0 for
 * newer GPUs): it needs an NVIDIA driver of the R580 series or newer.
 */
public final class CudaKernels implements AutoCloseable {

  static final int BLOCK = 128;
  /** The GEMM kernel's tile: M and N must be multiples of it, K of {@link #GEMM_K_STEP}. */
  public static final int GEMM_TILE = 64;
  public static final int GEMM_K_STEP = 32;
  /** The longest sequence the attention kernel takes (its score row lives in shared memory). */
  public static final int MAX_SEQUENCE = 512;
  /** The widest attention head the kernel takes. */
  public static final int MAX_HEAD_SIZE = 128;

  /**
   * Why these kernels cannot run a model of this shape, or null when they can: hidden and
   * intermediate sizes multiples of the GEMM tile, a head at most {@value #MAX_HEAD_SIZE} wide,
   * at most {@value #MAX_SEQUENCE} tokens. Checked before any device memory is taken, so a model
   * they cannot run falls back to the CPU instead of failing every call.
   */
  public static String unsupported(int hidden, int intermediate, int headSize, int maxTokens) {
    if (hidden % GEMM_TILE != 0 || intermediate % GEMM_TILE != 0) {
      return "hidden (" + hidden + ") and intermediate (" + intermediate + ") sizes must be multiples of " + GEMM_TILE;
    }
    if (headSize > MAX_HEAD_SIZE) {
      return "attention heads of " + headSize + " exceed " + MAX_HEAD_SIZE;
    }
    if (maxTokens > MAX_SEQUENCE) {
      return maxTokens + " tokens exceed the " + MAX_SEQUENCE + " the attention kernel takes";
    }
    return null;
  }

  /**
   * Throws IllegalArgumentException, before any device memory is taken, when these kernels cannot
   * run the model at {@code maxTokens} ({@link #unsupported}, or more tokens than its positions).
   */
  public static void refuseUnsupported(String model, dev.shoal.encoder.model.BertWeights w, int maxTokens) {
    String why = unsupported(w.hidden(), w.intermediate(), w.headSize(), maxTokens);
    if (why == null && maxTokens > w.maxPositions()) {
      why = maxTokens + " tokens exceed the model's " + w.maxPositions() + " positions";
    }
    if (why != null) {
      throw new IllegalArgumentException("the CUDA kernels cannot run " + model + ": " + why);
    }
  }

  private final CUdevice device = new CUdevice();
  private final CUcontext context = new CUcontext();
  private final CUmodule module = new CUmodule();
  private final String deviceName;
  private boolean closed;
  private final CUfunction f32ToF16 = new CUfunction();
  private final CUfunction embedLayerNorm = new CUfunction();
  private final CUfunction layerNorm = new CUfunction();
  private final CUfunction gemm = new CUfunction();
  private final CUfunction attention = new CUfunction();
  private final CUfunction pool = new CUfunction();
  private final CUfunction cosine = new CUfunction();
  private final CUfunction gatherFirstRows = new CUfunction();
  private final CUfunction gemmPipelined128 = new CUfunction();
  private final CUfunction gemmPipelined64 = new CUfunction();
  private final CUfunction layerNormResidual = new CUfunction();
  private final CUfunction flash32 = new CUfunction();
  private final CUfunction flash64 = new CUfunction();
  private final CUfunction flash128 = new CUfunction();

  public CudaKernels() {
    JCudaDriver.setExceptionsEnabled(true);
    cuInit(0);
    cuDeviceGet(device, 0);
    byte[] name = new byte[256];
    cuDeviceGetName(name, name.length, device);
    this.deviceName = new String(name, java.nio.charset.StandardCharsets.US_ASCII).trim().replace("\0", "");
    cuDevicePrimaryCtxRetain(context, device);
    cuCtxSetCurrent(context);
    byte[] fatbin;
    try {
      fatbin = ModelFiles.readAll("classpath:cuda/shoal_encoder.fatbin");
    } catch (IOException e) {
      throw new UncheckedIOException("the CUDA kernels are missing from the class path", e);
    }
    cuModuleLoadData(module, fatbin);
    cuModuleGetFunction(f32ToF16, module, "f32_to_f16");
    cuModuleGetFunction(embedLayerNorm, module, "embed_layernorm");
    cuModuleGetFunction(layerNorm, module, "layernorm");
    cuModuleGetFunction(gemm, module, "gemm_bias_act");
    cuModuleGetFunction(attention, module, "attention");
    cuModuleGetFunction(pool, module, "pool_normalize");
    cuModuleGetFunction(cosine, module, "cosine_scores");
    cuModuleGetFunction(gatherFirstRows, module, "gather_first_rows");
    cuModuleGetFunction(gemmPipelined128, module, "gemm_pipelined_128");
    cuModuleGetFunction(gemmPipelined64, module, "gemm_pipelined_64");
    cuModuleGetFunction(layerNormResidual, module, "layernorm_residual");
    cuModuleGetFunction(flash32, module, "flash_attention_d32");
    cuModuleGetFunction(flash64, module, "flash_attention_d64");
    cuModuleGetFunction(flash128, module, "flash_attention_d128");
  }

  public String deviceName() {
    return deviceName;
  }

  public void makeCurrent() {
    cuCtxSetCurrent(context);
  }

  /** Unloads the kernels and releases this instance's hold on the primary context. */
  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      cuCtxSetCurrent(context);
      cuModuleUnload(module);
      cuDevicePrimaryCtxRelease(device);
    }
  }

  // ---- memory ----

  public static CUdeviceptr alloc(long bytes) {
    CUdeviceptr p = new CUdeviceptr();
    cuMemAlloc(p, Math.max(bytes, 16));
    return p;
  }

  public static void free(CUdeviceptr p) {
    cuMemFree(p);
  }

  /** fp32 host data to a new fp16 device buffer (converted on the device). */
  public CUdeviceptr halfCopy(float[] data, CUstream stream) {
    if (data.length == 0) {
      return alloc(0);
    }
    CUdeviceptr tmp = alloc((long) data.length * Sizeof.FLOAT);
    cuMemcpyHtoD(tmp, Pointer.to(data), (long) data.length * Sizeof.FLOAT);
    CUdeviceptr out = alloc((long) data.length * Sizeof.SHORT);
    launch(f32ToF16, (int) Math.min(4096, (data.length + BLOCK - 1) / BLOCK), 1, 1, 0, stream,
        Pointer.to(tmp), Pointer.to(out), Pointer.to(new long[] {data.length}));
    JCudaDriver.cuStreamSynchronize(stream);
    free(tmp);
    return out;
  }

  public static void upload(CUdeviceptr dst, float[] data) {
    cuMemcpyHtoD(dst, Pointer.to(data), (long) data.length * Sizeof.FLOAT);
  }

  public static void upload(CUdeviceptr dst, int[] data) {
    cuMemcpyHtoD(dst, Pointer.to(data), (long) data.length * Sizeof.INT);
  }

  public static float[] download(CUdeviceptr src, int floats) {
    float[] out = new float[floats];
    cuMemcpyDtoH(Pointer.to(out), src, (long) floats * Sizeof.FLOAT);
    return out;
  }

  // ---- kernels ----

  /**
   * Word + token-type + position embedding and LayerNorm of {@code rows} tokens.
   *
   * @param types each row's segment id (int32), or null: segment 0 for every row
   * @param type  the token-type table [types, width]
   */
  public void embedLayerNorm(CUdeviceptr ids, CUdeviceptr types, int rows, int seq, CUdeviceptr word,
                             CUdeviceptr position, CUdeviceptr type, CUdeviceptr gamma, CUdeviceptr beta, float eps,
                             int width, CUdeviceptr out, CUstream stream) {
    if (rows == 0) {
      return;
    }
    launch(embedLayerNorm, rows, 1, 1, width * Sizeof.FLOAT, stream, Pointer.to(ids),
        Pointer.to(types == null ? new CUdeviceptr() : types), Pointer.to(new int[] {seq}), Pointer.to(word),
        Pointer.to(position), Pointer.to(type), Pointer.to(gamma), Pointer.to(beta), Pointer.to(new float[] {eps}),
        Pointer.to(new int[] {width}), Pointer.to(out));
  }

  /** Row 0 of each of {@code batch} sequences into rows 0..batch-1 of out; rows up to {@code padded} zeroed. */
  public void gatherFirstRows(CUdeviceptr hidden, int batch, int seq, int width, int padded, CUdeviceptr out,
                              CUstream stream) {
    if (padded == 0) {
      return;
    }
    launch(gatherFirstRows, padded, 1, 1, 0, stream, Pointer.to(hidden), Pointer.to(new int[] {batch}),
        Pointer.to(new int[] {seq}), Pointer.to(new int[] {width}), Pointer.to(out));
  }

  public void layerNorm(CUdeviceptr in, int rows, CUdeviceptr gamma, CUdeviceptr beta, float eps, int width,
                        CUdeviceptr out, CUstream stream) {
    if (rows == 0) {
      return;
    }
    launch(layerNorm, rows, 1, 1, width * Sizeof.FLOAT, stream, Pointer.to(in), Pointer.to(gamma), Pointer.to(beta),
        Pointer.to(new float[] {eps}), Pointer.to(new int[] {width}), Pointer.to(out));
  }

  /** Epilogues of {@link #gemm} and {@link #gemmPipelined}; {@code BIAS_TANH} (the pooler's) only of the latter. */
  public enum Epilogue { BIAS, BIAS_GELU, BIAS_RESIDUAL, BIAS_TANH }

  /** The widest head {@link #flashAttention} takes, and the sizes it takes. */
  public static boolean flashSupports(int headSize) {
    return headSize == 32 || headSize == 64 || headSize == 128;
  }

  /**
   * As {@link #gemm}, by the pipelined kernel: 16-byte cp.async loads into a 3-stage ring, 64x128
   * block tiles (64x64 when M is at most 256 rows or N is not a multiple of 128, so a small batch
   * still spreads over the SMs), 16-byte stores from the epilogue. M % 64, N % 64, K % 32 == 0.
   */
  public void gemmPipelined(CUdeviceptr a, CUdeviceptr b, CUdeviceptr bias, CUdeviceptr residual, CUdeviceptr c,
                            int m, int n, int k, Epilogue epilogue, CUstream stream) {
    if (m == 0 || n == 0) {
      return;
    }
    if (m % GEMM_TILE != 0 || n % GEMM_TILE != 0 || k % GEMM_K_STEP != 0) {
      throw new IllegalArgumentException("gemm " + m + "x" + n + "x" + k + ": M and N must be multiples of "
          + GEMM_TILE + ", K of " + GEMM_K_STEP);
    }
    boolean wide = n % 128 == 0 && m > 256;
    launch(wide ? gemmPipelined128 : gemmPipelined64, n / (wide ? 128 : 64), m / GEMM_TILE, 1, 0, stream,
        Pointer.to(a), Pointer.to(b), Pointer.to(bias), Pointer.to(residual == null ? c : residual), Pointer.to(c),
        Pointer.to(new int[] {m}), Pointer.to(new int[] {n}), Pointer.to(new int[] {k}),
        Pointer.to(new int[] {epilogue.ordinal()}));
  }

  /** out = LayerNorm(x + residual), a warp per row; out may be x or residual. Width % 8 == 0, at most 1024. */
  public void layerNormResidual(CUdeviceptr x, CUdeviceptr residual, CUdeviceptr gamma, CUdeviceptr beta, float eps,
                                int width, int rows, CUdeviceptr out, CUstream stream) {
    if (rows == 0) {
      return;
    }
    if (width % 8 != 0 || width > 1024) {
      throw new IllegalArgumentException("layernorm_residual takes widths that are multiples of 8 up to 1024: " + width);
    }
    launch(layerNormResidual, (rows + 3) / 4, 1, 1, 0, stream, Pointer.to(x), Pointer.to(residual), Pointer.to(gamma),
        Pointer.to(beta), Pointer.to(new float[] {eps}), Pointer.to(new int[] {width}), Pointer.to(new int[] {rows}),
        Pointer.to(out));
  }

  /**
   * Flash-style attention on tensor cores (64-query blocks, 64-key tiles up to each sequence's
   * length, online softmax): q, k and v rows of {@code stride} halves (3 × hidden for a fused QKV
   * buffer), out [batch × seq, heads × headSize]. Heads of 32, 64 or 128 ({@link #flashSupports}).
   */
  public void flashAttention(CUdeviceptr q, CUdeviceptr k, CUdeviceptr v, int stride, CUdeviceptr lengths, int batch,
                             int seq, int heads, int headSize, CUdeviceptr out, CUstream stream) {
    if (batch == 0) {
      return;
    }
    CUfunction f = switch (headSize) {
      case 32 -> flash32;
      case 64 -> flash64;
      case 128 -> flash128;
      default -> throw new IllegalArgumentException("flash attention takes heads of 32, 64 or 128, not " + headSize);
    };
    launch(f, (seq + 63) / 64, heads, batch, 0, stream, Pointer.to(q), Pointer.to(k), Pointer.to(v),
        Pointer.to(lengths), Pointer.to(new int[] {seq}), Pointer.to(new int[] {heads}),
        Pointer.to(new int[] {stride}), Pointer.to(out));
  }

  /** C[M,N] = A[M,K]·B[K,N] + bias (+ GELU | + residual), fp16 in and out, fp32 accumulation. */
  public void gemm(CUdeviceptr a, CUdeviceptr b, CUdeviceptr bias, CUdeviceptr residual, CUdeviceptr c, int m, int n,
                   int k, Epilogue epilogue, CUstream stream) {
    if (m == 0 || n == 0) {
      return;
    }
    if (m % GEMM_TILE != 0 || n % GEMM_TILE != 0 || k % GEMM_K_STEP != 0) {
      throw new IllegalArgumentException("gemm " + m + "x" + n + "x" + k + ": M and N must be multiples of "
          + GEMM_TILE + ", K of " + GEMM_K_STEP);
    }
    if (epilogue == Epilogue.BIAS_TANH) {
      throw new IllegalArgumentException("the simple gemm has no tanh epilogue; use gemmPipelined");
    }
    launch(gemm, n / GEMM_TILE, m / GEMM_TILE, 1, 0, stream, Pointer.to(a), Pointer.to(b), Pointer.to(bias),
        Pointer.to(residual == null ? c : residual), Pointer.to(c), Pointer.to(new int[] {m}),
        Pointer.to(new int[] {n}), Pointer.to(new int[] {k}), Pointer.to(new int[] {epilogue.ordinal()}));
  }

  /** The simple attention kernel, q, k and v rows of {@code heads × headSize} halves. */
  public void attention(CUdeviceptr q, CUdeviceptr k, CUdeviceptr v, CUdeviceptr lengths, int batch, int seq,
                        int heads, int headSize, CUdeviceptr out, CUstream stream) {
    attention(q, k, v, heads * headSize, lengths, batch, seq, heads, headSize, out, stream);
  }

  /** The simple attention kernel (a block per query row), q, k and v rows of {@code stride} halves. */
  public void attention(CUdeviceptr q, CUdeviceptr k, CUdeviceptr v, int stride, CUdeviceptr lengths, int batch,
                        int seq, int heads, int headSize, CUdeviceptr out, CUstream stream) {
    if (batch == 0) {
      return;
    }
    if (seq > MAX_SEQUENCE || headSize > MAX_HEAD_SIZE) {
      throw new IllegalArgumentException("attention supports sequences up to " + MAX_SEQUENCE + " and heads up to "
          + MAX_HEAD_SIZE + " wide");
    }
    launch(attention, seq, heads, batch, seq * Sizeof.FLOAT, stream, Pointer.to(q), Pointer.to(k), Pointer.to(v),
        Pointer.to(lengths), Pointer.to(new int[] {seq}), Pointer.to(new int[] {heads}),
        Pointer.to(new int[] {headSize}), Pointer.to(new int[] {stride}), Pointer.to(out));
  }

  /** mode 0 = CLS, 1 = mean; fp32 [batch, width] out, L2-normalised. */
  public void poolNormalize(CUdeviceptr hidden, CUdeviceptr lengths, int batch, int seq, int width, int mode,
                            CUdeviceptr out, CUstream stream) {
    if (batch == 0) {
      return;
    }
    launch(pool, batch, 1, 1, width * Sizeof.FLOAT, stream, Pointer.to(hidden), Pointer.to(lengths),
        Pointer.to(new int[] {seq}), Pointer.to(new int[] {width}), Pointer.to(new int[] {mode}), Pointer.to(out));
  }

  public void cosine(CUdeviceptr query, CUdeviceptr candidates, int n, int width, CUdeviceptr scores,
                     CUstream stream) {
    if (n == 0) {
      return;
    }
    launch(cosine, (n + 3) / 4, 1, 1, 0, stream, Pointer.to(query), Pointer.to(candidates),
        Pointer.to(new int[] {n}), Pointer.to(new int[] {width}), Pointer.to(scores));
  }

  private static void launch(CUfunction f, int gx, int gy, int gz, int sharedBytes, CUstream stream,
                             Pointer... args) {
    cuLaunchKernel(f, gx, gy, gz, BLOCK, 1, 1, sharedBytes, stream, Pointer.to(args), null);
  }
}
