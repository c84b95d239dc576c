package dev.shoal.query.internal;

import dev.shoal.server.trace.Tracing;
import io.grpc.StatusException;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.context.propagation.TextMapGetter;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;

/**
 * The SERVER span of an HTTP request, parented by the client's {@code traceparent} when it sends
 * one, and the trace's id sent back in a W3C {@code traceresponse} header. Stateless.
 */
final class HttpTracing {

  private static final TextMapGetter<Request> HEADERS = new TextMapGetter<>() {
    @Override
    public Iterable<String> keys(Request carrier) {
      return carrier.getHeaders().getFieldNamesCollection();
    }

    @Override
    public String get(Request carrier, String key) {
      if (carrier == null) {
        return null;
      }
      HttpField f = carrier.getHeaders().getField(key);
      return f == null ? null : f.getValue();
    }
  };

  private HttpTracing() {
  }

  /** Work that answers a request. */
  interface Work<T> {
    T run() throws StatusException;
  }

  /** Runs {@code work} inside the request's span, and sends the trace's id back. */
  static <T> T serve(Request request, Response response, String route, Work<T> work) throws StatusException {
    Span span = start(request, route);
    respond(span, response);
    try (Scope ignored = span.makeCurrent()) {
      return work.run();
    } catch (StatusException e) {
      span.setStatus(StatusCode.ERROR, e.getStatus().getCode().name());
      throw e;
    } finally {
      span.end();
    }
  }

  private static Span start(Request request, String route) {
    Context parent = Tracing.propagator().extract(Context.root(), request, HEADERS);
    return Tracing.tracer().spanBuilder(request.getMethod() + " " + route).setParent(parent)
        .setSpanKind(SpanKind.SERVER).setAttribute("http.request.method", request.getMethod())
        .setAttribute("http.route", route).startSpan();
  }

  /** {@code traceresponse: 00-<trace id>-<span id>-<flags>} when the request is traced. */
  private static void respond(Span span, Response response) {
    SpanContext c = span.getSpanContext();
    if (c.isValid()) {
      response.getHeaders().put("traceresponse", "00-" + c.getTraceId() + "-" + c.getSpanId() + "-"
          + c.getTraceFlags().asHex());
    }
  }
}
