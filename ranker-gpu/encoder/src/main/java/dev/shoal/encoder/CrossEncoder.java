package dev.shoal.encoder;

import java.util.List;

/**
 * Scores (query, passage) pairs with a sequence-classification transformer that reads both texts
 * at once (a cross-encoder): the second-phase model, far more precise than comparing two
 * separately computed embeddings, and far too slow to run over a whole collection, so it re-scores
 * the head of a first-phase list.
 *
 * <p>Threading: implementations are safe for concurrent use. Lifecycle: ready when constructed;
 * {@link #close()} frees native memory, and calls after it fail with {@link IllegalStateException}.
 *
 * <p>Errors: an empty list yields an empty result; a pair longer than the model's maximum has
 * its passage truncated (the query is kept), never rejected.
 */
public interface CrossEncoder extends AutoCloseable {

  /** One pair to score. */
  record TextPair(String query, String passage) {
    public TextPair {
      java.util.Objects.requireNonNull(query);
      java.util.Objects.requireNonNull(passage);
    }
  }

  CrossEncoderSpec model();

  /** One relevance score per pair, in order; higher is more relevant (see {@link dev.shoal.encoder.model.ClassifierHead}). */
  float[] score(List<TextPair> pairs);

  /**
   * As {@link #score(List)} for a caller that stops caring at an absolute {@link System#nanoTime()}
   * deadline ({@code Long.MAX_VALUE}: none); an implementation that queues drops the call when the
   * deadline passes while it waits.
   *
   * @throws Encoder.DeadlineExpiredException when the deadline passed before the model ran
   */
  default float[] score(List<TextPair> pairs, long deadlineNanos) {
    if (deadlineNanos != Long.MAX_VALUE && System.nanoTime() >= deadlineNanos) {
      throw new Encoder.DeadlineExpiredException();
    }
    return score(pairs);
  }

  /** Which backend runs, for the start-up log line. */
  String backend();

  @Override
  void close();
}
