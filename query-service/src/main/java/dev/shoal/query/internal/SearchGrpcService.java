package dev.shoal.query.internal;

import dev.shoal.api.v1.GetRequest;
import dev.shoal.api.v1.GetResponse;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.api.v1.SearchResponse;
import dev.shoal.api.v1.SearchServiceGrpc;
import dev.shoal.server.auth.ApiKeyInterceptor;
import dev.shoal.server.time.Clock;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code shoal.v1.SearchService} over gRPC: the client's deadline becomes the request's; the
 * caller's API key is charged against its rate; at most {@code maxInFlight} searches and gets run
 * at once, and one more is refused with {@code RESOURCE_EXHAUSTED} at once (with a retry hint)
 * instead of queueing behind them. Thread-safe.
 */
public final class SearchGrpcService extends SearchServiceGrpc.SearchServiceImplBase {

  private static final Logger LOG = LoggerFactory.getLogger(SearchGrpcService.class);
  /** How long a client refused for the in-flight bound is told to wait. */
  static final long BUSY_RETRY_MILLIS = 200;
  private final QueryPipeline pipeline;
  private final Clock clock;
  private final int maxInFlight;
  private final boolean logQueryText;
  private final AtomicInteger inFlight = new AtomicInteger();

  public SearchGrpcService(QueryPipeline pipeline, Clock clock) {
    this(pipeline, clock, Integer.MAX_VALUE, true);
  }

  /**
   * @param maxInFlight  calls running at once past which one more is refused
   * @param logQueryText whether a failed search's log line may hold its query text
   */
  public SearchGrpcService(QueryPipeline pipeline, Clock clock, int maxInFlight, boolean logQueryText) {
    this.pipeline = pipeline;
    this.clock = clock;
    this.maxInFlight = maxInFlight;
    this.logQueryText = logQueryText;
  }

  private long deadlineNanos() {
    Deadline d = Context.current().getDeadline();
    return d == null ? Long.MAX_VALUE : clock.nanoTime() + d.timeRemaining(TimeUnit.NANOSECONDS);
  }

  @Override
  public void search(SearchRequest request, StreamObserver<SearchResponse> response) {
    if (!enter(response)) {
      return;
    }
    try {
      response.onNext(pipeline.search(request, deadlineNanos(), ApiKeyInterceptor.caller()));
      response.onCompleted();
    } catch (StatusException e) {
      response.onError(e);
    } catch (RuntimeException e) {
      LOG.error("search failed on {}", RequestLog.describe(request, logQueryText), e);
      response.onError(Status.INTERNAL.withDescription(e.toString()).asException());
    } finally {
      inFlight.decrementAndGet();
    }
  }

  @Override
  public void get(GetRequest request, StreamObserver<GetResponse> response) {
    if (!enter(response)) {
      return;
    }
    try {
      response.onNext(pipeline.get(request, deadlineNanos(), ApiKeyInterceptor.caller()));
      response.onCompleted();
    } catch (StatusException e) {
      response.onError(e);
    } catch (RuntimeException e) {
      LOG.error("get failed on document {}", logQueryText ? request.getId() : "(id not logged)", e);
      response.onError(Status.INTERNAL.withDescription(e.toString()).asException());
    } finally {
      inFlight.decrementAndGet();
    }
  }

  /** Counts the call in, or refuses it (and counts nothing) when the bound is reached. */
  private boolean enter(StreamObserver<?> response) {
    if (inFlight.incrementAndGet() > maxInFlight) {
      inFlight.decrementAndGet();
      response.onError(Admission.refused("this query service is running " + maxInFlight + " searches already; "
          + "retry after " + BUSY_RETRY_MILLIS + " ms or on another replica", BUSY_RETRY_MILLIS));
      return false;
    }
    return true;
  }
}
