package dev.shoal.encoder.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The shape buckets CUDA graphs are captured for (runs on any machine: no CUDA call). */
class LaunchGraphsTest {

  @Test
  void bucketsArePowersOfTwoCappedAtTheLimitAndNeverBelowTheShape() {
    assertEquals(1, LaunchGraphs.bucket(1, 64));
    assertEquals(2, LaunchGraphs.bucket(2, 64));
    assertEquals(4, LaunchGraphs.bucket(3, 64));
    assertEquals(4, LaunchGraphs.bucket(4, 64));
    assertEquals(8, LaunchGraphs.bucket(5, 64));
    assertEquals(32, LaunchGraphs.bucket(24, 512));
    assertEquals(512, LaunchGraphs.bucket(300, 512));
    assertEquals(384, LaunchGraphs.bucket(300, 384), "capped at the model's maxTokens");
    assertEquals(16, LaunchGraphs.bucket(16, 16));
    for (int n = 1; n <= 600; n++) {
      int b = LaunchGraphs.bucket(n, 512);
      assertTrue(b >= n && (b == 512 || b > 512 || Integer.bitCount(b) == 1), n + " -> " + b);
    }
  }

  @Test
  void onlySmallCallsRunAsGraphs() {
    assertTrue(LaunchGraphs.worthIt(1, 24), "a query");
    assertTrue(LaunchGraphs.worthIt(16, 256));
    assertFalse(LaunchGraphs.worthIt(64, 256), "a passage batch pays no padding to a bucket");
  }
}
