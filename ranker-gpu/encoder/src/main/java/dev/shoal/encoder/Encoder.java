package dev.shoal.encoder;

import java.util.List;

/**
 * Turns text into L2-normalised embeddings with one transformer model.
 *
 * <p>Threading: implementations are safe for concurrent use; callers may share one instance
 * across threads, and a backend decides internally how many run on the hardware at once.
 *
 * <p>Lifecycle: created ready to use by {@link Encoders}; {@link #close()} frees native memory
 * (ONNX sessions, device buffers). Calls after close fail with {@link IllegalStateException}.
 *
 * <p>Errors: an empty list yields an empty result; a text longer than the model's maximum is
 * truncated to it (as every BERT-family service does), never rejected.
 */
public interface Encoder extends AutoCloseable {

  /** What kind of text is embedded: queries may get an instruction prefix, passages not. */
  enum Kind { QUERY, PASSAGE }

  ModelSpec model();

  default int dimension() {
    return model().dimension();
  }

  /** One embedding per text, in order, each of length {@link #dimension()}, L2 norm 1. */
  float[][] embed(List<String> texts, Kind kind);

  /** Thrown to a call whose deadline passed before its result was ready. */
  final class DeadlineExpiredException extends RuntimeException {
    public DeadlineExpiredException() {
      this("deadline passed before the model ran; it did not run for this call");
    }

    public DeadlineExpiredException(String message) {
      super(message);
    }
  }

  /**
   * As {@link #embed(List, Kind)}, for a caller that stops caring at an absolute
   * {@link System#nanoTime()} deadline ({@code Long.MAX_VALUE}: none). An implementation that
   * queues work drops the call if the deadline passes while it waits; this default only refuses
   * a call that arrives too late.
   *
   * @throws DeadlineExpiredException when the deadline passed before the model ran
   */
  default float[][] embed(List<String> texts, Kind kind, long deadlineNanos) {
    if (deadlineNanos != Long.MAX_VALUE && System.nanoTime() >= deadlineNanos) {
      throw new DeadlineExpiredException();
    }
    return embed(texts, kind);
  }

  /** Which backend runs, for the one start-up log line and for /metrics. */
  String backend();

  @Override
  void close();
}
