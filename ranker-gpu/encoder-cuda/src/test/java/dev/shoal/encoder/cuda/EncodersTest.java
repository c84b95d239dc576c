package dev.shoal.encoder.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.shoal.encoder.CrossEncoder;
import dev.shoal.encoder.CrossEncoderSpec;
import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.Encoders;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.TestCrossEncoders;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Backend choice on a machine without a GPU (this project's CI): CPU, and JCuda never loaded. */
class EncodersTest {

  /**
   * Run in a child JVM by the test below: picks a backend with "auto" and embeds one text, then
   * one for a cross-encoder and scores one pair.
   */
  public static void main(String[] args) throws Exception {
    try (Encoder e = Encoders.create(ModelSpec.ALL_MINILM_L6_V2.withMaxTokens(32), "auto", 1, 4)) {
      System.out.println("BACKEND " + e.backend() + " DIM " + e.embed(List.of("hello"), Encoder.Kind.QUERY)[0].length);
    }
    java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("cross-encoder");
    CrossEncoderSpec spec = CrossEncoderSpec.fromDirectory(TestCrossEncoders.write(dir, TestCrossEncoders.small(1, 1)),
        64);
    try (CrossEncoder c = Encoders.createCrossEncoder(spec, "auto", 1, 4)) {
      System.out.println("CROSS " + c.backend() + " SCORES " + c.score(List.of(new CrossEncoder.TextPair("a", "b")))
          .length);
    }
  }

  @Test
  void autoWithoutADriverRunsOnTheCpuAndNeverLoadsJCuda() throws Exception {
    assumeTrue(CudaProbe.whyNot().isPresent(), "a GPU machine: the gpu suite covers the CUDA choice");
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
        "-verbose:class", "--enable-native-access=ALL-UNNAMED", "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir"),
        "-cp", System.getProperty("java.class.path"), EncodersTest.class.getName()));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    List<String> jcuda = new ArrayList<>();
    String backend = null;
    String cross = null;
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        if (line.contains("jcuda.")) {
          jcuda.add(line);
        }
        if (line.startsWith("BACKEND ")) {
          backend = line;
        }
        if (line.startsWith("CROSS ")) {
          cross = line;
        }
      }
    }
    assertTrue(p.waitFor(120, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue());
    assertTrue(backend != null && backend.contains("ONNX Runtime") && backend.endsWith("DIM 384"), backend);
    assertTrue(cross != null && cross.contains("ONNX Runtime") && cross.endsWith("SCORES 1"), cross);
    assertEquals(List.of(), jcuda, "no JCuda class may load on a machine without a driver");
  }

  @Test
  void cudaRequestedWithoutADriverSaysWhy() {
    assumeTrue(CudaProbe.whyNot().isPresent(), "a GPU machine: the gpu suite covers the CUDA choice");
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> Encoders.create(ModelSpec.ALL_MINILM_L6_V2, "cuda", 1, 4));
    assertTrue(e.getMessage().startsWith("backend cuda requested, but "), e.getMessage());
    assertFalse(e.getMessage().endsWith("but "), e.getMessage());
  }
}
