package dev.shoal.encoder.reference;

import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.model.BertWeights;
import dev.shoal.encoder.model.ModelFiles;
import dev.shoal.encoder.model.Pooler;
import dev.shoal.encoder.tokenizer.WordPieceTokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The encoder forward pass in plain Java, fp32, from the ONNX file's own weights: the reference
 * that the CUDA kernels are checked against. Each step below is one kernel of the GPU backend,
 * computing the same values in the same order (fp32 fused multiply-adds over the inner dimension
 * in ascending order; the bias added after the sum; LayerNorm as mean, then mean squared
 * deviation, as the ONNX graph decomposes it):
 * <ol>
 *   <li>{@code embed_layernorm}: word + position + token-type embedding, LayerNorm;
 *   <li>{@code gemm_bias} ×3: Q, K, V projections;
 *   <li>{@code attention}: per head, QKᵀ / √d, softmax over the sequence (max subtracted), · V;
 *   <li>{@code gemm_bias_residual} + {@code layernorm}: attention output projection;
 *   <li>{@code gemm_bias_gelu}: intermediate projection with exact (erf) GELU;
 *   <li>{@code gemm_bias_residual} + {@code layernorm}: output projection;
 *   <li>{@code pool_normalize}: CLS or mean over the real tokens, L2 normalised.
 * </ol>
 * Each text runs at its own length, so there is no padding to mask. Slow (a few hundred
 * tokens/s per core): for checking, not serving. Thread-safe; texts of one call run in parallel
 * on {@code parallelism} threads.
 */
public final class ReferenceEncoder implements Encoder {

  private final ModelSpec spec;
  private final WordPieceTokenizer tokenizer;
  private final BertWeights w;
  private final ExecutorService pool;

  public ReferenceEncoder(ModelSpec spec, int parallelism) {
    this.spec = spec;
    try (InputStream tok = ModelFiles.open(spec.tokenizer())) {
      this.tokenizer = WordPieceTokenizer.load(tok);
      this.w = BertWeights.load(spec.onnx());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read model " + spec.name(), e);
    }
    if (w.hidden() != spec.dimension()) {
      throw new IllegalArgumentException(spec.name() + " has hidden size " + w.hidden() + ", the spec says "
          + spec.dimension());
    }
    this.pool = Executors.newFixedThreadPool(Math.max(1, parallelism), r -> {
      Thread t = new Thread(r, "reference-encoder");
      t.setDaemon(true);
      return t;
    });
  }

  /** The weights as mapped from the graph (for kernel tests). */
  public BertWeights weights() {
    return w;
  }

  @Override
  public ModelSpec model() {
    return spec;
  }

  @Override
  public String backend() {
    return "java reference (fp32)";
  }

  @Override
  public float[][] embed(List<String> texts, Kind kind) {
    List<Future<float[]>> futures = new ArrayList<>();
    for (String text : texts) {
      String prefix = kind == Kind.QUERY ? spec.queryPrefix() : spec.passagePrefix();
      int[] ids = tokenizer.encode(prefix + text, spec.maxTokens());
      futures.add(pool.submit(() -> embedIds(ids)));
    }
    float[][] out = new float[texts.size()][];
    try {
      for (int i = 0; i < out.length; i++) {
        out[i] = futures.get(i).get();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException("reference forward pass failed", e.getCause());
    }
    return out;
  }

  /** The pooled, normalised embedding of one token sequence. */
  public float[] embedIds(int[] ids) {
    float[] hidden = forward(ids);
    return Pooler.pool(hidden, 0, ids.length, w.hidden(), ids.length, spec.pooling());
  }

  /** The last hidden state [tokens, hidden] of one sequence, every token in segment 0. */
  public float[] forward(int[] ids) {
    return forward(w, ids, null);
  }

  /**
   * The last hidden state [tokens, hidden] of one sequence through the encoder {@code w}.
   *
   * @param typeIds each token's segment (a sentence pair's 0 and 1); null: all 0
   */
  public static float[] forward(BertWeights w, int[] ids, int[] typeIds) {
    int t = ids.length;
    int h = w.hidden();
    float[] x = embedLayerNorm(w, ids, typeIds);
    for (BertWeights.Layer l : w.layers()) {
      float[] q = gemmBias(x, t, h, l.wq(), l.bq(), h);
      float[] k = gemmBias(x, t, h, l.wk(), l.bk(), h);
      float[] v = gemmBias(x, t, h, l.wv(), l.bv(), h);
      float[] ctx = attention(q, k, v, t, w.heads(), w.headSize());
      float[] a = gemmBias(ctx, t, h, l.wo(), l.bo(), h);
      addInPlace(a, x);
      layerNorm(a, t, h, l.attentionNormGamma(), l.attentionNormBeta(), w.epsilon());
      float[] inter = gemmBias(a, t, h, l.w1(), l.b1(), w.intermediate());
      gelu(inter);
      float[] o = gemmBias(inter, t, w.intermediate(), l.w2(), l.b2(), h);
      addInPlace(o, a);
      layerNorm(o, t, h, l.outputNormGamma(), l.outputNormBeta(), w.epsilon());
      x = o;
    }
    return x;
  }

  private static float[] embedLayerNorm(BertWeights w, int[] ids, int[] typeIds) {
    int h = w.hidden();
    if (ids.length > w.maxPositions()) {
      throw new IllegalArgumentException(ids.length + " tokens; the model has " + w.maxPositions() + " positions");
    }
    float[] x = new float[ids.length * h];
    for (int p = 0; p < ids.length; p++) {
      for (int j = 0; j < h; j++) {
        int type = typeIds == null ? 0 : typeIds[p];
        x[p * h + j] = w.wordEmbeddings()[ids[p] * h + j] + w.tokenTypeEmbeddings()[type * h + j]
            + w.positionEmbeddings()[p * h + j];
      }
    }
    layerNorm(x, ids.length, h, w.embeddingNormGamma(), w.embeddingNormBeta(), w.epsilon());
    return x;
  }

  private static final VectorSpecies<Float> LANES = FloatVector.SPECIES_PREFERRED;

  /**
   * out[r][j] = (Σ_k x[r][k] · W[k][j]) + b[j]: for each output, k ascending, each step one fused
   * multiply-add in fp32 (as GPU code compiles it), the bias added after the sum. Four rows share
   * each pass over W; the order of every sum is the same as one row at a time.
   */
  public static float[] gemmBias(float[] x, int rows, int in, float[] weight, float[] bias, int out) {
    float[] y = new float[rows * out];
    float[][] acc = new float[4][out];
    int bound = LANES.loopBound(out);
    for (int r0 = 0; r0 < rows; r0 += 4) {
      int n = Math.min(4, rows - r0);
      for (float[] a : acc) {
        java.util.Arrays.fill(a, 0f);
      }
      for (int k = 0; k < in; k++) {
        int base = k * out;
        for (int i = 0; i < n; i++) {
          float a = x[(r0 + i) * in + k];
          float[] c = acc[i];
          FloatVector av = FloatVector.broadcast(LANES, a);
          int j = 0;
          for (; j < bound; j += LANES.length()) {
            FloatVector.fromArray(LANES, weight, base + j).fma(av, FloatVector.fromArray(LANES, c, j)).intoArray(c, j);
          }
          for (; j < out; j++) {
            c[j] = Math.fma(a, weight[base + j], c[j]);
          }
        }
      }
      for (int i = 0; i < n; i++) {
        for (int j = 0; j < out; j++) {
          y[(r0 + i) * out + j] = acc[i][j] + bias[j];
        }
      }
    }
    return y;
  }

  /** Scaled dot-product attention per head over one unpadded sequence. */
  public static float[] attention(float[] q, float[] k, float[] v, int t, int heads, int d) {
    int h = heads * d;
    float scale = (float) Math.sqrt(d);
    float[] out = new float[t * h];
    float[] s = new float[t];
    for (int head = 0; head < heads; head++) {
      int off = head * d;
      for (int i = 0; i < t; i++) {
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < t; j++) {
          float dot = 0f;
          for (int c = 0; c < d; c++) {
            dot += q[i * h + off + c] * k[j * h + off + c];
          }
          s[j] = dot / scale;
          max = Math.max(max, s[j]);
        }
        float sum = 0f;
        for (int j = 0; j < t; j++) {
          s[j] = (float) Math.exp(s[j] - max);
          sum += s[j];
        }
        for (int j = 0; j < t; j++) {
          float p = s[j] / sum;
          for (int c = 0; c < d; c++) {
            out[i * h + off + c] += p * v[j * h + off + c];
          }
        }
      }
    }
    return out;
  }

  public static void layerNorm(float[] x, int rows, int h, float[] gamma, float[] beta, float eps) {
    for (int r = 0; r < rows; r++) {
      int o = r * h;
      float mean = 0f;
      for (int j = 0; j < h; j++) {
        mean += x[o + j];
      }
      mean /= h;
      float var = 0f;
      for (int j = 0; j < h; j++) {
        float dlt = x[o + j] - mean;
        var += dlt * dlt;
      }
      var /= h;
      float denom = (float) Math.sqrt(var + eps);
      for (int j = 0; j < h; j++) {
        x[o + j] = (x[o + j] - mean) / denom * gamma[j] + beta[j];
      }
    }
  }

  /** Exact GELU as the graph computes it: x · 0.5 · (1 + erf(x / √2)). */
  public static void gelu(float[] x) {
    for (int i = 0; i < x.length; i++) {
      float u = x[i];
      x[i] = u * 0.5f * (1f + (float) erf(u / 1.4142135f));
    }
  }

  public static void addInPlace(float[] y, float[] residual) {
    for (int i = 0; i < y.length; i++) {
      y[i] += residual[i];
    }
  }

  /** erf to about 1e-7 absolute (Numerical Recipes' Chebyshev fit of erfc), in double. */
  static double erf(double x) {
    double z = Math.abs(x);
    double t = 1.0 / (1.0 + 0.5 * z);
    double erfc = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
        + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223
        + t * 0.17087277)))))))));
    return x >= 0 ? 1.0 - erfc : erfc - 1.0;
  }

  @Override
  public void close() {
    pool.shutdownNow();
  }
}
