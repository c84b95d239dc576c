package dev.shoal.server;

import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * gRPC server metrics under the names grpc-ecosystem's go-grpc-prometheus made the convention
 * (so existing dashboards and alerts apply): {@code grpc_server_started_total},
 * {@code grpc_server_handled_total} (with {@code grpc_code}) and the
 * {@code grpc_server_handling_seconds} histogram, each by {@code grpc_service}, {@code grpc_method}
 * and {@code grpc_type}. Health checks and reflection are counted like any other service.
 *
 * <p>Thread-safe; one per server, installed first so that calls an interceptor refuses (keys,
 * admission) are counted with their code.
 */
final class GrpcServerMetrics implements ServerInterceptor {
  private final Metrics metrics;
  /** Series by full method name, so a call looks nothing up by label. */
  private final Map<String, MethodSeries> methods = new ConcurrentHashMap<>();

  private final class MethodSeries {
    final String[] labels;
    final Metrics.Counter started;
    final Metrics.Histogram handling;
    final Map<Status.Code, Metrics.Counter> handled = new ConcurrentHashMap<>();

    MethodSeries(MethodDescriptor<?, ?> method) {
      String service = method.getServiceName() == null ? "" : method.getServiceName();
      String name = method.getBareMethodName() == null ? method.getFullMethodName() : method.getBareMethodName();
      String type = switch (method.getType()) {
        case UNARY -> "unary";
        case CLIENT_STREAMING -> "client_stream";
        case SERVER_STREAMING -> "server_stream";
        case BIDI_STREAMING -> "bidi_stream";
        case UNKNOWN -> "unknown";
      };
      labels = new String[] {"grpc_service", service, "grpc_method", name, "grpc_type", type};
      started = metrics.counter("grpc_server_started_total", "RPCs started on the server.", labels);
      handling = metrics.histogram("grpc_server_handling_seconds", "Time from the start of an RPC to its status.",
          Metrics.LATENCY_SECONDS, labels);
    }

    Metrics.Counter handled(Status.Code code) {
      return handled.computeIfAbsent(code, c -> {
        String[] withCode = java.util.Arrays.copyOf(labels, labels.length + 2);
        withCode[labels.length] = "grpc_code";
        withCode[labels.length + 1] = c.name();
        return metrics.counter("grpc_server_handled_total", "RPCs completed on the server, by status code.", withCode);
      });
    }
  }

  GrpcServerMetrics(Metrics metrics) {
    this.metrics = metrics;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                    ServerCallHandler<Q, R> next) {
    MethodDescriptor<Q, R> method = call.getMethodDescriptor();
    MethodSeries series = methods.computeIfAbsent(method.getFullMethodName(), n -> new MethodSeries(method));
    series.started.inc();
    long start = System.nanoTime();
    return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
      @Override
      public void close(Status status, Metadata trailers) {
        series.handled(status.getCode()).inc();
        series.handling.observeSince(start);
        super.close(status, trailers);
      }
    }, headers);
  }
}
