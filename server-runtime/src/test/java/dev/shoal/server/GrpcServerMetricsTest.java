package dev.shoal.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import io.prometheus.metrics.expositionformats.generated.com_google_protobuf_4_36_2.Metrics.MetricFamily;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** gRPC server metrics on a real server: calls served, and calls an interceptor refused, by code. */
class GrpcServerMetricsTest {

  private static final MethodDescriptor.Marshaller<byte[]> BYTES = BytesMarshaller.BYTES;


  private static final MethodDescriptor<byte[], byte[]> ECHO = MethodDescriptor.<byte[], byte[]>newBuilder()
      .setType(MethodDescriptor.MethodType.UNARY).setFullMethodName("test.Echo/Call")
      .setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();

  /** Refuses requests whose first byte is 0, as an API-key check would. */
  private static final ServerInterceptor REFUSE_ZERO = new ServerInterceptor() {
    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                      ServerCallHandler<Q, R> next) {
      if (headers.containsKey(Metadata.Key.of("refuse", Metadata.ASCII_STRING_MARSHALLER))) {
        call.close(Status.PERMISSION_DENIED, new Metadata());
        return new ServerCall.Listener<>() { };
      }
      return next.startCall(call, headers);
    }
  };

  @Test
  void servedAndRefusedCallsAreCountedWithTheirCodeAndTimed() throws Exception {
    Metrics metrics = new Metrics();
    ServerServiceDefinition echo = ServerServiceDefinition.builder("test.Echo").addMethod(ECHO,
        ServerCalls.asyncUnaryCall((req, obs) -> {
          obs.onNext(req);
          obs.onCompleted();
        })).build();
    try (GrpcServer server = GrpcServer.forAddress("127.0.0.1", 0).service(() -> echo).interceptor(REFUSE_ZERO)
        .metrics(metrics).start()) {
      ManagedChannel ch = ManagedChannelBuilder.forTarget(server.address()).usePlaintext().build();
      try {
        for (int i = 0; i < 3; i++) {
          ClientCalls.blockingUnaryCall(ch, ECHO, CallOptions.DEFAULT, new byte[] {1});
        }
        Metadata refuse = new Metadata();
        refuse.put(Metadata.Key.of("refuse", Metadata.ASCII_STRING_MARSHALLER), "yes");
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> ClientCalls.blockingUnaryCall(
            io.grpc.ClientInterceptors.intercept(ch, io.grpc.stub.MetadataUtils.newAttachHeadersInterceptor(refuse)),
            ECHO, CallOptions.DEFAULT, new byte[] {1}));
        assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode());
      } finally {
        ch.shutdownNow();
      }
    }
    Map<String, MetricFamily> families = MetricsTest.protobuf(metrics);
    assertEquals(4, value(families, "grpc_server_started_total", "test.Echo", null));
    assertEquals(3, value(families, "grpc_server_handled_total", "test.Echo", "OK"));
    assertEquals(1, value(families, "grpc_server_handled_total", "test.Echo", "PERMISSION_DENIED"),
        "a refused call is counted with its code");
    assertEquals(4, value(families, "grpc_server_handling_seconds", "test.Echo", null), "every call is timed");
  }

  /** The value (a histogram's count) of the series for this service and, when not null, code. */
  private static double value(Map<String, MetricFamily> families, String name, String service, String code) {
    MetricFamily f = families.get(name);
    assertTrue(f != null, name + " is missing: " + families.keySet());
    return f.getMetricList().stream()
        .filter(m -> m.getLabelList().stream().anyMatch(l -> l.getName().equals("grpc_service")
            && l.getValue().equals(service)))
        .filter(m -> code == null || m.getLabelList().stream().anyMatch(l -> l.getName().equals("grpc_code")
            && l.getValue().equals(code)))
        .mapToDouble(m -> m.hasCounter() ? m.getCounter().getValue() : m.getHistogram().getSampleCount()).sum();
  }
}
