package dev.shoal.ranker;

import dev.shoal.encoder.CrossEncoder;
import dev.shoal.encoder.Encoder;
import dev.shoal.encoder.model.Pooler;
import dev.shoal.internal.v1.Candidate;
import dev.shoal.internal.v1.CandidateScore;
import dev.shoal.internal.v1.EmbedKind;
import dev.shoal.internal.v1.EmbedRequest;
import dev.shoal.internal.v1.EmbedResponse;
import dev.shoal.internal.v1.RankerGrpc;
import dev.shoal.internal.v1.ScoreModel;
import dev.shoal.internal.v1.ScoreRequest;
import dev.shoal.internal.v1.ScoreResponse;
import dev.shoal.internal.v1.Vector;
import dev.shoal.ranker.internal.QueryEmbeddingCache;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The {@code shoal.v1.Ranker} service over one {@link Encoder} and, when the deployment gives one,
 * a {@link CrossEncoder} for {@code Score} calls that ask for it ({@code model = CROSS_ENCODER};
 * without one they get FAILED_PRECONDITION saying so).
 *
 * <p>Deadlines: a call whose deadline has already passed, or passes while it waits for a
 * batch, is answered DEADLINE_EXCEEDED and the model does not run for it. Query embeddings are
 * kept in a bounded LRU cache ({@value #QUERY_CACHE_SIZE} queries). Limits: at most {@value #MAX_TEXTS} texts or candidates per call, each
 * stored vector of the model's dimension; violations are INVALID_ARGUMENT.
 * Thread-safe (the encoder is).
 */
public final class RankerService extends RankerGrpc.RankerImplBase {

  public static final int MAX_TEXTS = 1_000;
  public static final int QUERY_CACHE_SIZE = 10_000;
  private final Encoder encoder;
  private final CrossEncoder crossEncoder;
  private final QueryEmbeddingCache queryCache;

  public RankerService(Encoder encoder) {
    this(encoder, QUERY_CACHE_SIZE);
  }

  /** @param queryCacheSize query embeddings kept; 0 turns the cache off (benchmarks of the uncached path) */
  public RankerService(Encoder encoder, int queryCacheSize) {
    this(encoder, null, queryCacheSize);
  }

  /**
   * @param crossEncoder   the second-phase model for {@code CROSS_ENCODER} scores; null for none
   * @param queryCacheSize query embeddings kept; 0 turns the cache off
   */
  public RankerService(Encoder encoder, CrossEncoder crossEncoder, int queryCacheSize) {
    this.encoder = encoder;
    this.crossEncoder = crossEncoder;
    this.queryCache = new QueryEmbeddingCache(queryCacheSize);
  }

  public QueryEmbeddingCache queryCache() {
    return queryCache;
  }

  private static long deadlineNanos() {
    Deadline d = Context.current().getDeadline();
    return d == null ? Long.MAX_VALUE : System.nanoTime() + d.timeRemaining(TimeUnit.NANOSECONDS);
  }

  /** Embeds within the call's deadline (a batching encoder drops it if it expires in the queue); queries via the cache. */
  private float[][] encode(List<String> texts, Encoder.Kind kind) {
    float[][] out = new float[texts.size()][];
    List<String> missing = new ArrayList<>();
    List<Integer> where = new ArrayList<>();
    for (int i = 0; i < texts.size(); i++) {
      float[] cached = kind == Encoder.Kind.QUERY ? queryCache.get(texts.get(i)) : null;
      if (cached != null) {
        out[i] = cached;
      } else {
        missing.add(texts.get(i));
        where.add(i);
      }
    }
    if (!missing.isEmpty()) {
      float[][] fresh = encoder.embed(missing, kind, deadlineNanos());
      for (int j = 0; j < fresh.length; j++) {
        out[where.get(j)] = fresh[j];
        if (kind == Encoder.Kind.QUERY) {
          queryCache.put(missing.get(j), fresh[j]);
        }
      }
    }
    return out;
  }

  @Override
  public void embed(EmbedRequest request, StreamObserver<EmbedResponse> response) {
    if (request.getTextsCount() > MAX_TEXTS) {
      response.onError(Status.INVALID_ARGUMENT.withDescription(
          "at most " + MAX_TEXTS + " texts per Embed call, got " + request.getTextsCount()).asRuntimeException());
      return;
    }
    if (expired(response)) {
      return;
    }
    Encoder.Kind kind = request.getKind() == EmbedKind.QUERY ? Encoder.Kind.QUERY : Encoder.Kind.PASSAGE;
    float[][] vectors;
    try {
      vectors = encode(request.getTextsList(), kind);
    } catch (Encoder.DeadlineExpiredException e) {
      response.onError(Status.DEADLINE_EXCEEDED.withDescription(e.getMessage()).asRuntimeException());
      return;
    }
    EmbedResponse.Builder out = EmbedResponse.newBuilder()
        .setModel(encoder.model().name()).setDimension(encoder.dimension());
    for (float[] v : vectors) {
      out.addEmbeddings(toVector(v));
    }
    response.onNext(out.build());
    response.onCompleted();
  }

  @Override
  public void score(ScoreRequest request, StreamObserver<ScoreResponse> response) {
    if (request.getCandidatesCount() > MAX_TEXTS) {
      response.onError(Status.INVALID_ARGUMENT.withDescription(
          "at most " + MAX_TEXTS + " candidates per Score call, got " + request.getCandidatesCount()).asRuntimeException());
      return;
    }
    if (request.getModel() == ScoreModel.CROSS_ENCODER) {
      crossScore(request, response);
      return;
    }
    if (request.hasQueryVector() && request.getQueryVector().getValuesCount() != encoder.dimension()) {
      response.onError(Status.INVALID_ARGUMENT.withDescription("query_vector has " + request.getQueryVector()
          .getValuesCount() + " values; model " + encoder.model().name() + " has " + encoder.dimension())
          .asRuntimeException());
      return;
    }
    for (Candidate c : request.getCandidatesList()) {
      if (c.hasVector() && c.getVector().getValuesCount() != encoder.dimension()) {
        response.onError(Status.INVALID_ARGUMENT.withDescription("candidate '" + c.getId() + "' has a vector of "
            + c.getVector().getValuesCount() + " values; model " + encoder.model().name() + " has "
            + encoder.dimension()).asRuntimeException());
        return;
      }
    }
    if (expired(response)) {
      return;
    }
    float[] query;
    float[][] encoded;
    List<String> texts = new ArrayList<>();
    for (Candidate c : request.getCandidatesList()) {
      if (!c.hasVector()) {
        texts.add(c.getText());
      }
    }
    try {
      query = request.hasQueryVector() ? toArray(request.getQueryVector())
          : encode(List.of(request.getQuery()), Encoder.Kind.QUERY)[0];
      encoded = texts.isEmpty() ? new float[0][] : encode(texts, Encoder.Kind.PASSAGE);
    } catch (Encoder.DeadlineExpiredException e) {
      response.onError(Status.DEADLINE_EXCEEDED.withDescription(e.getMessage()).asRuntimeException());
      return;
    }
    ScoreResponse.Builder out = ScoreResponse.newBuilder().setModel(encoder.model().name());
    int next = 0;
    for (Candidate c : request.getCandidatesList()) {
      float[] v = c.hasVector() ? toArray(c.getVector()) : encoded[next++];
      out.addScores(CandidateScore.newBuilder().setId(c.getId()).setScore(Pooler.dot(query, v)));
    }
    response.onNext(out.build());
    response.onCompleted();
  }

  /** Score with the cross-encoder: the query and each candidate's text read together. */
  private void crossScore(ScoreRequest request, StreamObserver<ScoreResponse> response) {
    if (crossEncoder == null) {
      response.onError(Status.FAILED_PRECONDITION.withDescription("this ranker serves no cross-encoder; start it "
          + "with --cross-encoder DIR, or score with BI_ENCODER").asRuntimeException());
      return;
    }
    if (request.getQuery().isBlank()) {
      response.onError(Status.INVALID_ARGUMENT.withDescription("a CROSS_ENCODER score needs the query's text")
          .asRuntimeException());
      return;
    }
    List<CrossEncoder.TextPair> pairs = new ArrayList<>(request.getCandidatesCount());
    for (Candidate c : request.getCandidatesList()) {
      if (!c.hasText()) {
        response.onError(Status.INVALID_ARGUMENT.withDescription("candidate '" + c.getId() + "' has no text; a "
            + "cross-encoder reads the passage itself, not a stored vector").asRuntimeException());
        return;
      }
      pairs.add(new CrossEncoder.TextPair(request.getQuery(), c.getText()));
    }
    if (expired(response)) {
      return;
    }
    float[] scores;
    try {
      scores = crossEncoder.score(pairs, deadlineNanos());
    } catch (Encoder.DeadlineExpiredException e) {
      response.onError(Status.DEADLINE_EXCEEDED.withDescription(e.getMessage()).asRuntimeException());
      return;
    }
    ScoreResponse.Builder out = ScoreResponse.newBuilder().setModel(crossEncoder.model().name());
    for (int i = 0; i < scores.length; i++) {
      out.addScores(CandidateScore.newBuilder().setId(request.getCandidates(i).getId()).setScore(scores[i]));
    }
    response.onNext(out.build());
    response.onCompleted();
  }

  private static boolean expired(StreamObserver<?> response) {
    if (Context.current().getDeadline() != null && Context.current().getDeadline().isExpired()) {
      response.onError(Status.DEADLINE_EXCEEDED.withDescription("deadline passed before the model ran")
          .asRuntimeException());
      return true;
    }
    return false;
  }

  public static Vector toVector(float[] v) {
    Vector.Builder b = Vector.newBuilder();
    for (float x : v) {
      b.addValues(x);
    }
    return b.build();
  }

  public static float[] toArray(Vector v) {
    float[] out = new float[v.getValuesCount()];
    for (int i = 0; i < out.length; i++) {
      out[i] = v.getValues(i);
    }
    return out;
  }
}
