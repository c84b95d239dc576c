package dev.shoal.ranker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.encoder.BatchingEncoder;
import dev.shoal.encoder.CountingEncoder;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.onnx.OnnxEncoder;
import dev.shoal.internal.v1.Candidate;
import dev.shoal.internal.v1.EmbedKind;
import dev.shoal.internal.v1.EmbedRequest;
import dev.shoal.internal.v1.EmbedResponse;
import dev.shoal.internal.v1.ScoreRequest;
import dev.shoal.internal.v1.ScoreResponse;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class RankerServiceTest {

  static final class Capture<T> implements StreamObserver<T> {
    final AtomicReference<T> value = new AtomicReference<>();
    final AtomicReference<Throwable> error = new AtomicReference<>();

    @Override
    public void onNext(T v) {
      value.set(v);
    }

    @Override
    public void onError(Throwable t) {
      error.set(t);
    }

    @Override
    public void onCompleted() {
    }
  }

  @Test
  void anExpiredDeadlineIsRejectedWithoutRunningTheModel() {
    ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    try (CountingEncoder counted = new CountingEncoder(new OnnxEncoder(ModelSpec.ALL_MINILM_L6_V2, 1, 8));
         BatchingEncoder batcher = new BatchingEncoder(counted, 64, 2_000)) {
      RankerService service = new RankerService(batcher);
      Capture<EmbedResponse> out = new Capture<>();
      Context.current().withDeadline(Deadline.after(-1, TimeUnit.MILLISECONDS), timer).run(() ->
          service.embed(EmbedRequest.newBuilder().addTexts("anything").build(), out));
      assertNotNull(out.error.get());
      assertEquals(Status.Code.DEADLINE_EXCEEDED, Status.fromThrowable(out.error.get()).getCode());
      assertEquals(0, counted.calls.get(), "the model never ran");
    } finally {
      timer.shutdownNow();
    }
  }

  @Test
  void scoreUsesStoredVectorsAndCachesTheQuery() {
    try (CountingEncoder counted = new CountingEncoder(new OnnxEncoder(ModelSpec.ALL_MINILM_L6_V2, 1, 8))) {
      RankerService service = new RankerService(counted);
      Capture<EmbedResponse> emb = new Capture<>();
      service.embed(EmbedRequest.newBuilder().setKind(EmbedKind.PASSAGE)
          .addTexts("Insulin regulates blood sugar.").addTexts("The train was delayed by snow.").build(), emb);
      Capture<ScoreResponse> scored = new Capture<>();
      ScoreRequest req = ScoreRequest.newBuilder().setQuery("what controls blood glucose")
          .addCandidates(Candidate.newBuilder().setId("a").setVector(emb.value.get().getEmbeddings(0)))
          .addCandidates(Candidate.newBuilder().setId("b").setVector(emb.value.get().getEmbeddings(1)))
          .addCandidates(Candidate.newBuilder().setId("c").setText("Blood glucose is controlled by insulin."))
          .build();
      service.score(req, scored);
      ScoreResponse r = scored.value.get();
      assertEquals(3, r.getScoresCount());
      assertTrue(r.getScores(0).getScore() > r.getScores(1).getScore(), "relevant beats unrelated");
      assertTrue(r.getScores(2).getScore() > r.getScores(1).getScore(), "text candidates are encoded on the fly");
      int before = counted.texts.get();
      service.score(req.toBuilder().removeCandidates(2).build(), new Capture<>());
      assertEquals(before, counted.texts.get(), "the cached query and stored vectors need no model call");
      assertEquals(1, service.queryCache().hits());
    }
  }

  @Test
  void aVectorOfTheWrongDimensionIsInvalid() {
    try (OnnxEncoder e = new OnnxEncoder(ModelSpec.ALL_MINILM_L6_V2, 1, 8)) {
      Capture<ScoreResponse> out = new Capture<>();
      new RankerService(e).score(ScoreRequest.newBuilder().setQuery("q").addCandidates(Candidate.newBuilder().setId("x")
          .setVector(dev.shoal.internal.v1.Vector.newBuilder().addValues(1f))).build(), out);
      assertEquals(Status.Code.INVALID_ARGUMENT, Status.fromThrowable(out.error.get()).getCode());
      assertTrue(Status.fromThrowable(out.error.get()).getDescription().contains("384"));
    }
  }
}
