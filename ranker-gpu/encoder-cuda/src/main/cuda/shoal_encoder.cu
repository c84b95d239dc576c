// Shoal's BERT encoder on the GPU: every kernel of the forward pass, fp16 storage and fp32
// accumulation. The plain-Java reference (dev.shoal.encoder.reference.ReferenceEncoder) performs the
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

// One block per row (token): word + token-type + position embedding, then LayerNorm. The token
// type of row r is types[r] (a sentence pair's segment 0 or 1), or 0 for every row when types is
// null; type is the [types, width] table. grid = rows, block = 128, dynamic shared = width floats.
extern "C" __global__ void embed_layernorm(const int* __restrict__ ids, const int* __restrict__ types, int seq,
                                           const __half* __restrict__ word, const __half* __restrict__ position,
                                           const __half* __restrict__ type, const __half* __restrict__ gamma,
                                           const __half* __restrict__ beta, float eps, int width,
                                           __half* __restrict__ out) {
  extern __shared__ float row[];
  __shared__ float shared32[32];
  int r = blockIdx.x;
  int pos = r % seq;
  long id = ids[r];
  long segment = types == nullptr ? 0 : types[r];
  for (int j = threadIdx.x; j < width; j += blockDim.x) {
    row[j] = __half2float(word[id * width + j]) + __half2float(type[segment * width + j])
        + __half2float(position[(long) pos * width + j]);
  }
  __syncthreads();
  layernorm_row(row, width, gamma, beta, eps, out + (long) r * width, shared32);
}

// The first row ([CLS]) of each of `batch` sequences of `seq` rows, into rows 0..batch-1 of out;
// rows batch..padded-1 zeroed (the classifier head's GEMM runs over padded rows).
// grid = padded, block = 128.
extern "C" __global__ void gather_first_rows(const __half* __restrict__ hidden, int batch, int seq, int width,
                                             __half* __restrict__ out) {
  int b = blockIdx.x;
  for (int j = threadIdx.x; j < width; j += blockDim.x) {
    out[(long) b * width + j] = b < batch ? hidden[(long) b * seq * width + j] : __float2half_rn(0.f);
  }
}

// LayerNorm of rows whose residual was already added by the GEMM epilogue; in may be out (each
// row is staged in shared memory before it is written), so neither pointer is restrict.
// grid = rows, block = 128, dynamic shared = width floats.
extern "C" __global__ void layernorm(const __half* in, const __half* __restrict__ gamma,
                                     const __half* __restrict__ beta, float eps, int width, __half* out) {
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
// q, k, v: rows of `stride` halves (3 * heads * d in a fused QKV buffer); out: [batch*seq, heads*d].
extern "C" __global__ void attention(const __half* __restrict__ q, const __half* __restrict__ k,
                                     const __half* __restrict__ v, const int* __restrict__ lengths, int seq,
                                     int heads, int d, int stride, __half* __restrict__ out) {
  extern __shared__ float scores[];
  __shared__ float shared32[32];
  __shared__ float qs[128];
  int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  int len = lengths[b];
  int width = heads * d;
  long orow = ((long) b * seq + i) * width + (long) h * d;
  long qrow = ((long) b * seq + i) * stride + (long) h * d;
  if (i >= len) {  // a padding row: its output is never read; keep it finite
    for (int c = threadIdx.x; c < d; c += blockDim.x) out[orow + c] = __float2half_rn(0.f);
    return;
  }
  for (int c = threadIdx.x; c < d; c += blockDim.x) qs[c] = __half2float(q[qrow + c]);
  __syncthreads();
  float scale = sqrtf((float) d);
  float local_max = -INFINITY;
  for (int j = threadIdx.x; j < len; j += blockDim.x) {
    long krow = ((long) b * seq + j) * stride + (long) h * d;
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
      o += (scores[j] / sum) * __half2float(v[((long) b * seq + j) * stride + (long) h * d + c]);
    }
    out[orow + c] = __float2half_rn(o);
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

// =============================================================================================
// Second-generation kernels (CudaEncoder's default "tiled" path; the kernels above stay as the
// "simple" path and as the fallback for shapes these do not take).

// One m16n8k16 tensor-core product, fp16 in, fp32 accumulate: D = A . B + D. Register layouts
// (PTX ISA, "Matrix fragments for mma.m16n8k16"), with g = lane / 4 and t = lane % 4:
//   A (16x16, row-major): a[0] = rows g, cols 2t..2t+1; a[1] = row g+8, cols 2t..; a[2] = row g,
//     cols 2t+8..; a[3] = row g+8, cols 2t+8..   (two halves per register, lower index low)
//   B (16x8, k x n): b[0] = k 2t..2t+1, col g; b[1] = k 2t+8.., col g
//   C (16x8 fp32): c[0], c[1] = row g, cols 2t, 2t+1; c[2], c[3] = row g+8, the same cols
__device__ __forceinline__ void mma16816(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                         uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t pack_half2(float lo, float hi) {
  __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&h);
}

__device__ __forceinline__ uint32_t ld32(const __half* p) { return *reinterpret_cast<const uint32_t*>(p); }

// ---------------------------------------------------------------------------------------------
// Flash-style attention on tensor cores. One block per (64 queries, head, sequence), 4 warps of
// 16 query rows each. Key tiles of 64 (K as [key][d], V transposed to [d][key] in shared
// memory) are walked up to the sequence's length only (tiles past it skipped, keys past it
// masked to -inf); S = Q.K^T and O += P.V with mma.sync m16n8k16, the softmax online in
// registers (exp2 with log2(e)/sqrt(d) folded into the scale), S's accumulators reused as P's
// A fragments. q, k, v rows have `stride` halves (3h for a fused QKV buffer, h otherwise); out
// is [batch*seq, heads*D]. grid = (ceil(seq/64), heads, batch), block = 128.
#define FA_TQ 64
#define FA_TK 64

template <int D>
__device__ __forceinline__ void flash_attention_body(const __half* q, const __half* k, const __half* v,
                                                     const int* lengths, int seq, int heads, int stride,
                                                     __half* out) {
  __shared__ __align__(16) __half Ks[FA_TK][D + 8];
  __shared__ __align__(16) __half Vt[D][FA_TK + 8];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int b = blockIdx.z, h = blockIdx.y;
  const int len = lengths[b];
  const int q0 = blockIdx.x * FA_TQ + warp * 16;
  const long base = (long) b * seq;  // first row of this sequence
  const int col = h * D;
  const int width = heads * D;
  const float scale = 1.4426950408889634f / sqrtf((float) D);  // log2(e) / sqrt(d)

  // this warp's 16 query rows as A fragments, one per 16-wide slice of d (rows past seq: zeros)
  uint32_t qa[D / 16][4];
  const int r0 = q0 + g, r1 = q0 + g + 8;
#pragma unroll
  for (int s = 0; s < D / 16; s++) {
    const int c = col + s * 16 + 2 * t;
    qa[s][0] = r0 < seq ? ld32(q + (base + r0) * stride + c) : 0u;
    qa[s][1] = r1 < seq ? ld32(q + (base + r1) * stride + c) : 0u;
    qa[s][2] = r0 < seq ? ld32(q + (base + r0) * stride + c + 8) : 0u;
    qa[s][3] = r1 < seq ? ld32(q + (base + r1) * stride + c + 8) : 0u;
  }
  float o[D / 8][4];
#pragma unroll
  for (int n = 0; n < D / 8; n++) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
  float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.f, l1 = 0.f;  // rows g and g+8

  for (int k0 = 0; k0 < len; k0 += FA_TK) {
    __syncthreads();  // the previous tile is no longer read
    // K and V tiles: 16-byte loads, 8 halves of one key each; keys past len (or seq) as zeros
    for (int e = threadIdx.x; e < FA_TK * (D / 8); e += blockDim.x) {
      const int key = e / (D / 8), c8 = (e % (D / 8)) * 8;
      uint4 kv = make_uint4(0, 0, 0, 0), vv = make_uint4(0, 0, 0, 0);
      if (k0 + key < len) {
        kv = *reinterpret_cast<const uint4*>(k + (base + k0 + key) * stride + col + c8);
        vv = *reinterpret_cast<const uint4*>(v + (base + k0 + key) * stride + col + c8);
      }
      *reinterpret_cast<uint4*>(&Ks[key][c8]) = kv;
      const __half* vh = reinterpret_cast<const __half*>(&vv);
#pragma unroll
      for (int i = 0; i < 8; i++) Vt[c8 + i][key] = vh[i];
    }
    __syncthreads();

    // S = Q . K^T for this warp's rows and the tile's 64 keys: 8 n-tiles of 8 keys
    float s[FA_TK / 8][4];
#pragma unroll
    for (int j = 0; j < FA_TK / 8; j++) {
      s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
#pragma unroll
      for (int kk = 0; kk < D / 16; kk++) {
        mma16816(s[j], qa[kk][0], qa[kk][1], qa[kk][2], qa[kk][3], ld32(&Ks[j * 8 + g][kk * 16 + 2 * t]),
                 ld32(&Ks[j * 8 + g][kk * 16 + 2 * t + 8]));
      }
    }
    // scale into the log2 domain, mask keys past len, and the rows' new maxima
    float mx0 = m0, mx1 = m1;
#pragma unroll
    for (int j = 0; j < FA_TK / 8; j++) {
#pragma unroll
      for (int i = 0; i < 2; i++) {
        const bool real = k0 + j * 8 + 2 * t + i < len;
        s[j][i] = real ? s[j][i] * scale : -INFINITY;
        s[j][2 + i] = real ? s[j][2 + i] * scale : -INFINITY;
        mx0 = fmaxf(mx0, s[j][i]);
        mx1 = fmaxf(mx1, s[j][2 + i]);
      }
    }
    // the four lanes of a row (same g) hold its 64 scores between them
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
    const float alpha0 = exp2f(m0 - mx0), alpha1 = exp2f(m1 - mx1);
    m0 = mx0;
    m1 = mx1;
    float sum0 = 0.f, sum1 = 0.f;
#pragma unroll
    for (int j = 0; j < FA_TK / 8; j++) {
#pragma unroll
      for (int i = 0; i < 2; i++) {
        s[j][i] = exp2f(s[j][i] - m0);
        s[j][2 + i] = exp2f(s[j][2 + i] - m1);
        sum0 += s[j][i];
        sum1 += s[j][2 + i];
      }
    }
    sum0 += __shfl_xor_sync(0xffffffffu, sum0, 1);
    sum0 += __shfl_xor_sync(0xffffffffu, sum0, 2);
    sum1 += __shfl_xor_sync(0xffffffffu, sum1, 1);
    sum1 += __shfl_xor_sync(0xffffffffu, sum1, 2);
    l0 = l0 * alpha0 + sum0;
    l1 = l1 * alpha1 + sum1;
#pragma unroll
    for (int n = 0; n < D / 8; n++) {
      o[n][0] *= alpha0;
      o[n][1] *= alpha0;
      o[n][2] *= alpha1;
      o[n][3] *= alpha1;
    }
    // O += P . V: P's A fragment for keys 16kk..16kk+15 is S's n-tiles 2kk and 2kk+1
#pragma unroll
    for (int kk = 0; kk < FA_TK / 16; kk++) {
      const uint32_t p0 = pack_half2(s[2 * kk][0], s[2 * kk][1]), p1 = pack_half2(s[2 * kk][2], s[2 * kk][3]);
      const uint32_t p2 = pack_half2(s[2 * kk + 1][0], s[2 * kk + 1][1]);
      const uint32_t p3 = pack_half2(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
      for (int n = 0; n < D / 8; n++) {
        mma16816(o[n], p0, p1, p2, p3, ld32(&Vt[n * 8 + g][kk * 16 + 2 * t]), ld32(&Vt[n * 8 + g][kk * 16 + 2 * t + 8]));
      }
    }
  }
  const float inv0 = 1.f / l0, inv1 = 1.f / l1;
#pragma unroll
  for (int n = 0; n < D / 8; n++) {
    const int c = col + n * 8 + 2 * t;
    if (r0 < seq) *reinterpret_cast<__half2*>(out + (base + r0) * width + c) = __floats2half2_rn(o[n][0] * inv0, o[n][1] * inv0);
    if (r1 < seq) *reinterpret_cast<__half2*>(out + (base + r1) * width + c) = __floats2half2_rn(o[n][2] * inv1, o[n][3] * inv1);
  }
}

extern "C" __global__ void __launch_bounds__(128, 2) flash_attention_d32(const __half* q, const __half* k,
    const __half* v, const int* lengths, int seq, int heads, int stride, __half* out) {
  flash_attention_body<32>(q, k, v, lengths, seq, heads, stride, out);
}

extern "C" __global__ void __launch_bounds__(128, 2) flash_attention_d64(const __half* q, const __half* k,
    const __half* v, const int* lengths, int seq, int heads, int stride, __half* out) {
  flash_attention_body<64>(q, k, v, lengths, seq, heads, stride, out);
}

extern "C" __global__ void __launch_bounds__(128, 2) flash_attention_d128(const __half* q, const __half* k,
    const __half* v, const int* lengths, int seq, int heads, int stride, __half* out) {
  flash_attention_body<128>(q, k, v, lengths, seq, heads, stride, out);
}

// ---------------------------------------------------------------------------------------------
// Pipelined GEMM: C[M,N] = A[M,K] . B[K,N] + bias, then the epilogue (0 none, 1 exact GELU,
// 2 + residual[M,N], 3 tanh). Block tile 64 x BN (BN = 128 for wide problems, 64 when M is small,
// so a query batch still spreads over the SMs), K steps of 32, 4 warps (2 x 2, each 32 x BN/2)
// with WMMA (ldmatrix + mma.sync). Tiles arrive by 16-byte cp.async into a 3-stage ring, so the
// loads of step k+2 overlap the math of step k. The epilogue stages the accumulators in the
// ring's shared memory and writes 8 halves (16 bytes) per store, bias and residual read 16 bytes
// at a time. Requires M % 64 == 0, N % BN == 0, K % 32 == 0, 16-byte aligned rows.
// grid = (N / BN, M / 64), block = 128.
#define GP_BM 64
#define GP_BK 32
#define GP_STAGES 3
#define GP_APAD 8
#define GP_BPAD 8

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
  unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

template <int BN>
__device__ __forceinline__ void gemm_pipelined_body(const __half* __restrict__ A, const __half* __restrict__ B,
                                                    const __half* __restrict__ bias,
                                                    const __half* __restrict__ residual, __half* __restrict__ C,
                                                    int M, int N, int K, int epilogue) {
  constexpr int A_STRIDE = GP_BK + GP_APAD;  // halves per shared row of A
  constexpr int B_STRIDE = BN + GP_BPAD;
  constexpr int A_TILE = GP_BM * A_STRIDE;
  constexpr int B_TILE = GP_BK * B_STRIDE;
  constexpr int RING = GP_STAGES * (A_TILE + B_TILE) * 2;  // bytes
  constexpr int C_STRIDE = BN + 4;                           // floats per shared row of C
  constexpr int C_BYTES = GP_BM * C_STRIDE * 4;
  constexpr int WN = BN / 2;                                 // a warp's columns
  __shared__ __align__(128) unsigned char smem[RING > C_BYTES ? RING : C_BYTES];
  __half* As = reinterpret_cast<__half*>(smem);
  __half* Bs = As + GP_STAGES * A_TILE;

  const int warp = threadIdx.x >> 5;
  const int wm = (warp >> 1) * 32, wn = (warp & 1) * WN;
  const int row0 = blockIdx.y * GP_BM, col0 = blockIdx.x * BN;
  const int steps = K / GP_BK;

  auto load = [&](int stage, int k0) {
    // A: 64 rows x 32 halves = 256 chunks of 8; B: 32 rows x BN halves = 4*BN chunks
    for (int e = threadIdx.x; e < GP_BM * GP_BK / 8; e += blockDim.x) {
      const int r = e / (GP_BK / 8), c = (e % (GP_BK / 8)) * 8;
      cp_async16(As + stage * A_TILE + r * A_STRIDE + c, A + (long) (row0 + r) * K + k0 + c);
    }
    for (int e = threadIdx.x; e < GP_BK * BN / 8; e += blockDim.x) {
      const int r = e / (BN / 8), c = (e % (BN / 8)) * 8;
      cp_async16(Bs + stage * B_TILE + r * B_STRIDE + c, B + (long) (k0 + r) * N + col0 + c);
    }
  };

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][WN / 16];
#pragma unroll
  for (int i = 0; i < 2; i++)
#pragma unroll
    for (int j = 0; j < WN / 16; j++) wmma::fill_fragment(acc[i][j], 0.f);

#pragma unroll
  for (int s = 0; s < GP_STAGES - 1; s++) {
    if (s < steps) load(s, s * GP_BK);
    cp_async_commit();
  }
  for (int kt = 0; kt < steps; kt++) {
    cp_async_wait<GP_STAGES - 2>();  // step kt's tiles have landed
    __syncthreads();                 // ... for every thread, and step kt-1's stage is free
    const int next = kt + GP_STAGES - 1;
    if (next < steps) load(next % GP_STAGES, next * GP_BK);
    cp_async_commit();
    const __half* a = As + (kt % GP_STAGES) * A_TILE;
    const __half* b = Bs + (kt % GP_STAGES) * B_TILE;
#pragma unroll
    for (int kk = 0; kk < GP_BK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb[WN / 16];
#pragma unroll
      for (int i = 0; i < 2; i++) wmma::load_matrix_sync(fa[i], a + (wm + i * 16) * A_STRIDE + kk, A_STRIDE);
#pragma unroll
      for (int j = 0; j < WN / 16; j++) wmma::load_matrix_sync(fb[j], b + kk * B_STRIDE + wn + j * 16, B_STRIDE);
#pragma unroll
      for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < WN / 16; j++) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
  }
  cp_async_wait<0>();
  __syncthreads();  // the ring is reused for C
  float* Cs = reinterpret_cast<float*>(smem);
#pragma unroll
  for (int i = 0; i < 2; i++)
#pragma unroll
    for (int j = 0; j < WN / 16; j++)
      wmma::store_matrix_sync(Cs + (wm + i * 16) * C_STRIDE + wn + j * 16, acc[i][j], C_STRIDE, wmma::mem_row_major);
  __syncthreads();
  for (int e = threadIdx.x; e < GP_BM * BN / 8; e += blockDim.x) {
    const int r = e / (BN / 8), c = (e % (BN / 8)) * 8;
    const long gi = (long) (row0 + r) * N + col0 + c;
    const uint4 bv = *reinterpret_cast<const uint4*>(bias + col0 + c);
    const __half* bh = reinterpret_cast<const __half*>(&bv);
    uint4 rv = make_uint4(0, 0, 0, 0);
    if (epilogue == 2) rv = *reinterpret_cast<const uint4*>(residual + gi);
    const __half* rh = reinterpret_cast<const __half*>(&rv);
    __align__(16) __half outv[8];
#pragma unroll
    for (int i = 0; i < 8; i++) {
      float x = Cs[r * C_STRIDE + c + i] + __half2float(bh[i]);
      if (epilogue == 1) {
        x = x * 0.5f * (1.f + erff(x / 1.4142135f));
      } else if (epilogue == 2) {
        x += __half2float(rh[i]);
      } else if (epilogue == 3) {
        x = tanhf(x);
      }
      outv[i] = __float2half_rn(x);
    }
    *reinterpret_cast<uint4*>(C + gi) = *reinterpret_cast<const uint4*>(outv);
  }
}

extern "C" __global__ void __launch_bounds__(128) gemm_pipelined_128(const __half* __restrict__ A,
    const __half* __restrict__ B, const __half* __restrict__ bias, const __half* __restrict__ residual,
    __half* __restrict__ C, int M, int N, int K, int epilogue) {
  gemm_pipelined_body<128>(A, B, bias, residual, C, M, N, K, epilogue);
}

extern "C" __global__ void __launch_bounds__(128) gemm_pipelined_64(const __half* __restrict__ A,
    const __half* __restrict__ B, const __half* __restrict__ bias, const __half* __restrict__ residual,
    __half* __restrict__ C, int M, int N, int K, int epilogue) {
  gemm_pipelined_body<64>(A, B, bias, residual, C, M, N, K, epilogue);
}

// ---------------------------------------------------------------------------------------------
// out = LayerNorm(x + residual), one warp per row, the row in registers: 16-byte loads of 8
// halves, the mean, then the mean squared deviation over the registers (two passes, as the
// reference), 16-byte stores. out may be x or residual (a warp reads its whole row before it
// writes). width % 8 == 0 and width <= 1024. grid = ceil(rows / 4), block = 128.
#define LN_MAX_CHUNKS 4  // chunks of 8 halves per lane: width <= 32 * 8 * 4

extern "C" __global__ void __launch_bounds__(128) layernorm_residual(const __half* x, const __half* residual,
    const __half* __restrict__ gamma, const __half* __restrict__ beta, float eps, int width, int rows,
    __half* out) {
  const int lane = threadIdx.x & 31;
  const int row = blockIdx.x * 4 + (threadIdx.x >> 5);
  if (row >= rows) return;
  const long base = (long) row * width;
  const int chunks = width / 8;
  float v[LN_MAX_CHUNKS][8];
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < LN_MAX_CHUNKS; i++) {
    const int c = (i * 32 + lane) * 8;
    if (i * 32 + lane < chunks) {
      const uint4 xv = *reinterpret_cast<const uint4*>(x + base + c);
      const uint4 rv = *reinterpret_cast<const uint4*>(residual + base + c);
      const __half* xh = reinterpret_cast<const __half*>(&xv);
      const __half* rh = reinterpret_cast<const __half*>(&rv);
#pragma unroll
      for (int j = 0; j < 8; j++) {
        v[i][j] = __half2float(xh[j]) + __half2float(rh[j]);
        s += v[i][j];
      }
    }
  }
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  const float mean = s / width;
  float var = 0.f;
#pragma unroll
  for (int i = 0; i < LN_MAX_CHUNKS; i++) {
    if (i * 32 + lane < chunks) {
#pragma unroll
      for (int j = 0; j < 8; j++) {
        const float d = v[i][j] - mean;
        var += d * d;
      }
    }
  }
  for (int o = 16; o > 0; o >>= 1) var += __shfl_xor_sync(0xffffffffu, var, o);
  const float denom = sqrtf(var / width + eps);
#pragma unroll
  for (int i = 0; i < LN_MAX_CHUNKS; i++) {
    const int c = (i * 32 + lane) * 8;
    if (i * 32 + lane < chunks) {
      const uint4 gv = *reinterpret_cast<const uint4*>(gamma + c);
      const uint4 bv = *reinterpret_cast<const uint4*>(beta + c);
      const __half* gh = reinterpret_cast<const __half*>(&gv);
      const __half* bh = reinterpret_cast<const __half*>(&bv);
      __align__(16) __half o8[8];
#pragma unroll
      for (int j = 0; j < 8; j++) {
        o8[j] = __float2half_rn((v[i][j] - mean) / denom * __half2float(gh[j]) + __half2float(bh[j]));
      }
      *reinterpret_cast<uint4*>(out + base + c) = *reinterpret_cast<const uint4*>(o8);
    }
  }
}
