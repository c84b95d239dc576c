package dev.shoal.ranker;

import dev.shoal.encoder.CrossEncoder;
import dev.shoal.encoder.Encoder;
import dev.shoal.server.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Embeddings a ranker computes before it takes its first call, so the first queries do not pay for
 * the tokenizer and the batching path being interpreted, nor for the model's first runs at the
 * shapes concurrent queries make: queries of 4, 12 and 24 words at batch 1, 2, 4 and 8 (what the
 * dynamic batcher forms from up to 8 concurrent searches), and passages of about 100 words at batch
 * 1 and 4 (a Score call whose candidates carry no stored vector).
 *
 * <p>The texts are fixed English words: the model's cost depends on the token count, not on
 * which words. Errors propagate: an encoder that cannot embed a sentence should not serve. Stops
 * after {@code rounds} passes over the shapes or once the budget has passed (the pass under way
 * finishes). Stateless.
 */
public final class RankerWarmup {

  /** Passes over the shapes by default. */
  public static final int ROUNDS = 3;
  /** The longest the warm-up holds the ranker's port back by default. */
  public static final long BUDGET_MILLIS = 5_000;
  private static final String[] WORDS = ("the effect of early treatment on long term outcomes in patients with "
      + "chronic disease was measured across several cohorts and compared with standard care using "
      + "randomised trials observational data and a review of published evidence").split(" ");
  private static final int[] QUERY_WORDS = {4, 12, 24};
  private static final int[] QUERY_BATCHES = {1, 2, 4, 8};
  private static final int[] PASSAGE_BATCHES = {1, 4};
  private static final int PASSAGE_WORDS = 100;
  private static final int[] PAIR_BATCHES = {1, 8, 32};

  /** What a warm-up did: encoder calls, texts embedded, and how long it took. */
  public record Report(int calls, int texts, long millis) {}

  private RankerWarmup() {}

  public static Report run(Encoder encoder, int rounds, long budgetMillis, Clock clock) {
    long start = clock.nanoTime();
    long end = start + TimeUnit.MILLISECONDS.toNanos(budgetMillis);
    int calls = 0;
    int texts = 0;
    for (int round = 0; round < rounds && clock.nanoTime() < end; round++) {
      for (int words : QUERY_WORDS) {
        for (int batch : QUERY_BATCHES) {
          texts += embed(encoder, batch, words, round, Encoder.Kind.QUERY);
          calls++;
        }
      }
      for (int batch : PASSAGE_BATCHES) {
        texts += embed(encoder, batch, PASSAGE_WORDS, round, Encoder.Kind.PASSAGE);
        calls++;
      }
    }
    return new Report(calls, texts, TimeUnit.NANOSECONDS.toMillis(clock.nanoTime() - start));
  }

  /**
   * The cross-encoder's warm-up: pairs of a 12-word query and 100-word passages at batch 1, 8
   * and 32 (one query's head and a few queries merged by the batcher), {@code rounds} passes
   * within the budget.
   */
  public static Report run(CrossEncoder crossEncoder, int rounds, long budgetMillis, Clock clock) {
    long start = clock.nanoTime();
    long end = start + TimeUnit.MILLISECONDS.toNanos(budgetMillis);
    int calls = 0;
    int pairs = 0;
    for (int round = 0; round < rounds && clock.nanoTime() < end; round++) {
      for (int batch : PAIR_BATCHES) {
        List<CrossEncoder.TextPair> in = new ArrayList<>(batch);
        for (int t = 0; t < batch; t++) {
          in.add(new CrossEncoder.TextPair(text(12, t, round), text(PASSAGE_WORDS, t + 1, round)));
        }
        float[] out = crossEncoder.score(in);
        if (out.length != batch) {
          throw new IllegalStateException("warm-up: " + crossEncoder.backend() + " returned " + out.length
              + " scores for " + batch + " pairs");
        }
        pairs += batch;
        calls++;
      }
    }
    return new Report(calls, pairs, TimeUnit.NANOSECONDS.toMillis(clock.nanoTime() - start));
  }

  private static String text(int words, int t, int round) {
    StringBuilder b = new StringBuilder();
    for (int w = 0; w < words; w++) {
      if (w > 0) {
        b.append(' ');
      }
      // different texts within a batch and from round to round, as traffic has
      b.append(WORDS[(w * 7 + t * 3 + round * 5) % WORDS.length]);
    }
    return b.toString();
  }

  private static int embed(Encoder encoder, int batch, int words, int round, Encoder.Kind kind) {
    List<String> texts = new ArrayList<>(batch);
    for (int t = 0; t < batch; t++) {
      texts.add(text(words, t, round));
    }
    float[][] out = encoder.embed(texts, kind);
    if (out.length != batch) {
      throw new IllegalStateException("warm-up: " + encoder.backend() + " returned " + out.length
          + " embeddings for " + batch + " texts");
    }
    return batch;
  }
}
