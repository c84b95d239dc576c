package dev.shoal.encoder;

import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Dynamic batching in front of a {@link CrossEncoder}: the pairs of concurrent queries' calls are
 * merged, up to {@code maxBatch} pairs, into one model run, as {@link BatchingEncoder} merges
 * texts (same window, deadline and error policy: {@link DynamicBatcher}). On a CPU, one run over
 * the pairs of several queries sorts them by length across queries (less padding); on a GPU it
 * fills the device. A call larger than {@code maxBatch} runs alone.
 *
 * <p>Thread-safe. {@link #close()} fails waiting calls and closes the backend.
 */
public final class BatchingCrossEncoder implements CrossEncoder {

  private final CrossEncoder backend;
  private final int maxBatch;
  private final long maxDelayNanos;
  private final DynamicBatcher<TextPair, Boolean, Float> batcher;

  public BatchingCrossEncoder(CrossEncoder backend, int maxBatch, long maxDelayMicros) {
    this.backend = backend;
    this.maxBatch = maxBatch;
    this.maxDelayNanos = TimeUnit.MICROSECONDS.toNanos(maxDelayMicros);
    this.batcher = new DynamicBatcher<>((pairs, any) -> {
      float[] s = backend.score(pairs);
      Float[] boxed = new Float[s.length];
      for (int i = 0; i < s.length; i++) {
        boxed[i] = s[i];
      }
      return List.of(boxed);
    }, maxBatch, maxDelayNanos, "cross-encoder-batcher", "cross-encoder closed");
  }

  @Override
  public CrossEncoderSpec model() {
    return backend.model();
  }

  @Override
  public String backend() {
    return backend.backend() + ", dynamic batching (max " + maxBatch + " pairs, " + maxDelayNanos / 1000 + " µs)";
  }

  /** Model runs so far. */
  public long batches() {
    return batcher.batches();
  }

  /** Calls waiting for the dispatcher. */
  public int queued() {
    return batcher.queued();
  }

  @Override
  public float[] score(List<TextPair> pairs) {
    return score(pairs, Long.MAX_VALUE);
  }

  @Override
  public float[] score(List<TextPair> pairs, long deadlineNanos) {
    List<Float> s = batcher.submit(pairs, Boolean.TRUE, deadlineNanos);
    float[] out = new float[s.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = s.get(i);
    }
    return out;
  }

  @Override
  public void close() {
    batcher.close();
    backend.close();
  }
}
