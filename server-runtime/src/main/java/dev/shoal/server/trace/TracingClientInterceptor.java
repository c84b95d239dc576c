package dev.shoal.server.trace;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.health.v1.HealthGrpc;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.context.Context;

/** See {@link Tracing#clientInterceptor()}. Calls outside any trace start no span and carry no context. */
final class TracingClientInterceptor implements ClientInterceptor {

  @Override
  public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
    Context parent = Context.current();
    if (!Span.fromContext(parent).getSpanContext().isValid()
        || HealthGrpc.SERVICE_NAME.equals(method.getServiceName())) {
      return next.newCall(method, options);
    }
    Span span = Tracing.tracer().spanBuilder(method.getFullMethodName()).setParent(parent)
        .setSpanKind(SpanKind.CLIENT).setAttribute("rpc.system", "grpc")
        .setAttribute("rpc.service", String.valueOf(method.getServiceName()))
        .setAttribute("rpc.method", String.valueOf(method.getBareMethodName()))
        .setAttribute("server.address", next.authority())
        .setAllAttributes(Tracing.callAttributes(parent)).startSpan();
    Context context = parent.with(span);
    return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
      @Override
      public void start(Listener<R> listener, Metadata headers) {
        Tracing.propagator().inject(context, headers, Tracing.METADATA_SETTER);
        super.start(new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
          @Override
          public void onClose(Status status, Metadata trailers) {
            span.setAttribute("rpc.grpc.status_code", status.getCode().value());
            if (!status.isOk()) {
              span.setStatus(StatusCode.ERROR, status.getCode().name());
            }
            span.end();
            super.onClose(status, trailers);
          }
        }, headers);
      }
    };
  }
}
