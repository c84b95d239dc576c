package dev.shoal.query;

/**
 * The documented limits of {@code SearchService} (README: Limits). Each violation is
 * INVALID_ARGUMENT with a message naming the limit.
 */
public record SearchLimits(int maxQueryChars, int maxTopK, int maxWindow, int maxFilters, int maxFilterValues,
                           int maxRerankDepth, int maxFields, int maxTimeoutMs, int maxRequestBytes) {

  public static final int DEFAULT_TOP_K = 10;
  public static final int DEFAULT_RERANK_DEPTH = 100;
  /** Fused and re-scored plans rank in tiers of rerank_depth; a request's window spans at most this many. */
  public static final int MAX_TIERS = 10;

  public static SearchLimits defaults() {
    return new SearchLimits(4_096, 1_000, 1_000, 32, 1_024, 1_000, 64, 60_000, 1 << 20);
  }
}
