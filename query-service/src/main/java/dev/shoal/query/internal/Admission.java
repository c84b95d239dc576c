package dev.shoal.query.internal;

import dev.shoal.api.v1.SearchRequest;
import dev.shoal.query.AdmissionLimits;
import dev.shoal.query.SearchLimits;
import dev.shoal.server.time.Clock;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Admission control in front of the search pipeline: a token bucket per API key, and a bound on
 * expensive searches in flight. Refusals are {@code RESOURCE_EXHAUSTED} with a retry hint in the
 * {@value #RETRY_PUSHBACK} trailer (the one gRPC's own retry policy reads), which HTTP turns into
 * 429 and {@code Retry-After}. A refusal costs a map lookup: nothing waits, nothing queues.
 *
 * <p>Thread-safe. Buckets are kept per key name, so their number is bounded by the key file.
 */
public final class Admission {

  /** The trailer holding how long to wait before retrying, in milliseconds. */
  public static final String RETRY_PUSHBACK = "grpc-retry-pushback-ms";
  static final Metadata.Key<String> PUSHBACK = Metadata.Key.of(RETRY_PUSHBACK, Metadata.ASCII_STRING_MARSHALLER);
  /** How long a client refused for the expensive bound is told to wait. */
  static final long EXPENSIVE_RETRY_MILLIS = 1_000;

  /** Held while an admitted search runs; closing it twice is harmless. */
  public interface Permit extends AutoCloseable {
    /** Whether this permit holds one of the expensive slots. */
    boolean expensive();

    @Override
    void close();
  }

  private static final Permit FREE = new Permit() {
    @Override
    public boolean expensive() {
      return false;
    }

    @Override
    public void close() {
    }
  };

  private final AdmissionLimits limits;
  private final Clock clock;
  private final Semaphore expensive;
  private final Map<String, Bucket> buckets = new ConcurrentHashMap<>();

  public Admission(AdmissionLimits limits, Clock clock) {
    this.limits = limits;
    this.clock = clock;
    this.expensive = new Semaphore(limits.maxExpensiveInFlight());
  }

  /**
   * Charges one request to {@code client} (an API key's name; "" where keys are not required).
   *
   * @throws StatusException RESOURCE_EXHAUSTED when the key is over its rate
   */
  public void charge(String client) throws StatusException {
    if (client.isEmpty() || limits.requestsPerSecondPerKey() == 0) {
      return;
    }
    long waitNanos = buckets.computeIfAbsent(client, k -> new Bucket(limits, clock.nanoTime())).take(clock.nanoTime());
    if (waitNanos > 0) {
      long ms = Math.max(1, TimeUnit.NANOSECONDS.toMillis(waitNanos));
      throw refused("API key '" + client + "' is over its limit of " + format(limits.requestsPerSecondPerKey())
          + " requests per second (bursts of " + limits.burstPerKey() + "); retry after " + ms + " ms", ms);
    }
  }

  /**
   * A permit for a validated request: free for cheap ones; for expensive ones one of the
   * {@link AdmissionLimits#maxExpensiveInFlight()} slots, or a refusal when none is free.
   */
  public Permit admit(SearchRequest validated) throws StatusException {
    String why = expensiveBecause(validated);
    if (why == null) {
      return FREE;
    }
    if (!expensive.tryAcquire()) {
      throw refused("too many expensive searches in flight (at most " + limits.maxExpensiveInFlight() + "; this one "
          + "is expensive because " + why + "): retry later, or ask for a smaller page", EXPENSIVE_RETRY_MILLIS);
    }
    return new Permit() {
      private boolean released;

      @Override
      public boolean expensive() {
        return true;
      }

      @Override
      public synchronized void close() {
        if (!released) {
          released = true;
          expensive.release();
        }
      }
    };
  }

  /** Why the request is expensive, or null when it is not. */
  String expensiveBecause(SearchRequest r) {
    int topK = r.getTopK() == 0 ? SearchLimits.DEFAULT_TOP_K : r.getTopK();
    long window = (long) r.getOffset() + topK;
    int depth = r.getRerankDepth() == 0 ? SearchLimits.DEFAULT_RERANK_DEPTH : r.getRerankDepth();
    if (window > limits.expensiveWindow()) {
      return "offset + top_k = " + window + " > " + limits.expensiveWindow();
    }
    if (depth > limits.expensiveRerankDepth()) {
      return "rerank_depth = " + depth + " > " + limits.expensiveRerankDepth();
    }
    if (r.getFiltersCount() > limits.expensiveFilters()) {
      return r.getFiltersCount() + " filters > " + limits.expensiveFilters();
    }
    return null;
  }

  /** Expensive searches running now (for tests and metrics). */
  public int expensiveInFlight() {
    return limits.maxExpensiveInFlight() - expensive.availablePermits();
  }

  static StatusException refused(String message, long retryMillis) {
    Metadata trailers = new Metadata();
    trailers.put(PUSHBACK, Long.toString(retryMillis));
    return Status.RESOURCE_EXHAUSTED.withDescription(message).asException(trailers);
  }

  /** The retry hint of a refusal, in milliseconds, or -1 when it carries none (e.g. a body over the size limit). */
  public static long retryMillis(StatusException e) {
    Metadata t = e.getTrailers();
    String v = t == null ? null : t.get(PUSHBACK);
    return v == null ? -1 : Long.parseLong(v);
  }

  private static String format(double rate) {
    return rate == Math.rint(rate) ? Long.toString((long) rate) : Double.toString(rate);
  }

  /** A token bucket: {@code burst} tokens, refilled at the rate; one per request. */
  private static final class Bucket {
    private final double perNano;
    private final double capacity;
    private double tokens;
    private long last;

    Bucket(AdmissionLimits limits, long now) {
      this.perNano = limits.requestsPerSecondPerKey() / 1e9;
      this.capacity = limits.burstPerKey();
      this.tokens = capacity;
      this.last = now;
    }

    /** 0 when a token was taken; else how long until one will be there. */
    synchronized long take(long now) {
      tokens = Math.min(capacity, tokens + (now - last) * perNano);
      last = now;
      if (tokens >= 1) {
        tokens -= 1;
        return 0;
      }
      return (long) Math.ceil((1 - tokens) / perNano);
    }
  }
}
