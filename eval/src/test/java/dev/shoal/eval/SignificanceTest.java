package dev.shoal.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SignificanceTest {

  @Test
  void tTestMatchesAWorkedExample() {
    // differences 1,2,3,4,5: mean 3, sd sqrt(2.5), t = 3 / (sqrt(2.5)/sqrt(5)) = 4.2426, df 4
    // two-sided p for t = 4.2426 with 4 df = 0.013236 (Student's t table / scipy.stats.ttest_rel)
    double[] a = {2, 4, 6, 8, 10};
    double[] b = {1, 2, 3, 4, 5};
    assertEquals(0.013236, Significance.pairedT(a, b), 1e-5);
  }

  @Test
  void identicalSystemsAreNotSignificant() {
    double[] a = {0.1, 0.5, 0.3};
    assertEquals(1.0, Significance.pairedT(a, a));
    assertEquals(1.0, Significance.randomization(a, a, 1000, 1), 1e-12);
  }

  @Test
  void randomizationAgreesWithTheExactPermutationCount() {
    // 3 positive differences: of the 8 sign patterns, 2 (all +, all -) reach |sum| = 6, exact p = 0.25
    double[] a = {3, 3, 3};
    double[] b = {1, 1, 1};
    double p = Significance.randomization(a, b, 100_000, 7);
    assertEquals(0.25, p, 0.01);
  }

  @Test
  void aConsistentGainOverManyQueriesIsSignificant() {
    double[] a = new double[50];
    double[] b = new double[50];
    for (int i = 0; i < 50; i++) {
      b[i] = 0.5 + 0.01 * (i % 7);
      a[i] = b[i] + 0.05 + 0.01 * (i % 3);
    }
    assertTrue(Significance.pairedT(a, b) < 1e-6);
    assertTrue(Significance.randomization(a, b, 10_000, 3) < 0.001);
  }
}
