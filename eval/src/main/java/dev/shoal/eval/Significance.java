package dev.shoal.eval;

import java.util.SplittableRandom;

/**
 * Paired significance tests over per-query scores of two systems. Stateless.
 */
public final class Significance {

  private Significance() {
  }

  /**
   * Two-sided paired randomization (permutation) test: the share of random sign flips of the
   * per-query differences whose mean is at least as far from 0 as the observed mean. With
   * {@code trials} flips and a fixed seed the result is reproducible.
   */
  public static double randomization(double[] a, double[] b, int trials, long seed) {
    check(a, b);
    int n = a.length;
    if (n == 0) {
      return 1;
    }
    double[] d = new double[n];
    double observed = 0;
    for (int i = 0; i < n; i++) {
      d[i] = a[i] - b[i];
      observed += d[i];
    }
    observed = Math.abs(observed);
    SplittableRandom rnd = new SplittableRandom(seed);
    int atLeast = 0;
    for (int t = 0; t < trials; t++) {
      double s = 0;
      for (int i = 0; i < n; i++) {
        s += rnd.nextBoolean() ? d[i] : -d[i];
      }
      if (Math.abs(s) >= observed - 1e-12) {
        atLeast++;
      }
    }
    return (atLeast + 1.0) / (trials + 1.0);
  }

  /** Two-sided paired t-test p-value (Student's t with n - 1 degrees of freedom). */
  public static double pairedT(double[] a, double[] b) {
    check(a, b);
    int n = a.length;
    if (n < 2) {
      return 1;
    }
    double mean = 0;
    for (int i = 0; i < n; i++) {
      mean += a[i] - b[i];
    }
    mean /= n;
    double ss = 0;
    for (int i = 0; i < n; i++) {
      double e = a[i] - b[i] - mean;
      ss += e * e;
    }
    double sd = Math.sqrt(ss / (n - 1));
    if (sd == 0) {
      return mean == 0 ? 1 : 0;
    }
    double t = mean / (sd / Math.sqrt(n));
    double df = n - 1;
    // P(|T| >= |t|) = I_{df/(df+t^2)}(df/2, 1/2)
    return regularizedBeta(df / (df + t * t), df / 2, 0.5);
  }

  private static void check(double[] a, double[] b) {
    if (a.length != b.length) {
      throw new IllegalArgumentException("paired tests need the same queries: " + a.length + " vs " + b.length);
    }
  }

  /** The regularised incomplete beta function I_x(a, b), by its continued fraction. */
  static double regularizedBeta(double x, double a, double b) {
    if (x <= 0) {
      return 0;
    }
    if (x >= 1) {
      return 1;
    }
    double lnFront = lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log(1 - x);
    if (x < (a + 1) / (a + b + 2)) {
      return Math.exp(lnFront) * betaFraction(x, a, b) / a;
    }
    return 1 - Math.exp(lnFront) * betaFraction(1 - x, b, a) / b;
  }

  private static double betaFraction(double x, double a, double b) {
    double tiny = 1e-300;
    double c = 1;
    double d = 1 - (a + b) * x / (a + 1);
    d = Math.abs(d) < tiny ? tiny : d;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 300; m++) {
      int m2 = 2 * m;
      double aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
      d = 1 + aa * d;
      d = Math.abs(d) < tiny ? tiny : d;
      c = 1 + aa / c;
      c = Math.abs(c) < tiny ? tiny : c;
      d = 1 / d;
      h *= d * c;
      aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
      d = 1 + aa * d;
      d = Math.abs(d) < tiny ? tiny : d;
      c = 1 + aa / c;
      c = Math.abs(c) < tiny ? tiny : c;
      d = 1 / d;
      double del = d * c;
      h *= del;
      if (Math.abs(del - 1) < 1e-15) {
        break;
      }
    }
    return h;
  }

  /** Lanczos approximation of ln Γ(x), x > 0. */
  static double lnGamma(double x) {
    double[] g = {676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
        12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7};
    if (x < 0.5) {
      return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
    }
    x -= 1;
    double a = 0.99999999999980993;
    double t = x + 7.5;
    for (int i = 0; i < g.length; i++) {
      a += g[i] / (x + i + 1);
    }
    return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
  }
}
