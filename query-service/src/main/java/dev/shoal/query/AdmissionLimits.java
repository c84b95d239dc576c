package dev.shoal.query;

/**
 * How much one client, and all clients together, may ask of a query service at once; what
 * {@code RESOURCE_EXHAUSTED} (HTTP 429 with {@code Retry-After}) answers past it. Immutable;
 * {@link #defaults()} documents each default.
 *
 * @param requestsPerSecondPerKey sustained searches and gets per second one API key may send; 0: no limit. Applies
 *                                only where keys are required: an open server cannot tell its clients apart
 * @param burstPerKey             requests one key may send at once above the sustained rate (the bucket's size)
 * @param maxExpensiveInFlight    expensive searches running at once, over all clients; more are refused at once
 *                                rather than queued, so cheap searches keep their latency
 * @param expensiveWindow         a search whose offset + top_k is above this is expensive
 * @param expensiveRerankDepth    a search whose rerank depth is above this is expensive
 * @param expensiveFilters        a search with more filters than this is expensive
 * @param maxGrpcSearchesInFlight gRPC searches and gets running at once; more are refused at once. Each gRPC call
 *                                runs on a virtual thread of its own, so this, not a pool's size, bounds them
 */
public record AdmissionLimits(double requestsPerSecondPerKey, int burstPerKey, int maxExpensiveInFlight,
                              int expensiveWindow, int expensiveRerankDepth, int expensiveFilters,
                              int maxGrpcSearchesInFlight) {

  public AdmissionLimits {
    if (requestsPerSecondPerKey < 0 || burstPerKey < 1 || maxExpensiveInFlight < 1 || maxGrpcSearchesInFlight < 1) {
      throw new IllegalArgumentException("admission limits must be positive (a rate of 0 turns the per-key limit "
          + "off): " + requestsPerSecondPerKey + "/s, burst " + burstPerKey + ", " + maxExpensiveInFlight
          + " expensive, " + maxGrpcSearchesInFlight + " in flight");
    }
  }

  /**
   * 200 requests per second per key with bursts of 400; half the cores (at least one) for
   * expensive searches, which are those past the default page and rerank depth (offset + top_k
   * or rerank depth above 100) or with more than 8 filters; 64 gRPC searches in flight.
   */
  public static AdmissionLimits defaults() {
    return new AdmissionLimits(200, 400, Math.max(1, Runtime.getRuntime().availableProcessors() / 2), 100, 100, 8,
        64);
  }

  public AdmissionLimits withRatePerKey(double perSecond, int burst) {
    return new AdmissionLimits(perSecond, burst, maxExpensiveInFlight, expensiveWindow, expensiveRerankDepth,
        expensiveFilters, maxGrpcSearchesInFlight);
  }

  public AdmissionLimits withMaxExpensiveInFlight(int n) {
    return new AdmissionLimits(requestsPerSecondPerKey, burstPerKey, n, expensiveWindow, expensiveRerankDepth,
        expensiveFilters, maxGrpcSearchesInFlight);
  }
}
