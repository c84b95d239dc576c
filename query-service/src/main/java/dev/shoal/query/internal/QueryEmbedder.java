package dev.shoal.query.internal;

import dev.shoal.internal.v1.EmbedKind;
import dev.shoal.internal.v1.EmbedRequest;
import dev.shoal.internal.v1.RankerGrpc;
import dev.shoal.internal.v1.Vector;
import dev.shoal.server.time.Clock;
import io.grpc.Status;
import java.util.concurrent.TimeUnit;

/**
 * The ranker as the query pipeline uses it: the query's embedding, and stubs bounded by the
 * query's deadline and the ranker budget (the most of a query's time the ranker may take, so a
 * slow ranker leaves time for a degraded answer). Thread-safe.
 */
final class QueryEmbedder {

  private final RankerGrpc.RankerBlockingStub ranker;
  private final Clock clock;
  private final long budgetNanos;

  QueryEmbedder(RankerGrpc.RankerBlockingStub ranker, Clock clock, long budgetMillis) {
    this.ranker = ranker;
    this.clock = clock;
    this.budgetNanos = TimeUnit.MILLISECONDS.toNanos(budgetMillis);
  }

  /** A query's embedding and the model that made it. */
  record Embedding(float[] vector, String model) {
  }

  /** @throws io.grpc.StatusRuntimeException when the ranker fails or the time is up */
  Embedding embed(String query, long deadlineNanos) {
    var resp = stub(deadlineNanos).embed(EmbedRequest.newBuilder().addTexts(query).setKind(EmbedKind.QUERY).build());
    Vector v = resp.getEmbeddings(0);
    float[] out = new float[v.getValuesCount()];
    for (int i = 0; i < out.length; i++) {
      out[i] = v.getValues(i);
    }
    return new Embedding(out, resp.getModel());
  }

  /** A stub whose deadline is the query's, capped by the ranker budget. */
  RankerGrpc.RankerBlockingStub stub(long deadlineNanos) {
    long left = deadlineNanos - clock.nanoTime();
    if (left <= 0) {
      throw Status.DEADLINE_EXCEEDED.withDescription("no time left for the ranker").asRuntimeException();
    }
    return ranker.withDeadlineAfter(Math.min(left, budgetNanos), TimeUnit.NANOSECONDS);
  }
}
