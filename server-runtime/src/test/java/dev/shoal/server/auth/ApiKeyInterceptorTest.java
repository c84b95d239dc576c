package dev.shoal.server.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.shoal.server.BytesMarshaller;
import dev.shoal.server.GrpcServer;
import io.grpc.CallOptions;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.ServerCalls;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The interceptor on a real gRPC server (Netty, a port): calls to services named as Shoal's
 * SearchService and IngestService, each counting the calls that reach it, and health.
 */
class ApiKeyInterceptorTest {

  private static final MethodDescriptor.Marshaller<byte[]> BYTES = BytesMarshaller.BYTES;


  private static MethodDescriptor<byte[], byte[]> method(String service) {
    return MethodDescriptor.<byte[], byte[]>newBuilder().setType(MethodDescriptor.MethodType.UNARY)
        .setFullMethodName(MethodDescriptor.generateFullMethodName(service, "Call"))
        .setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();
  }

  private static ServerServiceDefinition counting(String service, AtomicInteger calls) {
    return ServerServiceDefinition.builder(service).addMethod(method(service), ServerCalls.asyncUnaryCall((req, obs) -> {
      calls.incrementAndGet();
      obs.onNext(req);
      obs.onCompleted();
    })).build();
  }

  private static byte[] call(ManagedChannel ch, String service, String authorization) {
    Metadata md = new Metadata();
    if (authorization != null) {
      md.put(ApiKeyInterceptor.AUTHORIZATION, authorization);
    }
    var withKey = ClientInterceptors.intercept(ch, MetadataUtils.newAttachHeadersInterceptor(md));
    return ClientCalls.blockingUnaryCall(withKey, method(service), CallOptions.DEFAULT, new byte[] {1});
  }

  @Test
  void aSearchKeyCannotIngestBadKeysLookAlikeAndHealthStaysOpen() {
    String search = ApiKeys.newKey();
    String ingest = ApiKeys.newKey();
    ApiKeys keys = ApiKeys.parse(List.of(ApiKeys.line("web", search, Set.of(Scope.SEARCH)),
        ApiKeys.line("pipeline", ingest, Set.of(Scope.INGEST))));
    AtomicInteger searches = new AtomicInteger();
    AtomicInteger ingests = new AtomicInteger();
    try (GrpcServer server = GrpcServer.forAddress("127.0.0.1", 0)
        .service(() -> counting("shoal.v1.SearchService", searches))
        .service(() -> counting("shoal.v1.IngestService", ingests))
        .interceptor(new ApiKeyInterceptor(new Authenticator(() -> keys))).start()) {
      ManagedChannel ch = ManagedChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext().build();
      try {
        call(ch, "shoal.v1.SearchService", "Bearer " + search);
        call(ch, "shoal.v1.IngestService", "Bearer " + ingest);
        assertEquals(1, searches.get());
        assertEquals(1, ingests.get());

        StatusRuntimeException denied = assertThrows(StatusRuntimeException.class,
            () -> call(ch, "shoal.v1.IngestService", "Bearer " + search));
        assertEquals(Status.Code.PERMISSION_DENIED, denied.getStatus().getCode());
        assertEquals(1, ingests.get(), "a denied call never reaches the service");

        String firstAnswer = null;
        for (String bad : new String[] {null, "Bearer nope", "Bearer " + search + "x", search}) {
          StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
              () -> call(ch, "shoal.v1.SearchService", bad));
          assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode(), "" + bad);
          firstAnswer = firstAnswer == null ? e.getStatus().toString() : firstAnswer;
          assertEquals(firstAnswer, e.getStatus().toString(), "missing and wrong keys get the same answer");
        }
        assertEquals(1, searches.get());

        HealthCheckResponse health = HealthGrpc.newBlockingStub(ch).check(HealthCheckRequest.getDefaultInstance());
        assertEquals(HealthCheckResponse.ServingStatus.SERVING, health.getStatus(), "health needs no key");
      } finally {
        ch.shutdownNow();
      }
    }
  }
}
