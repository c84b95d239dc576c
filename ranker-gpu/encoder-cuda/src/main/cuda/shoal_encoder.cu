// Shoal's BERT encoder on the GPU: every kernel of the forward pass, fp16 storage and fp32
// accumulation. The plain-Java reference (dev.shoal.ranker.cpu.ReferenceEncoder) performs the
// same operations in the same order in fp32; the GPU suite checks each kernel against it.
//
// Layouts: activations are [rows, width] row-major with rows = batch * seq (sequence b occupies
// rows b*seq .. b*seq+seq-1; positions at or past lengths[b] are padding). Linear weights are
// [in, out] row-major, as the ONNX graph multiplies x . W. Every kernel is extern "C" so the
// Java side finds it by name with cuModuleGetFunction.
//
// Built by nvcc into a fatbin (SASS for sm_80 and sm_90, PTX for compute_90) that is committed
// as a resource: see build.sh.

#include <cuda_fp16.h>
#include <mma.h>
#include <stdint.h>

using namespace nvcuda;

// ---------------------------------------------------------------------------------------------
// Block-wide sum of one float per thread (blockDim.x a multiple of 32, at most 1024).
__device__ __forceinline__ float block_sum(float v, float* shared32) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) shared32[warp] = v;
  __syncthreads();
  int warps = blockDim.x >> 5;
  v = lane < warps ? shared32[lane] : 0.f;
  if (warp == 0) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0) shared32[0] = v;
  }
  __syncthreads();
  float total = shared32[0];
  __syncthreads();
  return total;
}

__device__ __forceinline__ float block_max(float v, float* shared32) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) shared32[warp] = v;
  __syncthreads();
  int warps = blockDim.x >> 5;
  v = lane < warps ? shared32[lane] : -INFINITY;
  if (warp == 0) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    if (lane == 0) shared32[0] = v;
  }
  __syncthreads();
  float m = shared32[0];
  __syncthreads();
  return m;
}

// ---------------------------------------------------------------------------------------------
// Weights arrive as fp32 from the ONNX initializers and are converted once, on the device.
extern "C" __global__ void f32_to_f16(const float* __restrict__ in, __half* __restrict__ out, long n) {
  for (long i = blockIdx.x * (long) blockDim.x + threadIdx.x; i < n; i += (long) gridDim.x * blockDim.x) {
    out[i] = __float2half_rn(in[i]);
  }
}

// LayerNorm of one row held in registers/shared memory: mean first, then the mean squared
// deviation (two passes, as the ONNX graph and the reference compute it).
__device__ void layernorm_row(const float* x, int width, const __half* gamma, const __half* beta, float eps,
                              __half* out, float* shared32) {
  float s = 0.f;
  for (int j = threadIdx.x; j < width; j += blockDim.x) s += x[j];
  float mean = block_sum(s, shared32) / width;
  float v = 0.f;
  for (int j = threadIdx.x; j < width; j += blockDim.x) {
    float d = x[j] - mean;
    v += d * d;
  }
  float var = block_sum(v, shared32) / width;
  float denom = sqrtf(var + eps);
  for (int j = threadIdx.x; j < width; j += blockDim.x) {
    out[j] = __float2half_rn((x[j] - mean) / denom * __half2float(gamma[j]) + __half2float(beta[j]));
  }
}

// One block per row (token): word + token-type(0) + position embedding, then LayerNorm.
// grid = rows, block = 128, dynamic shared = width floats.
extern "C" __global__ void embed_layernorm(const int* __restrict__ ids, int seq, const __half* __restrict__ word,
                                           const __half* __restrict__ position, const __half* __restrict__ type0,
                                           const __half* __restrict__ gamma, const __half* __restrict__ beta,
                                           float eps, int width, __half* __restrict__ out) {
  extern __shared__ float row[];
  __shared__ float shared32[32];
  int r = blockIdx.x;
  int pos = r % seq;
  long id = ids[r];
  for (int j = threadIdx.x; j < width; j += blockDim.x) {
    row[j] = __half2float(word[id * width + j]) + __half2float(type0[j]) + __half2float(position[(long) pos * width + j]);
  }
  __syncthreads();
  layernorm_row(row, width, gamma, beta, eps, out + (long) r * width, shared32);
}

// LayerNorm of rows whose residual was already added by the GEMM epilogue.
// grid = rows, block = 128, dynamic shared = width floats.
extern "C" __global__ void layernorm(const __half* __restrict__ in, const __half* __restrict__ gamma,
                                     const __half* __restrict__ beta, float eps, int width,
                                     __half* __restrict__ out) {
  extern __shared__ float row[];
  __shared__ float shared32[32];
  long base = (long) blockIdx.x * width;
  for (int j = threadIdx.x; j < width; j += blockDim.x) row[j] = __half2float(in[base + j]);
  __syncthreads();
  layernorm_row(row, width, gamma, beta, eps, out + base, shared32);
}

// ---------------------------------------------------------------------------------------------
// C[M,N] = A[M,K] . B[K,N] + bias[N], then the epilogue: 0 none, 1 exact GELU, 2 + residual[M,N].
// Tensor cores through WMMA (16x16x16 fp16 fragments, fp32 accumulators). A block computes a
// 64x64 tile with 4 warps (2x2, 32x32 each), stepping K by 32 through shared memory.
// Requires M % 64 == 0, N % 64 == 0, K % 32 == 0 (the host pads the rows; BERT widths are
// multiples of 64). grid = (N/64, M/64), block = 128.
#define TILE_M 64
#define TILE_N 64
#define TILE_K 32
#define PAD 8

extern "C" __global__ void gemm_bias_act(const __half* __restrict__ A, const __half* __restrict__ B,
                                         const __half* __restrict__ bias, const __half* __restrict__ residual,
                                         __half* __restrict__ C, int M, int N, int K, int epilogue) {
  __shared__ __align__(32) __half As[TILE_M][TILE_K + PAD];
  __shared__ __align__(32) __half Bs[TILE_K][TILE_N + PAD];
  __shared__ __align__(32) float Cs[TILE_M][TILE_N + 4];

  int warp = threadIdx.x >> 5;
  int wm = (warp >> 1) * 32;  // warp's row offset in the tile
  int wn = (warp & 1) * 32;   // warp's column offset in the tile
  int row0 = blockIdx.y * TILE_M;
  int col0 = blockIdx.x * TILE_N;

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.f);

  for (int k0 = 0; k0 < K; k0 += TILE_K) {
    // 64x32 halves of A and 32x64 of B: 2048 each, 16 per thread
    for (int e = threadIdx.x; e < TILE_M * TILE_K; e += blockDim.x) {
      int r = e / TILE_K, c = e % TILE_K;
      As[r][c] = A[(long) (row0 + r) * K + k0 + c];
    }
    for (int e = threadIdx.x; e < TILE_K * TILE_N; e += blockDim.x) {
      int r = e / TILE_N, c = e % TILE_N;
      Bs[r][c] = B[(long) (k0 + r) * N + col0 + c];
    }
    __syncthreads();
    for (int kk = 0; kk < TILE_K; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> b[2];
      for (int i = 0; i < 2; i++) wmma::load_matrix_sync(a[i], &As[wm + i * 16][kk], TILE_K + PAD);
      for (int j = 0; j < 2; j++) wmma::load_matrix_sync(b[j], &Bs[kk][wn + j * 16], TILE_N + PAD);
      for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++)
      wmma::store_matrix_sync(&Cs[wm + i * 16][wn + j * 16], acc[i][j], TILE_N + 4, wmma::mem_row_major);
  __syncthreads();
  for (int e = threadIdx.x; e < TILE_M * TILE_N; e += blockDim.x) {
    int r = e / TILE_N, c = e % TILE_N;
    long gi = (long) (row0 + r) * N + col0 + c;
    float v = Cs[r][c] + __half2float(bias[col0 + c]);
    if (epilogue == 1) {
      v = v * 0.5f * (1.f + erff(v / 1.4142135f));
    } else if (epilogue == 2) {
      v += __half2float(residual[gi]);
    }
    C[gi] = __float2half_rn(v);
  }
}

// ---------------------------------------------------------------------------------------------
// Fused attention for one (sequence, head, query position): scores = q.k / sqrt(d) over the
// real keys (the padding mask), softmax with the max subtracted, then . V. Sequences up to 512.
// grid = (seq, heads, batch), block = 128, dynamic shared = seq floats.
// q, k, v, out: [batch*seq, heads*d].
extern "C" __global__ void attention(const __half* __restrict__ q, const __half* __restrict__ k,
                                     const __half* __restrict__ v, const int* __restrict__ lengths, int seq,
                                     int heads, int d, __half* __restrict__ out) {
  extern __shared__ float scores[];
  __shared__ float shared32[32];
  __shared__ float qs[128];
  int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  int len = lengths[b];
  int width = heads * d;
  long qrow = ((long) b * seq + i) * width + (long) h * d;
  if (i >= len) {  // a padding row: its output is never read; keep it finite
    for (int c = threadIdx.x; c < d; c += blockDim.x) out[qrow + c] = __float2half_rn(0.f);
    return;
  }
  for (int c = threadIdx.x; c < d; c += blockDim.x) qs[c] = __half2float(q[qrow + c]);
  __syncthreads();
  float scale = sqrtf((float) d);
  float local_max = -INFINITY;
  for (int j = threadIdx.x; j < len; j += blockDim.x) {
    long krow = ((long) b * seq + j) * width + (long) h * d;
    float dot = 0.f;
    for (int c = 0; c < d; c++) dot += qs[c] * __half2float(k[krow + c]);
    scores[j] = dot / scale;
    local_max = fmaxf(local_max, scores[j]);
  }
  float m = block_max(local_max, shared32);
  float local_sum = 0.f;
  for (int j = threadIdx.x; j < len; j += blockDim.x) {
    scores[j] = expf(scores[j] - m);
    local_sum += scores[j];
  }
  float sum = block_sum(local_sum, shared32);
  // d <= 128 output columns; each thread owns columns and walks the keys in order
  for (int c = threadIdx.x; c < d; c += blockDim.x) {
    float o = 0.f;
    for (int j = 0; j < len; j++) {
      o += (scores[j] / sum) * __half2float(v[((long) b * seq + j) * width + (long) h * d + c]);
    }
    out[qrow + c] = __float2half_rn(o);
  }
}

// ---------------------------------------------------------------------------------------------
// Pooling and L2 normalisation, one block per sequence: mode 0 = CLS (the first token),
// mode 1 = mean over the real tokens. Output fp32 [batch, width]. block = 128, shared = width floats.
extern "C" __global__ void pool_normalize(const __half* __restrict__ hidden, const int* __restrict__ lengths,
                                          int seq, int width, int mode, float* __restrict__ out) {
  extern __shared__ float pooled[];
  __shared__ float shared32[32];
  int b = blockIdx.x;
  int len = lengths[b];
  long base = (long) b * seq * width;
  for (int c = threadIdx.x; c < width; c += blockDim.x) {
    float s;
    if (mode == 0) {
      s = __half2float(hidden[base + c]);
    } else {
      s = 0.f;
      for (int t = 0; t < len; t++) s += __half2float(hidden[base + (long) t * width + c]);
      s /= len;
    }
    pooled[c] = s;
  }
  __syncthreads();
  float sq = 0.f;
  for (int c = threadIdx.x; c < width; c += blockDim.x) sq += pooled[c] * pooled[c];
  float norm = sqrtf(block_sum(sq, shared32));
  float inv = norm > 0.f ? 1.f / norm : 0.f;
  for (int c = threadIdx.x; c < width; c += blockDim.x) out[(long) b * width + c] = pooled[c] * inv;
}

// Cosine of one query against n stored candidate vectors (all L2-normalised, fp32): one warp per
// candidate. grid = ceil(n / 4), block = 128.
extern "C" __global__ void cosine_scores(const float* __restrict__ query, const float* __restrict__ candidates,
                                         int n, int width, float* __restrict__ scores) {
  int warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  int lane = threadIdx.x & 31;
  if (warp >= n) return;
  const float* c = candidates + (long) warp * width;
  float s = 0.f;
  for (int j = lane; j < width; j += 32) s += query[j] * c[j];
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  if (lane == 0) scores[warp] = s;
}
