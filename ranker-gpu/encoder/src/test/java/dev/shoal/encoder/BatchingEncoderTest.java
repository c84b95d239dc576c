package dev.shoal.encoder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.encoder.onnx.OnnxEncoder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class BatchingEncoderTest {

  @Test
  void concurrentCallsAreMergedAndEachGetsItsOwnEmbeddings() throws Exception {
    List<String> texts = TestTexts.queries(48);
    try (OnnxEncoder direct = new OnnxEncoder(ModelSpec.ALL_MINILM_L6_V2, 2, 16);
         CountingEncoder counted = new CountingEncoder(new OnnxEncoder(ModelSpec.ALL_MINILM_L6_V2, 2, 16));
         BatchingEncoder batcher = new BatchingEncoder(counted, 64, 20_000)) {
      float[][] expected = direct.embed(texts, Encoder.Kind.QUERY);
      ExecutorService pool = Executors.newFixedThreadPool(16);
      List<Future<float[][]>> results = new ArrayList<>();
      for (int i = 0; i < texts.size(); i += 2) {
        List<String> two = texts.subList(i, i + 2);
        results.add(pool.submit(() -> batcher.embed(two, Encoder.Kind.QUERY)));
      }
      for (int i = 0; i < results.size(); i++) {
        float[][] got = results.get(i).get();
        for (int j = 0; j < 2; j++) {
          float[] e = expected[2 * i + j];
          for (int k = 0; k < e.length; k++) {
            assertEquals(e[k], got[j][k], 1e-5, "call " + i + " text " + j);
          }
        }
      }
      pool.shutdown();
      assertEquals(texts.size(), counted.texts.get(), "every text computed exactly once");
      assertTrue(counted.calls.get() < results.size(), "24 calls merged into " + counted.calls.get() + " batches");
    }
  }

  @Test
  void anExpiredCallIsDroppedBeforeTheModelRuns() {
    try (CountingEncoder counted = new CountingEncoder(new OnnxEncoder(ModelSpec.ALL_MINILM_L6_V2, 1, 16));
         BatchingEncoder batcher = new BatchingEncoder(counted, 64, 2_000)) {
      assertThrows(Encoder.DeadlineExpiredException.class,
          () -> batcher.embed(List.of("too late"), Encoder.Kind.QUERY, System.nanoTime() - 1));
      assertEquals(0, counted.calls.get());
      assertEquals(1, batcher.expired());
      assertEquals(1, batcher.embed(List.of("in time"), Encoder.Kind.QUERY, System.nanoTime() + 10_000_000_000L).length);
      assertEquals(1, counted.calls.get());
    }
  }
}
