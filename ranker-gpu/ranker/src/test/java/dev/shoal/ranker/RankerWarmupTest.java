package dev.shoal.ranker;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.shoal.encoder.CountingEncoder;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.onnx.OnnxEncoder;
import dev.shoal.server.time.Clock;
import dev.shoal.server.time.ManualClock;
import org.junit.jupiter.api.Test;

/** The ranker's warm-up on the real model: every shape, every round, and the budget. */
class RankerWarmupTest {

  /** Per round: queries of 3 lengths at batch 1, 2, 4, 8 (12 calls, 45 texts), passages at batch 1 and 4 (2, 5). */
  private static final int CALLS_PER_ROUND = 14;
  private static final int TEXTS_PER_ROUND = 50;

  @Test
  void runsEveryShapeEveryRoundOnTheModel() {
    try (CountingEncoder counted = new CountingEncoder(new OnnxEncoder(ModelSpec.ALL_MINILM_L6_V2, 1, 8))) {
      RankerWarmup.Report r = RankerWarmup.run(counted, 2, 60_000, Clock.SYSTEM);
      assertEquals(new RankerWarmup.Report(2 * CALLS_PER_ROUND, 2 * TEXTS_PER_ROUND, r.millis()), r);
      assertEquals(2 * CALLS_PER_ROUND, counted.calls.get(), "each call reached the model");
      assertEquals(2 * TEXTS_PER_ROUND, counted.texts.get());
    }
  }

  @Test
  void aSpentBudgetEndsTheWarmupAfterTheRoundUnderWay() {
    ManualClock clock = new ManualClock();
    try (CountingEncoder counted = new CountingEncoder(new OnnxEncoder(ModelSpec.ALL_MINILM_L6_V2, 1, 8)) {
      @Override
      public float[][] embed(java.util.List<String> t, Kind kind) {
        clock.advanceMillis(100);
        return super.embed(t, kind);
      }
    }) {
      // one round takes 14 calls x 100 ms of the clock: past a 1 s budget, so the second never starts
      RankerWarmup.Report r = RankerWarmup.run(counted, 5, 1_000, clock);
      assertEquals(CALLS_PER_ROUND, r.calls());
      assertEquals(CALLS_PER_ROUND, counted.calls.get());
    }
  }
}
