package dev.shoal.enricher;

import dev.shoal.encoder.PassageWindows;

/**
 * Settings of one enricher; {@link #defaults} documents each default. Immutable.
 *
 * @param bootstrap          Kafka bootstrap servers
 * @param transactionalId    the producer's transactional id: unique per enricher, stable across its
 *                           restarts (a restarted enricher fences its previous incarnation)
 * @param maxBatch           records consumed, embedded and written per transaction
 * @param maxRequestBytes    the largest produce request (an enriched record carries the document and its vector)
 * @param maxWindows         model windows a long passage is embedded as (1: truncated to the first);
 *                           see {@link PassageWindows}
 * @param windowOverlap      tokens consecutive windows share (at most half a window)
 */
public record EnricherConfig(String bootstrap, String transactionalId, int maxBatch, int maxRequestBytes,
                             int maxWindows, int windowOverlap) {

  /**
   * Batches of 64, requests up to 16 MiB (the enriched topic's max.message.bytes), passages
   * truncated to the model's window ({@link PassageWindows#DEFAULT_MAX_WINDOWS}); with more windows,
   * they share {@value PassageWindows#DEFAULT_OVERLAP_TOKENS} tokens.
   */
  public static EnricherConfig defaults(String bootstrap, String transactionalId) {
    return new EnricherConfig(bootstrap, transactionalId, 64, 16 << 20, PassageWindows.DEFAULT_MAX_WINDOWS,
        PassageWindows.DEFAULT_OVERLAP_TOKENS);
  }

  public EnricherConfig withMaxBatch(int n) {
    return new EnricherConfig(bootstrap, transactionalId, n, maxRequestBytes, maxWindows, windowOverlap);
  }

  public EnricherConfig withMaxWindows(int max) {
    return new EnricherConfig(bootstrap, transactionalId, maxBatch, maxRequestBytes, max, windowOverlap);
  }
}
