package dev.shoal.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shoal.server.tls.Tls;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessSocketAddress;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.ServerCalls;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A client of this JVM that asks for it reaches a {@link GrpcServer} of this JVM in-process, through
 * the server's interceptors and executor; every other client, and every client once the server
 * stopped, goes over the network.
 */
class ColocatedTest {

  private static final MethodDescriptor<byte[], byte[]> ECHO = MethodDescriptor.<byte[], byte[]>newBuilder()
      .setType(MethodDescriptor.MethodType.UNARY).setFullMethodName("test.Echo/Call")
      .setRequestMarshaller(BytesMarshaller.BYTES).setResponseMarshaller(BytesMarshaller.BYTES).build();

  private final List<SocketAddress> callers = new CopyOnWriteArrayList<>();
  private final List<String> threads = new CopyOnWriteArrayList<>();

  /** Records where each call came from, and refuses those without a key, as an API-key check would. */
  private final ServerInterceptor recordAndCheck = new ServerInterceptor() {
    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                      ServerCallHandler<Q, R> next) {
      callers.add(call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
      if (!headers.containsKey(KEY)) {
        call.close(Status.UNAUTHENTICATED.withDescription("no key"), new Metadata());
        return new ServerCall.Listener<>() { };
      }
      return next.startCall(call, headers);
    }
  };

  private static final Metadata.Key<String> KEY = Metadata.Key.of("key", Metadata.ASCII_STRING_MARSHALLER);

  /** Echoes the request, recording the thread each call ran on. */
  private final ServerServiceDefinition echo = ServerServiceDefinition.builder("test.Echo").addMethod(ECHO,
      ServerCalls.asyncUnaryCall((req, obs) -> {
        threads.add(Thread.currentThread().getName());
        obs.onNext(req);
        obs.onCompleted();
      })).build();

  @Test
  void aColocatedClientCallsInProcessThroughTheServersInterceptorsAndExecutor() throws Exception {
    var pool = java.util.concurrent.Executors.newSingleThreadExecutor(r -> new Thread(r, "echo-pool"));
    String address;
    try (GrpcServer server = GrpcServer.forAddress("127.0.0.1", 0).service(() -> echo).interceptor(recordAndCheck)
        .executor(pool).start()) {
      address = server.address();
      assertTrue(Colocated.serves(address));
      ManagedChannel local = Colocated.channel(Tls.plaintext(), address).build();
      ManagedChannel network = Tls.plaintext().channel(address).build();
      try {
        assertEquals(7, call(local, true)[0]);
        assertInstanceOf(InProcessSocketAddress.class, callers.getLast(), "a colocated call stays in the process");
        assertEquals(7, call(network, true)[0]);
        assertInstanceOf(InetSocketAddress.class, callers.getLast(), "Tls.channel always dials the network");
        StatusRuntimeException refused = assertThrows(StatusRuntimeException.class, () -> call(local, false));
        assertEquals(Status.Code.UNAUTHENTICATED, refused.getStatus().getCode(), "the interceptors run in-process too");
        assertEquals(List.of("echo-pool", "echo-pool"), threads, "in-process calls run on the server's executor");
      } finally {
        local.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        network.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    assertFalse(Colocated.serves(address), "a closed server is no longer served in-process");
    ManagedChannel after = Colocated.channel(Tls.plaintext(), address).build();
    try {
      StatusRuntimeException gone = assertThrows(StatusRuntimeException.class, () -> call(after, true));
      assertEquals(Status.Code.UNAVAILABLE, gone.getStatus().getCode());
    } finally {
      after.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void aCallerThreadsColocatedCallRunsOnItselfAndEveryOtherThreadsOnTheServersExecutor() throws Exception {
    var pool = java.util.concurrent.Executors.newSingleThreadExecutor(r -> new Thread(r, "echo-pool"));
    var callers = java.util.concurrent.Executors.newSingleThreadExecutor(
        Colocated.callerThreads(r -> new Thread(r, "query-thread")));
    var others = java.util.concurrent.Executors.newSingleThreadExecutor(r -> new Thread(r, "timer-thread"));
    try (GrpcServer server = GrpcServer.forAddress("127.0.0.1", 0).service(() -> echo).interceptor(recordAndCheck)
        .executor(pool).start()) {
      ManagedChannel local = Colocated.channel(Tls.plaintext(), server.address()).directExecutor().build();
      ManagedChannel network = Tls.plaintext().channel(server.address()).build();
      try {
        assertEquals((byte) 7, (byte) callers.submit(() -> call(local, true)[0]).get(10, TimeUnit.SECONDS));
        assertEquals((byte) 7, (byte) others.submit(() -> call(local, true)[0]).get(10, TimeUnit.SECONDS));
        assertEquals((byte) 7, (byte) callers.submit(() -> call(network, true)[0]).get(10, TimeUnit.SECONDS));
        StatusRuntimeException refused = assertInstanceOf(StatusRuntimeException.class,
            assertThrows(java.util.concurrent.ExecutionException.class,
                () -> callers.submit(() -> call(local, false)).get(10, TimeUnit.SECONDS)).getCause());
        assertEquals(Status.Code.UNAUTHENTICATED, refused.getStatus().getCode(), "the interceptors still run");
        assertEquals(List.of("query-thread", "echo-pool", "echo-pool"), threads, "in-process from a caller thread: "
            + "on that thread; from any other thread, or over the network: on the server's executor");
      } finally {
        local.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        network.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
      callers.shutdownNow();
      others.shutdownNow();
    }
  }

  /** The query service's executor: each task on a new virtual thread, a caller, so its colocated calls run on it. */
  @Test
  void aCallerExecutorRunsEachTaskOnANewVirtualCallerThread() throws Exception {
    var pool = java.util.concurrent.Executors.newSingleThreadExecutor(r -> new Thread(r, "echo-pool"));
    var callers = Colocated.callerExecutor("request-");
    try (GrpcServer server = GrpcServer.forAddress("127.0.0.1", 0).service(() -> echo).interceptor(recordAndCheck)
        .executor(pool).start()) {
      ManagedChannel local = Colocated.channel(Tls.plaintext(), server.address()).directExecutor().build();
      try {
        List<String> ran = new java.util.ArrayList<>();
        for (int i = 0; i < 2; i++) {
          ran.add(callers.submit(() -> {
            call(local, true);
            return (Thread.currentThread().isVirtual() ? "virtual " : "platform ") + Thread.currentThread().getName();
          }).get(10, TimeUnit.SECONDS));
        }
        assertEquals(List.of("virtual request-0", "virtual request-1"), ran, "a new virtual thread per task");
        assertEquals(List.of("request-0", "request-1"), threads, "each colocated call ran on its caller");
      } finally {
        local.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
      callers.shutdownNow();
    }
  }

  private static byte[] call(ManagedChannel ch, boolean withKey) {
    Metadata headers = new Metadata();
    if (withKey) {
      headers.put(KEY, "k");
    }
    Channel with = ClientInterceptors.intercept(ch, MetadataUtils.newAttachHeadersInterceptor(headers));
    return ClientCalls.blockingUnaryCall(with, ECHO, CallOptions.DEFAULT.withDeadlineAfter(5, TimeUnit.SECONDS),
        new byte[] {7});
  }
}
