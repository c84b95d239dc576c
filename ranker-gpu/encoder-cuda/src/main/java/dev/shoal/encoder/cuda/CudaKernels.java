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

  public void embedLayerNorm(CUdeviceptr ids, int rows, int seq, CUdeviceptr word, CUdeviceptr position,
                             CUdeviceptr type0, CUdeviceptr gamma, CUdeviceptr beta, float eps, int width,
                             CUdeviceptr out, CUstream stream) {
    launch(embedLayerNorm, rows, 1, 1, width * Sizeof.FLOAT, stream, Pointer.to(ids), Pointer.to(new int[] {seq}),
        Pointer.to(word), Pointer.to(position), Pointer.to(type0), Pointer.to(gamma), Pointer.to(beta),
        Pointer.to(new float[] {eps}), Pointer.to(new int[] {width}), Pointer.to(out));
  }

  public void layerNorm(CUdeviceptr in, int rows, CUdeviceptr gamma, CUdeviceptr beta, float eps, int width,
                        CUdeviceptr out, CUstream stream) {
    launch(layerNorm, rows, 1, 1, width * Sizeof.FLOAT, stream, Pointer.to(in), Pointer.to(gamma), Pointer.to(beta),
        Pointer.to(new float[] {eps}), Pointer.to(new int[] {width}), Pointer.to(out));
  }

  /** Epilogues of {@link #gemm}. */
  public enum Epilogue { BIAS, BIAS_GELU, BIAS_RESIDUAL }

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
    launch(gemm, n / GEMM_TILE, m / GEMM_TILE, 1, 0, stream, Pointer.to(a), Pointer.to(b), Pointer.to(bias),
        Pointer.to(residual == null ? c : residual), Pointer.to(c), Pointer.to(new int[] {m}),
        Pointer.to(new int[] {n}), Pointer.to(new int[] {k}), Pointer.to(new int[] {epilogue.ordinal()}));
  }

  public void attention(CUdeviceptr q, CUdeviceptr k, CUdeviceptr v, CUdeviceptr lengths, int batch, int seq,
                        int heads, int headSize, CUdeviceptr out, CUstream stream) {
    if (batch == 0) {
      return;
    }
    if (seq > MAX_SEQUENCE || headSize > MAX_HEAD_SIZE) {
      throw new IllegalArgumentException("attention supports sequences up to " + MAX_SEQUENCE + " and heads up to "
          + MAX_HEAD_SIZE + " wide");
    }
    launch(attention, seq, heads, batch, seq * Sizeof.FLOAT, stream, Pointer.to(q), Pointer.to(k), Pointer.to(v),
        Pointer.to(lengths), Pointer.to(new int[] {seq}), Pointer.to(new int[] {heads}),
        Pointer.to(new int[] {headSize}), Pointer.to(out));
  }

  /** mode 0 = CLS, 1 = mean; fp32 [batch, width] out, L2-normalised. */
  public void poolNormalize(CUdeviceptr hidden, CUdeviceptr lengths, int batch, int seq, int width, int mode,
                            CUdeviceptr out, CUstream stream) {
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
