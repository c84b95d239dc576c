package dev.shoal.encoder.model;

import dev.shoal.encoder.ModelSpec;

/** Pooling of a last hidden state into one L2-normalised vector. Stateless. */
public final class Pooler {

  private Pooler() {
  }

  /**
   * @param hidden   [batch, seq, dim] row-major
   * @param row      which sequence
   * @param seq      padded sequence length
   * @param dim      hidden size
   * @param length   real tokens of this row (the attention mask is 1 for the first {@code length})
   */
  public static float[] pool(float[] hidden, int row, int seq, int dim, int length, ModelSpec.Pooling pooling) {
    float[] v = new float[dim];
    int base = row * seq * dim;
    if (pooling == ModelSpec.Pooling.CLS) {
      System.arraycopy(hidden, base, v, 0, dim);
    } else {
      for (int j = 0; j < length; j++) {
        int off = base + j * dim;
        for (int k = 0; k < dim; k++) {
          v[k] += hidden[off + k];
        }
      }
      for (int k = 0; k < dim; k++) {
        v[k] /= length;
      }
    }
    return normalize(v);
  }

  public static float[] normalize(float[] v) {
    double sum = 0;
    for (float x : v) {
      sum += (double) x * x;
    }
    float inv = sum > 0 ? (float) (1.0 / Math.sqrt(sum)) : 0f;
    for (int k = 0; k < v.length; k++) {
      v[k] *= inv;
    }
    return v;
  }

  public static double dot(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }
}
