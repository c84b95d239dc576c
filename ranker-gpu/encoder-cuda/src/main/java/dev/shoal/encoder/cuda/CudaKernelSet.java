package dev.shoal.encoder.cuda;

/**
 * Which kernels run a CUDA encoder's forward pass. {@link #TILED} (the default): one fused QKV
 * GEMM per layer, flash attention on tensor cores, the pipelined GEMM (16-byte cp.async into a
 * 3-stage ring) for every projection, a warp-per-row LayerNorm that adds the residual.
 * {@link #SIMPLE}: the first kernels (WMMA GEMM with scalar tile loads, a block per query row for
 * attention, a block per row for LayerNorm), the fallback for heads the flash kernel does not take
 * (other than 32, 64, 128 wide) and the baseline the tiled set is checked and benchmarked against.
 */
public enum CudaKernelSet {
  TILED, SIMPLE;

  /** {@code -Dshoal.cuda.kernels=simple} switches a deployment back to the first kernels. */
  public static CudaKernelSet configured() {
    return "simple".equalsIgnoreCase(System.getProperty("shoal.cuda.kernels", "")) ? SIMPLE : TILED;
  }
}
