package dev.shoal.query.internal;

import dev.shoal.api.v1.GetRequest;
import dev.shoal.api.v1.GetResponse;
import dev.shoal.api.v1.SearchRequest;
import dev.shoal.api.v1.SearchResponse;
import dev.shoal.api.v1.SearchServiceGrpc;
import dev.shoal.server.time.Clock;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@code shoal.v1.SearchService} over gRPC: the client's deadline becomes the request's. Thread-safe. */
public final class SearchGrpcService extends SearchServiceGrpc.SearchServiceImplBase {

  private static final Logger LOG = LoggerFactory.getLogger(SearchGrpcService.class);
  private final QueryPipeline pipeline;
  private final Clock clock;

  public SearchGrpcService(QueryPipeline pipeline, Clock clock) {
    this.pipeline = pipeline;
    this.clock = clock;
  }

  private long deadlineNanos() {
    Deadline d = Context.current().getDeadline();
    return d == null ? Long.MAX_VALUE : clock.nanoTime() + d.timeRemaining(TimeUnit.NANOSECONDS);
  }

  @Override
  public void search(SearchRequest request, StreamObserver<SearchResponse> response) {
    try {
      response.onNext(pipeline.search(request, deadlineNanos()));
      response.onCompleted();
    } catch (StatusException e) {
      response.onError(e);
    } catch (RuntimeException e) {
      LOG.error("search failed on {}", request, e);
      response.onError(Status.INTERNAL.withDescription(e.toString()).asException());
    }
  }

  @Override
  public void get(GetRequest request, StreamObserver<GetResponse> response) {
    try {
      response.onNext(pipeline.get(request, deadlineNanos()));
      response.onCompleted();
    } catch (StatusException e) {
      response.onError(e);
    } catch (RuntimeException e) {
      LOG.error("get failed on {}", request, e);
      response.onError(Status.INTERNAL.withDescription(e.toString()).asException());
    }
  }
}
