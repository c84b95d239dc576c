package dev.shoal.encoder;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Dynamic batching in front of a backend {@link Encoder}: the calls waiting when the backend
 * becomes free, and those that arrive within {@code maxDelayMicros} of the first of them, are
 * merged, up to {@code maxBatch} texts of the same kind, into one backend call (which sorts them
 * by length, so padding stays low). With a window of 0, the default of Shoal's services, an idle
 * batcher runs a call at once (no queueing delay at low load) and the backend's own run is the
 * window in which the next batch gathers. A call whose deadline has passed while it waited is
 * dropped before the model runs.
 *
 * <p>Thread-safe; one dispatcher thread feeds the backend, so the backend sees one merged
 * batch at a time and spreads it over its own workers. {@link #close()} fails waiting calls
 * and closes the backend; a call that arrives during or after close fails at once.
 *
 * <p>Error policy: whatever the backend throws, an {@link Error} such as an OutOfMemoryError in a
 * batch tensor included, fails the calls of that batch and the dispatcher goes on with the next;
 * no call waits past its deadline (it gets {@link DeadlineExpiredException}), and a call without
 * a deadline is failed should the dispatcher ever stop.
 */
public final class BatchingEncoder implements Encoder {

  private final Encoder backend;
  private final int maxBatch;
  private final long maxDelayNanos;
  private final DynamicBatcher<String, Kind, float[]> batcher;

  public BatchingEncoder(Encoder backend, int maxBatch, long maxDelayMicros) {
    this.backend = backend;
    this.maxBatch = maxBatch;
    this.maxDelayNanos = TimeUnit.MICROSECONDS.toNanos(maxDelayMicros);
    this.batcher = new DynamicBatcher<>((texts, kind) -> Arrays.asList(backend.embed(texts, kind)), maxBatch,
        maxDelayNanos, "encoder-batcher", "encoder closed");
  }

  @Override
  public ModelSpec model() {
    return backend.model();
  }

  @Override
  public String backend() {
    return backend.backend() + ", dynamic batching (max " + maxBatch + ", " + maxDelayNanos / 1000 + " µs)";
  }

  /** Backend calls made so far (for metrics and tests). */
  public long batches() {
    return batcher.batches();
  }

  /** Calls waiting for the dispatcher (for tests and metrics). */
  public int queued() {
    return batcher.queued();
  }

  /** Calls dropped because their deadline passed before they ran. */
  public long expired() {
    return batcher.expired();
  }

  @Override
  public float[][] embed(List<String> texts, Kind kind) {
    return embed(texts, kind, Long.MAX_VALUE);
  }

  /** Waits in the queue; dropped, with {@link DeadlineExpiredException}, if the deadline passes first. */
  @Override
  public float[][] embed(List<String> texts, Kind kind, long deadlineNanos) {
    return batcher.submit(texts, kind, deadlineNanos).toArray(new float[0][]);
  }

  @Override
  public void close() {
    batcher.close();
    backend.close();
  }
}
