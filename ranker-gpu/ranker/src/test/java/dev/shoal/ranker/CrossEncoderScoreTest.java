package dev.shoal.ranker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.encoder.BatchingCrossEncoder;
import dev.shoal.encoder.CrossEncoder;
import dev.shoal.encoder.CrossEncoderSpec;
import dev.shoal.encoder.ModelSpec;
import dev.shoal.encoder.TestCrossEncoders;
import dev.shoal.encoder.onnx.OnnxCrossEncoder;
import dev.shoal.encoder.onnx.OnnxEncoder;
import dev.shoal.encoder.reference.ReferenceCrossEncoder;
import dev.shoal.internal.v1.Candidate;
import dev.shoal.internal.v1.RankerGrpc;
import dev.shoal.internal.v1.ScoreModel;
import dev.shoal.internal.v1.ScoreRequest;
import dev.shoal.internal.v1.ScoreResponse;
import dev.shoal.internal.v1.Vector;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code Score} with {@code model = CROSS_ENCODER} over in-process gRPC: the ranker's answers are
 * the cross-encoder's (checked against the plain-Java reference on the same weights), bad
 * requests are refused with what to fix, and a ranker without a cross-encoder says so.
 */
class CrossEncoderScoreTest {

  @TempDir
  static Path tmp;

  static CrossEncoderSpec spec;
  static OnnxEncoder encoder;
  static BatchingCrossEncoder crossEncoder;
  static Server server;
  static ManagedChannel channel;
  static Server plain;
  static ManagedChannel plainChannel;

  @BeforeAll
  static void start() throws Exception {
    spec = CrossEncoderSpec.fromDirectory(TestCrossEncoders.write(tmp.resolve("tiny-ce"),
        TestCrossEncoders.small(1, 21)), 128);
    encoder = new OnnxEncoder(ModelSpec.ALL_MINILM_L6_V2, 1, 8);
    crossEncoder = new BatchingCrossEncoder(new OnnxCrossEncoder(spec, 2, 32), 64, 0);
    server = InProcessServerBuilder.forName("ce").directExecutor()
        .addService(new RankerService(encoder, crossEncoder, 100)).build().start();
    channel = InProcessChannelBuilder.forName("ce").directExecutor().build();
    plain = InProcessServerBuilder.forName("no-ce").directExecutor().addService(new RankerService(encoder, 100))
        .build().start();
    plainChannel = InProcessChannelBuilder.forName("no-ce").directExecutor().build();
  }

  @AfterAll
  static void stop() {
    channel.shutdownNow();
    plainChannel.shutdownNow();
    server.shutdownNow();
    plain.shutdownNow();
    crossEncoder.close();
    encoder.close();
  }

  private static ScoreRequest request(String query, String... texts) {
    ScoreRequest.Builder b = ScoreRequest.newBuilder().setQuery(query).setModel(ScoreModel.CROSS_ENCODER);
    for (int i = 0; i < texts.length; i++) {
      b.addCandidates(Candidate.newBuilder().setId("d" + i).setText(texts[i]));
    }
    return b.build();
  }

  @Test
  void scoresAreTheCrossEncodersInCandidateOrderUnderItsName() {
    String query = "does vitamin d improve bone density";
    String[] texts = {"Vitamin D and calcium supplements in older adults: fracture outcomes.",
        "Train timetables in winter.", "Bone mineral density rose after two years of supplementation with vitamin D3.",
        "A review of insulin resistance."};
    ScoreResponse r = RankerGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
        .score(request(query, texts));
    assertEquals("tiny-ce", r.getModel());
    assertEquals(texts.length, r.getScoresCount());
    ReferenceCrossEncoder ref = new ReferenceCrossEncoder(spec);
    for (int i = 0; i < texts.length; i++) {
      assertEquals("d" + i, r.getScores(i).getId());
      float expected = ref.score(List.of(new CrossEncoder.TextPair(query, texts[i])))[0];
      assertEquals(expected, r.getScores(i).getScore(), 2e-4 * Math.max(1, Math.abs(expected)), "candidate " + i);
    }
    assertTrue(r.getScores(0).getScore() != r.getScores(1).getScore(), "different passages, different scores");
  }

  @Test
  void aCandidateWithoutTextABlankQueryAndARankerWithoutCrossEncoderAreRefusedSayingWhy() {
    ScoreRequest vectorOnly = ScoreRequest.newBuilder().setQuery("q").setModel(ScoreModel.CROSS_ENCODER)
        .addCandidates(Candidate.newBuilder().setId("v").setVector(Vector.newBuilder().addValues(1f))).build();
    StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
        () -> RankerGrpc.newBlockingStub(channel).score(vectorOnly));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains("candidate 'v' has no text"), e.getMessage());

    StatusRuntimeException blank = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
        () -> RankerGrpc.newBlockingStub(channel).score(request(" ", "text")));
    assertEquals(Status.Code.INVALID_ARGUMENT, blank.getStatus().getCode());

    StatusRuntimeException none = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
        () -> RankerGrpc.newBlockingStub(plainChannel).score(request("q", "text")));
    assertEquals(Status.Code.FAILED_PRECONDITION, none.getStatus().getCode());
    assertTrue(none.getStatus().getDescription().contains("--cross-encoder"), none.getMessage());
  }

  @Test
  void aCallPastItsDeadlineIsRefusedBeforeTheModelRuns() throws Exception {
    long before = crossEncoder.batches();
    StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
        () -> RankerGrpc.newBlockingStub(channel).withDeadlineAfter(-1, TimeUnit.MILLISECONDS)
            .score(request("q", "text")));
    assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
    assertEquals(before, crossEncoder.batches(), "the model did not run");
  }
}
