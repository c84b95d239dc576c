package dev.shoal.encoder.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.encoder.CrossEncoder;
import dev.shoal.encoder.CrossEncoderSpec;
import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.TestCrossEncoders;
import dev.shoal.encoder.TestTexts;
import dev.shoal.encoder.model.Pooler;
import dev.shoal.encoder.reference.ReferenceCrossEncoder;
import dev.shoal.encoder.reference.ReferenceEncoder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CUDA backend on a real GPU (JUnit tag {@code gpu}; {@code ./mvnw -Pgpu verify -pl ranker-gpu}
 * or {@code ranker-gpu/gpu/run-suite.sh} on the GPU machine). Each kernel against the Java
 * reference on random inputs, every output element written; embeddings (from the fp16 weights the
 * staging ships) against ONNX Runtime's on 1,000 SciFact passages, computed on a CPU beforehand
 * ({@link GpuReference}); the neural top 10 of 100 queries equal to the CPU backend's.
 */
@Tag("gpu")
class CudaEncoderGpuTest {

  static CudaKernels kernels;
  static CUstream stream;

  @BeforeAll
  static void gpu() {
    assertTrue(CudaProbe.whyNot().isEmpty(), "a GPU is required: " + CudaProbe.whyNot().orElse(""));
    kernels = new CudaKernels();
    kernels.makeCurrent();
    stream = new CUstream();
    JCudaDriver.cuStreamCreate(stream, 0);
    System.out.println("GPU: " + kernels.deviceName());
  }

  /** An encoder made current by a test before this one must not leave this thread in another context. */
  @BeforeEach
  void current() {
    kernels.makeCurrent();
  }

  static float half(float x) {
    return Float.float16ToFloat(Float.floatToFloat16(x));
  }

  static float[] random(Random r, int n, float scale) {
    float[] out = new float[n];
    for (int i = 0; i < n; i++) {
      out[i] = half((float) r.nextGaussian() * scale);
    }
    return out;
  }

  /** A device fp16 buffer filled with NaN, so an element a kernel never writes shows. */
  static CUdeviceptr nanHalves(int n) {
    CUdeviceptr p = CudaKernels.alloc((long) n * Sizeof.SHORT);
    JCudaDriver.cuMemsetD16(p, (short) 0x7E00, n);
    return p;
  }

  static float[] downloadHalves(CUdeviceptr p, int n) {
    JCudaDriver.cuStreamSynchronize(stream);
    short[] raw = new short[n];
    JCudaDriver.cuMemcpyDtoH(Pointer.to(raw), p, (long) n * Sizeof.SHORT);
    float[] out = new float[n];
    for (int i = 0; i < n; i++) {
      out[i] = Float.float16ToFloat(raw[i]);
    }
    return out;
  }

  static void assertClose(float[] expected, float[] actual, float atol, float rtol, String what) {
    assertEquals(expected.length, actual.length);
    for (int i = 0; i < expected.length; i++) {
      assertFalse(Float.isNaN(actual[i]), what + ": element " + i + " never written");
      float tol = atol + rtol * Math.abs(expected[i]);
      assertTrue(Math.abs(expected[i] - actual[i]) <= tol, what + ": element " + i + " expected " + expected[i]
          + " got " + actual[i]);
    }
  }

  /** A GEMM launcher under test: the simple kernel or the pipelined one. */
  interface Gemm {
    void run(CUdeviceptr a, CUdeviceptr b, CUdeviceptr bias, CUdeviceptr residual, CUdeviceptr c, int m, int n, int k,
             CudaKernels.Epilogue e);
  }

  /** Each epilogue of a GEMM launcher at each shape, every output element against the reference. */
  static void gemmMatchesTheReference(String what, Gemm gemm, List<CudaKernels.Epilogue> epilogues, int k,
                                      int[]... shapes) {
    Random r = new Random(1);
    for (int[] mn : shapes) {
      int m = mn[0];
      int n = mn[1];
      float[] a = random(r, m * k, 1f);
      float[] b = random(r, k * n, 0.05f);
      float[] bias = random(r, n, 0.1f);
      float[] residual = random(r, m * n, 1f);
      CUdeviceptr da = kernels.halfCopy(a, stream);
      CUdeviceptr db = kernels.halfCopy(b, stream);
      CUdeviceptr dbias = kernels.halfCopy(bias, stream);
      CUdeviceptr dres = kernels.halfCopy(residual, stream);
      for (CudaKernels.Epilogue e : epilogues) {
        CUdeviceptr c = nanHalves(m * n);
        gemm.run(da, db, dbias, e == CudaKernels.Epilogue.BIAS_RESIDUAL ? dres : null, c, m, n, k, e);
        float[] expected = ReferenceEncoder.gemmBias(a, m, k, b, bias, n);
        switch (e) {
          case BIAS_GELU -> ReferenceEncoder.gelu(expected);
          case BIAS_RESIDUAL -> ReferenceEncoder.addInPlace(expected, residual);
          case BIAS_TANH -> {
            for (int i = 0; i < expected.length; i++) {
              expected[i] = (float) Math.tanh(expected[i]);
            }
          }
          default -> { }
        }
        assertClose(expected, downloadHalves(c, m * n), 2e-2f, 1e-2f, what + " " + m + "x" + n + "x" + k + " " + e);
        CudaKernels.free(c);
      }
    }
  }

  @Test
  void gemmWithEachEpilogueMatchesTheReference() {
    gemmMatchesTheReference("gemm", (a, b, bias, res, c, m, n, k, e) -> kernels.gemm(a, b, bias, res, c, m, n, k, e,
        stream), List.of(CudaKernels.Epilogue.BIAS, CudaKernels.Epilogue.BIAS_GELU, CudaKernels.Epilogue.BIAS_RESIDUAL),
        384, new int[] {128, 1536});
  }

  @Test
  void layerNormMatchesTheReference() {
    Random r = new Random(2);
    int rows = 64;
    int h = 384;
    float[] x = random(r, rows * h, 2f);
    float[] gamma = random(r, h, 1f);
    float[] beta = random(r, h, 0.5f);
    CUdeviceptr out = nanHalves(rows * h);
    kernels.layerNorm(kernels.halfCopy(x, stream), rows, kernels.halfCopy(gamma, stream),
        kernels.halfCopy(beta, stream), 1e-12f, h, out, stream);
    float[] expected = x.clone();
    ReferenceEncoder.layerNorm(expected, rows, h, gamma, beta, 1e-12f);
    assertClose(expected, downloadHalves(out, rows * h), 1e-2f, 1e-2f, "layernorm");
  }

  @Test
  void attentionMatchesTheReferenceAndIgnoresPadding() {
    Random r = new Random(3);
    int seq = 40;
    int heads = 12;
    int d = 32;
    int h = heads * d;
    int[] lengths = {40, 23};
    float[] q = random(r, 2 * seq * h, 1f);
    float[] k = random(r, 2 * seq * h, 1f);
    float[] v = random(r, 2 * seq * h, 1f);
    CUdeviceptr dl = CudaKernels.alloc(2L * Sizeof.INT);
    CudaKernels.upload(dl, lengths);
    CUdeviceptr out = nanHalves(2 * seq * h);
    kernels.attention(kernels.halfCopy(q, stream), kernels.halfCopy(k, stream), kernels.halfCopy(v, stream), dl, 2,
        seq, heads, d, out, stream);
    float[] got = downloadHalves(out, 2 * seq * h);
    for (int b = 0; b < 2; b++) {
      int len = lengths[b];
      int off = b * seq * h;
      float[] expected = ReferenceEncoder.attention(java.util.Arrays.copyOfRange(q, off, off + len * h),
          java.util.Arrays.copyOfRange(k, off, off + len * h), java.util.Arrays.copyOfRange(v, off, off + len * h),
          len, heads, d);
      assertClose(expected, java.util.Arrays.copyOfRange(got, off, off + len * h), 1e-2f, 1e-2f,
          "attention, sequence " + b);
    }
  }

  @Test
  void poolingAndCosineMatchTheReference() {
    Random r = new Random(4);
    int seq = 16;
    int h = 384;
    int[] lengths = {16, 5, 9};
    float[] hidden = random(r, 3 * seq * h, 1f);
    CUdeviceptr dh = kernels.halfCopy(hidden, stream);
    CUdeviceptr dl = CudaKernels.alloc(3L * Sizeof.INT);
    CudaKernels.upload(dl, lengths);
    for (ModelSpec.Pooling p : ModelSpec.Pooling.values()) {
      CUdeviceptr out = CudaKernels.alloc(3L * h * Sizeof.FLOAT);
      kernels.poolNormalize(dh, dl, 3, seq, h, p == ModelSpec.Pooling.CLS ? 0 : 1, out, stream);
      JCudaDriver.cuStreamSynchronize(stream);
      float[] got = CudaKernels.download(out, 3 * h);
      for (int b = 0; b < 3; b++) {
        float[] expected = Pooler.pool(hidden, b, seq, h, lengths[b], p);
        assertClose(expected, java.util.Arrays.copyOfRange(got, b * h, (b + 1) * h), 1e-5f, 1e-4f, "pool " + p);
      }
    }
    float[] query = Pooler.normalize(random(r, h, 1f));
    float[][] cands = new float[50][];
    for (int i = 0; i < cands.length; i++) {
      cands[i] = Pooler.normalize(random(r, h, 1f));
    }
    CUdeviceptr dq = CudaKernels.alloc((long) h * Sizeof.FLOAT);
    CudaKernels.upload(dq, query);
    float[] flat = new float[50 * h];
    for (int i = 0; i < 50; i++) {
      System.arraycopy(cands[i], 0, flat, i * h, h);
    }
    CUdeviceptr dc = CudaKernels.alloc((long) flat.length * Sizeof.FLOAT);
    CudaKernels.upload(dc, flat);
    CUdeviceptr ds = CudaKernels.alloc(50L * Sizeof.FLOAT);
    kernels.cosine(dq, dc, 50, h, ds, stream);
    JCudaDriver.cuStreamSynchronize(stream);
    float[] scores = CudaKernels.download(ds, 50);
    for (int i = 0; i < 50; i++) {
      assertEquals(Pooler.dot(query, cands[i]), scores[i], 1e-5, "cosine " + i);
    }
  }

  @Test
  void embeddingsMatchOnnxRuntimeAndTheNeuralTopTenIsTheSame() throws Exception {
    // ONNX Runtime's vectors come staged from a CPU (no ONNX Runtime on the GPU machine), or are
    // computed here when the suite runs where it is on the class path (./mvnw -Pgpu)
    Path reference = GpuReference.staged();
    if (reference == null) {
      reference = java.nio.file.Files.createTempDirectory("gpu-reference");
      GpuReferenceWriter.write(reference);
    }
    for (ModelSpec onnxSpec : GpuReference.MODELS) {
      ModelSpec spec = GpuReference.halfWeights(onnxSpec, reference);
      List<String> passages = TestTexts.passages(GpuReference.PASSAGES);
      List<String> queries = TestTexts.queries(GpuReference.QUERIES);
      float[][] cpuP = GpuReference.read(GpuReference.vectorsFile(reference, spec, "passages"));
      float[][] cpuQ = GpuReference.read(GpuReference.vectorsFile(reference, spec, "queries"));
      assertEquals(passages.size(), cpuP.length, "the staged reference is of these passages");
      for (CudaKernelSet set : CudaKernelSet.values()) {
        float[][] gpuP;
        float[][] gpuQ;
        try (CudaEncoder cuda = new CudaEncoder(spec, 64, set)) {
          gpuP = cuda.embed(passages, Encoder.Kind.PASSAGE);
          gpuQ = cuda.embed(queries, Encoder.Kind.QUERY);
        }
        agreeWithOnnxRuntime(spec.name() + " (" + set + " kernels)", cpuP, cpuQ, gpuP, gpuQ);
      }
    }
  }

  private static void agreeWithOnnxRuntime(String what, float[][] cpuP, float[][] cpuQ, float[][] gpuP,
                                           float[][] gpuQ) {
    double worst = 1;
    for (int i = 0; i < cpuP.length; i++) {
      double cos = Pooler.dot(cpuP[i], gpuP[i]);
      worst = Math.min(worst, cos);
      assertTrue(cos >= 0.999, what + " passage " + i + ": cosine " + cos);
    }
    System.out.printf("%s: CUDA vs ONNX Runtime on %d passages, worst cosine %.6f%n", what, cpuP.length, worst);
    for (int qi = 0; qi < cpuQ.length; qi++) {
      List<Integer> cpuTop = top10(cpuQ[qi], cpuP);
      List<Integer> gpuTop = top10(gpuQ[qi], gpuP);
      for (int rank = 0; rank < 10; rank++) {
        int a = cpuTop.get(rank);
        int b = gpuTop.get(rank);
        double gap = Math.abs(Pooler.dot(cpuQ[qi], cpuP[a]) - Pooler.dot(cpuQ[qi], cpuP[b]));
        assertTrue(a == b || gap <= 1e-3, what + " query " + qi + " rank " + (rank + 1) + ": CPU " + a
            + ", GPU " + b + " (score gap " + gap + ")");
      }
    }
  }

  @Test
  void smallCallsReplayedAsCudaGraphsGiveWhatDirectLaunchesGive(@TempDir Path tmp) {
    Path staged = GpuReference.staged();
    ModelSpec spec = staged == null ? ModelSpec.BGE_SMALL_EN_V15
        : GpuReference.halfWeights(ModelSpec.BGE_SMALL_EN_V15, staged);
    List<String> queries = TestTexts.queries(3);
    try (CudaEncoder graphs = new CudaEncoder(spec, 16, CudaKernelSet.TILED, true);
         CudaEncoder direct = new CudaEncoder(spec, 16, CudaKernelSet.TILED, false)) {
      for (int round = 0; round < 2; round++) {  // the second round replays the captured graphs
        float[][] g = graphs.embed(queries, Encoder.Kind.QUERY);
        float[][] d = direct.embed(queries, Encoder.Kind.QUERY);
        for (int i = 0; i < g.length; i++) {
          assertClose(d[i], g[i], 1e-6f, 0f, "query " + i + ", round " + round);
        }
        assertClose(d[0], graphs.embed(queries.subList(0, 1), Encoder.Kind.QUERY)[0], 1e-6f, 0f, "a query alone");
      }
    }
    CrossEncoderSpec ce = CrossEncoderSpec.fromDirectory(
        TestCrossEncoders.write(tmp.resolve("ce"), TestCrossEncoders.small(1, 5)), 128);
    List<CrossEncoder.TextPair> pairs = new ArrayList<>();
    for (String p : TestTexts.passages(5)) {
      pairs.add(new CrossEncoder.TextPair(queries.get(0), p));
    }
    try (CudaCrossEncoder graphs = new CudaCrossEncoder(ce, 16, CudaKernelSet.TILED, true);
         CudaCrossEncoder direct = new CudaCrossEncoder(ce, 16, CudaKernelSet.TILED, false)) {
      for (int round = 0; round < 2; round++) {
        assertClose(direct.score(pairs), graphs.score(pairs), 1e-6f, 0f, "cross-encoder, round " + round);
      }
    }
  }

  @Test
  void pipelinedGemmWithEachEpilogueAndBothTileWidthsMatchesTheReference() {
    gemmMatchesTheReference("pipelined gemm", (a, b, bias, res, c, m, n, k, e) -> kernels.gemmPipelined(a, b, bias,
        res, c, m, n, k, e, stream), List.of(CudaKernels.Epilogue.values()), 384, new int[] {64, 384},
        new int[] {512, 1152}, new int[] {320, 64});
  }

  @Test
  void layerNormWithTheResidualMatchesTheReferenceInPlace() {
    Random r = new Random(12);
    int rows = 70;
    int h = 384;
    float[] x = random(r, rows * h, 2f);
    float[] residual = random(r, rows * h, 1f);
    float[] gamma = random(r, h, 1f);
    float[] beta = random(r, h, 0.5f);
    CUdeviceptr dx = kernels.halfCopy(x, stream);
    kernels.layerNormResidual(dx, kernels.halfCopy(residual, stream), kernels.halfCopy(gamma, stream),
        kernels.halfCopy(beta, stream), 1e-12f, h, rows, dx, stream);
    float[] expected = x.clone();
    ReferenceEncoder.addInPlace(expected, residual);
    ReferenceEncoder.layerNorm(expected, rows, h, gamma, beta, 1e-12f);
    assertClose(expected, downloadHalves(dx, rows * h), 1e-2f, 1e-2f, "layernorm + residual");
  }

  @Test
  void flashAttentionOverAFusedQkvBufferMatchesTheReferenceAcrossKeyTilesAndPadding() {
    Random r = new Random(13);
    for (int[] shape : new int[][] {{12, 32}, {6, 64}, {3, 128}}) {
      int heads = shape[0];
      int d = shape[1];
      int h = heads * d;
      int seq = 150;  // three key tiles, the last partial
      int[] lengths = {150, 23, 65};
      int batch = lengths.length;
      float[] qkv = random(r, batch * seq * 3 * h, 1f);
      CUdeviceptr dqkv = kernels.halfCopy(qkv, stream);
      CUdeviceptr dl = CudaKernels.alloc((long) batch * Sizeof.INT);
      CudaKernels.upload(dl, lengths);
      CUdeviceptr out = nanHalves(batch * seq * h);
      kernels.flashAttention(dqkv, dqkv.withByteOffset((long) h * Sizeof.SHORT),
          dqkv.withByteOffset(2L * h * Sizeof.SHORT), 3 * h, dl, batch, seq, heads, d, out, stream);
      float[] got = downloadHalves(out, batch * seq * h);
      for (int b = 0; b < batch; b++) {
        int len = lengths[b];
        float[] q = new float[len * h];
        float[] k = new float[len * h];
        float[] v = new float[len * h];
        for (int t = 0; t < len; t++) {
          int row = (b * seq + t) * 3 * h;
          System.arraycopy(qkv, row, q, t * h, h);
          System.arraycopy(qkv, row + h, k, t * h, h);
          System.arraycopy(qkv, row + 2 * h, v, t * h, h);
        }
        float[] expected = ReferenceEncoder.attention(q, k, v, len, heads, d);
        int off = b * seq * h;
        assertClose(expected, java.util.Arrays.copyOfRange(got, off, off + len * h), 1e-2f, 1e-2f,
            "flash attention d=" + d + ", sequence " + b);
      }
      CudaKernels.free(out);
    }
  }

  @Test
  void theCrossEncoderOnTheGpuMatchesTheReferenceWithBothKernelSets(@TempDir Path tmp) {
    for (int labels : new int[] {1, 2}) {
      CrossEncoderSpec spec = CrossEncoderSpec.fromDirectory(
          TestCrossEncoders.write(tmp.resolve("ce-" + labels), TestCrossEncoders.small(labels, 31)), 256);
      List<String> queries = TestTexts.queries(50);
      List<String> passages = TestTexts.passages(50);
      List<CrossEncoder.TextPair> pairs = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        pairs.add(new CrossEncoder.TextPair(queries.get(i), passages.get(i)));
      }
      float[] expected = new ReferenceCrossEncoder(spec).score(pairs);
      for (CudaKernelSet set : CudaKernelSet.values()) {
        try (CudaCrossEncoder cuda = new CudaCrossEncoder(spec, 16, set)) {
          float[] got = cuda.score(pairs);
          for (int i = 0; i < got.length; i++) {
            assertEquals(expected[i], got[i], 3e-2 * Math.max(1, Math.abs(expected[i])),
                labels + " labels, " + set + " kernels, pair " + i);
          }
        }
      }
    }
  }

  static List<Integer> top10(float[] q, float[][] passages) {
    List<Integer> ids = new ArrayList<>();
    for (int i = 0; i < passages.length; i++) {
      ids.add(i);
    }
    ids.sort(Comparator.comparingDouble((Integer i) -> -Pooler.dot(q, passages[i])).thenComparing(i -> i));
    return ids.subList(0, 10);
  }
}
