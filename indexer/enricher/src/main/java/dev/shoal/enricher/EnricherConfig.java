package dev.shoal.enricher;

/**
 * Settings of one enricher; {@link #defaults} documents each default. Immutable.
 *
 * @param bootstrap       Kafka bootstrap servers
 * @param transactionalId the producer's transactional id: unique per enricher, stable across its
 *                        restarts (a restarted enricher fences its previous incarnation)
 * @param maxBatch        records consumed, embedded and written per transaction
 * @param maxRequestBytes the largest produce request (an enriched record carries the document and its vector)
 */
public record EnricherConfig(String bootstrap, String transactionalId, int maxBatch, int maxRequestBytes) {

  /** Batches of 64, requests up to 16 MiB (the enriched topic's max.message.bytes). */
  public static EnricherConfig defaults(String bootstrap, String transactionalId) {
    return new EnricherConfig(bootstrap, transactionalId, 64, 16 << 20);
  }

  public EnricherConfig withMaxBatch(int n) {
    return new EnricherConfig(bootstrap, transactionalId, n, maxRequestBytes);
  }
}
